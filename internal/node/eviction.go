package node

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Eviction: the kubelet's eviction manager for local ephemeral storage, the
// decisions only (the agent measures and acts; see storage.go).
const (
	ReasonEvicted = "Evicted"
	// reasonTerminationByKubelet is the DisruptionTarget condition's reason
	// on a pod the kubelet evicted.
	reasonTerminationByKubelet = "TerminationByKubelet"
	// diskPressurePercent is the kubelet's default hard threshold
	// nodefs.available<10%.
	diskPressurePercent = 10
)

// StorageUsage is what a pod uses of the node's disk, in bytes.
type StorageUsage struct {
	// EmptyDirs are its disk-backed emptyDir volumes, by volume name.
	EmptyDirs map[string]int64
	// Containers are each container's logs and writable layer (a host
	// container's private /tmp, an OCI container's overlay upper layer).
	Containers map[string]int64
}

// Total is everything the pod uses.
func (u StorageUsage) Total() int64 {
	var t int64
	for _, v := range u.EmptyDirs {
		t += v
	}
	for _, v := range u.Containers {
		t += v
	}
	return t
}

// LocalStorageEviction is the kubelet's check of a pod's use of local
// ephemeral storage against its limits, in the kubelet's order: an emptyDir
// over its sizeLimit, the pod over the sum of its containers' limits, a
// container over its own. It returns the eviction message, or "".
func LocalStorageEviction(pod *corev1.Pod, u StorageUsage) string {
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir == nil || v.EmptyDir.Medium == corev1.StorageMediumMemory || v.EmptyDir.SizeLimit == nil || v.EmptyDir.SizeLimit.IsZero() {
			continue
		}
		if used, ok := u.EmptyDirs[v.Name]; ok && used > v.EmptyDir.SizeLimit.Value() {
			return fmt.Sprintf("Usage of EmptyDir volume %q exceeds the limit %q. ", v.Name, v.EmptyDir.SizeLimit.String())
		}
	}
	var limit resource.Quantity
	hasLimit := false
	for _, c := range allContainers(&pod.Spec) {
		if q, ok := c.Resources.Limits[corev1.ResourceEphemeralStorage]; ok {
			limit.Add(q)
			hasLimit = true
		}
	}
	if hasLimit && u.Total() > limit.Value() {
		return fmt.Sprintf("Pod ephemeral local storage usage exceeds the total limit of containers %s. ", limit.String())
	}
	for _, c := range allContainers(&pod.Spec) {
		if q, ok := c.Resources.Limits[corev1.ResourceEphemeralStorage]; ok && u.Containers[c.Name] > q.Value() {
			return fmt.Sprintf("Container %s exceeded its local ephemeral storage limit %q. ", c.Name, q.String())
		}
	}
	return ""
}

// DiskStats is the pods' file system: its size and what is available.
type DiskStats struct{ Capacity, Available int64 }

// DiskPressure tells whether the node is short of disk: less than the
// kubelet's default 10% available.
func DiskPressure(d DiskStats) bool {
	return d.Capacity > 0 && d.Available*100 < d.Capacity*diskPressurePercent
}

// DiskPressureVictim picks the pod to evict when the node is short of disk,
// as the kubelet ranks them: pods using more than they request first, then
// lower priority, then the largest use; and says why. ok is false when no
// pod can go.
func DiskPressureVictim(pods []*corev1.Pod, usage map[string]StorageUsage, d DiskStats) (victim *corev1.Pod, message string, ok bool) {
	if len(pods) == 0 {
		return nil, "", false
	}
	request := func(p *corev1.Pod) int64 {
		var r int64
		for _, c := range allContainers(&p.Spec) {
			if q, ok := c.Resources.Requests[corev1.ResourceEphemeralStorage]; ok {
				r += q.Value()
			}
		}
		return r
	}
	priority := func(p *corev1.Pod) int32 {
		if p.Spec.Priority != nil {
			return *p.Spec.Priority
		}
		return 0
	}
	ranked := append([]*corev1.Pod(nil), pods...)
	sort.SliceStable(ranked, func(i, j int) bool {
		a, b := ranked[i], ranked[j]
		ua, ub := usage[string(a.UID)].Total(), usage[string(b.UID)].Total()
		overA, overB := ua > request(a), ub > request(b)
		if overA != overB {
			return overA
		}
		if priority(a) != priority(b) {
			return priority(a) < priority(b)
		}
		return ua-request(a) > ub-request(b)
	})
	victim = ranked[0]
	threshold := resource.NewQuantity(d.Capacity*diskPressurePercent/100, resource.BinarySI)
	available := resource.NewQuantity(d.Available, resource.BinarySI)
	message = fmt.Sprintf("The node was low on resource: %s. Threshold quantity: %s, available: %s. ",
		corev1.ResourceEphemeralStorage, threshold.String(), available.String())
	u := usage[string(victim.UID)]
	names := make([]string, 0, len(u.Containers))
	for n := range u.Containers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := containerByName(&victim.Spec, n)
		if c == nil {
			continue
		}
		req := c.Resources.Requests[corev1.ResourceEphemeralStorage]
		if used := resource.NewQuantity(u.Containers[n], resource.BinarySI); u.Containers[n] > req.Value() {
			message += fmt.Sprintf("Container %s was using %s, request is %s, has larger consumption of %s. ", n, used.String(), req.String(), corev1.ResourceEphemeralStorage)
		}
	}
	return victim, message, true
}
