package run

import (
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// reasonImageUnavailable is the node's event of a pod that runs its command
// on the host because its image cannot be had (--default-runtime auto).
const reasonImageUnavailable = "ImageUnavailable"

// imageNotes tells the user, once per image, that pods of the run's Jobs
// run their commands on the host instead of their images, and why: the
// nodes' ImageUnavailable events, which a user of kubectl finds in
// `kubectl describe pod`.
type imageNotes struct {
	since   time.Time
	mu      sync.Mutex
	pending []*corev1.Event
	said    map[string]bool
}

func newImageNotes(since time.Time) *imageNotes {
	return &imageNotes{since: since, said: map[string]bool{}}
}

// watch follows the nodes' ImageUnavailable events in namespace ns until
// stop closes, keeping them for say and poking the run's loop; its factory
// is returned to be shut down.
func (n *imageNotes) watch(client kubernetes.Interface, ns string, stop <-chan struct{}, poke func(any)) (informers.SharedInformerFactory, error) {
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "reason=" + reasonImageUnavailable }))
	keep := func(o any) { n.add(o); poke(o) }
	if _, err := f.Core().V1().Events().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: keep, UpdateFunc: func(_, o any) { keep(o) }}); err != nil {
		return nil, err
	}
	f.Start(stop)
	return f, nil
}

// add keeps an event of the informer for the next say.
func (n *imageNotes) add(obj any) {
	ev, ok := obj.(*corev1.Event)
	if !ok || ev.Reason != reasonImageUnavailable || ev.InvolvedObject.Kind != "Pod" || eventTime(ev).Before(n.since) {
		return
	}
	n.mu.Lock()
	n.pending = append(n.pending, ev)
	n.mu.Unlock()
}

// say returns the lines of the events kept so far that concern pods of
// jobs, one per image not yet told; events of pods not seen yet wait.
func (n *imageNotes) say(jobs []*batchv1.Job, pods []*corev1.Pod) []string {
	owned := map[types.UID]bool{}
	for _, j := range jobs {
		owned[j.UID] = true
	}
	ours := map[types.UID]bool{}
	for _, p := range pods {
		if ref := metav1.GetControllerOf(p); ref != nil && owned[ref.UID] {
			ours[p.UID] = true
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var lines []string
	keep := n.pending[:0]
	for _, ev := range n.pending {
		if !ours[ev.InvolvedObject.UID] {
			keep = append(keep, ev)
			continue
		}
		// One line per image: the message names it first.
		key, _, _ := strings.Cut(ev.Message, " cannot be used")
		if !n.said[key] {
			n.said[key] = true
			lines = append(lines, "pod/"+ev.InvolvedObject.Name+": "+ev.Message)
		}
	}
	n.pending = keep
	return lines
}

func eventTime(ev *corev1.Event) time.Time {
	switch {
	case !ev.LastTimestamp.IsZero():
		return ev.LastTimestamp.Time
	case !ev.EventTime.IsZero():
		return ev.EventTime.Time
	}
	return ev.CreationTimestamp.Time
}
