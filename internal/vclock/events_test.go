package vclock

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

var virtual = time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)

// lastSink keeps what it was given.
type lastSink struct {
	event *corev1.Event
	patch []byte
}

func (s *lastSink) Create(e *corev1.Event) (*corev1.Event, error) { s.event = e; return e, nil }
func (s *lastSink) Update(e *corev1.Event) (*corev1.Event, error) { s.event = e; return e, nil }
func (s *lastSink) Patch(e *corev1.Event, p []byte) (*corev1.Event, error) {
	s.patch = p
	return e, nil
}

func TestRecordSinkRestamps(t *testing.T) {
	real := time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)
	var got lastSink
	sink := RecordSink(&got, clocktesting.NewFakePassiveClock(virtual))
	e := &corev1.Event{Reason: "SuccessfulCreate", FirstTimestamp: metav1.NewTime(real), LastTimestamp: metav1.NewTime(real), Count: 1}
	if _, err := sink.Create(e); err != nil {
		t.Fatal(err)
	}
	if !got.event.FirstTimestamp.Time.Equal(virtual) || !got.event.LastTimestamp.Time.Equal(virtual) {
		t.Errorf("created %v … %v, want %v", got.event.FirstTimestamp, got.event.LastTimestamp, virtual)
	}
	if !e.LastTimestamp.Time.Equal(real) {
		t.Error("the recorder's own event was changed")
	}
	// A repeated event re-created keeps how long ago it was first seen.
	e.FirstTimestamp = metav1.NewTime(real.Add(-time.Minute))
	if _, err := sink.Update(e); err != nil {
		t.Fatal(err)
	}
	if want := virtual.Add(-time.Minute); !got.event.FirstTimestamp.Time.Equal(want) {
		t.Errorf("first seen %v, want %v", got.event.FirstTimestamp, want)
	}
	// The correlator's count patch.
	if _, err := sink.Patch(e, []byte(`{"count":2,"lastTimestamp":"2026-11-30T16:00:05Z","message":"m"}`)); err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(got.patch, &p); err != nil {
		t.Fatal(err)
	}
	if p["lastTimestamp"] != "2027-03-01T09:00:00Z" || p["count"] != 2.0 || p["message"] != "m" {
		t.Errorf("patch %s", got.patch)
	}
	if _, err := sink.Patch(e, []byte(`not json`)); err == nil {
		t.Error("a patch that is not JSON was passed on")
	}
}

type lastEventsSink struct {
	event *eventsv1.Event
	patch []byte
}

func (s *lastEventsSink) Create(_ context.Context, e *eventsv1.Event) (*eventsv1.Event, error) {
	s.event = e
	return e, nil
}
func (s *lastEventsSink) Update(_ context.Context, e *eventsv1.Event) (*eventsv1.Event, error) {
	s.event = e
	return e, nil
}
func (s *lastEventsSink) Patch(_ context.Context, e *eventsv1.Event, p []byte) (*eventsv1.Event, error) {
	s.patch = p
	return e, nil
}

func TestEventsSinkRestamps(t *testing.T) {
	real := time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)
	var got lastEventsSink
	sink := EventsSink(&got, clocktesting.NewFakePassiveClock(virtual))
	ctx := context.Background()
	if _, err := sink.Create(ctx, &eventsv1.Event{Reason: "Scheduled", EventTime: metav1.NewMicroTime(real)}); err != nil {
		t.Fatal(err)
	}
	if !got.event.EventTime.Time.Equal(virtual) {
		t.Errorf("eventTime %v, want %v", got.event.EventTime, virtual)
	}
	series := &eventsv1.Event{Reason: "FailedScheduling", EventTime: metav1.NewMicroTime(real),
		Series: &eventsv1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(real.Add(time.Minute))}}
	if _, err := sink.Create(ctx, series); err != nil {
		t.Fatal(err)
	}
	if !got.event.Series.LastObservedTime.Time.Equal(virtual) || !got.event.EventTime.Time.Equal(virtual.Add(-time.Minute)) {
		t.Errorf("series %v first %v", got.event.Series.LastObservedTime, got.event.EventTime)
	}
	if _, err := sink.Patch(ctx, series, []byte(`{"series":{"count":3,"lastObservedTime":"2026-11-30T16:02:00.000000Z"}}`)); err != nil {
		t.Fatal(err)
	}
	if want := `{"series":{"count":3,"lastObservedTime":"2027-03-01T09:00:00.000000Z"}}`; string(got.patch) != want {
		t.Errorf("patch %s, want %s", got.patch, want)
	}
}
