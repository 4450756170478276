package service

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/batchd/batchd/internal/apiserver/validation"
)

var (
	serviceTypes = []string{string(corev1.ServiceTypeClusterIP), string(corev1.ServiceTypeExternalName), string(corev1.ServiceTypeLoadBalancer), string(corev1.ServiceTypeNodePort)}
	protocols    = []string{string(corev1.ProtocolSCTP), string(corev1.ProtocolTCP), string(corev1.ProtocolUDP)}
)

// ValidateService is the part of upstream's ValidateService a single machine needs.
func ValidateService(s *corev1.Service) field.ErrorList {
	errs := validation.ObjectMeta(&s.ObjectMeta, true, apimachineryvalidation.NameIsDNS1035Label)
	spec := field.NewPath("spec")
	if !slices.Contains(serviceTypes, string(s.Spec.Type)) {
		errs = append(errs, field.NotSupported(spec.Child("type"), s.Spec.Type, serviceTypes))
	}
	headless := s.Spec.ClusterIP == corev1.ClusterIPNone
	switch {
	case s.Spec.Type == corev1.ServiceTypeExternalName:
		if s.Spec.ExternalName == "" {
			errs = append(errs, field.Required(spec.Child("externalName"), ""))
		} else {
			for _, msg := range utilvalidation.IsDNS1123Subdomain(strings.TrimSuffix(s.Spec.ExternalName, ".")) {
				errs = append(errs, field.Invalid(spec.Child("externalName"), s.Spec.ExternalName, msg))
			}
		}
		if s.Spec.ClusterIP != "" {
			errs = append(errs, field.Forbidden(spec.Child("clusterIPs"), "may not be set for ExternalName services"))
		}
	case len(s.Spec.Ports) == 0 && !headless:
		errs = append(errs, field.Required(spec.Child("ports"), ""))
	}
	if headless && (s.Spec.Type == corev1.ServiceTypeNodePort || s.Spec.Type == corev1.ServiceTypeLoadBalancer) {
		errs = append(errs, field.Invalid(spec.Child("clusterIPs").Index(0), s.Spec.ClusterIP, fmt.Sprintf("may not be set to 'None' for %s services", s.Spec.Type)))
	}
	if s.Spec.ClusterIP != "" && !headless {
		errs = append(errs, utilvalidation.IsValidIP(spec.Child("clusterIPs").Index(0), s.Spec.ClusterIP)...)
	}
	names := sets.New[string]()
	for i, p := range s.Spec.Ports {
		pp := spec.Child("ports").Index(i)
		if len(s.Spec.Ports) > 1 && p.Name == "" {
			errs = append(errs, field.Required(pp.Child("name"), ""))
		} else if p.Name != "" {
			for _, msg := range utilvalidation.IsDNS1123Label(p.Name) {
				errs = append(errs, field.Invalid(pp.Child("name"), p.Name, msg))
			}
			if names.Has(p.Name) {
				errs = append(errs, field.Duplicate(pp.Child("name"), p.Name))
			}
			names.Insert(p.Name)
		}
		for _, msg := range utilvalidation.IsValidPortNum(int(p.Port)) {
			errs = append(errs, field.Invalid(pp.Child("port"), p.Port, msg))
		}
		if !slices.Contains(protocols, string(p.Protocol)) {
			errs = append(errs, field.NotSupported(pp.Child("protocol"), p.Protocol, protocols))
		}
		errs = append(errs, targetPort(p.TargetPort, pp.Child("targetPort"))...)
		if p.NodePort != 0 {
			if s.Spec.Type != corev1.ServiceTypeNodePort && s.Spec.Type != corev1.ServiceTypeLoadBalancer {
				errs = append(errs, field.Forbidden(pp.Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
			} else {
				for _, msg := range utilvalidation.IsValidPortNum(int(p.NodePort)) {
					errs = append(errs, field.Invalid(pp.Child("nodePort"), p.NodePort, msg))
				}
			}
		}
	}
	errs = append(errs, validation.Labels(s.Spec.Selector, spec.Child("selector"))...)
	switch s.Spec.SessionAffinity {
	case corev1.ServiceAffinityNone, corev1.ServiceAffinityClientIP:
	default:
		errs = append(errs, field.NotSupported(spec.Child("sessionAffinity"), s.Spec.SessionAffinity, []string{string(corev1.ServiceAffinityClientIP), string(corev1.ServiceAffinityNone)}))
	}
	return errs
}

func targetPort(tp intstr.IntOrString, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if tp.Type == intstr.String {
		for _, msg := range utilvalidation.IsValidPortName(tp.StrVal) {
			errs = append(errs, field.Invalid(p, tp.StrVal, msg))
		}
		return errs
	}
	for _, msg := range utilvalidation.IsValidPortNum(tp.IntValue()) {
		errs = append(errs, field.Invalid(p, tp.IntVal, msg))
	}
	return errs
}

// ValidateServiceUpdate adds the immutable clusterIP.
func ValidateServiceUpdate(s, old *corev1.Service) field.ErrorList {
	errs := append(ValidateService(s), validation.ObjectMetaUpdate(&s.ObjectMeta, &old.ObjectMeta)...)
	if old.Spec.ClusterIP != "" && s.Spec.ClusterIP != old.Spec.ClusterIP && s.Spec.Type != corev1.ServiceTypeExternalName && old.Spec.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Invalid(field.NewPath("spec", "clusterIPs").Index(0), s.Spec.ClusterIPs, "may not change once set"))
	}
	return errs
}

