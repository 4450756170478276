package integration

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Server-side apply through the main resource cannot set status, and an apply
// through /status cannot change the spec (upstream's reset fields).
func TestServerSideApplyRespectsSubresources(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	jobs := env.Client.BatchV1().Jobs(ns)
	manifest := `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"ssa"},"spec":{"managedBy":"example.com/test-controller","template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}},"status":{"active":5}}`
	force := true
	j, err := jobs.Patch(ctx, "ssa", types.ApplyPatchType, []byte(manifest), metav1.PatchOptions{FieldManager: "tester", Force: &force})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status.Active != 0 {
		t.Errorf("status set through the main resource: active=%d", j.Status.Active)
	}
	status := `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"ssa"},"spec":{"parallelism":9},"status":{"active":2}}`
	j, err = jobs.Patch(ctx, "ssa", types.ApplyPatchType, []byte(status), metav1.PatchOptions{FieldManager: "status-writer", Force: &force}, "status")
	if err != nil {
		t.Fatal(err)
	}
	if j.Status.Active != 2 || *j.Spec.Parallelism != 1 {
		t.Errorf("after status apply: active=%d parallelism=%d", j.Status.Active, *j.Spec.Parallelism)
	}
	for _, mf := range j.ManagedFields {
		if mf.Manager == "tester" && mf.Subresource != "" {
			t.Errorf("main-resource manager recorded on subresource %q", mf.Subresource)
		}
	}
}
