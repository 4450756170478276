package review

import (
	"context"
	"net/http"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/registry/rest"
)

func userInfo(u user.Info) authenticationv1.UserInfo {
	out := authenticationv1.UserInfo{Username: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups()}
	if extra := u.GetExtra(); len(extra) > 0 {
		out.Extra = map[string]authenticationv1.ExtraValue{}
		for k, v := range extra {
			out.Extra[k] = v
		}
	}
	return out
}

// SelfSubjectReviews tells the requester who the server takes them for
// (kubectl auth whoami).
type SelfSubjectReviews struct{ creater }

func NewSelfSubjectReviews() *SelfSubjectReviews {
	return &SelfSubjectReviews{creater{func() runtime.Object { return &authenticationv1.SelfSubjectReview{} }, "selfsubjectreview", false}}
}

func (r *SelfSubjectReviews) Create(ctx context.Context, obj runtime.Object, v rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	if err := validate(ctx, obj, v); err != nil {
		return nil, err
	}
	u, err := requester(ctx)
	if err != nil {
		return nil, err
	}
	ssr := obj.(*authenticationv1.SelfSubjectReview)
	ssr.Status.UserInfo = userInfo(u)
	return ssr, nil
}

// TokenReviews authenticates a bearer token on behalf of another server.
type TokenReviews struct {
	creater
	Tokens    authenticator.Request
	Audiences authenticator.Audiences
}

func NewTokenReviews(tokens authenticator.Request, auds authenticator.Audiences) *TokenReviews {
	return &TokenReviews{creater{func() runtime.Object { return &authenticationv1.TokenReview{} }, "tokenreview", false}, tokens, auds}
}

func (r *TokenReviews) Create(ctx context.Context, obj runtime.Object, v rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	tr := obj.(*authenticationv1.TokenReview)
	if tr.Spec.Token == "" {
		return nil, apierrors.NewBadRequest("token is required for TokenReview in authentication")
	}
	if err := validate(ctx, obj, v); err != nil {
		return nil, err
	}
	req := (&http.Request{Header: http.Header{}}).WithContext(ctx)
	req.Header.Set("Authorization", "Bearer "+tr.Spec.Token)
	auds := authenticator.Audiences(tr.Spec.Audiences)
	if len(auds) == 0 {
		auds = r.Audiences
	}
	if len(auds) > 0 {
		req = req.WithContext(authenticator.WithAudiences(req.Context(), auds))
	}
	resp, ok, err := r.Tokens.AuthenticateRequest(req)
	tr.Status = authenticationv1.TokenReviewStatus{Authenticated: ok}
	if err != nil {
		tr.Status.Error = err.Error()
	}
	if ok && len(auds) > 0 && resp != nil && len(auds.Intersect(resp.Audiences)) == 0 {
		return nil, apierrors.NewInternalError(errBadAudiences)
	}
	if ok && resp != nil && resp.User != nil {
		tr.Status.User = userInfo(resp.User)
		tr.Status.Audiences = resp.Audiences
	}
	return tr, nil
}

type audienceError struct{}

func (audienceError) Error() string { return "error validating audience" }

var errBadAudiences = audienceError{}
