// Package eventsink writes a process's core/v1 events to the API server
// through client-go's broadcaster and, when the process stops, waits until
// the events already recorded are written.
//
// client-go's broadcaster writes events on a goroutine of its own and its
// Shutdown does not wait for it: an event recorded just before a stop (the
// leader elector's "stopped leading") could be written after the API server
// of the same process stopped listening, which logs "Unable to write event"
// at error level and loses the event. Flush closes that window: it records a
// marker and waits until the marker reaches the sink. The broadcaster hands
// events to the sink in the order they were recorded, one at a time, so every
// event recorded before the marker has been written (or given up) by then.
// The marker itself is never written.
package eventsink

import (
	"context"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
)

// markerComponent is the source of the markers, which no real event has.
const markerComponent = "batchd-eventsink-flush"

// Pipeline is a broadcaster recording to a sink, with Flush.
type Pipeline struct {
	record.EventBroadcaster
	marker record.EventRecorder

	mu      sync.Mutex
	next    int
	waiting map[string]chan struct{}
}

// New starts a broadcaster that writes to sink. Its goroutines run until
// Shutdown, not until ctx ends (ctx gives them its logger): call Flush, then
// Shutdown, once nothing records any more.
func New(ctx context.Context, sink record.EventSink) *Pipeline {
	p := &Pipeline{
		EventBroadcaster: record.NewBroadcaster(record.WithContext(context.WithoutCancel(ctx))),
		waiting:          map[string]chan struct{}{},
	}
	p.marker = p.NewRecorder(scheme.Scheme, corev1.EventSource{Component: markerComponent})
	p.StartRecordingToSink(&markerSink{EventSink: sink, p: p})
	return p
}

// Flush returns once every event recorded before it was called has been
// handed to the sink (written, or given up after client-go's retries), or
// when ctx ends, whichever is first.
func (p *Pipeline) Flush(ctx context.Context) error {
	p.mu.Lock()
	p.next++
	name := "flush-" + strconv.Itoa(p.next)
	reached := make(chan struct{})
	p.waiting[name] = reached
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.waiting, name)
		p.mu.Unlock()
	}()
	p.marker.Event(&corev1.ObjectReference{Kind: "Flush", Namespace: "default", Name: name}, corev1.EventTypeNormal, "Flush", name)
	select {
	case <-reached:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// reached reports whether e is a marker and, if so, ends its Flush.
func (p *Pipeline) reached(e *corev1.Event) bool {
	if e.Source.Component != markerComponent {
		return false
	}
	p.mu.Lock()
	if ch, ok := p.waiting[e.InvolvedObject.Name]; ok {
		close(ch)
		delete(p.waiting, e.InvolvedObject.Name)
	}
	p.mu.Unlock()
	return true
}

// markerSink passes events to the sink, and markers to their Flush.
type markerSink struct {
	record.EventSink
	p *Pipeline
}

func (s *markerSink) Create(e *corev1.Event) (*corev1.Event, error) {
	if s.p.reached(e) {
		return e, nil
	}
	return s.EventSink.Create(e)
}

func (s *markerSink) Update(e *corev1.Event) (*corev1.Event, error) {
	if s.p.reached(e) {
		return e, nil
	}
	return s.EventSink.Update(e)
}

func (s *markerSink) Patch(e *corev1.Event, data []byte) (*corev1.Event, error) {
	if s.p.reached(e) {
		return e, nil
	}
	return s.EventSink.Patch(e, data)
}
