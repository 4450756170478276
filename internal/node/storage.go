package node

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/batchd/batchd/internal/node/runtime"
)

// storageInterval is how often pods' disk use is measured: the kubelet's
// eviction monitoring interval.
const storageInterval = 10 * time.Second

// storage is the kubelet's eviction manager for local ephemeral storage:
// every storageInterval it measures what each running pod uses of the disk
// and how full the pods' file system is, and evicts (eviction.go decides):
// a pod over its ephemeral-storage limits or an emptyDir over its
// sizeLimit, and, when the file system has less than 10% available
// (DiskPressure), the pod that uses the most beyond its request. An
// evicted pod's worker kills it without grace and reports it Failed.
type storage struct {
	rt     runtime.Runtime
	clock  clock.Clock
	wall   clock.Clock // the checks' pace
	events *events
	node   string
	// pods lists the pods on the node; sync has a pod's worker look at it.
	pods func() []*corev1.Pod
	sync func(types.UID)
	// pressureChanged writes the Node's status at once.
	pressureChanged func(ctx context.Context) error

	mu sync.Mutex
	// evicted are the pods the node evicts, with the reason; pressure is
	// whether the pods' file system is short of space.
	evicted  map[types.UID]string
	pressure bool
}

// run measures until ctx ends.
func (s *storage) run(ctx context.Context) {
	for {
		s.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-s.wall.After(storageInterval):
		}
	}
}

func (s *storage) check(ctx context.Context) {
	usage := map[string]StorageUsage{}
	var candidates []*corev1.Pod
	for _, pod := range s.pods() {
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed || pod.DeletionTimestamp != nil || s.evictionOf(pod.UID) != "" {
			continue
		}
		u := measure(s.rt.PodDir(string(pod.UID)), pod)
		usage[string(pod.UID)] = u
		candidates = append(candidates, pod)
		if msg := LocalStorageEviction(pod, u); msg != "" {
			s.evict(pod, msg)
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.rt.PodDir(""), &st); err != nil {
		return
	}
	d := DiskStats{Capacity: int64(st.Blocks) * st.Bsize, Available: int64(st.Bavail) * st.Bsize}
	pressure := DiskPressure(d)
	s.mu.Lock()
	changed := s.pressure != pressure
	s.pressure = pressure
	s.mu.Unlock()
	if changed {
		reason := "NodeHasNoDiskPressure"
		if pressure {
			reason = "NodeHasDiskPressure"
		}
		s.events.nodeEvent(corev1.EventTypeNormal, reason, "Node "+s.node+" status is now: "+reason)
		if err := s.pressureChanged(ctx); err != nil {
			klog.FromContext(ctx).Error(err, "update node status", "node", s.node)
		}
	}
	if !pressure {
		return
	}
	var live []*corev1.Pod
	for _, p := range candidates {
		if s.evictionOf(p.UID) == "" {
			live = append(live, p)
		}
	}
	// One pod per round, as the kubelet: the next round sees what it freed.
	if victim, msg, ok := DiskPressureVictim(live, usage, d); ok {
		s.evict(victim, msg)
	}
}

// evict marks pod evicted with msg and has it synced: Decide kills it
// without grace and reports it Failed, reason Evicted.
func (s *storage) evict(pod *corev1.Pod, msg string) {
	s.mu.Lock()
	if _, done := s.evicted[pod.UID]; done {
		s.mu.Unlock()
		return
	}
	s.evicted[pod.UID] = msg
	s.mu.Unlock()
	klog.Background().Info("Evicting pod", "pod", klog.KObj(pod), "message", msg)
	s.sync(pod.UID)
}

// evictionOf is why the node evicts pod uid, "" when it does not.
func (s *storage) evictionOf(uid types.UID) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.evicted[uid]
}

// diskPressure tells whether the pods' file system is short of space.
func (s *storage) diskPressure() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pressure
}

// forget drops the eviction of a pod that is gone.
func (s *storage) forget(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.evicted, uid)
}

// measure is what pod uses of the disk: its disk-backed emptyDirs, and each
// container's logs and writable layers (all its runs': they stay on disk
// until the pod goes).
func measure(dir string, pod *corev1.Pod) StorageUsage {
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
