package gc

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestCollectedLeavesOutEventsSubresourcesAndWhatCannotBeDeleted(t *testing.T) {
	all := []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	lists := []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Kind: "Pod", Namespaced: true, Verbs: all},
			{Name: "pods/status", Kind: "Pod", Namespaced: true, Verbs: []string{"get", "patch", "update"}},
			{Name: "events", Kind: "Event", Namespaced: true, Verbs: all},
			{Name: "namespaces", Kind: "Namespace", Verbs: all},
			{Name: "bindings", Kind: "Binding", Namespaced: true, Verbs: []string{"create"}},
		}},
		{GroupVersion: "events.k8s.io/v1", APIResources: []metav1.APIResource{
			{Name: "events", Kind: "Event", Namespaced: true, Verbs: all},
		}},
		{GroupVersion: "batch/v1", APIResources: []metav1.APIResource{
			{Name: "jobs", Kind: "Job", Namespaced: true, Verbs: all},
			{Name: "cronjobs", Kind: "CronJob", Namespaced: true, Verbs: all},
		}},
		{GroupVersion: "not/a/group/version"},
	}
	want := []Resource{
		{GVR: schema.GroupVersionResource{Version: "v1", Resource: "pods"}, Kind: "Pod", Namespaced: true},
		{GVR: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, Kind: "Namespace"},
		{GVR: schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, Kind: "Job", Namespaced: true},
		{GVR: schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}, Kind: "CronJob", Namespaced: true},
	}
	if got := Collected(lists, DefaultIgnored()); !reflect.DeepEqual(got, want) {
		t.Errorf("Collected(default ignored) =\n%v\nwant\n%v", got, want)
	}
	// Nothing ignored: the events of both groups are collected too.
	got := Collected(lists, map[schema.GroupResource]bool{})
	if len(got) != len(want)+2 || got[1].GVR.Resource != "events" || got[3].GVR.Group != "events.k8s.io" {
		t.Errorf("Collected(nothing ignored) = %v, want the events of both groups as well", got)
	}
}
