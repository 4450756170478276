package integration

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/batchd/batchd/internal/testenv"
)

func poll(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 30*time.Second, true, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestBootstrapNamespacesAndDefaultServiceAccount(t *testing.T) {
	for _, name := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		ns, err := env.Client.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("namespace %s: %v", name, err)
		}
		if ns.Status.Phase != corev1.NamespaceActive {
			t.Errorf("namespace %s phase %s", name, ns.Status.Phase)
		}
	}
	ns := env.Namespace(t)
	poll(t, "default service account", func(ctx context.Context) (bool, error) {
		_, err := env.Client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
}

func TestCreateInMissingNamespaceIsRejected(t *testing.T) {
	_, err := env.Client.BatchV1().Jobs("does-not-exist").Create(context.Background(), testenv.Job("x"), metav1.CreateOptions{})
	if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), `namespaces "does-not-exist" not found`) {
		t.Fatalf("err = %v", err)
	}
}

func TestDeletingNamespaceRemovesItsContents(t *testing.T) {
	ctx := context.Background()
	name := "doomed-" + strings.ToLower(t.Name()[4:9])
	if _, err := env.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.CoreV1().ConfigMaps(name).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.BatchV1().Jobs(name).Create(ctx, testenv.Job("j"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ns, err := env.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err == nil && ns.Status.Phase != corev1.NamespaceTerminating {
		t.Errorf("phase right after delete = %s, want Terminating", ns.Status.Phase)
	}
	poll(t, "namespace gone", func(ctx context.Context) (bool, error) {
		_, err := env.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if _, err := env.Client.CoreV1().ConfigMaps(name).Get(ctx, "cm", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("configmap survived its namespace: %v", err)
	}
}

func TestImmortalNamespaceCannotBeDeleted(t *testing.T) {
	err := env.Client.CoreV1().Namespaces().Delete(context.Background(), "default", metav1.DeleteOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("err = %v, want Forbidden", err)
	}
}

func TestPodBindingAndFieldSelectors(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	pods := env.Client.CoreV1().Pods(ns)
	p, err := pods.Create(ctx, testenv.Pod("p"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != corev1.PodPending || p.Spec.ServiceAccountName != "default" || p.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("pod defaults: phase=%s sa=%q qos=%s", p.Status.Phase, p.Spec.ServiceAccountName, p.Status.QOSClass)
	}
	err = pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-a"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, _ = pods.Get(ctx, "p", metav1.GetOptions{})
	if p.Spec.NodeName != "node-a" || len(p.Status.Conditions) != 1 || p.Status.Conditions[0].Type != corev1.PodScheduled {
		t.Errorf("after binding: node=%q conditions=%v", p.Spec.NodeName, p.Status.Conditions)
	}
	if err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Name: "node-b"}}, metav1.CreateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("second binding: err = %v, want Conflict", err)
	}
	list, err := pods.List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=node-a,status.phase=Pending"})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("field selector: %d items, err %v", len(list.Items), err)
	}
	p.Spec.Containers[0].Command = []string{"false"}
	if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), "spec: Forbidden: pod updates may not change fields other than") {
		t.Errorf("pod spec update: err = %v", err)
	}
}

func TestAnonymousRequestsAreUnauthorized(t *testing.T) {
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, path := range []string{"/api/v1/namespaces", "/apis/batch/v1/jobs", "/version"} {
		resp, err := client.Get(env.Config.Host + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous GET %s = %d, want 401", path, resp.StatusCode)
		}
	}
}

func TestSecretStringDataFoldedIntoData(t *testing.T) {
	ns := env.Namespace(t)
	s, err := env.Client.CoreV1().Secrets(ns).Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "s"}, StringData: map[string]string{"password": "hunter2"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(s.Data["password"]) != "hunter2" || s.StringData != nil || s.Type != corev1.SecretTypeOpaque {
		t.Errorf("secret = %+v", s)
	}
}

