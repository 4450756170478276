package service

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/batchd/batchd/internal/apiserver/registry"
	"github.com/batchd/batchd/internal/apiserver/validation"
)

// Default applies upstream's Service defaults.
func Default(s *corev1.Service) {
	if s.Spec.Type == "" {
		s.Spec.Type = corev1.ServiceTypeClusterIP
	}
	if s.Spec.SessionAffinity == "" {
		s.Spec.SessionAffinity = corev1.ServiceAffinityNone
	}
	for i := range s.Spec.Ports {
		p := &s.Spec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == intstr.FromInt32(0) || p.TargetPort == intstr.FromString("") {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	if s.Spec.Type == corev1.ServiceTypeExternalName {
		return
	}
	if s.Spec.InternalTrafficPolicy == nil {
		s.Spec.InternalTrafficPolicy = new(corev1.ServiceInternalTrafficPolicyCluster)
	}
	if (s.Spec.Type == corev1.ServiceTypeNodePort || s.Spec.Type == corev1.ServiceTypeLoadBalancer) && s.Spec.ExternalTrafficPolicy == "" {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if s.Spec.Type == corev1.ServiceTypeLoadBalancer && s.Spec.AllocateLoadBalancerNodePorts == nil {
		s.Spec.AllocateLoadBalancerNodePorts = new(true)
	}
	if s.Spec.ClusterIP != "" && len(s.Spec.ClusterIPs) == 0 {
		s.Spec.ClusterIPs = []string{s.Spec.ClusterIP}
	}
	if s.Spec.ClusterIP != "" {
		if s.Spec.IPFamilyPolicy == nil {
			s.Spec.IPFamilyPolicy = new(corev1.IPFamilyPolicySingleStack)
		}
		if len(s.Spec.IPFamilies) == 0 {
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
		}
	}
}

// keepAllocated carries the allocated clusterIP and node ports over an update
// that leaves them out (kubectl apply of the original manifest), as upstream.
func keepAllocated(s, old *corev1.Service) {
	if s.Spec.Type == old.Spec.Type && s.Spec.ClusterIP == "" {
		s.Spec.ClusterIP, s.Spec.ClusterIPs = old.Spec.ClusterIP, old.Spec.ClusterIPs
		s.Spec.IPFamilies, s.Spec.IPFamilyPolicy = old.Spec.IPFamilies, old.Spec.IPFamilyPolicy
	}
	for i := range s.Spec.Ports {
		p := &s.Spec.Ports[i]
		if p.NodePort != 0 {
			continue
		}
		for _, o := range old.Spec.Ports {
			if o.Port == p.Port && o.Protocol == p.Protocol {
				p.NodePort = o.NodePort
			}
		}
	}
}

func portsCell(s *corev1.Service) string {
	if len(s.Spec.Ports) == 0 {
		return "<none>"
	}
	var out []string
	for _, p := range s.Spec.Ports {
		if p.NodePort == 0 {
			out = append(out, fmt.Sprintf("%d/%s", p.Port, p.Protocol))
		} else {
			out = append(out, fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol))
		}
	}
	return strings.Join(out, ",")
}

func externalIPCell(s *corev1.Service) string {
	switch s.Spec.Type {
	case corev1.ServiceTypeExternalName:
		return s.Spec.ExternalName
	case corev1.ServiceTypeLoadBalancer:
		var ips []string
		for _, in := range s.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				ips = append(ips, in.IP)
			} else if in.Hostname != "" {
				ips = append(ips, in.Hostname)
			}
		}
		ips = append(ips, s.Spec.ExternalIPs...)
		if len(ips) == 0 {
			return "<pending>"
		}
		return strings.Join(ips, ",")
	}
	if len(s.Spec.ExternalIPs) > 0 {
		return strings.Join(s.Spec.ExternalIPs, ",")
	}
	return "<none>"
}

