package controller

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

func TestDropManagedFields(t *testing.T) {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"k": "v"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate}}}}
	out, err := DropManagedFields(j)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*batchv1.Job)
	if got.ManagedFields != nil || got.Name != "a" || got.Labels["k"] != "v" {
		t.Errorf("transformed: %+v", got.ObjectMeta)
	}
	// What is not an object passes unchanged.
	tomb := cache.DeletedFinalStateUnknown{Key: "ns/a"}
	if out, err := DropManagedFields(tomb); err != nil || out != any(tomb) {
		t.Errorf("tombstone: %v, %v", out, err)
	}
}
