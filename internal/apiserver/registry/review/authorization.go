package review

import (
	"context"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

// creater is what every review shares: create-only, nothing stored.
type creater struct {
	newFunc    func() runtime.Object
	singular   string
	namespaced bool
}

func (c creater) New() runtime.Object     { return c.newFunc() }
func (c creater) Destroy()                {}
func (c creater) NamespaceScoped() bool   { return c.namespaced }
func (c creater) GetSingularName() string { return c.singular }

func attributes(u user.Info, ra *authorizationv1.ResourceAttributes, na *authorizationv1.NonResourceAttributes) authorizer.AttributesRecord {
	if ra != nil {
		version := ra.Version
		if version == "" {
			version = "*"
		}
		return authorizer.AttributesRecord{User: u, Verb: ra.Verb, Namespace: ra.Namespace, APIGroup: ra.Group, APIVersion: version,
			Resource: ra.Resource, Subresource: ra.Subresource, Name: ra.Name, ResourceRequest: true}
	}
	return authorizer.AttributesRecord{User: u, Verb: na.Verb, Path: na.Path}
}

func validateAttrs(ra *authorizationv1.ResourceAttributes, na *authorizationv1.NonResourceAttributes, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if ra != nil && na != nil {
		errs = append(errs, field.Invalid(p.Child("nonResourceAttributes"), na, `cannot be specified in combination with resourceAttributes`))
	}
	if ra == nil && na == nil {
		errs = append(errs, field.Invalid(p.Child("resourceAttributes"), na, `exactly one of nonResourceAttributes or resourceAttributes must be specified`))
	}
	return errs
}

func emptyMeta(m metav1.ObjectMeta) field.ErrorList {
	m.ManagedFields = nil
	if !apiequality.Semantic.DeepEqual(metav1.ObjectMeta{}, m) {
		return field.ErrorList{field.Invalid(field.NewPath("metadata"), m, `must be empty`)}
	}
	return nil
}

func decide(ctx context.Context, a authorizer.Authorizer, attrs authorizer.AttributesRecord) authorizationv1.SubjectAccessReviewStatus {
	d, reason, err := a.Authorize(ctx, attrs)
	s := authorizationv1.SubjectAccessReviewStatus{Allowed: d == authorizer.DecisionAllow, Denied: d == authorizer.DecisionDeny, Reason: reason}
	if err != nil {
		s.EvaluationError = err.Error()
	}
	return s
}

func requester(ctx context.Context) (user.Info, error) {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewBadRequest("no user present on request")
	}
	return u, nil
}

func validate(ctx context.Context, obj runtime.Object, v rest.ValidateObjectFunc) error {
	if v == nil {
		return nil
	}
	return v(ctx, obj)
}

// SelfSubjectAccessReviews answers "may I?" (kubectl auth can-i).
type SelfSubjectAccessReviews struct {
	creater
	Authorizer authorizer.Authorizer
}

func NewSelfSubjectAccessReviews(a authorizer.Authorizer) *SelfSubjectAccessReviews {
	return &SelfSubjectAccessReviews{creater{func() runtime.Object { return &authorizationv1.SelfSubjectAccessReview{} }, "selfsubjectaccessreview", false}, a}
}

func (r *SelfSubjectAccessReviews) Create(ctx context.Context, obj runtime.Object, v rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	sar := obj.(*authorizationv1.SelfSubjectAccessReview)
	errs := append(emptyMeta(sar.ObjectMeta), validateAttrs(sar.Spec.ResourceAttributes, sar.Spec.NonResourceAttributes, field.NewPath("spec"))...)
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(authorizationv1.SchemeGroupVersion.WithKind("SelfSubjectAccessReview").GroupKind(), "", errs)
	}
	if err := validate(ctx, obj, v); err != nil {
		return nil, err
	}
	u, err := requester(ctx)
	if err != nil {
		return nil, err
	}
	sar.Status = decide(ctx, r.Authorizer, attributes(u, sar.Spec.ResourceAttributes, sar.Spec.NonResourceAttributes))
	return sar, nil
}

// SubjectAccessReviews answers "may this user?".
type SubjectAccessReviews struct {
	creater
	Authorizer authorizer.Authorizer
}

func NewSubjectAccessReviews(a authorizer.Authorizer) *SubjectAccessReviews {
	return &SubjectAccessReviews{creater{func() runtime.Object { return &authorizationv1.SubjectAccessReview{} }, "subjectaccessreview", false}, a}
}

func subjectOf(spec authorizationv1.SubjectAccessReviewSpec) user.Info {
	extra := map[string][]string{}
	for k, v := range spec.Extra {
		extra[k] = v
	}
	return &user.DefaultInfo{Name: spec.User, UID: spec.UID, Groups: spec.Groups, Extra: extra}
}

