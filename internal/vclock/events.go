package vclock

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
)

// Events stamp with the machine's clock: client-go's recorders
// (tools/record, tools/events) read time.Now or a RealClock they do not let
// a caller replace. Under a virtual clock a Job's status says it started at
// 09:00 virtual while its events say now in real time. These sinks sit
// between a broadcaster and the API and restamp what they write with the
// given clock, so events carry the same time as the status they explain.

// RecordSink restamps core/v1 Events (tools/record) with clk's time.
func RecordSink(sink record.EventSink, clk clock.PassiveClock) record.EventSink {
	return recordSink{sink: sink, clk: clk}
}

type recordSink struct {
	sink record.EventSink
	clk  clock.PassiveClock
}

func (s recordSink) Create(e *corev1.Event) (*corev1.Event, error) { return s.sink.Create(s.stamp(e)) }
func (s recordSink) Update(e *corev1.Event) (*corev1.Event, error) { return s.sink.Update(s.stamp(e)) }

// Patch is how the correlator counts a repeated event: the patch sets its
// count, message and lastTimestamp; the last is restamped.
func (s recordSink) Patch(e *corev1.Event, data []byte) (*corev1.Event, error) {
	data, err := restampPatch(data, func(p map[string]any) {
		if _, ok := p["lastTimestamp"]; ok {
			p["lastTimestamp"] = metav1.NewTime(s.clk.Now())
		}
	})
	if err != nil {
		return nil, err
	}
	return s.sink.Patch(e, data)
}

// stamp sets the event's last time to now, keeping how long before it was
// first seen (a repeated event re-created after its old one went).
func (s recordSink) stamp(e *corev1.Event) *corev1.Event {
	e = e.DeepCopy()
	now := s.clk.Now()
	first := now
	if !e.FirstTimestamp.IsZero() && !e.LastTimestamp.IsZero() {
		first = now.Add(-e.LastTimestamp.Sub(e.FirstTimestamp.Time))
	}
	e.FirstTimestamp, e.LastTimestamp = metav1.NewTime(first), metav1.NewTime(now)
	if !e.EventTime.IsZero() {
		e.EventTime = metav1.NewMicroTime(now)
	}
	return e
}

// EventsSink restamps events.k8s.io/v1 Events (tools/events, the
// scheduler's) with clk's time: eventTime of a new event, the series'
// lastObservedTime of a repeated one.
func EventsSink(sink events.EventSink, clk clock.PassiveClock) events.EventSink {
	return eventsSink{sink: sink, clk: clk}
}

type eventsSink struct {
	sink events.EventSink
	clk  clock.PassiveClock
}

func (s eventsSink) Create(ctx context.Context, e *eventsv1.Event) (*eventsv1.Event, error) {
	return s.sink.Create(ctx, s.stamp(e))
}

func (s eventsSink) Update(ctx context.Context, e *eventsv1.Event) (*eventsv1.Event, error) {
	return s.sink.Update(ctx, s.stamp(e))
}

func (s eventsSink) Patch(ctx context.Context, e *eventsv1.Event, data []byte) (*eventsv1.Event, error) {
	data, err := restampPatch(data, func(p map[string]any) {
		if series, ok := p["series"].(map[string]any); ok {
			if _, ok := series["lastObservedTime"]; ok {
				series["lastObservedTime"] = metav1.NewMicroTime(s.clk.Now())
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return s.sink.Patch(ctx, e, data)
}

func (s eventsSink) stamp(e *eventsv1.Event) *eventsv1.Event {
	e = e.DeepCopy()
	now := s.clk.Now()
	if e.Series != nil {
		// A series re-created: first seen as long before as it was.
		e.EventTime = metav1.NewMicroTime(now.Add(-e.Series.LastObservedTime.Sub(e.EventTime.Time)))
		e.Series.LastObservedTime = metav1.NewMicroTime(now)
	} else {
		e.EventTime = metav1.NewMicroTime(now)
	}
	return e
}

// restampPatch rewrites the times of a JSON merge patch.
func restampPatch(data []byte, restamp func(map[string]any)) ([]byte, error) {
	var p map[string]any
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("restamp an event patch: %w", err)
	}
	restamp(p)
	return json.Marshal(p)
}
