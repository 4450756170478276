package endpoint

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func pod(name, hostname string, ready bool, phase corev1.PodPhase) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: "u-" + "name"},
		Spec: corev1.PodSpec{Hostname: hostname, Subdomain: "workers", NodeName: "n1",
			Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}},
		Status: corev1.PodStatus{Phase: phase, PodIP: "192.0.2.1", Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}}
}

func TestDecide(t *testing.T) {
	headless := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "workers"}, Spec: corev1.ServiceSpec{ClusterIP: "None"}}
	pods := []*corev1.Pod{
		pod("work-1-x", "work-1", true, corev1.PodRunning),
		pod("work-0-x", "work-0", false, corev1.PodPending),
		pod("work-2-x", "work-2", true, corev1.PodSucceeded), // finished: gone
	}
	d := Decide(headless, pods)
	if len(d.Subsets) != 1 || len(d.Subsets[0].Ports) != 0 || len(d.Subsets[0].Addresses) != 1 || len(d.Subsets[0].NotReadyAddresses) != 1 {
		t.Fatalf("subsets: %+v", d.Subsets)
	}
	if a := d.Subsets[0].Addresses[0]; a.Hostname != "work-1" || a.IP != "192.0.2.1" || a.TargetRef.Name != "work-1-x" {
		t.Errorf("ready address: %+v", a)
	}
	if len(d.Endpoints) != 2 || *d.Endpoints[0].Hostname != "work-0" || *d.Endpoints[0].Conditions.Ready || !*d.Endpoints[1].Conditions.Ready {
		t.Errorf("slice endpoints (by pod name): %+v", d.Endpoints)
	}
	if len(d.Ports) != 0 {
		t.Errorf("ports: %+v", d.Ports)
	}

	// Another service selecting the same pods: no hostnames (their subdomain is not it); a named target port.
	web := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"}, Spec: corev1.ServiceSpec{
		Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}}}}
	d = Decide(web, pods[:1])
	want := []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}}
	if diff := cmp.Diff(want, d.Subsets[0].Ports); diff != "" || d.Subsets[0].Addresses[0].Hostname != "" || *d.Ports[0].Port != 8080 {
		t.Errorf("web: %s %+v", diff, d)
	}
	// publishNotReadyAddresses makes every pod an address.
	headless.Spec.PublishNotReadyAddresses = true
	if d := Decide(headless, pods); len(d.Subsets[0].Addresses) != 2 {
		t.Errorf("publishNotReadyAddresses: %+v", d.Subsets)
	}
}
