package nodeauth

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNodeName(t *testing.T) {
	if n, ok := NodeName("system:node:a1", []string{"system:nodes", "system:authenticated"}); !ok || n != "a1" {
		t.Fatalf("a node: %q %v", n, ok)
	}
	for _, c := range []struct {
		name   string
		groups []string
	}{{"system:node:a1", []string{"system:authenticated"}}, {"a1", []string{"system:nodes"}}, {"system:node:", []string{"system:nodes"}}} {
		if _, ok := NodeName(c.name, c.groups); ok {
			t.Errorf("%q in %v taken for a node", c.name, c.groups)
		}
	}
}

func TestDecide(t *testing.T) {
	r := func(verb, group, resource, sub, ns, name string) Request {
		return Request{Node: "a1", Verb: verb, Group: group, Resource: resource, Subresource: sub, Namespace: ns, Name: name}
	}
	for _, c := range []struct {
		r    Request
		want Need
	}{
		{r("list", "", "nodes", "", "", ""), Yes},
		{r("get", "", "nodes", "", "", "a2"), Yes},
		{r("patch", "", "nodes", "", "", "a1"), Yes},
		{r("patch", "", "nodes", "", "", "a2"), No},
		{r("update", "", "nodes", "status", "", "a1"), Yes},
		{r("patch", "", "nodes", "status", "", "a2"), No},
		{r("delete", "", "nodes", "", "", "a2"), No},
		{r("create", "", "nodes", "", "", ""), Yes},
		{r("get", "coordination.k8s.io", "leases", "", "kube-node-lease", "a1"), Yes},
		{r("update", "coordination.k8s.io", "leases", "", "kube-node-lease", "a2"), No},
		{r("update", "coordination.k8s.io", "leases", "", "kube-system", "a1"), No},
		{r("watch", "", "pods", "", "", ""), Yes},
		{r("create", "", "pods", "", "n", ""), No},
		{r("delete", "", "pods", "", "n", "p"), Yes},
		{r("patch", "", "pods", "status", "n", "p"), Yes},
		{r("update", "", "pods", "", "n", "p"), No},
		{r("create", "", "pods", "eviction", "n", "p"), No},
		{r("create", "", "pods", "exec", "n", "p"), No},
		{r("create", "", "events", "", "n", ""), Yes},
		{r("create", "events.k8s.io", "events", "", "n", ""), Yes},
		{r("get", "", "secrets", "", "n", "s"), Referenced},
		{r("list", "", "secrets", "", "n", ""), No},
		{r("watch", "", "configmaps", "", "n", ""), No},
		{r("update", "", "persistentvolumeclaims", "status", "n", "c"), Referenced},
		{r("delete", "", "persistentvolumeclaims", "", "n", "c"), No},
		{r("create", "", "serviceaccounts", "token", "n", "default"), Referenced},
		{r("get", "", "serviceaccounts", "", "n", "default"), No},
		{r("list", "node.k8s.io", "runtimeclasses", "", "", ""), Yes},
		{r("get", "", "services", "", "n", "s"), Yes},
		{r("create", "batch", "jobs", "", "n", ""), No},
		{r("list", "batch", "jobs", "", "n", ""), No},
		{r("create", "rbac.authorization.k8s.io", "clusterrolebindings", "", "", ""), No},
	} {
		if got := Decide(c.r); got != c.want {
			t.Errorf("%+v: %v, want %v", c.r, got, c.want)
		}
	}
}

func TestRefers(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{
		ServiceAccountName: "runner",
		ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "pull"}},
		Volumes: []corev1.Volume{
			{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "vol-secret"}}},
			{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "vol-cm"}}}},
			{Name: "pr", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "proj-secret"}}}}}}},
			{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "claim"}}},
			{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}},
		},
		Containers: []corev1.Container{{Name: "c",
			EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "env-cm"}}}},
			Env:     []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "env-secret"}, Key: "k"}}}}}},
	}}
	for _, c := range []struct {
		resource, name string
		want           bool
	}{
		{"secrets", "pull", true}, {"secrets", "vol-secret", true}, {"secrets", "proj-secret", true}, {"secrets", "env-secret", true},
		{"secrets", "vol-cm", false}, {"secrets", "other", false},
		{"configmaps", "vol-cm", true}, {"configmaps", "env-cm", true}, {"configmaps", "vol-secret", false},
		{"persistentvolumeclaims", "claim", true}, {"persistentvolumeclaims", "p-scratch", true}, {"persistentvolumeclaims", "other", false},
		{"serviceaccounts", "runner", true}, {"serviceaccounts", "default", false},
	} {
		if got := Refers(pod, c.resource, c.name); got != c.want {
			t.Errorf("Refers(%s %s) = %v", c.resource, c.name, got)
		}
	}
}
