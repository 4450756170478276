package node

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/klog/v2"
)

// storageInterval is how often pods' disk use is measured: the kubelet's
// eviction monitoring interval.
const storageInterval = 10 * time.Second

// monitorStorage measures, every storageInterval, what each running pod
// uses of the disk and how full the pods' file system is, and evicts as the
// kubelet's eviction manager does: a pod over its ephemeral-storage limits
// or an emptyDir over its sizeLimit, and, when the file system has less
// than 10% available (DiskPressure), the pod that uses the most beyond its
// request.
func (a *Agent) monitorStorage(ctx context.Context) {
	for {
		a.checkStorage(ctx)
		select {
		case <-ctx.Done():
			return
		case <-a.cfg.Clock.After(storageInterval):
		}
	}
}

func (a *Agent) checkStorage(ctx context.Context) {
	pods, err := a.pods.List(labels.Everything())
	if err != nil {
		return
	}
	usage := map[string]StorageUsage{}
	var candidates []*corev1.Pod
	for _, pod := range pods {
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed || pod.DeletionTimestamp != nil || a.evictionOf(string(pod.UID)) != "" {
			continue
		}
		u := a.measure(pod)
		usage[string(pod.UID)] = u
		candidates = append(candidates, pod)
		if msg := LocalStorageEviction(pod, u); msg != "" {
			a.evict(pod, msg)
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(a.cfg.Runtime.PodDir(""), &st); err != nil {
		return
	}
	d := DiskStats{Capacity: int64(st.Blocks) * st.Bsize, Available: int64(st.Bavail) * st.Bsize}
	pressure := DiskPressure(d)
	a.mu.Lock()
	changed := a.diskPressure != pressure
	a.diskPressure = pressure
	a.mu.Unlock()
	if changed {
		reason := "NodeHasNoDiskPressure"
		if pressure {
			reason = "NodeHasDiskPressure"
		}
		a.nodeEvent(reason, "Node "+a.cfg.Machine.Name+" status is now: "+reason)
		if err := a.registerNode(ctx, a.cfg.Clock.Now()); err != nil {
			klog.FromContext(ctx).Error(err, "update node status", "node", a.cfg.Machine.Name)
		}
	}
	if !pressure {
		return
	}
	var live []*corev1.Pod
	for _, p := range candidates {
		if a.evictionOf(string(p.UID)) == "" {
			live = append(live, p)
		}
	}
	// One pod per round, as the kubelet: the next round sees what it freed.
	if victim, msg, ok := DiskPressureVictim(live, usage, d); ok {
		a.evict(victim, msg)
	}
}

// evict marks pod evicted with msg and has it synced: Decide kills it
// without grace and reports it Failed, reason Evicted.
func (a *Agent) evict(pod *corev1.Pod, msg string) {
	uid := string(pod.UID)
	a.mu.Lock()
	if _, done := a.evictions[uid]; done {
		a.mu.Unlock()
		return
	}
	a.evictions[uid] = msg
	a.mu.Unlock()
	klog.Background().Info("Evicting pod", "pod", klog.KObj(pod), "message", msg)
	a.runner.Add(pod.Namespace + "/" + pod.Name)
}

func (a *Agent) evictionOf(uid string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.evictions[uid]
}

// measure is what pod uses of the disk: its disk-backed emptyDirs, and each
// container's logs and writable layers (all its runs': they stay on disk
// until the pod goes).
func (a *Agent) measure(pod *corev1.Pod) StorageUsage {
	dir := a.cfg.Runtime.PodDir(string(pod.UID))
	u := StorageUsage{EmptyDirs: map[string]int64{}, Containers: map[string]int64{}}
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir != nil && v.EmptyDir.Medium != corev1.StorageMediumMemory {
			u.EmptyDirs[v.Name] = diskUsage(filepath.Join(dir, "volumes", v.Name))
		}
	}
	for _, c := range allContainers(&pod.Spec) {
		u.Containers[c.Name] = diskUsage(filepath.Join(dir, "containers", c.Name))
	}
	return u
}

// diskUsage is what the files under dir occupy (allocated blocks, as du
// counts them), not crossing into other file systems.
func diskUsage(dir string) int64 {
	root, err := os.Lstat(dir)
	if err != nil {
		return 0
	}
	rootStat, ok := root.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	var total int64
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		if st.Dev != rootStat.Dev {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		total += st.Blocks * 512
		return nil
	})
	return total
}
