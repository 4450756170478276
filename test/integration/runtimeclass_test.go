package integration

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchd/batchd/internal/testenv"
)

// TestRuntimeClasses: "host" and "oci" exist from the start; a pod naming a
// class that does not exist is forbidden by admission, as upstream's
// RuntimeClass plugin; a class's overhead and node selector are applied to
// its pods; a class is validated, and its handler never changes.
func TestRuntimeClasses(t *testing.T) {
	ctx := context.Background()
	rcs := env.Client.NodeV1().RuntimeClasses()
	for name, handler := range map[string]string{"host": "host", "oci": "oci"} {
		poll(t, "RuntimeClass "+name, func(ctx context.Context) (bool, error) {
			rc, err := rcs.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			if rc.Handler != handler {
				t.Fatalf("RuntimeClass %s handler %q, want %q", name, rc.Handler, handler)
			}
			return true, nil
		})
	}

	ns := env.Namespace(t)
	pods := env.Client.CoreV1().Pods(ns)
	podWith := func(name, class string) *corev1.Pod {
		p := testenv.Pod(name)
		if class != "" {
			p.Spec.RuntimeClassName = &class
		}
		return p
	}
	_, err := pods.Create(ctx, podWith("missing", "gvisor"), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || err.Error() != `pods "missing" is forbidden: pod rejected: RuntimeClass "gvisor" not found` {
		t.Fatalf("pod with a missing RuntimeClass: %v", err)
	}
	if p, err := pods.Create(ctx, podWith("on-host", "host"), metav1.CreateOptions{}); err != nil || *p.Spec.RuntimeClassName != "host" {
		t.Fatalf("pod with RuntimeClass host: %v", err)
	}

	sandboxed := &nodev1.RuntimeClass{
		ObjectMeta: metav1.ObjectMeta{Name: "sandboxed"}, Handler: "oci",
		Overhead:   &nodev1.Overhead{PodFixed: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("16Mi")}},
		Scheduling: &nodev1.Scheduling{NodeSelector: map[string]string{"kubernetes.io/os": "linux"}},
	}
	if _, err := rcs.Create(ctx, sandboxed, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rcs.Delete(context.Background(), "sandboxed", metav1.DeleteOptions{}) })
	// Created a moment ago: admission asks the store when its cache lags.
	p, err := pods.Create(ctx, podWith("sandboxed", "sandboxed"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Spec.Overhead.Memory().String(); got != "16Mi" || p.Spec.NodeSelector["kubernetes.io/os"] != "linux" {
		t.Errorf("pod of class sandboxed: overhead memory %s, nodeSelector %v", got, p.Spec.NodeSelector)
	}
	conflict := podWith("conflict", "sandboxed")
	conflict.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "windows"}
	_, err = pods.Create(ctx, conflict, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.HasSuffix(err.Error(), "conflict: runtimeClass.scheduling.nodeSelector[kubernetes.io/os] = linux; pod.spec.nodeSelector[kubernetes.io/os] = windows") {
		t.Errorf("conflicting node selector: %v", err)
	}
	overhead := podWith("overhead", "")
	overhead.Spec.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
	_, err = pods.Create(ctx, overhead, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.HasSuffix(err.Error(), "pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead") {
		t.Errorf("overhead without a class: %v", err)
	}

	_, err = rcs.Create(ctx, &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, Handler: "Not_A_Label"}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `RuntimeClass.node.k8s.io "bad" is invalid: handler: Invalid value: "Not_A_Label": a lowercase RFC 1123 label must consist of`) {
		t.Errorf("invalid handler: %v", err)
	}
	rc, err := rcs.Get(ctx, "sandboxed", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rc.Handler = "host"
	_, err = rcs.Update(ctx, rc, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `handler: Invalid value: "host": field is immutable`) {
		t.Errorf("changed handler: %v", err)
	}
}