// pods/log answers with upstream's checks of the pod's state.
func TestPodLogRoutesAndChecksPodState(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	pods := env.Client.CoreV1().Pods(ns)
	if _, err := pods.Create(ctx, testenv.Pod("p"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Read as kubectl does: a stream.
	logs := func(opts *corev1.PodLogOptions) error {
		rc, err := pods.GetLogs("p", opts).Stream(ctx)
		if err == nil {
			rc.Close()
		}
		return err
	}
	if err := logs(&corev1.PodLogOptions{}); !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "pod p does not have a host assigned") {
		t.Errorf("unbound pod: %v", err)
	}
	if err := logs(&corev1.PodLogOptions{Container: "nope"}); !strings.Contains(errText(err), "container nope is not valid for pod p") {
		t.Errorf("unknown container: %v", err)
	}
	if err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Name: "n1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tail := int64(5)
	if err := logs(&corev1.PodLogOptions{TailLines: &tail, Follow: true}); !strings.Contains(errText(err), `container "c" in pod "p" is waiting to start: ContainerCreating`) {
		t.Errorf("not started: %v", err)
	}
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// pods/eviction (policy/v1, as kubectl drain posts it) marks the pod with the
// DisruptionTarget condition a podFailurePolicy can match, then deletes it.
func TestPodEvictionSetsDisruptionTarget(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	p := testenv.Pod("evictee")
	p.Finalizers = []string{"example.com/hold"} // keeps the deleted pod readable
	if _, err := env.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "evictee", Namespace: ns}}
	if err := env.Client.PolicyV1().Evictions(ns).Evict(ctx, ev); err != nil {
		t.Fatal(err)
	}
	got, err := env.Client.CoreV1().Pods(ns).Get(ctx, "evictee", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var cond *corev1.PodCondition
	for i := range got.Status.Conditions {
		if got.Status.Conditions[i].Type == corev1.DisruptionTarget {
			cond = &got.Status.Conditions[i]
		}
	}
	if got.DeletionTimestamp == nil || cond == nil || cond.Status != corev1.ConditionTrue || cond.Reason != "EvictionByEvictionAPI" || cond.Message != "Eviction API: evicting" {
		t.Errorf("evicted pod: deletion %v, condition %+v", got.DeletionTimestamp, cond)
	}
	if err := env.Client.PolicyV1().Evictions(ns).Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "nobody", Namespace: ns}}); !apierrors.IsNotFound(err) {
		t.Errorf("evicting a missing pod: %v, want NotFound", err)
	}
	patch := []byte(`{"metadata":{"finalizers":null}}`)
	if _, err := env.Client.CoreV1().Pods(ns).Patch(ctx, "evictee", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// A pod created with scheduling gates is SchedulingGated: no binding takes
// it until every gate is removed, and gates can only be removed.
func TestSchedulingGatesHoldAPod(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	pods := env.Client.CoreV1().Pods(ns)
	gated := testenv.Pod("gated")
	gated.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/quota"}}
	p, err := pods.Create(ctx, gated, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Status.Conditions) != 1 || p.Status.Conditions[0].Type != corev1.PodScheduled || p.Status.Conditions[0].Status != corev1.ConditionFalse ||
		p.Status.Conditions[0].Reason != "SchedulingGated" || p.Status.Conditions[0].Message != "Scheduling is blocked due to non-empty scheduling gates" {
		t.Errorf("conditions of a gated pod: %+v", p.Status.Conditions)
	}
	bind := func() error {
		return pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "gated"}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-a"}}, metav1.CreateOptions{})
	}
	if err := bind(); err == nil || !strings.Contains(err.Error(), "pod gated has non-empty .spec.schedulingGates") {
		t.Errorf("binding a gated pod: %v", err)
	}
	p.Spec.SchedulingGates = append(p.Spec.SchedulingGates, corev1.PodSchedulingGate{Name: "example.com/more"})
	if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); err == nil ||
		!strings.Contains(err.Error(), `spec.schedulingGates[1]: Forbidden: only deletion is allowed, but found new scheduling gate 'example.com/more'`) {
		t.Errorf("adding a gate: %v", err)
	}
	p.Spec.SchedulingGates = nil
	if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("removing the gate: %v", err)
	}
	if err := bind(); err != nil {
		t.Errorf("binding once ungated: %v", err)
	}
}
