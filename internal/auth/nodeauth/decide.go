package nodeauth

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Identity names and groups (pki's NodeUserPrefix and NodeGroup).
const (
	UserPrefix     = "system:node:"
	Group          = "system:nodes"
	LeaseNamespace = "kube-node-lease"
)

// NodeName is the node a user is, if it is one.
func NodeName(name string, groups []string) (string, bool) {
	node, ok := strings.CutPrefix(name, UserPrefix)
	if !ok || node == "" {
		return "", false
	}
	for _, g := range groups {
		if g == Group {
			return node, true
		}
	}
	return "", false
}

// Request is a resource request of a node.
type Request struct {
	Node                                                string
	Verb, Group, Resource, Subresource, Namespace, Name string
}

// Need is what must hold for a request to be allowed.
type Need int

const (
	// No: not allowed here (RBAC may still allow it).
	No Need = iota
	// Yes: allowed (where the object decides, admission checks it).
	Yes
	// Referenced: a pod bound to the node in the namespace refers to the
	// named object (secret, configmap, claim or service account).
	Referenced
)

func isRead(verb string) bool { return verb == "get" || verb == "list" || verb == "watch" }

// Decide is what r needs to be allowed. Reasons for No are the caller's.
func Decide(r Request) Need {
	switch r.Group + "/" + r.Resource + "/" + r.Subresource {
	case "/nodes/", "/nodes/status":
		if isRead(r.Verb) && r.Subresource == "" {
			return Yes
		}
		switch r.Verb {
		case "get", "update", "patch", "delete":
			if r.Name == r.Node {
				return Yes
			}
		case "create":
			// The name is the object's: admission checks it.
			if r.Subresource == "" {
				return Yes
			}
		}
	case "/pods/":
		if isRead(r.Verb) {
			return Yes
		}
		if r.Verb == "delete" {
			return Yes // admission checks the pod is bound to the node
		}
	case "/pods/status":
		switch r.Verb {
		case "get":
			return Yes
		case "update", "patch":
			return Yes // admission checks the pod is bound to the node
		}
	case "/services/", "/endpoints/", "discovery.k8s.io/endpointslices/", "node.k8s.io/runtimeclasses/":
		if isRead(r.Verb) {
			return Yes
		}
	case "/events/", "events.k8s.io/events/":
		switch r.Verb {
		case "create", "update", "patch":
			return Yes
		}
	case "coordination.k8s.io/leases/":
		if r.Namespace != LeaseNamespace {
			return No
		}
		switch r.Verb {
		case "create":
			return Yes // admission checks the name
		case "get", "update", "patch", "delete":
			if r.Name == r.Node {
				return Yes
			}
		}
	case "/secrets/", "/configmaps/":
		if r.Verb == "get" && r.Name != "" {
			return Referenced
		}
	case "/persistentvolumeclaims/", "/persistentvolumeclaims/status":
		switch r.Verb {
		case "get", "update", "patch":
			if r.Name != "" {
				return Referenced
			}
		}
	case "/serviceaccounts/token":
		if r.Verb == "create" {
			return Referenced
		}
	}
	return No
}

// Refers tells whether pod refers to the object resource/name: a Secret or
// ConfigMap through volumes (projected ones too), env, envFrom or image
// pull secrets; a claim through a volume; a service account as its own.
func Refers(pod *corev1.Pod, resource, name string) bool {
	switch resource {
	case "serviceaccounts":
		return pod.Spec.ServiceAccountName == name || (pod.Spec.ServiceAccountName == "" && name == "default")
	case "persistentvolumeclaims":
		for _, v := range pod.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == name {
				return true
			}
			if v.Ephemeral != nil && pod.Name+"-"+v.Name == name {
				return true
			}
		}
		return false
	}
	secret := resource == "secrets"
	for _, s := range pod.Spec.ImagePullSecrets {
		if secret && s.Name == name {
			return true
		}
	}
	for _, v := range pod.Spec.Volumes {
		switch {
		case secret && v.Secret != nil && v.Secret.SecretName == name:
			return true
		case !secret && v.ConfigMap != nil && v.ConfigMap.Name == name:
			return true
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if (secret && s.Secret != nil && s.Secret.Name == name) || (!secret && s.ConfigMap != nil && s.ConfigMap.Name == name) {
					return true
				}
			}
		}
	}
	var containers []corev1.Container
	containers = append(containers, pod.Spec.InitContainers...)
	containers = append(containers, pod.Spec.Containers...)
	for _, e := range pod.Spec.EphemeralContainers {
		containers = append(containers, corev1.Container{Env: e.Env, EnvFrom: e.EnvFrom})
	}
	for _, c := range containers {
		for _, f := range c.EnvFrom {
			if (secret && f.SecretRef != nil && f.SecretRef.Name == name) || (!secret && f.ConfigMapRef != nil && f.ConfigMapRef.Name == name) {
				return true
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if (secret && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == name) ||
				(!secret && e.ValueFrom.ConfigMapKeyRef != nil && e.ValueFrom.ConfigMapKeyRef.Name == name) {
				return true
			}
		}
	}
	return false
}
