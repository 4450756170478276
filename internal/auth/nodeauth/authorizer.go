package nodeauth

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// Pods is how the authorizer sees pods: a pod by name, and the pods bound
// to a node in a namespace, only those not yet Succeeded or Failed when
// active (both read fresh).
type Pods interface {
	Get(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	OnNode(ctx context.Context, namespace, node string, active bool) ([]corev1.Pod, error)
}

// Authorizer allows a node what Decide says, after the lookups it needs;
// it has no opinion on anyone else, nor on what it does not allow.
type Authorizer struct {
	// Pods is set once the API server's client exists (nil: only what
	// needs no lookup is allowed).
	Pods func() Pods
}

// Authorize implements authorizer.Authorizer.
func (a *Authorizer) Authorize(ctx context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	u := attrs.GetUser()
	if u == nil || !attrs.IsResourceRequest() {
		return authorizer.DecisionNoOpinion, "", nil
	}
	node, ok := NodeName(u.GetName(), u.GetGroups())
	if !ok {
		return authorizer.DecisionNoOpinion, "", nil
	}
	r := Request{Node: node, Verb: attrs.GetVerb(), Group: attrs.GetAPIGroup(), Resource: attrs.GetResource(), Subresource: attrs.GetSubresource(),
		Namespace: attrs.GetNamespace(), Name: attrs.GetName()}
	switch Decide(r) {
	case Yes:
		return authorizer.DecisionAllow, "", nil
	case Referenced:
		pods := a.pods()
		if pods == nil {
			return authorizer.DecisionNoOpinion, "the API server is starting", nil
		}
		// The pods that are still to run first: they are the ones whose
		// start reads what they refer to; the node's finished pods (as
		// many as its Jobs ran) only when none of those does.
		for _, active := range []bool{true, false} {
			list, err := pods.OnNode(ctx, r.Namespace, node, active)
			if err != nil {
				return authorizer.DecisionNoOpinion, "", err
			}
			for i := range list {
				if Refers(&list[i], r.Resource, r.Name) {
					return authorizer.DecisionAllow, "", nil
				}
			}
		}
		return authorizer.DecisionNoOpinion, fmt.Sprintf("no relationship found between node %q and this object", node), nil
	}
	return authorizer.DecisionNoOpinion, "", nil
}

func (a *Authorizer) pods() Pods {
	if a.Pods == nil {
		return nil
	}
	return a.Pods()
}

// Admission checks what the authorizer cannot see, in the objects a node
// writes (NodeRestriction's idea): the Node and Lease it creates are its
// own, the pod whose status it writes or which it deletes is bound to it
// (as stored: the request's old object, no further read), and a token it
// asks for is bound to a pod bound to it.
type Admission struct {
	*admission.Handler
	Pods func() Pods
}

// NewAdmission is the admission check.
func NewAdmission(pods func() Pods) *Admission {
	return &Admission{Handler: admission.NewHandler(admission.Create, admission.Update, admission.Delete), Pods: pods}
}

var _ admission.ValidationInterface = &Admission{}

// Validate implements admission.ValidationInterface.
func (a *Admission) Validate(ctx context.Context, attrs admission.Attributes, _ admission.ObjectInterfaces) error {
	u := attrs.GetUserInfo()
	if u == nil {
		return nil
	}
	node, ok := NodeName(u.GetName(), u.GetGroups())
	if !ok {
		return nil
	}
	res := attrs.GetResource()
	switch {
	case res.Group == "" && res.Resource == "nodes" && attrs.GetSubresource() == "":
		if n, ok := attrs.GetObject().(*corev1.Node); ok && n.Name != node {
			return admission.NewForbidden(attrs, fmt.Errorf("node %q is not allowed to modify node %q", node, n.Name))
		}
	case res.Group == "" && res.Resource == "pods" && (attrs.GetOperation() == admission.Delete && attrs.GetSubresource() == "" ||
		attrs.GetOperation() == admission.Update && attrs.GetSubresource() == "status"):
		verb := "update the status of"
		if attrs.GetOperation() == admission.Delete {
			verb = "delete"
		}
		if p, ok := attrs.GetOldObject().(*corev1.Pod); !ok || p.Spec.NodeName != node {
			return admission.NewForbidden(attrs, fmt.Errorf("node %q can only %s pods with spec.nodeName set to itself", node, verb))
		}
	case res.Group == "coordination.k8s.io" && res.Resource == "leases":
		if l, ok := attrs.GetObject().(*coordinationv1.Lease); ok && l.Name != node {
			return admission.NewForbidden(attrs, fmt.Errorf("node %q may only modify its own lease", node))
		}
	case res.Group == "" && res.Resource == "serviceaccounts" && attrs.GetSubresource() == "token":
		tr, ok := attrs.GetObject().(*authenticationv1.TokenRequest)
		if !ok {
			return nil
		}
		ref := tr.Spec.BoundObjectRef
		if ref == nil || ref.Kind != "Pod" {
			return admission.NewForbidden(attrs, fmt.Errorf("node %q may only request tokens bound to a pod", node))
		}
		var pods Pods
		if a.Pods != nil {
			pods = a.Pods()
		}
		if pods == nil {
			return admission.NewForbidden(attrs, fmt.Errorf("the API server is starting"))
		}
		pod, err := pods.Get(ctx, attrs.GetNamespace(), ref.Name)
		if err != nil {
			return admission.NewForbidden(attrs, fmt.Errorf("node %q: bound pod %q: %w", node, ref.Name, err))
		}
		if pod.Spec.NodeName != node || (ref.UID != "" && ref.UID != pod.UID) {
			return admission.NewForbidden(attrs, fmt.Errorf("node %q may only request tokens bound to pods bound to it", node))
		}
	}
	return nil
}
