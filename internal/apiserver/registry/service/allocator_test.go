package service

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestAllocate(t *testing.T) {
	first := func(int) int { return 0 }
	used := Used{IPs: map[string]bool{"10.96.1.0": true}, NodePorts: map[int32]bool{30000: true}}
	s := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}, {Port: 81, NodePort: 31000}}}}
	if errs := Allocate(s, used, first); len(errs) > 0 {
		t.Fatal(errs)
	}
	// Dynamic addresses start above the first /24 and skip what is used.
	if s.Spec.ClusterIP != "10.96.1.1" || s.Spec.ClusterIPs[0] != "10.96.1.1" || s.Spec.Ports[0].NodePort != 30001 || s.Spec.Ports[1].NodePort != 31000 {
		t.Errorf("allocated %s %v", s.Spec.ClusterIP, s.Spec.Ports)
	}
	// The last candidate wraps around.
	last := func(n int) int { return n - 1 }
	s = &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: []corev1.ServicePort{{Port: 80}}}}
	if errs := Allocate(s, Used{IPs: map[string]bool{"10.111.255.254": true}}, last); len(errs) > 0 || s.Spec.ClusterIP != "10.96.1.0" {
		t.Errorf("wrap: %s %v", s.Spec.ClusterIP, errs)
	}
	for _, c := range []struct {
		ip, want string
	}{
		{"10.96.1.0", "provided IP is already allocated"},
		{"192.168.1.1", "is not in the valid range. The range of valid IPs is 10.96.0.0/12"},
	} {
		s := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: c.ip, Ports: []corev1.ServicePort{{Port: 80}}}}
		errs := Allocate(s, used, first)
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), c.want) {
			t.Errorf("%s: %v", c.ip, errs)
		}
	}
	// Headless and ExternalName services get no address.
	h := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "None"}}
	if errs := Allocate(h, used, first); len(errs) > 0 || h.Spec.ClusterIP != "None" || h.Spec.ClusterIPs[0] != "None" {
		t.Errorf("headless: %+v %v", h.Spec, errs)
	}
	x := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}}
	if errs := Allocate(x, used, first); len(errs) > 0 || x.Spec.ClusterIP != "" || len(x.Spec.ClusterIPs) != 0 {
		t.Errorf("externalName: %+v %v", x.Spec, errs)
	}
	// A used node port asked for explicitly.
	p := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80, NodePort: 30000}}}}
	if errs := Allocate(p, used, first); len(errs) != 1 || !strings.Contains(errs[0].Error(), "spec.ports[0].nodePort: Invalid value: 30000: provided port is already allocated") {
		t.Errorf("node port: %v", errs)
	}
}
