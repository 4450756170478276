package node

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"

	"github.com/batchd/batchd/internal/node/runtime"
)

// specBuilder makes ready on the node what a container needs (its
// volumes, subPaths and /etc/hosts under the pod's directory, its image)
// and builds its runtime spec from them with the pure builders of
// containerspec.go.
type specBuilder struct {
	rt       runtime.Runtime
	lookup   Lookup
	node     NodeInfo
	pvcDir   string
	clock    clock.Clock
	handlers handlers
	// images is the image manager (nil: the node has no image store).
	images *images
	// serverUID is who host containers run as when they set no user.
	serverUID int64
	events    *events
	sandboxes sandboxes
}

// build is how run id of container c is started: its command,
// environment, mounts (volumes, /etc/hosts, a private /tmp) and limits.
// Errors are *ConfigError (the container's configuration), *MountError,
// *SandboxError (no runtime for the pod's class) or *PullError (its image).
func (b *specBuilder) build(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id runtime.ID) (_ runtime.Spec, err error) {
	e := b.sandboxes.entry(pod.UID)
	defer e.mu.Unlock()
	if e.sb == nil {
		if e.sb, err = b.sandbox(ctx, pod); err != nil {
			return runtime.Spec{}, err
		}
	}
	env, secrets, err := containerEnv(pod, c, b.node, b.lookup)
	if err != nil {
		return runtime.Spec{}, err
	}
	// What is reported of a failure names no Secret value.
	defer func() { err = redactError(err, secrets) }()
	ms, err := b.mounts(pod, c, env)
	if err != nil {
		return runtime.Spec{}, err
	}
	if e.sb.oci.IsZero() {
		return hostSpec(pod, c, id, env, ms, secrets, b.serverUID)
	}
	img, err := b.containerImage(ctx, pod, c, e.sb)
	if err != nil {
		return runtime.Spec{}, err
	}
	return ociSpec(pod, c, id, env, ms, img, e.sb.oci)
}

// refreshVolumes writes the pod's projected volumes (configMap, secret,
// downwardAPI, projected) again: new service-account tokens, changed
// configMaps and Secrets. Its other volumes are left as they are (no
// emptyDir walked for fsGroup again, no claim looked up).
func (b *specBuilder) refreshVolumes(pod *corev1.Pod) error {
	only := *pod
	only.Spec.Volumes = nil
	for _, v := range pod.Spec.Volumes {
		if projected(&v) {
			only.Spec.Volumes = append(only.Spec.Volumes, v)
		}
	}
	_, err := setUpVolumes(&only, volumeHost{podDir: b.rt.PodDir(string(pod.UID)), pvcDir: b.pvcDir, node: b.node, lookup: b.lookup, now: b.clock.Now()})
	return err
}

// mounts sets up the pod's volumes and c's subPaths, and writes the pod's
// /etc/hosts unless a volume is mounted there.
func (b *specBuilder) mounts(pod *corev1.Pod, c *corev1.Container, env []string) ([]runtime.Mount, error) {
	podDir := b.rt.PodDir(string(pod.UID))
	paths, err := setUpVolumes(pod, volumeHost{podDir: podDir, pvcDir: b.pvcDir, node: b.node, lookup: b.lookup, now: b.clock.Now()})
	if err != nil {
		return nil, err
	}
	ms, err := mounts(pod, c, paths, env, podDir)
	if err != nil {
		return nil, err
	}
	if mountsUnder(ms, "/etc/hosts") {
		return ms, nil
	}
	// The kubelet-managed file.
	hosts := filepath.Join(podDir, "etc-hosts")
	err = os.MkdirAll(podDir, 0o700)
	if err == nil {
		err = b.writeHosts(pod)
	}
	if err != nil {
		return nil, err
	}
	return append(ms, runtime.Mount{Source: hosts, Target: "/etc/hosts"}), nil
}

// writeHosts writes the pod's /etc/hosts when its content changed, in
// place: containers see it through a bind mount of that very file.
func (b *specBuilder) writeHosts(pod *corev1.Pod) error {
	var peers []string
	if pod.Spec.Subdomain != "" && b.lookup.Peers != nil {
		peers = b.lookup.Peers(pod)
	}
	path := filepath.Join(b.rt.PodDir(string(pod.UID)), "etc-hosts")
	want := []byte(hostsFile(pod, b.node.IP, peers))
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, want) {
		return nil
	}
	return os.WriteFile(path, want, 0o644)
}

// image makes c's image ready: pulled as its policy says (image.DecideAuto's
// when auto), unpacked, with the files that resolve its USER read.
func (b *specBuilder) image(ctx context.Context, pod *corev1.Pod, c *corev1.Container, auto bool) (ociImage, error) {
	if b.images == nil {
		return ociImage{}, errors.New("no image store")
	}
	img, root, err := b.images.ensure(ctx, pod, c, keychain(pod, b.lookup), auto)
	if err != nil {
		return ociImage{}, err
	}
	out := ociImage{Image: img, Root: root}
	if data, err := os.ReadFile(filepath.Join(root, "etc", "passwd")); err == nil {
		out.Passwd = data
	}
	if data, err := os.ReadFile(filepath.Join(root, "etc", "group")); err == nil {
		out.Group = data
	}
	return out, nil
}
