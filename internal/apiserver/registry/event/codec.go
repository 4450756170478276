package event

import (
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Codec wraps the storage codec of core/v1 events.
type Codec struct{ Core runtime.Codec }

var _ runtime.Codec = Codec{}

// Decode reads a stored core/v1 Event and returns it as an events.k8s.io/v1 Event.
func (c Codec) Decode(data []byte, _ *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	obj, _, err := c.Core.Decode(data, nil, &corev1.Event{})
	if err != nil {
		return nil, nil, err
	}
	core, ok := obj.(*corev1.Event)
	if !ok {
		return nil, nil, fmt.Errorf("stored event decoded as %T", obj)
	}
	out, ok := into.(*eventsv1.Event)
	if !ok || out == nil {
		out = &eventsv1.Event{}
	}
	*out = FromCore(core)
	gvk := eventsv1.SchemeGroupVersion.WithKind("Event")
	return out, &gvk, nil
}

// Encode stores an events.k8s.io/v1 Event as a core/v1 Event.
func (c Codec) Encode(obj runtime.Object, w io.Writer) error {
	ev, ok := obj.(*eventsv1.Event)
	if !ok {
		return c.Core.Encode(obj, w)
	}
	core := ToCore(ev)
	return c.Core.Encode(&core, w)
}

// Identifier distinguishes this codec's output in the apiserver's caches.
func (c Codec) Identifier() runtime.Identifier {
	return runtime.Identifier("events.k8s.io-v1-as-core-v1/" + string(c.Core.Identifier()))
}
