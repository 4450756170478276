package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
)

// Issue 15 item 2: every served resource with a status subresource keeps,
// on a write through status, what upstream's status strategy keeps — the
// metadata (labels, annotations, finalizers; ownerReferences except on pods)
// and the new status — and resets the spec; pods also keep their stored
// ownerReferences. Both PATCH and PUT of …/status are checked through the API.
func TestStatusWritesKeepMetadataAndResetSpec(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	owner, err := env.Client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ownerRef := fmt.Sprintf(`[{"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":%q}]`, owner.UID)
	// Cluster-scoped objects get a cluster-scoped owner: the test's namespace.
	nsObj, err := env.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clusterOwnerRef := fmt.Sprintf(`[{"apiVersion":"v1","kind":"Namespace","name":%q,"uid":%q}]`, ns, nsObj.UID)
	suffix := rand.String(6)
	for _, tc := range []struct {
		name       string
		gvr        schema.GroupVersionResource
		namespaced bool
		manifest   string // JSON of the object to create
		spec       string // a spec change (ignored through status)
		specPath   []string
		status     string // a status change (kept)
		statusPath []string
		want       any // statusPath's value after the write
		// keepsOwnerRefs: ownerReferences written through status are kept
		// (all but pods, whose status strategy ignores them).
		keepsOwnerRefs bool
	}{
		{
			name: "jobs", gvr: batchv1.SchemeGroupVersion.WithResource("jobs"), namespaced: true,
			manifest: `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"st"},"spec":{"managedBy":"example.com/test-controller","template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}`,
			spec:     `{"parallelism":5}`, specPath: []string{"spec", "parallelism"},
			status: `{"startTime":"2026-01-02T03:04:05Z"}`, statusPath: []string{"status", "startTime"}, want: "2026-01-02T03:04:05Z",
			keepsOwnerRefs: true,
		},
		{
			name: "cronjobs", gvr: batchv1.SchemeGroupVersion.WithResource("cronjobs"), namespaced: true,
			manifest: `{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"st"},"spec":{"schedule":"@yearly","suspend":true,"jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}}}`,
			spec:     `{"schedule":"@daily"}`, specPath: []string{"spec", "schedule"},
			status: `{"lastScheduleTime":"2026-01-02T03:04:05Z"}`, statusPath: []string{"status", "lastScheduleTime"}, want: "2026-01-02T03:04:05Z",
			keepsOwnerRefs: true,
		},
		{
			name: "pods", gvr: corev1.SchemeGroupVersion.WithResource("pods"), namespaced: true,
			manifest: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"st"},"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}`,
			spec:     `{"activeDeadlineSeconds":5}`, specPath: []string{"spec", "activeDeadlineSeconds"},
			status: `{"message":"written through status"}`, statusPath: []string{"status", "message"}, want: "written through status",
		},
		{
			name: "namespaces", gvr: corev1.SchemeGroupVersion.WithResource("namespaces"),
			manifest: `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"st-` + suffix + `"}}`,
			spec:     `{"finalizers":[]}`, specPath: []string{"spec", "finalizers"},
			status:         `{"conditions":[{"type":"Custom","status":"True","reason":"Test","lastTransitionTime":"2026-01-02T03:04:05Z"}]}`,
			statusPath:     []string{"status", "conditions"},
			want:           []any{map[string]any{"type": "Custom", "status": "True", "reason": "Test", "lastTransitionTime": "2026-01-02T03:04:05Z"}},
			keepsOwnerRefs: true,
		},
		{
			name: "nodes", gvr: corev1.SchemeGroupVersion.WithResource("nodes"),
			manifest: `{"apiVersion":"v1","kind":"Node","metadata":{"name":"st-` + suffix + `"},"spec":{"taints":[{"key":"test","effect":"NoSchedule"}]}}`,
			spec:     `{"unschedulable":true}`, specPath: []string{"spec", "unschedulable"},
			status: `{"capacity":{"pods":"7"}}`, statusPath: []string{"status", "capacity", "pods"}, want: "7",
			keepsOwnerRefs: true,
		},
		{
			name: "persistentvolumeclaims", gvr: corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims"), namespaced: true,
			manifest: `{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"st"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Mi"}}}}`,
			spec:     `{"volumeName":"elsewhere"}`, specPath: []string{"spec", "volumeName"},
			status: `{"phase":"Lost"}`, statusPath: []string{"status", "phase"}, want: "Lost",
			keepsOwnerRefs: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var client dynamic.ResourceInterface = dyn.Resource(tc.gvr)
			if tc.namespaced {
				client = dyn.Resource(tc.gvr).Namespace(ns)
			}
			obj := &unstructured.Unstructured{}
			if err := json.Unmarshal([]byte(tc.manifest), &obj.Object); err != nil {
				t.Fatal(err)
			}
			created, err := client.Create(ctx, obj, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			name := created.GetName()
			if !tc.namespaced {
				t.Cleanup(func() { _ = client.Delete(context.Background(), name, metav1.DeleteOptions{}) })
			}
			specBefore, _, _ := unstructured.NestedFieldCopy(created.Object, tc.specPath...)

			// PATCH …/status, as the conformance specs do.
			refs := ownerRef
			if !tc.namespaced {
				refs = clusterOwnerRef
			}
			patch := fmt.Sprintf(`{"metadata":{"annotations":{"patchedstatus":"true"},"labels":{"patched":"status"},"ownerReferences":%s},"spec":%s,"status":%s}`,
				refs, tc.spec, tc.status)
			got, err := client.Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}, "status")
			if err != nil {
				t.Fatalf("patch status: %v", err)
			}
			if got.GetAnnotations()["patchedstatus"] != "true" || got.GetLabels()["patched"] != "status" {
				t.Errorf("patch status: annotations %v labels %v, want patchedstatus=true and patched=status kept", got.GetAnnotations(), got.GetLabels())
			}
			if refs := got.GetOwnerReferences(); tc.keepsOwnerRefs != (len(refs) == 1) {
				t.Errorf("patch status: ownerReferences %v, kept=%v wanted", refs, tc.keepsOwnerRefs)
			}
			if v, _, _ := unstructured.NestedFieldCopy(got.Object, tc.statusPath...); fmt.Sprint(v) != fmt.Sprint(tc.want) {
				t.Errorf("patch status: %v = %v, want %v", tc.statusPath, v, tc.want)
			}
			if v, _, _ := unstructured.NestedFieldCopy(got.Object, tc.specPath...); fmt.Sprint(v) != fmt.Sprint(specBefore) {
				t.Errorf("patch status changed %v: %v, want %v", tc.specPath, v, specBefore)
			}
			if got.GetGeneration() != created.GetGeneration() {
				t.Errorf("patch status: generation %d, want %d", got.GetGeneration(), created.GetGeneration())
			}

			// PUT …/status with one more annotation and a finalizer.
			err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
				cur, err := client.Get(ctx, name, metav1.GetOptions{}, "status")
				if err != nil {
					return err
				}
				a := cur.GetAnnotations()
				if a == nil {
					a = map[string]string{}
				}
				a["updatedstatus"] = "true"
				cur.SetAnnotations(a)
				cur.SetFinalizers(append(cur.GetFinalizers(), "example.com/test"))
				got, err = client.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
				return err
			})
			if err != nil {
				t.Fatalf("update status: %v", err)
			}
			if a := got.GetAnnotations(); a["updatedstatus"] != "true" || a["patchedstatus"] != "true" {
				t.Errorf("update status: annotations %v", a)
			}
			if f := got.GetFinalizers(); len(f) == 0 || f[len(f)-1] != "example.com/test" {
				t.Errorf("update status: finalizers %v, want example.com/test kept", f)
			}
			// Let the object go.
			err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
				_, err := client.Patch(ctx, name, types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/finalizers/`+fmt.Sprint(len(got.GetFinalizers())-1)+`"}]`), metav1.PatchOptions{})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Through status a namespace's phase follows its deletionTimestamp, with
// upstream's field path and message.
func TestNamespaceStatusPhaseValidated(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	_, err := env.Client.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, []byte(`{"status":{"phase":"Terminating"}}`), metav1.PatchOptions{}, "status")
	if want := "status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %s", err, want)
	}
}

// A node may be created with its status, as the kubelet does (upstream's
// nodeStrategy allows every field on create).
func TestNodeCreatedWithStatus(t *testing.T) {
	ctx := context.Background()
	name := "with-status-" + rand.String(6)
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:   corev1.NodeSpec{Taints: []corev1.Taint{{Key: "test", Effect: corev1.TaintEffectNoSchedule}}},
		Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.37.2"}}}
	got, err := env.Client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	if got.Status.NodeInfo.KubeletVersion != "v1.37.2" {
		t.Errorf("status on create dropped: %+v", got.Status.NodeInfo)
	}
}
