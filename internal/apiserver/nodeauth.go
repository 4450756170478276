package apiserver

import (
	"context"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/kubernetes"

	"github.com/batchd/batchd/internal/auth/nodeauth"
)

// nodePods are the pods the node authorizer looks at, read live through
// the loopback client (no cache of every pod in the API server).
type nodePods struct{ client kubernetes.Interface }

func (p nodePods) Get(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	return p.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
}

func (p nodePods) OnNode(ctx context.Context, ns, node string, active bool) ([]corev1.Pod, error) {
	sel := fields.OneTermEqualSelector("spec.nodeName", node)
	if active {
		sel = fields.AndSelectors(sel, fields.OneTermNotEqualSelector("status.phase", string(corev1.PodSucceeded)),
			fields.OneTermNotEqualSelector("status.phase", string(corev1.PodFailed)))
	}
	// From the watch cache, by its spec.nodeName index.
	l, err := p.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{FieldSelector: sel.String(), ResourceVersion: "0"})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// nodeLookup holds nodePods once the loopback client exists.
type nodeLookup struct{ p atomic.Pointer[nodePods] }

func (l *nodeLookup) get() nodeauth.Pods {
	if p := l.p.Load(); p != nil {
		return *p
	}
	return nil
}

// nodesFirst asks the node authorizer first: what it allows a node is
// allowed; everything else is next's to decide (RBAC).
type nodesFirst struct {
	nodes *nodeauth.Authorizer
	next  authorizer.Authorizer
}

func (a nodesFirst) Authorize(ctx context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	if d, _, _ := a.nodes.Authorize(ctx, attrs); d == authorizer.DecisionAllow {
		return d, "", nil
	}
	return a.next.Authorize(ctx, attrs)
}

func (a nodesFirst) ConditionsAwareAuthorize(ctx context.Context, attrs authorizer.Attributes) authorizer.ConditionsAwareDecision {
	if d, _, _ := a.nodes.Authorize(ctx, attrs); d == authorizer.DecisionAllow {
		return authorizer.ConditionsAwareDecisionFromParts(d, "", nil)
	}
	if c, ok := a.next.(interface {
		ConditionsAwareAuthorize(context.Context, authorizer.Attributes) authorizer.ConditionsAwareDecision
	}); ok {
		return c.ConditionsAwareAuthorize(ctx, attrs)
	}
	return authorizer.ConditionsAwareDecisionFromParts(a.next.Authorize(ctx, attrs))
}

func (a nodesFirst) EvaluateConditions(ctx context.Context, d authorizer.ConditionsAwareDecision, data authorizer.ConditionsData) (authorizer.Decision, string, error) {
	if c, ok := a.next.(interface {
		EvaluateConditions(context.Context, authorizer.ConditionsAwareDecision, authorizer.ConditionsData) (authorizer.Decision, string, error)
	}); ok {
		return c.EvaluateConditions(ctx, d, data)
	}
	return authorizer.DecisionDeny, "", authorizer.ErrorConditionEvaluationNotSupported
}
