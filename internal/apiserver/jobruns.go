package apiserver

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	batchdv1alpha1 "github.com/batchd/batchd/internal/apis/batchd/v1alpha1"
)

// runsReadOnly keeps JobRuns read-only to users: only the API server's own
// identity (its loopback client, which the controllers use) may create,
// change or delete them. Every other writer, system:masters included, gets
// upstream's 403 ("jobruns.batchd.dev "x" is forbidden: User "admin" cannot
// delete resource ..."), whatever the authorizer behind it would allow.
// This is the one place that rule lives.
type runsReadOnly struct{ authorizer.Authorizer }

// RunsWriter is the only user that writes JobRuns.
const RunsWriter = user.APIServerUser

func (r runsReadOnly) Authorize(ctx context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if d, why, denied := runsWrite(a); denied {
		return d, why, nil
	}
	return r.Authorizer.Authorize(ctx, a)
}

func (r runsReadOnly) ConditionsAwareAuthorize(ctx context.Context, a authorizer.Attributes) authorizer.ConditionsAwareDecision {
	if d, why, denied := runsWrite(a); denied {
		return authorizer.ConditionsAwareDecisionFromParts(d, why, nil)
	}
	if c, ok := r.Authorizer.(interface {
		ConditionsAwareAuthorize(context.Context, authorizer.Attributes) authorizer.ConditionsAwareDecision
	}); ok {
		return c.ConditionsAwareAuthorize(ctx, a)
	}
	return authorizer.ConditionsAwareDecisionFromParts(r.Authorizer.Authorize(ctx, a))
}

func (r runsReadOnly) EvaluateConditions(ctx context.Context, d authorizer.ConditionsAwareDecision, data authorizer.ConditionsData) (authorizer.Decision, string, error) {
	if c, ok := r.Authorizer.(interface {
		EvaluateConditions(context.Context, authorizer.ConditionsAwareDecision, authorizer.ConditionsData) (authorizer.Decision, string, error)
	}); ok {
		return c.EvaluateConditions(ctx, d, data)
	}
	return authorizer.DecisionDeny, "", authorizer.ErrorConditionEvaluationNotSupported
}

// runsWrite denies a write to jobruns by anyone but RunsWriter.
func runsWrite(a authorizer.Attributes) (authorizer.Decision, string, bool) {
	if !a.IsResourceRequest() || a.GetAPIGroup() != batchdv1alpha1.GroupName || a.GetResource() != "jobruns" {
		return authorizer.DecisionNoOpinion, "", false
	}
	switch a.GetVerb() {
	case "get", "list", "watch":
		return authorizer.DecisionNoOpinion, "", false
	}
	if u := a.GetUser(); u != nil && u.GetName() == RunsWriter {
		return authorizer.DecisionNoOpinion, "", false
	}
	return authorizer.DecisionDeny, fmt.Sprintf("jobruns are written by batchd's controllers only (%s)", RunsWriter), true
}

// jsonOnly serves batchd's own group without protobuf, which its types do
// not implement: a client that prefers protobuf (client-go's metadata
// client, the controllers' loopback) gets its JSON fallback instead of 406.
type jsonOnly struct{ runtime.NegotiatedSerializer }

func (j jsonOnly) SupportedMediaTypes() []runtime.SerializerInfo {
	var out []runtime.SerializerInfo
	for _, i := range j.NegotiatedSerializer.SupportedMediaTypes() {
		if i.MediaType != runtime.ContentTypeProtobuf {
			out = append(out, i)
		}
	}
	return out
}