func endpointPort(name string, port int32, protocol corev1.Protocol, many bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if many && name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else if name != "" {
		for _, msg := range utilvalidation.IsDNS1123Label(name) {
			errs = append(errs, field.Invalid(p.Child("name"), name, msg))
		}
	}
	for _, msg := range utilvalidation.IsValidPortNum(int(port)) {
		errs = append(errs, field.Invalid(p.Child("port"), port, msg))
	}
	if !slices.Contains(protocols, string(protocol)) {
		errs = append(errs, field.NotSupported(p.Child("protocol"), protocol, protocols))
	}
	return errs
}

// ValidateEndpoints checks addresses and ports of each subset.
func ValidateEndpoints(e *corev1.Endpoints) field.ErrorList {
	errs := validation.ObjectMeta(&e.ObjectMeta, true, validation.DNSSubdomain)
	for i, ss := range e.Subsets {
		p := field.NewPath("subsets").Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(p, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j, a := range ss.Addresses {
			errs = append(errs, utilvalidation.IsValidIP(p.Child("addresses").Index(j).Child("ip"), a.IP)...)
		}
		for j, a := range ss.NotReadyAddresses {
			errs = append(errs, utilvalidation.IsValidIP(p.Child("notReadyAddresses").Index(j).Child("ip"), a.IP)...)
		}
		for j, port := range ss.Ports {
			errs = append(errs, endpointPort(port.Name, port.Port, port.Protocol, len(ss.Ports) > 1, p.Child("ports").Index(j))...)
		}
	}
	return errs
}

var addressTypes = []string{string(discoveryv1.AddressTypeFQDN), string(discoveryv1.AddressTypeIPv4), string(discoveryv1.AddressTypeIPv6)}

// ValidateEndpointSlice checks the address type, addresses and ports.
func ValidateEndpointSlice(s *discoveryv1.EndpointSlice) field.ErrorList {
	errs := validation.ObjectMeta(&s.ObjectMeta, true, validation.DNSSubdomain)
	if !slices.Contains(addressTypes, string(s.AddressType)) {
		errs = append(errs, field.NotSupported(field.NewPath("addressType"), s.AddressType, addressTypes))
	}
	for i, ep := range s.Endpoints {
		p := field.NewPath("endpoints").Index(i).Child("addresses")
		if len(ep.Addresses) < 1 || len(ep.Addresses) > 100 {
			errs = append(errs, field.Invalid(p, ep.Addresses, "must contain at least 1 and at most 100 addresses"))
		}
		for j, a := range ep.Addresses {
			switch s.AddressType {
			case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
				errs = append(errs, utilvalidation.IsValidIP(p.Index(j), a)...)
			case discoveryv1.AddressTypeFQDN:
				for _, msg := range utilvalidation.IsFullyQualifiedDomainName(p.Index(j), a) {
					errs = append(errs, msg)
				}
			}
		}
	}
	for i, port := range s.Ports {
		p := field.NewPath("ports").Index(i)
		if port.Name != nil && *port.Name != "" {
			for _, msg := range utilvalidation.IsValidPortName(*port.Name) {
				errs = append(errs, field.Invalid(p.Child("name"), *port.Name, msg))
			}
		}
		if port.Protocol != nil && !slices.Contains(protocols, string(*port.Protocol)) {
			errs = append(errs, field.NotSupported(p.Child("protocol"), *port.Protocol, protocols))
		}
	}
	return errs
}
