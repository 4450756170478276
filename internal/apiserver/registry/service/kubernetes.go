package service

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// KubernetesObjects are the kubernetes Service in default and its Endpoints
// and EndpointSlice, pointing at the API server at ip:port (as kube-apiserver's
// bootstrap controller makes them).
func KubernetesObjects(ip string, port int32) (*corev1.Service, *corev1.Endpoints, *discoveryv1.EndpointSlice) {
	meta := func(labels map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault, Labels: labels}
	}
	svc := &corev1.Service{
		ObjectMeta: meta(map[string]string{"component": "apiserver", "provider": "kubernetes"}),
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: KubernetesClusterIP,
			Ports: []corev1.ServicePort{{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443,
				TargetPort: intstr.FromInt32(port)}},
			SessionAffinity: corev1.ServiceAffinityNone,
		},
	}
	Default(svc)
	ep := &corev1.Endpoints{
		ObjectMeta: meta(map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}),
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: ip}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: port, Protocol: corev1.ProtocolTCP}},
		}},
	}
	addressType := discoveryv1.AddressTypeIPv4
	if isIPv6(ip) {
		addressType = discoveryv1.AddressTypeIPv6
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  meta(map[string]string{discoveryv1.LabelServiceName: "kubernetes"}),
		AddressType: addressType,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: new(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: new("https"), Port: new(port), Protocol: new(corev1.ProtocolTCP)}},
	}
	return svc, ep, slice
}

func isIPv6(ip string) bool {
	for _, c := range ip {
		if c == ':' {
			return true
		}
	}
	return false
}

// ReconcileKubernetes creates the kubernetes Service, Endpoints and
// EndpointSlice or brings them back to ip:port. Several API servers may share
// one etcd: one whose Endpoints name another server that still answers
// (alive) leaves them alone, and takes over when that one is gone.
func ReconcileKubernetes(ctx context.Context, c kubernetes.Interface, ip string, port int32, alive func(ip string, port int32) bool) error {
	if cur, err := c.CoreV1().Endpoints(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{}); err == nil && len(cur.Subsets) == 1 &&
		len(cur.Subsets[0].Addresses) == 1 && len(cur.Subsets[0].Ports) == 1 {
		other, otherPort := cur.Subsets[0].Addresses[0].IP, cur.Subsets[0].Ports[0].Port
		if (other != ip || otherPort != port) && alive != nil && alive(other, otherPort) {
			return nil
		}
	}
	svc, ep, slice := KubernetesObjects(ip, port)
	if old, err := c.CoreV1().Services(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		if _, err := c.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create kubernetes service: %w", err)
		}
	} else if err != nil {
		return err
	} else if !equality.Semantic.DeepEqual(old.Spec.Ports, svc.Spec.Ports) {
		old.Spec.Ports = svc.Spec.Ports
		if _, err := c.CoreV1().Services(svc.Namespace).Update(ctx, old, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update kubernetes service: %w", err)
		}
	}
	if old, err := c.CoreV1().Endpoints(ep.Namespace).Get(ctx, ep.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		if _, err := c.CoreV1().Endpoints(ep.Namespace).Create(ctx, ep, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create kubernetes endpoints: %w", err)
		}
	} else if err != nil {
		return err
	} else if !equality.Semantic.DeepEqual(old.Subsets, ep.Subsets) {
		old.Subsets = ep.Subsets
		if _, err := c.CoreV1().Endpoints(ep.Namespace).Update(ctx, old, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update kubernetes endpoints: %w", err)
		}
	}
	slices := c.DiscoveryV1().EndpointSlices(slice.Namespace)
	if old, err := slices.Get(ctx, slice.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		if _, err := slices.Create(ctx, slice, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create kubernetes endpointslice: %w", err)
		}
	} else if err != nil {
		return err
	} else if !equality.Semantic.DeepEqual(old.Endpoints, slice.Endpoints) || !equality.Semantic.DeepEqual(old.Ports, slice.Ports) || old.AddressType != slice.AddressType {
		if old.AddressType != slice.AddressType {
			if err := slices.Delete(ctx, slice.Name, metav1.DeleteOptions{}); err != nil {
				return err
			}
			_, err = slices.Create(ctx, slice, metav1.CreateOptions{})
			return err
		}
		old.Endpoints, old.Ports = slice.Endpoints, slice.Ports
		if _, err := slices.Update(ctx, old, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update kubernetes endpointslice: %w", err)
		}
	}
	return nil
}
