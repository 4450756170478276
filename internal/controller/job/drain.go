package job

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// drained brings a batched sync forward. Pod changes wait SyncBatchPeriod so
// that a burst costs one sync, as upstream; but once every pod a Job had
// active at its last sync has finished there is nothing left to gather, and
// waiting out the period only idles the Job (with parallelism p it caps a Job
// at p completions per period). finished counts, per Job, the pods seen to
// finish since its last sync began.
type drained struct {
	mu       sync.Mutex
	finished map[string]int32
}

func newDrained() *drained { return &drained{finished: map[string]int32{}} }

// observe records a pod change of the Job key and reports whether the Job's
// active pods (status.active, as written by its last sync) have all finished.
func (d *drained) observe(key string, old, cur *corev1.Pod, active int32) bool {
	if !justFinished(old, cur) {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.finished[key]++
	return active > 0 && d.finished[key] >= active
}

// synced starts a new count for key: its sync is about to read the pods.
func (d *drained) synced(key string) {
	d.mu.Lock()
	delete(d.finished, key)
	d.mu.Unlock()
}

// justFinished reports a pod update that is the pod's finish.
func justFinished(old, cur *corev1.Pod) bool {
	return old != nil && cur != nil && !isFinished(old) && isFinished(cur)
}
