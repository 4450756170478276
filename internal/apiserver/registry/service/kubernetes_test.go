package service

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestReconcileKubernetes(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientset()
	port := func() int32 {
		ep, err := c.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ep.Subsets[0].Ports[0].Port
	}
	if err := ReconcileKubernetes(ctx, c, "127.0.0.1", 6443, nil); err != nil {
		t.Fatal(err)
	}
	svc, err := c.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP != KubernetesClusterIP || svc.Spec.Ports[0].TargetPort.IntVal != 6443 {
		t.Fatalf("service: %+v %v", svc, err)
	}
	// A second server sharing the etcd leaves a live first one alone...
	alive := func(string, int32) bool { return true }
	if err := ReconcileKubernetes(ctx, c, "127.0.0.1", 7443, alive); err != nil || port() != 6443 {
		t.Errorf("live server replaced: %d %v", port(), err)
	}
	// ...and takes over once it is gone.
	dead := func(string, int32) bool { return false }
	if err := ReconcileKubernetes(ctx, c, "127.0.0.1", 7443, dead); err != nil || port() != 7443 {
		t.Errorf("dead server kept: %d %v", port(), err)
	}
	slice, err := c.DiscoveryV1().EndpointSlices("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil || *slice.Ports[0].Port != 7443 {
		t.Errorf("slice: %+v %v", slice, err)
	}
	svc, _ = c.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if svc.Spec.Ports[0].TargetPort.IntVal != 7443 {
		t.Errorf("service target port %v", svc.Spec.Ports[0].TargetPort)
	}
}
