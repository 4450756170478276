package job

import (
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// releasing remembers, per Job, the pods whose tracking finalizer this
// controller has removed but whose removal the pod informer has not shown yet
// (upstream's uidTrackingExpectations, "expectedRmFinalizers"). A sync sees
// such a pod as released: an informer a step behind would otherwise show a
// finished pod still holding the finalizer after the Job's status already
// counted it, and the pod would be recorded and counted a second time.
type releasing struct {
	mu sync.Mutex
	m  map[string]map[types.UID]bool
}

func newReleasing() *releasing { return &releasing{m: map[string]map[types.UID]bool{}} }

// removed records that pod's tracking finalizer is gone in the API.
func (r *releasing) removed(key string, uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m[key] == nil {
		r.m[key] = map[types.UID]bool{}
	}
	r.m[key][uid] = true
}

// view is pods as the API holds them: those whose removal is known but not
// yet seen lose the tracking finalizer (copies; the cache is not touched).
// Removals the informer now shows, or whose pod is gone, are forgotten: a
// pod's informer events come in order, so its finalizer never comes back.
// pods must be the informer's, never a view: a view's released pods would
// read as shown and be forgotten.
func (r *releasing) view(key string, pods []*corev1.Pod) []*corev1.Pod {
	r.mu.Lock()
	defer r.mu.Unlock()
	uids := r.m[key]
	if len(uids) == 0 {
		return pods
	}
	seen := make(map[types.UID]bool, len(uids))
	out := make([]*corev1.Pod, len(pods))
	for i, pod := range pods {
		out[i] = pod
		if !uids[pod.UID] || !hasString(pod.Finalizers, TrackingFinalizer) {
			continue
		}
		seen[pod.UID] = true
		pod = pod.DeepCopy()
		pod.Finalizers = slices.DeleteFunc(pod.Finalizers, func(f string) bool { return f == TrackingFinalizer })
		out[i] = pod
	}
	for uid := range uids {
		if !seen[uid] {
			delete(uids, uid)
		}
	}
	if len(uids) == 0 {
		delete(r.m, key)
	}
	return out
}

// forget drops a gone Job's removals.
func (r *releasing) forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, key)
}