func validateSubject(spec authorizationv1.SubjectAccessReviewSpec) field.ErrorList {
	p := field.NewPath("spec")
	errs := validateAttrs(spec.ResourceAttributes, spec.NonResourceAttributes, p)
	if spec.User == "" && len(spec.Groups) == 0 {
		errs = append(errs, field.Invalid(p.Child("user"), spec.User, `at least one of user or group must be specified`))
	}
	return errs
}

func (r *SubjectAccessReviews) Create(ctx context.Context, obj runtime.Object, v rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	sar := obj.(*authorizationv1.SubjectAccessReview)
	if errs := append(emptyMeta(sar.ObjectMeta), validateSubject(sar.Spec)...); len(errs) > 0 {
		return nil, apierrors.NewInvalid(authorizationv1.SchemeGroupVersion.WithKind("SubjectAccessReview").GroupKind(), "", errs)
	}
	if err := validate(ctx, obj, v); err != nil {
		return nil, err
	}
	sar.Status = decide(ctx, r.Authorizer, attributes(subjectOf(sar.Spec), sar.Spec.ResourceAttributes, sar.Spec.NonResourceAttributes))
	return sar, nil
}

// LocalSubjectAccessReviews is SubjectAccessReview within one namespace.
type LocalSubjectAccessReviews struct {
	creater
	Authorizer authorizer.Authorizer
}

func NewLocalSubjectAccessReviews(a authorizer.Authorizer) *LocalSubjectAccessReviews {
	return &LocalSubjectAccessReviews{creater{func() runtime.Object { return &authorizationv1.LocalSubjectAccessReview{} }, "localsubjectaccessreview", true}, a}
}

func (r *LocalSubjectAccessReviews) Create(ctx context.Context, obj runtime.Object, v rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	sar := obj.(*authorizationv1.LocalSubjectAccessReview)
	namespace := genericapirequest.NamespaceValue(ctx)
	m := sar.ObjectMeta
	m.Namespace = ""
	errs := append(emptyMeta(m), validateSubject(sar.Spec)...)
	if sar.Spec.ResourceAttributes != nil && sar.Spec.ResourceAttributes.Namespace != namespace {
		errs = append(errs, field.Invalid(field.NewPath("spec", "resourceAttributes", "namespace"), sar.Spec.ResourceAttributes.Namespace, "must match metadata.namespace"))
	}
	if sar.Spec.NonResourceAttributes != nil {
		errs = append(errs, field.Invalid(field.NewPath("spec", "nonResourceAttributes"), sar.Spec.NonResourceAttributes, `disallowed on this kind of request`))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(authorizationv1.SchemeGroupVersion.WithKind("LocalSubjectAccessReview").GroupKind(), "", errs)
	}
	if err := validate(ctx, obj, v); err != nil {
		return nil, err
	}
	sar.Status = decide(ctx, r.Authorizer, attributes(subjectOf(sar.Spec), sar.Spec.ResourceAttributes, nil))
	return sar, nil
}

// SelfSubjectRulesReviews lists what the requester may do in a namespace
// (kubectl auth can-i --list).
type SelfSubjectRulesReviews struct {
	creater
	Resolver authorizer.RuleResolver
}

func NewSelfSubjectRulesReviews(r authorizer.RuleResolver) *SelfSubjectRulesReviews {
	return &SelfSubjectRulesReviews{creater{func() runtime.Object { return &authorizationv1.SelfSubjectRulesReview{} }, "selfsubjectrulesreview", false}, r}
}

func (r *SelfSubjectRulesReviews) Create(ctx context.Context, obj runtime.Object, v rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	srr := obj.(*authorizationv1.SelfSubjectRulesReview)
	if err := validate(ctx, obj, v); err != nil {
		return nil, err
	}
	u, err := requester(ctx)
	if err != nil {
		return nil, err
	}
	if srr.Spec.Namespace == "" {
		return nil, apierrors.NewBadRequest("no namespace on request")
	}
	res, non, incomplete, err := r.Resolver.RulesFor(ctx, u, srr.Spec.Namespace)
	out := &authorizationv1.SelfSubjectRulesReview{Spec: srr.Spec, Status: authorizationv1.SubjectRulesReviewStatus{Incomplete: incomplete,
		ResourceRules: []authorizationv1.ResourceRule{}, NonResourceRules: []authorizationv1.NonResourceRule{}}}
	for _, x := range res {
		out.Status.ResourceRules = append(out.Status.ResourceRules, authorizationv1.ResourceRule{Verbs: x.GetVerbs(),
			APIGroups: x.GetAPIGroups(), Resources: x.GetResources(), ResourceNames: x.GetResourceNames()})
	}
	for _, x := range non {
		out.Status.NonResourceRules = append(out.Status.NonResourceRules, authorizationv1.NonResourceRule{Verbs: x.GetVerbs(), NonResourceURLs: x.GetNonResourceURLs()})
	}
	if err != nil {
		out.Status.EvaluationError = fmt.Sprint(err)
	}
	return out, nil
}
