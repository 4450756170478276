// Package endpoint fills the Endpoints and the EndpointSlice of every Service
// with a selector from the pods it selects, as upstream's endpoints and
// endpointslice controllers: ready pods as addresses, the others as not
// ready, each with its hostname when the pod's subdomain names the Service
// (what DNS, and here the node's /etc/hosts, resolve as
// <hostname>.<subdomain>), the target ports resolved per pod. Pods share the
// node's network, so every address is the node's.
package endpoint

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Upstream's labels.
const (
	ManagedBy        = "endpointslice-controller.k8s.io"
	HeadlessLabel    = "service.kubernetes.io/headless"
	managedByLabel   = discoveryv1.LabelManagedBy
	serviceNameLabel = discoveryv1.LabelServiceName
)

// Desired is what a Service's Endpoints and EndpointSlice should hold.
type Desired struct {
	Subsets   []corev1.EndpointSubset
	Endpoints []discoveryv1.Endpoint
	Ports     []discoveryv1.EndpointPort
}

// included: a pod with an address that is neither finished nor being deleted.
func included(p *corev1.Pod) bool {
	if p.Status.PodIP == "" || p.DeletionTimestamp != nil {
		return false
	}
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// targetPort resolves a service port's targetPort in a pod: a number as is, a
// name by the pod's container ports (false when no container has it).
func targetPort(sp corev1.ServicePort, p *corev1.Pod) (int32, bool) {
	if sp.TargetPort.Type == intstr.Int {
		if sp.TargetPort.IntVal == 0 {
			return sp.Port, true
		}
		return sp.TargetPort.IntVal, true
	}
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == sp.TargetPort.StrVal && cp.Protocol == sp.Protocol {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

// Decide computes the endpoints of svc from pods (already selected by its
// selector, in any order). The result is sorted by pod name.
func Decide(svc *corev1.Service, pods []*corev1.Pod) Desired {
	sorted := append([]*corev1.Pod(nil), pods...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var d Desired
	type portKey struct {
		name     string
		port     int32
		protocol corev1.Protocol
	}
	subsets := map[portKey]*corev1.EndpointSubset{}
	var order []portKey
	slicePorts := map[portKey]bool{}
	for _, p := range sorted {
		if !included(p) {
			continue
		}
		isReady := ready(p) || svc.Spec.PublishNotReadyAddresses
		addr := corev1.EndpointAddress{IP: p.Status.PodIP, NodeName: nonEmpty(p.Spec.NodeName),
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID}}
		if p.Spec.Subdomain == svc.Name && p.Spec.Hostname != "" {
			addr.Hostname = p.Spec.Hostname
		}
		ep := discoveryv1.Endpoint{Addresses: []string{p.Status.PodIP}, NodeName: nonEmpty(p.Spec.NodeName), Hostname: nonEmpty(addr.Hostname),
			TargetRef:  addr.TargetRef.DeepCopy(),
			Conditions: discoveryv1.EndpointConditions{Ready: new(isReady), Serving: new(ready(p)), Terminating: new(false)}}
		d.Endpoints = append(d.Endpoints, ep)
		keys := []portKey{{}}
		if len(svc.Spec.Ports) > 0 {
			keys = keys[:0]
			for _, sp := range svc.Spec.Ports {
				if port, ok := targetPort(sp, p); ok {
					keys = append(keys, portKey{sp.Name, port, sp.Protocol})
				}
			}
		}
		for _, k := range keys {
			ss := subsets[k]
			if ss == nil {
				ss = &corev1.EndpointSubset{}
				if k.port != 0 {
					ss.Ports = []corev1.EndpointPort{{Name: k.name, Port: k.port, Protocol: k.protocol}}
				}
				subsets[k] = ss
				order = append(order, k)
			}
			if isReady {
				ss.Addresses = append(ss.Addresses, addr)
			} else {
				ss.NotReadyAddresses = append(ss.NotReadyAddresses, addr)
			}
			if k.port != 0 && !slicePorts[k] {
				slicePorts[k] = true
				d.Ports = append(d.Ports, discoveryv1.EndpointPort{Name: new(k.name), Port: new(k.port), Protocol: new(k.protocol)})
			}
		}
	}
	for _, k := range order {
		d.Subsets = append(d.Subsets, *subsets[k])
	}
	if d.Ports == nil {
		d.Ports = []discoveryv1.EndpointPort{}
	}
	return d
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
