package apiserver

import (
	"context"
	"fmt"
	"slices"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// Groups that grant a role. The admin credentials carry system:masters;
// users of --token-file name one of these in their groups column.
const (
	GroupView = "batchd:view" // read everything but Secrets, as Kubernetes' view role
	GroupEdit = "batchd:edit" // read and write everything, as Kubernetes' edit role
)

// Authorize decides a request from the user's groups alone: masters may do
// anything; editors may read and write every resource and viewers read
// (get, list, watch) every resource but Secrets; any authenticated user may
// read the discovery, health and version endpoints (Kubernetes'
// system:discovery and system:public-info-viewer), viewers and editors
// /metrics too (as system:monitoring). Every other path — the profiles at
// /debug/pprof and the log level at /debug/flags/v — is the admin's
// (system:masters) alone, as in Kubernetes, where no role but cluster-admin
// names them.
func Authorize(groups []string, a authorizer.Attributes) (authorizer.Decision, string) {
	has := func(g string) bool { return slices.Contains(groups, g) }
	read := a.GetVerb() == "get" || a.GetVerb() == "list" || a.GetVerb() == "watch"
	switch {
	case has(user.SystemPrivilegedGroup):
		return authorizer.DecisionAllow, ""
	case !a.IsResourceRequest():
		if a.GetVerb() == "get" && (publicPath(a.GetPath()) || (has(GroupView) || has(GroupEdit)) && a.GetPath() == "/metrics") {
			return authorizer.DecisionAllow, ""
		}
	case has(GroupEdit):
		return authorizer.DecisionAllow, ""
	case has(GroupView) && read:
		if a.GetAPIGroup() == "" && a.GetResource() == "secrets" {
			return authorizer.DecisionNoOpinion, fmt.Sprintf("the %s role does not read secrets", GroupView)
		}
		return authorizer.DecisionAllow, ""
	case has(GroupView):
		return authorizer.DecisionNoOpinion, fmt.Sprintf("the %s role may only get, list and watch", GroupView)
	}
	return authorizer.DecisionNoOpinion, ""
}

func publicPath(p string) bool {
	switch p {
	case "/api", "/apis", "/healthz", "/livez", "/readyz", "/version", "/openapi/v2":
		return true
	}
	for _, prefix := range []string{"/api/", "/apis/", "/openapi/v3"} {
		if len(p) >= len(prefix) && p[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

// roles is Authorize as the API server's authorizer.
type roles struct{}

func (roles) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	var groups []string
	if u := a.GetUser(); u != nil {
		groups = u.GetGroups()
	}
	d, why := Authorize(groups, a)
	return d, why, nil
}

func (r roles) ConditionsAwareAuthorize(ctx context.Context, a authorizer.Attributes) authorizer.ConditionsAwareDecision {
	return authorizer.ConditionsAwareDecisionFromParts(r.Authorize(ctx, a))
}

// EvaluateConditions: roles set no conditions.
func (roles) EvaluateConditions(context.Context, authorizer.ConditionsAwareDecision, authorizer.ConditionsData) (authorizer.Decision, string, error) {
	return authorizer.DecisionDeny, "", authorizer.ErrorConditionEvaluationNotSupported
}

// RulesFor is not answered in detail (no SelfSubjectRulesReview is served).
func (roles) RulesFor(context.Context, user.Info, string) ([]authorizer.ResourceRuleInfo, []authorizer.NonResourceRuleInfo, bool, error) {
	return nil, nil, true, nil
}
