package serviceaccount

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	clocktesting "k8s.io/utils/clock/testing"
)

type objects struct {
	sas     map[string]*corev1.ServiceAccount
	pods    map[string]*corev1.Pod
	secrets map[string]*corev1.Secret
}

func (o objects) ServiceAccount(ns, name string) (*corev1.ServiceAccount, error) {
	if x, ok := o.sas[ns+"/"+name]; ok {
		return x, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("serviceaccounts"), name)
}
func (o objects) Pod(ns, name string) (*corev1.Pod, error) {
	if x, ok := o.pods[ns+"/"+name]; ok {
		return x, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("pods"), name)
}
func (o objects) Secret(ns, name string) (*corev1.Secret, error) {
	if x, ok := o.secrets[ns+"/"+name]; ok {
		return x, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("secrets"), name)
}

func newKey(t *testing.T) *Key {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalECPrivateKey(k)
	key, err := ParseKey(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestTokenLifecycle(t *testing.T) {
	key := newKey(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := clocktesting.NewFakePassiveClock(now)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cleaner", UID: "sa-uid"}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "pod-uid"}, Spec: corev1.PodSpec{ServiceAccountName: "cleaner", NodeName: "n1"}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "node-uid"}}
	objs := objects{sas: map[string]*corev1.ServiceAccount{"ns/cleaner": sa}, pods: map[string]*corev1.Pod{"ns/p": pod}, secrets: map[string]*corev1.Secret{}}
	a := &Authenticator{Issuer: DefaultIssuer, Audiences: authenticator.Audiences{DefaultIssuer}, Keys: []*ecdsa.PublicKey{key.Public()}, Objects: objs, Clock: clk}

	claims := NewClaims(DefaultIssuer, Binding{ServiceAccount: sa, Pod: pod, Node: node}, []string{DefaultIssuer}, now, time.Hour, 0, "jti-1")
	tok, err := key.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	// Upstream's claim layout, byte for byte in the payload's keys.
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	k8s := m["kubernetes.io"].(map[string]any)
	if m["sub"] != "system:serviceaccount:ns:cleaner" || m["iss"] != DefaultIssuer || k8s["namespace"] != "ns" ||
		k8s["pod"].(map[string]any)["uid"] != "pod-uid" || k8s["serviceaccount"].(map[string]any)["name"] != "cleaner" ||
		k8s["node"].(map[string]any)["name"] != "n1" || m["aud"].([]any)[0] != DefaultIssuer {
		t.Errorf("claims: %s", payload)
	}
	header, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if !strings.Contains(string(header), `"kid":"`+key.ID()+`"`) || !strings.Contains(string(header), `"alg":"ES256"`) {
		t.Errorf("header: %s", header)
	}

	resp, ok, err := a.AuthenticateToken(context.Background(), tok)
	if err != nil || !ok {
		t.Fatalf("valid token: %v %v", ok, err)
	}
	u := resp.User
	if u.GetName() != "system:serviceaccount:ns:cleaner" || u.GetUID() != "sa-uid" ||
		strings.Join(u.GetGroups(), ",") != "system:serviceaccounts,system:serviceaccounts:ns" ||
		u.GetExtra()["authentication.kubernetes.io/pod-name"][0] != "p" || u.GetExtra()["authentication.kubernetes.io/credential-id"][0] != "JTI=jti-1" {
		t.Errorf("user: %+v", u)
	}

	// Other audiences are refused, unless a TokenReview asks for them.
	other, _ := key.Sign(NewClaims(DefaultIssuer, Binding{ServiceAccount: sa}, []string{"vault"}, now, time.Hour, 0, ""))
	if _, _, err := a.AuthenticateToken(context.Background(), other); err == nil || !strings.Contains(err.Error(), "token audiences") {
		t.Errorf("foreign audience: %v", err)
	}
	if _, ok, err := a.AuthenticateToken(authenticator.WithAudiences(context.Background(), authenticator.Audiences{"vault"}), other); !ok || err != nil {
		t.Errorf("audience asked by a review: %v %v", ok, err)
	}
	// Another issuer's token is not ours to judge; garbage neither.
	foreign, _ := key.Sign(NewClaims("https://elsewhere", Binding{ServiceAccount: sa}, []string{DefaultIssuer}, now, time.Hour, 0, ""))
	for _, s := range []string{foreign, "abc", "a.b.c"} {
		if _, ok, err := a.AuthenticateToken(context.Background(), s); ok || err != nil {
			t.Errorf("%q: %v %v", s, ok, err)
		}
	}
	// A token signed by another key fails.
	forged, _ := newKey(t).Sign(claims)
	if _, ok, err := a.AuthenticateToken(context.Background(), forged); ok || err == nil {
		t.Errorf("forged: %v %v", ok, err)
	}

	// Expiry, with upstream's minute of leeway.
	clk.SetTime(now.Add(time.Hour + 30*time.Second))
	if _, ok, err := a.AuthenticateToken(context.Background(), tok); !ok || err != nil {
		t.Errorf("within leeway: %v %v", ok, err)
	}
	clk.SetTime(now.Add(time.Hour + 2*time.Minute))
	if _, _, err := a.AuthenticateToken(context.Background(), tok); err == nil || err.Error() != "service account token has expired" {
		t.Errorf("expired: %v", err)
	}
	clk.SetTime(now)

	// The pod re-created under the same name: a new UID.
	objs.pods["ns/p"] = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "other"}}
	if _, _, err := a.AuthenticateToken(context.Background(), tok); err == nil || !strings.Contains(err.Error(), "pod UID (other) does not match") {
		t.Errorf("recreated pod: %v", err)
	}
	delete(objs.pods, "ns/p")
	if _, _, err := a.AuthenticateToken(context.Background(), tok); !apierrors.IsNotFound(err) {
		t.Errorf("deleted pod: %v", err)
	}
	// A pod deleting for longer than the leeway.
	gone := metav1.NewTime(now.Add(-2 * time.Minute))
	objs.pods["ns/p"] = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "pod-uid", DeletionTimestamp: &gone}}
	if _, _, err := a.AuthenticateToken(context.Background(), tok); err == nil || !strings.Contains(err.Error(), "has been deleted") {
		t.Errorf("deleting pod: %v", err)
	}
	// The service account re-created.
	objs.sas["ns/cleaner"] = &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cleaner", UID: "new"}}
	if _, _, err := a.AuthenticateToken(context.Background(), other); err == nil {
		t.Error("token of a re-created service account accepted")
	}
}

