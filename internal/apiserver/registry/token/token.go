// Package token serves serviceaccounts/token (TokenRequest): a bound
// service-account token for the audiences and lifetime asked, bound to a pod
// or secret of the service account's namespace, with upstream's defaults,
// limits and errors.
package token

import (
	"context"
	"fmt"
	"math"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/utils/clock"

	"github.com/batchd/batchd/internal/auth/serviceaccount"
)

// DefaultExpirationSeconds is TokenRequestSpec's default lifetime.
const DefaultExpirationSeconds = 60 * 60

var gvk = authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")

// Getter reads one object of the request's namespace (a registry store).
type Getter interface {
	Get(ctx context.Context, name string, opts *metav1.GetOptions) (runtime.Object, error)
}

// REST is the serviceaccounts/token subresource.
type REST struct {
	ServiceAccounts, Pods, Secrets, Nodes Getter
	Key                                   *serviceaccount.Key
	Issuer                                string
	Audiences                             authenticator.Audiences
	// ExtendExpiration issues the kubelet's 3607 s pod-bound tokens for a
	// year with a warnafter claim, as kube-apiserver's
	// --service-account-extend-token-expiration (default true).
	ExtendExpiration bool
	// MaxExpiration caps the lifetime (0: no cap).
	MaxExpiration time.Duration
	Clock         clock.PassiveClock
}

var (
	_ rest.NamedCreater             = &REST{}
	_ rest.GroupVersionKindProvider = &REST{}
)

func (r *REST) New() runtime.Object { return &authenticationv1.TokenRequest{} }
func (r *REST) Destroy()            {}
func (r *REST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return gvk
}

// Validate is upstream's ValidateTokenRequest.
func Validate(tr *authenticationv1.TokenRequest) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("spec", "expirationSeconds")
	exp := *tr.Spec.ExpirationSeconds
	if exp < serviceaccount.MinExpirationSeconds {
		errs = append(errs, field.Invalid(p, exp, "may not specify a duration less than 10 minutes"))
	}
	if exp > math.MaxUint32 {
		errs = append(errs, field.Invalid(p, exp, "may not specify a duration larger than 2^32 seconds"))
	}
	return errs
}

func (r *REST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	req := obj.(*authenticationv1.TokenRequest)
	if req.Spec.ExpirationSeconds == nil {
		req.Spec.ExpirationSeconds = new(int64(DefaultExpirationSeconds))
	}
	namespace := genericapirequest.NamespaceValue(ctx)
	if req.Name != "" && req.Name != name {
		return nil, apierrors.NewInvalid(gvk.GroupKind(), name, field.ErrorList{field.Invalid(field.NewPath("metadata", "name"), req.Name, "must match the service account name if specified")})
	}
	if req.Namespace != "" && req.Namespace != namespace {
		return nil, apierrors.NewInvalid(gvk.GroupKind(), name, field.ErrorList{field.Invalid(field.NewPath("metadata", "namespace"), req.Namespace, "must match the service account namespace if specified")})
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	if errs := Validate(req); len(errs) > 0 {
		return nil, apierrors.NewInvalid(gvk.GroupKind(), "", errs)
	}
	saObj, err := r.ServiceAccounts.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	b := serviceaccount.Binding{ServiceAccount: saObj.(*corev1.ServiceAccount)}
	if ref := req.Spec.BoundObjectRef; ref != nil {
		var uid types.UID
		refGVK := schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind)
		switch {
		case refGVK.Group == "" && refGVK.Kind == "Pod":
			o, err := r.Pods.Get(withGet(ctx, "pods", ref.Name, refGVK), ref.Name, &metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			b.Pod = o.(*corev1.Pod)
			if name != b.Pod.Spec.ServiceAccountName {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token for serviceaccount %q to pod running with different serviceaccount name.", name))
			}
			uid = b.Pod.UID
			if n := b.Pod.Spec.NodeName; n != "" && r.Nodes != nil {
				if o, err := r.Nodes.Get(withGet(ctx, "nodes", n, refGVK), n, &metav1.GetOptions{}); err == nil {
					b.Node = o.(*corev1.Node)
				}
			}
		case refGVK.Group == "" && refGVK.Kind == "Secret":
			o, err := r.Secrets.Get(withGet(ctx, "secrets", ref.Name, refGVK), ref.Name, &metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			b.Secret = o.(*corev1.Secret)
			uid = b.Secret.UID
		default:
			return nil, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token to object of type %s", refGVK.String()))
		}
		if ref.UID != "" && uid != ref.UID {
			return nil, apierrors.NewConflict(schema.GroupResource{Group: refGVK.Group, Resource: refGVK.Kind}, ref.Name,
				fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
		}
	}
	if len(req.Spec.Audiences) == 0 {
		req.Spec.Audiences = r.Audiences
	}
	if r.MaxExpiration > 0 && *req.Spec.ExpirationSeconds > int64(r.MaxExpiration.Seconds()) {
		req.Spec.ExpirationSeconds = new(int64(r.MaxExpiration.Seconds()))
	}
	lifetime := time.Duration(*req.Spec.ExpirationSeconds) * time.Second
	var warnAfter time.Duration
	if r.ExtendExpiration && b.Pod != nil && *req.Spec.ExpirationSeconds == serviceaccount.WarnOnlyExpirationSeconds && r.forAPIServer(req.Spec.Audiences) {
		warnAfter, lifetime = lifetime, serviceaccount.ExtendedExpiration
	}
	now := time.Now()
	if r.Clock != nil {
		now = r.Clock.Now()
	}
	now = now.Truncate(time.Second)
	tok, err := r.Key.Sign(serviceaccount.NewClaims(r.Issuer, b, req.Spec.Audiences, now, lifetime, warnAfter, string(uuid.NewUUID())))
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("failed to generate token: %w", err))
	}
	req.Status = authenticationv1.TokenRequestStatus{
		Token: tok,
		// The asked-for lifetime, also for extended tokens: clients refresh by it.
		ExpirationTimestamp: metav1.NewTime(now.Add(time.Duration(*req.Spec.ExpirationSeconds) * time.Second)),
	}
	return req, nil
}

// forAPIServer: every audience asked is one of the API server's.
func (r *REST) forAPIServer(auds []string) bool {
	if len(auds) == 0 {
		return false
	}
	for _, a := range auds {
		if !r.Audiences.Has(a) {
			return false
		}
	}
	return true
}

// withGet gives a read of a bound object its own request info, so that
// storage sees a get of that resource rather than a create of a token.
func withGet(ctx context.Context, resource, name string, gvk schema.GroupVersionKind) context.Context {
	old, ok := genericapirequest.RequestInfoFrom(ctx)
	if !ok {
		return ctx
	}
	return genericapirequest.WithRequestInfo(ctx, &genericapirequest.RequestInfo{IsResourceRequest: true, Verb: "get",
		Namespace: old.Namespace, Resource: resource, Name: name, Parts: []string{resource, name}, APIGroup: gvk.Group, APIVersion: gvk.Version})
}
