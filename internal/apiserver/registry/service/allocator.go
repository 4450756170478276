package service

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/batchd/batchd/internal/apiserver/registry"
)

// The service network and node-port range (kube-apiserver's defaults
// --service-cluster-ip-range=10.96.0.0/12, --service-node-port-range=30000-32767).
var (
	ServiceCIDR = netip.MustParsePrefix("10.96.0.0/12")
	// KubernetesClusterIP is the first address, the kubernetes Service's.
	KubernetesClusterIP = "10.96.0.1"
)

const nodePortMin, nodePortMax = 30000, 32767

// Used is what the stored Services hold.
type Used struct {
	IPs       map[string]bool
	NodePorts map[int32]bool
}

// Allocate fills the clusterIP and node ports s needs, from what is free
// beside used; explicit values must be in range and free. pick chooses among n
// candidates (random in the server; fixed in tests).
func Allocate(s *corev1.Service, used Used, pick func(n int) int) field.ErrorList {
	var errs field.ErrorList
	if s.Spec.Type != corev1.ServiceTypeExternalName && s.Spec.ClusterIP != corev1.ClusterIPNone {
		p := field.NewPath("spec", "clusterIPs").Index(0)
		if s.Spec.ClusterIP != "" {
			ip, err := netip.ParseAddr(s.Spec.ClusterIP)
			switch {
			case err != nil:
				// validation reports it
			case !ServiceCIDR.Contains(ip):
				errs = append(errs, field.Invalid(p, s.Spec.ClusterIPs, fmt.Sprintf("failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s", ip, ip, ServiceCIDR)))
			case used.IPs[ip.String()]:
				errs = append(errs, field.Invalid(p, s.Spec.ClusterIPs, fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", ip)))
			}
		} else {
			// Dynamic addresses come from above the first /24, upstream's static band.
			base := ServiceCIDR.Addr().As4()
			size := 1<<(32-ServiceCIDR.Bits()) - 256 - 1
			start := pick(size)
			for i := range size {
				off := 256 + (start+i)%size
				a := base
				a[1] += byte(off >> 16)
				a[2] += byte(off >> 8)
				a[3] += byte(off)
				if ip := netip.AddrFrom4(a).String(); !used.IPs[ip] {
					s.Spec.ClusterIP = ip
					break
				}
			}
			if s.Spec.ClusterIP == "" {
				errs = append(errs, field.Invalid(p, s.Spec.ClusterIPs, "failed to allocate IP: range is full"))
			}
		}
		s.Spec.ClusterIPs = []string{s.Spec.ClusterIP}
		s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
		s.Spec.IPFamilyPolicy = new(corev1.IPFamilyPolicySingleStack)
	}
	if s.Spec.ClusterIP == corev1.ClusterIPNone && s.Spec.Type == corev1.ServiceTypeClusterIP {
		s.Spec.ClusterIPs = []string{corev1.ClusterIPNone}
		if len(s.Spec.IPFamilies) == 0 {
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
		}
		if s.Spec.IPFamilyPolicy == nil {
			s.Spec.IPFamilyPolicy = new(corev1.IPFamilyPolicySingleStack)
		}
	}
	needPorts := s.Spec.Type == corev1.ServiceTypeNodePort ||
		s.Spec.Type == corev1.ServiceTypeLoadBalancer && (s.Spec.AllocateLoadBalancerNodePorts == nil || *s.Spec.AllocateLoadBalancerNodePorts)
	taken := map[int32]bool{}
	for k := range used.NodePorts {
		taken[k] = true
	}
	for i := range s.Spec.Ports {
		p := &s.Spec.Ports[i]
		path := field.NewPath("spec", "ports").Index(i).Child("nodePort")
		switch {
		case p.NodePort != 0 && (p.NodePort < nodePortMin || p.NodePort > nodePortMax):
			errs = append(errs, field.Invalid(path, p.NodePort, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", nodePortMin, nodePortMax)))
		case p.NodePort != 0 && taken[p.NodePort]:
			errs = append(errs, field.Invalid(path, p.NodePort, "provided port is already allocated"))
		case p.NodePort == 0 && needPorts:
			n := nodePortMax - nodePortMin + 1
			start := pick(n)
			for j := range n {
				if c := int32(nodePortMin + (start+j)%n); !taken[c] {
					p.NodePort = c
					break
				}
			}
		}
		taken[p.NodePort] = true
	}
	return errs
}

// Storage allocates on create; one process allocates at a time (batchd is
// one API server per etcd in practice; two would need etcd-held reservations).
type Storage struct {
	*registry.Storage
	mu sync.Mutex
}

func (s *Storage) used(ctx context.Context, except string) (Used, error) {
	u := Used{IPs: map[string]bool{}, NodePorts: map[int32]bool{}}
	all, err := s.Storage.List(genericapirequest.WithNamespace(ctx, metav1.NamespaceAll), &metainternalversion.ListOptions{})
	if err != nil {
		return u, err
	}
	for _, svc := range all.(*corev1.ServiceList).Items {
		if svc.Namespace+"/"+svc.Name == except {
			continue
		}
		if svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone {
			u.IPs[svc.Spec.ClusterIP] = true
		}
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 {
				u.NodePorts[p.NodePort] = true
			}
		}
	}
	return u, nil
}

// Create allocates, then creates.
func (s *Storage) Create(ctx context.Context, obj runtime.Object, validate rest.ValidateObjectFunc, opts *metav1.CreateOptions) (runtime.Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc := obj.(*corev1.Service)
	Default(svc)
	if errs := ValidateService(svc); len(errs) > 0 {
		return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name, errs)
	}
	u, err := s.used(ctx, "")
	if err != nil {
		return nil, err
	}
	if errs := Allocate(svc, u, rand.IntN); len(errs) > 0 {
		return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name, errs)
	}
	return s.Storage.Create(ctx, obj, validate, opts)
}

// Update allocates what a changed type newly needs (ExternalName to ClusterIP, ClusterIP to NodePort).
func (s *Storage) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, opts *metav1.UpdateOptions) (runtime.Object, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	allocating := rest.WrapUpdatedObjectInfo(objInfo, func(ctx context.Context, obj, old runtime.Object) (runtime.Object, error) {
		svc, prev := obj.(*corev1.Service), old.(*corev1.Service)
		keepAllocated(svc, prev)
		Default(svc)
		u, err := s.used(ctx, prev.Namespace+"/"+prev.Name)
		if err != nil {
			return nil, err
		}
		if prev.Spec.ClusterIP != "" {
			u.IPs[prev.Spec.ClusterIP] = false // its own address stays its own
		}
		if errs := Allocate(svc, u, rand.IntN); len(errs) > 0 {
			return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name, errs)
		}
		return svc, nil
	})
	return s.Storage.Update(ctx, name, allocating, createValidation, updateValidation, forceAllowCreate, opts)
}
