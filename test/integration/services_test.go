package integration

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestKubernetesService: the kubernetes Service in default has the first
// service address and its Endpoints and EndpointSlice name the API server.
func TestKubernetesService(t *testing.T) {
	ctx := context.Background()
	u, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(u.Host)
	svc, err := env.Client.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "10.96.0.1" || svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.Ports[0].Port != 443 ||
		svc.Spec.Ports[0].Name != "https" || svc.Spec.Ports[0].TargetPort.String() != port || svc.Labels["component"] != "apiserver" {
		t.Errorf("kubernetes service: %+v", svc.Spec)
	}
	ep, err := env.Client.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ep.Subsets) != 1 || ep.Subsets[0].Addresses[0].IP != host || strconv.Itoa(int(ep.Subsets[0].Ports[0].Port)) != port {
		t.Errorf("kubernetes endpoints: %+v", ep.Subsets)
	}
	slice, err := env.Client.DiscoveryV1().EndpointSlices("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if slice.Endpoints[0].Addresses[0] != host || strconv.Itoa(int(*slice.Ports[0].Port)) != port || slice.Labels["kubernetes.io/service-name"] != "kubernetes" {
		t.Errorf("kubernetes endpointslice: %+v", slice)
	}
}

// TestServices: ClusterIPs and node ports are allocated without collisions,
// kept over an update that omits them, and immutable; headless Services (for
// Indexed Jobs) get none.
func TestServices(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	svcs := env.Client.CoreV1().Services(ns)
	port := []corev1.ServicePort{{Port: 80}}
	a, err := svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "a"}, Ports: port}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: port}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ip := net.ParseIP(a.Spec.ClusterIP)
	_, cidr, _ := net.ParseCIDR("10.96.0.0/12")
	if ip == nil || !cidr.Contains(ip) || a.Spec.ClusterIP == b.Spec.ClusterIP || a.Spec.ClusterIP == "10.96.0.1" ||
		a.Spec.Ports[0].Protocol != corev1.ProtocolTCP || a.Spec.Ports[0].TargetPort != intstr.FromInt32(80) || a.Spec.SessionAffinity != corev1.ServiceAffinityNone ||
		len(a.Spec.ClusterIPs) != 1 || a.Spec.IPFamilies[0] != corev1.IPv4Protocol {
		t.Errorf("allocation/defaults: a=%+v b=%+v", a.Spec, b.Spec)
	}
	if np := b.Spec.Ports[0].NodePort; np < 30000 || np > 32767 {
		t.Errorf("node port %d", np)
	}
	// An explicit address in use is refused with upstream's text.
	_, err = svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: corev1.ServiceSpec{ClusterIP: a.Spec.ClusterIP, Ports: port}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "provided IP is already allocated") {
		t.Errorf("duplicate clusterIP: %v", err)
	}
	// An update without the allocated fields keeps them; changing the address is refused.
	upd := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "b", ResourceVersion: b.ResourceVersion}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: port, Selector: map[string]string{"x": "y"}}}
	got, err := svcs.Update(ctx, upd, metav1.UpdateOptions{})
	if err != nil || got.Spec.ClusterIP != b.Spec.ClusterIP || got.Spec.Ports[0].NodePort != b.Spec.Ports[0].NodePort {
		t.Errorf("update keeps allocations: %+v %v", got, err)
	}
	got.Spec.ClusterIP, got.Spec.ClusterIPs = "10.96.5.5", []string{"10.96.5.5"}
	if _, err := svcs.Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "may not change once set") {
		t.Errorf("clusterIP change: %v", err)
	}
	// Headless, as an Indexed Job's pods' subdomain.
	h, err := svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "workers"}, Spec: corev1.ServiceSpec{ClusterIP: "None",
		Selector: map[string]string{"job-name": "work"}}}, metav1.CreateOptions{})
	if err != nil || h.Spec.ClusterIP != "None" {
		t.Fatalf("headless: %+v %v", h, err)
	}
	// Validation basics.
	_, err = svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "noports"}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.ports: Required value") {
		t.Errorf("no ports: %v", err)
	}
}
