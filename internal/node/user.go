package node

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchd/batchd/internal/node/runtime"
)

// ContainerUser is the identity container c of pod runs as: runAsUser and
// runAsGroup from the container's securityContext, else the pod's, with the
// pod's supplementalGroups and fsGroup; nil (the server's own identity) when
// none is set.
// A user without a group runs with group 0, as an image without USER does.
// runAsNonRoot is checked as the kubelet does, against serverUID when no
// runAsUser is set (the host runtime has no image USER to read).
func ContainerUser(pod *corev1.Pod, c *corev1.Container, serverUID int64) (*runtime.User, error) {
	var uid, gid *int64
	var nonRoot *bool
	var groups []int64
	if psc := pod.Spec.SecurityContext; psc != nil {
		uid, gid, nonRoot = psc.RunAsUser, psc.RunAsGroup, psc.RunAsNonRoot
		groups = append(groups, psc.SupplementalGroups...)
		if psc.FSGroup != nil && !slices.Contains(groups, *psc.FSGroup) {
			groups = append(groups, *psc.FSGroup)
		}
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = sc.RunAsGroup
		}
		if sc.RunAsNonRoot != nil {
			nonRoot = sc.RunAsNonRoot
		}
	}
	if nonRoot != nil && *nonRoot {
		podName := fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
		switch {
		case uid != nil && *uid == 0:
			return nil, &ConfigError{Message: fmt.Sprintf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", podName, c.Name)}
		case uid == nil && serverUID == 0:
			return nil, &ConfigError{Message: fmt.Sprintf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", podName, c.Name)}
		}
	}
	if uid == nil && gid == nil && len(groups) == 0 {
		return nil, nil
	}
	u := &runtime.User{UID: serverUID, Groups: groups}
	if uid != nil {
		u.UID = *uid
	}
	if gid != nil {
		u.GID = *gid
	}
	return u, nil
}