func TestExtendedClaims(t *testing.T) {
	now := time.Unix(1000, 0)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "default", UID: "u"}}
	c := NewClaims(DefaultIssuer, Binding{ServiceAccount: sa, Secret: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", UID: "su"}}},
		nil, now, ExtendedExpiration, WarnOnlyExpirationSeconds*time.Second, "")
	if c.ExpiresAt.Unix() != 1000+365*24*3600 || c.Kubernetes.WarnAfter.Unix() != 1000+3607 || c.Kubernetes.Secret.UID != "su" || c.Kubernetes.Pod != nil {
		t.Errorf("%+v", c)
	}
}

func BenchmarkSignAndAuthenticate(b *testing.B) {
	key := newKey(&testing.T{})
	now := time.Now()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "sa", UID: "u"}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "pu"}}
	objs := objects{sas: map[string]*corev1.ServiceAccount{"ns/sa": sa}, pods: map[string]*corev1.Pod{"ns/p": pod}}
	a := &Authenticator{Issuer: DefaultIssuer, Audiences: authenticator.Audiences{DefaultIssuer}, Keys: []*ecdsa.PublicKey{key.Public()}, Objects: objs}
	b.Run("sign", func(b *testing.B) {
		for b.Loop() {
			if _, err := key.Sign(NewClaims(DefaultIssuer, Binding{ServiceAccount: sa, Pod: pod}, []string{DefaultIssuer}, now, time.Hour, 0, "j")); err != nil {
				b.Fatal(err)
			}
		}
	})
	tok, _ := key.Sign(NewClaims(DefaultIssuer, Binding{ServiceAccount: sa, Pod: pod}, []string{DefaultIssuer}, now, time.Hour, 0, "j"))
	b.Run("authenticate", func(b *testing.B) {
		for b.Loop() {
			if _, ok, err := a.AuthenticateToken(context.Background(), tok); !ok || err != nil {
				b.Fatal(err)
			}
		}
	})
}