// Services.
func Services() registry.Resource {
	return registry.Resource{
		Resource: corev1.Resource("services"), Singular: "service", Namespaced: true,
		New:        func() runtime.Object { return &corev1.Service{} },
		NewList:    func() runtime.Object { return &corev1.ServiceList{} },
		ShortNames: []string{"svc"},
		Categories: []string{"all"},
		Default:    func(obj runtime.Object) { Default(obj.(*corev1.Service)) },
		Fields: func(obj runtime.Object) fields.Set {
			s := obj.(*corev1.Service)
			return fields.Set{"spec.clusterIP": s.Spec.ClusterIP, "spec.type": string(s.Spec.Type)}
		},
		Funcs: registry.Funcs{
			Spec:     func(obj runtime.Object) any { return &obj.(*corev1.Service).Spec },
			Status:   func(obj runtime.Object) any { return &obj.(*corev1.Service).Status },
			Validate: func(obj runtime.Object) field.ErrorList { return ValidateService(obj.(*corev1.Service)) },
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				return ValidateServiceUpdate(obj.(*corev1.Service), old.(*corev1.Service))
			},
			ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
				return validation.ObjectMetaUpdate(&obj.(*corev1.Service).ObjectMeta, &old.(*corev1.Service).ObjectMeta)
			},
			PrepareForUpdate: func(obj, old runtime.Object) { keepAllocated(obj.(*corev1.Service), old.(*corev1.Service)) },
		},
		Table: &registry.Table{
			Columns: []metav1.TableColumnDefinition{
				registry.NameColumn(),
				registry.Column("Type", "string", "", corev1.ServiceSpec{}.SwaggerDoc()["type"], false),
				registry.Column("Cluster-IP", "string", "", corev1.ServiceSpec{}.SwaggerDoc()["clusterIP"], false),
				registry.Column("External-IP", "string", "", corev1.ServiceSpec{}.SwaggerDoc()["externalIPs"], false),
				registry.Column("Port(s)", "string", "", corev1.ServiceSpec{}.SwaggerDoc()["ports"], false),
				registry.AgeColumn(),
				registry.Column("Selector", "string", "", corev1.ServiceSpec{}.SwaggerDoc()["selector"], true),
			},
			Row: func(obj runtime.Object, now time.Time) ([]any, error) {
				s := obj.(*corev1.Service)
				ip := s.Spec.ClusterIP
				if ip == "" {
					ip = "<none>"
				}
				return []any{s.Name, string(s.Spec.Type), ip, externalIPCell(s), portsCell(s), registry.Age(s.CreationTimestamp, now),
					labels.FormatLabels(s.Spec.Selector)}, nil
			},
		},
		REST: newREST,
	}
}

// endpointsCell is kubectl's ENDPOINTS cell: ip:port, three at most.
func endpointsCell(e *corev1.Endpoints) string {
	if len(e.Subsets) == 0 {
		return "<none>"
	}
	const max = 3
	var list []string
	count := 0
	for _, ss := range e.Subsets {
		if len(ss.Ports) == 0 {
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				if len(list) < max {
					list = append(list, a.IP)
				}
			}
			continue
		}
		for _, p := range ss.Ports {
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				if len(list) < max {
					list = append(list, net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
				}
			}
		}
	}
	ret := strings.Join(list, ",")
	if count > max {
		return fmt.Sprintf("%s + %d more...", ret, count-max)
	}
	if ret == "" {
		return "<none>"
	}
	return ret
}

