package integration

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// core/v1 and events.k8s.io/v1 are two views of the same stored events.
func TestEventsAreServedByBothAPIs(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	_, err := env.Client.CoreV1().Events(ns).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "pi.1"},
		InvolvedObject: corev1.ObjectReference{Kind: "Job", Namespace: ns, Name: "pi", APIVersion: "batch/v1"},
		Reason:         "SuccessfulCreate", Message: "Created pod: pi-abcde", Type: corev1.EventTypeNormal,
		Source: corev1.EventSource{Component: "job-controller"}, FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := env.Client.EventsV1().Events(ns).Get(ctx, "pi.1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Note != "Created pod: pi-abcde" || ev.Regarding.Name != "pi" || ev.DeprecatedSource.Component != "job-controller" || ev.DeprecatedCount != 1 {
		t.Errorf("events.k8s.io view = %+v", ev)
	}

	_, err = env.Client.EventsV1().Events(ns).Create(ctx, &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "pi.2"}, EventTime: metav1.NewMicroTime(now.Time),
		ReportingController: "kubelet", ReportingInstance: "node-a", Action: "Started", Reason: "Started",
		Regarding: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "pi-abcde"}, Note: "Started container pi", Type: corev1.EventTypeNormal,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := env.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=Pod"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Message != "Started container pi" || list.Items[0].ReportingController != "kubelet" {
		t.Errorf("core view of the events.k8s.io event = %+v", list.Items)
	}
	_, err = env.Client.EventsV1().Events(ns).Create(ctx, &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, Type: "Odd"}, metav1.CreateOptions{})
	if err == nil {
		t.Error("events.k8s.io accepted an event without eventTime, controller, action and reason")
	}
}
