package eventsink

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
)

// gatedSink records what it was asked to write, each write waiting for gate.
type gatedSink struct {
	gate <-chan struct{}
	mu   sync.Mutex
	log  []string
}

func (s *gatedSink) add(what string) {
	s.mu.Lock()
	s.log = append(s.log, what)
	s.mu.Unlock()
}

func (s *gatedSink) Create(e *corev1.Event) (*corev1.Event, error) {
	<-s.gate
	s.add("create " + e.Reason)
	return e, nil
}

func (s *gatedSink) Update(e *corev1.Event) (*corev1.Event, error) {
	<-s.gate
	s.add("update " + e.Reason)
	return e, nil
}

func (s *gatedSink) Patch(e *corev1.Event, _ []byte) (*corev1.Event, error) {
	<-s.gate
	s.add("patch " + e.Reason)
	return e, nil
}

func TestFlushWaitsForTheEventsRecordedBeforeIt(t *testing.T) {
	gate := make(chan struct{})
	sink := &gatedSink{gate: gate}
	p := New(context.Background(), sink)
	defer p.Shutdown()
	rec := p.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "test"})
	pod := &corev1.Pod{}
	pod.Namespace, pod.Name, pod.UID = "default", "p", "u1"
	for _, reason := range []string{"First", "Second", "Third"} {
		rec.Event(pod, corev1.EventTypeNormal, reason, reason+" message")
	}
	flushed := make(chan error)
	go func() {
		err := p.Flush(context.Background())
		sink.add("flushed")
		flushed <- err
	}()
	close(gate) // the sink writes only now: a Flush that did not wait logs "flushed" first
	select {
	case err := <-flushed:
		if err != nil {
			t.Fatalf("Flush: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Flush did not return")
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if want := []string{"create First", "create Second", "create Third", "flushed"}; !slices.Equal(sink.log, want) {
		t.Fatalf("sink saw %q, want %q (the marker is never written; Flush returns after the events)", sink.log, want)
	}
}

func TestFlushGivesUpWhenItsContextEnds(t *testing.T) {
	gate := make(chan struct{}) // never opened: the sink hangs
	p := New(context.Background(), &gatedSink{gate: gate})
	defer func() { close(gate); p.Shutdown() }()
	rec := p.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "test"})
	rec.Event(&corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "p"}, corev1.EventTypeNormal, "Stuck", "stuck")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush = %v, want the context's deadline", err)
	}
}

func TestFlushesFollowEachOther(t *testing.T) {
	gate := make(chan struct{})
	close(gate)
	sink := &gatedSink{gate: gate}
	p := New(context.Background(), sink)
	defer p.Shutdown()
	rec := p.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "test"})
	for i, reason := range []string{"A", "B"} {
		rec.Event(&corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "p"}, corev1.EventTypeNormal, reason, reason)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := p.Flush(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Flush %d: %v", i+1, err)
		}
		sink.mu.Lock()
		got := slices.Clone(sink.log)
		sink.mu.Unlock()
		if len(got) != i+1 || got[i] != "create "+reason {
			t.Fatalf("after flush %d the sink saw %q", i+1, got)
		}
	}
}
