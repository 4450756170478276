package apiserver

import (
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	batchdv1alpha1 "github.com/batchd/batchd/internal/apis/batchd/v1alpha1"
)

// servedGroupVersions are the external versions batchd serves, in priority order.
var servedGroupVersions = []schema.GroupVersion{
	corev1.SchemeGroupVersion,
	batchv1.SchemeGroupVersion,
	coordinationv1.SchemeGroupVersion,
	eventsv1.SchemeGroupVersion,
	nodev1.SchemeGroupVersion,
	rbacv1.SchemeGroupVersion,
	authorizationv1.SchemeGroupVersion,
	authenticationv1.SchemeGroupVersion,
	discoveryv1.SchemeGroupVersion,
	batchdv1alpha1.SchemeGroupVersion,
}

// externalScheme has the served external versions only; the OpenAPI namer
// uses it so that definitions name no __internal kinds.
func externalScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, batchv1.AddToScheme, coordinationv1.AddToScheme, eventsv1.AddToScheme, nodev1.AddToScheme,
		rbacv1.AddToScheme, authorizationv1.AddToScheme, authenticationv1.AddToScheme, discoveryv1.AddToScheme,
		batchdv1alpha1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	// pods/eviction takes a policy/v1 Eviction; the policy group is not served.
	s.AddKnownTypes(policyv1.SchemeGroupVersion, &policyv1.Eviction{})
	metav1.AddToGroupVersion(s, policyv1.SchemeGroupVersion)
	return s, nil
}

// NewScheme builds the scheme the server encodes and decodes with.
//
// batchd has no internal API types of its own: every upstream k8s.io/api type is
// registered under both its external version and the group's __internal
// version. The scheme then never converts; it only sets the kind. Defaulting
// functions are registered by the caller (see registerDefaults), because they
// belong to the resources, not to the scheme.
func NewScheme() (*runtime.Scheme, error) {
	s, err := externalScheme()
	if err != nil {
		return nil, err
	}
	for _, gv := range servedGroupVersions {
		internal := schema.GroupVersion{Group: gv.Group, Version: runtime.APIVersionInternal}
		known := s.KnownTypes(internal)
		for kind, typ := range s.KnownTypes(gv) {
			if _, ok := known[kind]; ok {
				continue
			}
			obj, ok := reflectNew(typ)
			if !ok {
				return nil, fmt.Errorf("register %s %s: not a runtime.Object", internal, kind)
			}
			s.AddKnownTypeWithName(internal.WithKind(kind), obj)
		}
		if err := s.SetVersionPriority(gv); err != nil {
			return nil, err
		}
	}
	policyInternal := schema.GroupVersion{Group: policyv1.GroupName, Version: runtime.APIVersionInternal}
	s.AddKnownTypes(policyInternal, &policyv1.Eviction{})
	if err := s.SetVersionPriority(policyv1.SchemeGroupVersion); err != nil {
		return nil, err
	}
	// The unversioned meta types kubectl asks for by name.
	unversioned := schema.GroupVersion{Group: "", Version: "v1"}
	s.AddUnversionedTypes(unversioned,
		&metav1.Status{},
		&metav1.APIVersions{},
		&metav1.APIGroupList{},
		&metav1.APIGroup{},
		&metav1.APIResourceList{},
	)
	return s, nil
}
