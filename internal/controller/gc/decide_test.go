package gc

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/types"
)

func TestDecide(t *testing.T) {
	pod := func(name string, blocking, deleting bool) Dependent {
		return Dependent{Key: Key{Resource: "pods", Namespace: "ns", Name: name}, UID: types.UID(name), Blocking: blocking, Deleting: deleting}
	}
	cases := []struct {
		name string
		in   Observed
		want Plan
	}{
		{"live object without owners", Observed{}, Plan{}},
		{"owner present", Observed{Owners: map[types.UID]OwnerState{"a": OwnerPresent}}, Plan{}},
		{"only owner gone", Observed{Owners: map[types.UID]OwnerState{"a": OwnerAbsent}}, Plan{DeleteSelf: true}},
		{"one of two owners gone", Observed{Owners: map[types.UID]OwnerState{"a": OwnerAbsent, "b": OwnerPresent}}, Plan{DropOwners: []types.UID{"a"}}},
		{"orphan", Observed{Deleting: true, Finalizers: []string{"orphan"}, Dependents: []Dependent{pod("p1", true, false)}},
			Plan{Orphan: []Dependent{pod("p1", true, false)}, RemoveFinalizer: "orphan"}},
		{"orphan with no dependents", Observed{Deleting: true, Finalizers: []string{"orphan"}}, Plan{RemoveFinalizer: "orphan"}},
		{"foreground deletes dependents, waits for blocking ones", Observed{Deleting: true, Finalizers: []string{"foregroundDeletion"},
			Dependents: []Dependent{pod("p1", true, false), pod("p2", false, true)}},
			Plan{DeleteDependents: []Dependent{pod("p1", true, false)}}},
		{"foreground done once only non-blocking dependents remain", Observed{Deleting: true, Finalizers: []string{"foregroundDeletion"},
			Dependents: []Dependent{pod("p2", false, true)}}, Plan{RemoveFinalizer: "foregroundDeletion"}},
		{"deleting without GC finalizers: nothing to do", Observed{Deleting: true, Finalizers: []string{"batch.kubernetes.io/job-tracking"},
			Owners: map[types.UID]OwnerState{"a": OwnerAbsent}}, Plan{}},
	}
	for _, c := range cases {
		got := Decide(c.in)
		if diff := cmp.Diff(c.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: plan diff (-want +got):\n%s", c.name, diff)
		}
	}
}
