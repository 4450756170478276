package node

import (
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
)

// Component is the event source of the agent, as the kubelet's.
const Component = "kubelet"

// Kubelet event reasons.
const (
	ReasonCreated           = "Created"
	ReasonStarted           = "Started"
	ReasonKilling           = "Killing"
	ReasonFailed            = "Failed"
	ReasonFailedMount       = "FailedMount"
	ReasonFailedSandbox     = "FailedCreatePodSandBox"
	ReasonFailedPreStopHook = "FailedPreStopHook"
)

// events records the kubelet's events on pods and on the Node. An event
// Decide plans is keyed by what it is about (a back-off of attempt 3, the
// deadline): it is recorded once per pod, however often Decide plans it.
type events struct {
	recorder record.EventRecorder
	node     string

	mu   sync.Mutex
	seen map[types.UID]map[string]bool // pod → keys recorded
}

func newEvents(r record.EventRecorder, node string) *events {
	return &events{recorder: r, node: node, seen: map[types.UID]map[string]bool{}}
}

// record records those of es not recorded yet for pod.
func (e *events) record(pod *corev1.Pod, es []Event) {
	for _, ev := range es {
		e.mu.Lock()
		if e.seen[pod.UID] == nil {
			e.seen[pod.UID] = map[string]bool{}
		}
		seen := e.seen[pod.UID][ev.Key]
		e.seen[pod.UID][ev.Key] = true
		e.mu.Unlock()
		if !seen {
			e.pod(pod, ev.Container, ev.Type, ev.Reason, ev.Message)
		}
	}
}

// forget drops what was recorded of a pod that is gone.
func (e *events) forget(uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.seen, uid)
}

// pod records an event on pod, about one of its containers when container
// is set (its field path, as kubectl describe shows it).
func (e *events) pod(pod *corev1.Pod, container, eventType, reason, msg string) {
	ref := &corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name,
		UID: pod.UID, ResourceVersion: pod.ResourceVersion}
	if container != "" {
		ref.FieldPath = fmt.Sprintf("spec.containers{%s}", container)
		if i := containerIndex(&pod.Spec, container); i >= 0 && i < len(pod.Spec.InitContainers) {
			ref.FieldPath = fmt.Sprintf("spec.initContainers{%s}", container)
		}
	}
	e.recorder.Event(ref, eventType, reason, msg)
}

// nodeEvent records an event on the Node, as the kubelet does (with the
// node's name as UID, which is what kubectl describe node looks for).
func (e *events) nodeEvent(eventType, reason, msg string) {
	e.recorder.Event(&corev1.ObjectReference{Kind: "Node", Name: e.node, UID: types.UID(e.node)}, eventType, reason, msg)
}
