package integration

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"

	"github.com/batchd/batchd/internal/pki"
)

// asNode is a client with node name's identity, certified by the server's CA
// as the join endpoint certifies an agent.
func asNode(t *testing.T, name string) kubernetes.Interface {
	t.Helper()
	dir := filepath.Join(env.DataDir, "pki")
	ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, csr, err := pki.NewKeyAndCSR(name)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.SignCSR(ca, caKey, csr, pkix.Name{CommonName: pki.NodeUserPrefix + name, Organization: []string{pki.NodeGroup}}, nil, time.Now(), x509.ExtKeyUsageClientAuth)
	if err != nil {
		t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(&restclient.Config{Host: env.Config.Host, TLSClientConfig: restclient.TLSClientConfig{CAData: ca, CertData: cert, KeyData: key}})
}

// A node may change its own Node, Lease and pods, read the Secrets its pods
// refer to and get tokens bound to its pods; the same against another
// node's is Forbidden.
func TestNodeAuthorization(t *testing.T) {
	ctx := context.Background()
	ns := "nodeauth"
	if _, err := env.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n1, n2 := asNode(t, "na1"), asNode(t, "na2")
	for name, c := range map[string]kubernetes.Interface{"na1": n1, "na2": n2} {
		if _, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s registers itself: %v", name, err)
		}
	}
	if _, err := n1.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "na3"}}, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("na1 registers na3: %v", err)
	}
	patch := []byte(`{"metadata":{"labels":{"x":"y"}}}`)
	if _, err := n1.CoreV1().Nodes().Patch(ctx, "na1", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("na1 patches itself: %v", err)
	}
	if _, err := n1.CoreV1().Nodes().Patch(ctx, "na2", types.MergePatchType, patch, metav1.PatchOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("na1 patches na2: %v", err)
	}
	leases := n1.CoordinationV1().Leases("kube-node-lease")
	if _, err := leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "na1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("na1 creates its Lease: %v", err)
	}
	if _, err := leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "na2"}}, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("na1 creates na2's Lease: %v", err)
	}

	for _, s := range []string{"used", "unused", "finished"} {
		if _, err := env.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	podUsing := func(name, node, secret string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox",
			Env: []corev1.EnvVar{{Name: "S", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: "k"}}}}}}}}
	}
	pod := func(name, node string) *corev1.Pod { return podUsing(name, node, "used") }
	// A finished pod of na1's still lets it read what it refers to (the
	// authorizer looks at the node's pods still to run first, then at the
	// rest), as upstream's graph keeps a pod until it is deleted.
	done, err := env.Client.CoreV1().Pods(ns).Create(ctx, podUsing("done", "na1", "finished"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done.Status.Phase = corev1.PodSucceeded
	if _, err := env.Client.CoreV1().Pods(ns).UpdateStatus(ctx, done, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := n1.CoreV1().Secrets(ns).Get(ctx, "finished", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		t.Fatal("na1 cannot read a Secret its finished pod used")
	}
	if _, err := n2.CoreV1().Secrets(ns).Get(ctx, "finished", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("na2 reads a Secret only na1's finished pod used: %v", err)
	}
	p1, err := env.Client.CoreV1().Pods(ns).Create(ctx, pod("p1", "na1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := env.Client.CoreV1().Pods(ns).Create(ctx, pod("p2", "na2"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n1.CoreV1().Secrets(ns).Get(ctx, "used", metav1.GetOptions{}); err != nil {
		t.Fatalf("na1 reads a Secret its pod uses: %v", err)
	}
	if _, err := n1.CoreV1().Secrets(ns).Get(ctx, "unused", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("na1 reads a Secret no pod of it uses: %v", err)
	}
	status := []byte(`{"status":{"message":"seen"}}`)
	if _, err := n1.CoreV1().Pods(ns).Patch(ctx, "p1", types.MergePatchType, status, metav1.PatchOptions{}, "status"); err != nil {
		t.Fatalf("na1 patches its pod's status: %v", err)
	}
	_, err = n1.CoreV1().Pods(ns).Patch(ctx, "p2", types.MergePatchType, status, metav1.PatchOptions{}, "status")
	if want := `node "na1" can only update the status of pods with spec.nodeName set to itself`; !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), want) {
		t.Fatalf("na1 patches na2's pod's status: %v, want Forbidden: %s", err, want)
	}
	token := func(p *corev1.Pod) error {
		_, err := n1.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "default", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: p.Name, UID: p.UID}}}, metav1.CreateOptions{})
		return err
	}
	// The service account exists once its controller made it.
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := env.Client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		t.Fatal("no default service account")
	}
	if err := token(p1); err != nil {
		t.Fatalf("na1 gets a token bound to its pod: %v", err)
	}
	if err := token(p2); !apierrors.IsForbidden(err) {
		t.Fatalf("na1 gets a token bound to na2's pod: %v", err)
	}
	err = n1.CoreV1().Pods(ns).Delete(ctx, "p2", metav1.DeleteOptions{})
	if want := `node "na1" can only delete pods with spec.nodeName set to itself`; !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), want) {
		t.Fatalf("na1 deletes na2's pod: %v, want Forbidden: %s", err, want)
	}
	if _, err := env.Client.CoreV1().Pods(ns).Get(ctx, "p2", metav1.GetOptions{}); err != nil {
		t.Fatalf("na2's pod after na1's refused delete: %v", err)
	}
	if err := n1.CoreV1().Pods(ns).Delete(ctx, "p1", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("na1 deletes its pod: %v", err)
	}
	if _, err := n1.CoreV1().Pods(ns).Create(ctx, pod("p3", "na1"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("na1 creates a pod: %v", err)
	}
}
