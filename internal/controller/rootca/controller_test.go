package rootca

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDecide(t *testing.T) {
	ca := []byte("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	created := Decide(ns, nil, ca)
	if created == nil || created.Namespace != "a" || created.Name != Name || created.Data[Key] != string(ca) || created.Annotations[DescriptionKey] != Description {
		t.Fatalf("create: %+v", created)
	}
	if got := Decide(ns, created, ca); got != nil {
		t.Errorf("up to date, yet %+v", got)
	}
	tampered := created.DeepCopy()
	tampered.Data[Key] = "evil"
	tampered.Data["extra"] = "x"
	tampered.Labels = map[string]string{"keep": "me"}
	fixed := Decide(ns, tampered, ca)
	if fixed == nil || fixed.Data[Key] != string(ca) || len(fixed.Data) != 1 || fixed.Labels["keep"] != "me" {
		t.Errorf("repair: %+v", fixed)
	}
	if tampered.Data[Key] != "evil" {
		t.Error("the cached object was mutated")
	}
	terminating := ns.DeepCopy()
	terminating.Status.Phase = corev1.NamespaceTerminating
	if got := Decide(terminating, nil, ca); got != nil {
		t.Errorf("terminating namespace: %+v", got)
	}
}