// Endpoints.
func Endpoints() registry.Resource {
	return registry.Resource{
		Resource: corev1.Resource("endpoints"), Singular: "endpoints", Namespaced: true,
		New:        func() runtime.Object { return &corev1.Endpoints{} },
		NewList:    func() runtime.Object { return &corev1.EndpointsList{} },
		ShortNames: []string{"ep"},
		Funcs: registry.Funcs{
			Validate: func(obj runtime.Object) field.ErrorList { return ValidateEndpoints(obj.(*corev1.Endpoints)) },
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				e := obj.(*corev1.Endpoints)
				return append(ValidateEndpoints(e), validation.ObjectMetaUpdate(&e.ObjectMeta, &old.(*corev1.Endpoints).ObjectMeta)...)
			},
		},
		Table: &registry.Table{
			Columns: []metav1.TableColumnDefinition{
				registry.NameColumn(),
				registry.Column("Endpoints", "string", "", corev1.Endpoints{}.SwaggerDoc()["subsets"], false),
				registry.AgeColumn(),
			},
			Row: func(obj runtime.Object, now time.Time) ([]any, error) {
				e := obj.(*corev1.Endpoints)
				return []any{e.Name, endpointsCell(e), registry.Age(e.CreationTimestamp, now)}, nil
			},
		},
	}
}

func moreCell(items []string) string {
	if len(items) == 0 {
		return "<unset>"
	}
	if len(items) > 3 {
		return fmt.Sprintf("%s + %d more...", strings.Join(items[:3], ","), len(items)-3)
	}
	return strings.Join(items, ",")
}

// EndpointSlices.
func EndpointSlices() registry.Resource {
	return registry.Resource{
		Resource: discoveryv1.Resource("endpointslices"), Singular: "endpointslice", Namespaced: true,
		New:     func() runtime.Object { return &discoveryv1.EndpointSlice{} },
		NewList: func() runtime.Object { return &discoveryv1.EndpointSliceList{} },
		Default: func(obj runtime.Object) {
			s := obj.(*discoveryv1.EndpointSlice)
			for i := range s.Ports {
				if s.Ports[i].Protocol == nil {
					s.Ports[i].Protocol = new(corev1.ProtocolTCP)
				}
				if s.Ports[i].Name == nil {
					s.Ports[i].Name = new("")
				}
			}
		},
		Funcs: registry.Funcs{
			Validate: func(obj runtime.Object) field.ErrorList {
				return ValidateEndpointSlice(obj.(*discoveryv1.EndpointSlice))
			},
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				s, o := obj.(*discoveryv1.EndpointSlice), old.(*discoveryv1.EndpointSlice)
				errs := append(ValidateEndpointSlice(s), validation.ObjectMetaUpdate(&s.ObjectMeta, &o.ObjectMeta)...)
				return append(errs, validation.Immutable(s.AddressType, o.AddressType, field.NewPath("addressType"))...)
			},
		},
		Table: &registry.Table{
			Columns: []metav1.TableColumnDefinition{
				registry.NameColumn(),
				registry.Column("AddressType", "string", "", discoveryv1.EndpointSlice{}.SwaggerDoc()["addressType"], false),
				registry.Column("Ports", "string", "", discoveryv1.EndpointSlice{}.SwaggerDoc()["ports"], false),
				registry.Column("Endpoints", "string", "", discoveryv1.EndpointSlice{}.SwaggerDoc()["endpoints"], false),
				registry.AgeColumn(),
			},
			Row: func(obj runtime.Object, now time.Time) ([]any, error) {
				s := obj.(*discoveryv1.EndpointSlice)
				var ports, addrs []string
				for _, p := range s.Ports {
					if p.Port == nil {
						ports = append(ports, "<unset>")
					} else {
						ports = append(ports, strconv.Itoa(int(*p.Port)))
					}
				}
				for _, ep := range s.Endpoints {
					addrs = append(addrs, ep.Addresses...)
				}
				return []any{s.Name, string(s.AddressType), moreCell(ports), moreCell(addrs), registry.Age(s.CreationTimestamp, now)}, nil
			},
		},
	}
}

// newREST serves Services through Storage, which allocates their cluster IPs.
func newREST(s *registry.Storage) (rest.Storage, map[string]rest.Storage) {
	return &Storage{Storage: s}, nil
}
