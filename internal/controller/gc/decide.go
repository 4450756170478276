package gc

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Finalizers the API server adds for the Orphan and Foreground propagation policies.
const (
	FinalizerOrphan     = metav1.FinalizerOrphanDependents // "orphan"
	FinalizerForeground = metav1.FinalizerDeleteDependents // "foregroundDeletion"
)

// OwnerState is what a live lookup found for one ownerReference.
type OwnerState int

const (
	// OwnerPresent: an object with the referenced name and UID exists.
	OwnerPresent OwnerState = iota
	// OwnerAbsent: nothing with that UID exists (NotFound, or a different UID).
	OwnerAbsent
)

// Dependent is an object whose ownerReferences name the observed object.
type Dependent struct {
	Key      Key
	UID      types.UID
	Blocking bool // its reference to the owner has blockOwnerDeletion: true
	Deleting bool // it has a deletionTimestamp already
}

// Observed is what the collector knows about one object.
type Observed struct {
	Key        Key
	UID        types.UID
	Deleting   bool
	Finalizers []string
	// Owners maps each ownerReference UID of the object to what was found.
	Owners map[types.UID]OwnerState
	// Dependents lists the objects that name this one as an owner.
	Dependents []Dependent
}

// Plan is what to do about it, applied in this order.
type Plan struct {
	// Orphan: remove the observed object from these dependents' ownerReferences.
	Orphan []Dependent
	// DeleteDependents: delete these with foreground propagation.
	DeleteDependents []Dependent
	// RemoveFinalizer from the observed object once the steps above succeeded.
	RemoveFinalizer string
	// DropOwners: remove these dangling ownerReferences from the observed object.
	DropOwners []types.UID
	// DeleteSelf: every owner is gone, so the object is garbage (background propagation).
	DeleteSelf bool
}

// Decide is the garbage collector's whole policy for one object, as upstream's
// garbage collector applies it:
//   - deleting with the "orphan" finalizer: strip the ownerReference from every
//     dependent, then drop the finalizer;
//   - deleting with "foregroundDeletion": delete every dependent not yet being
//     deleted; drop the finalizer once no blocking dependent (blockOwnerDeletion)
//     is left;
//   - otherwise: an object all of whose owners are gone is deleted; one with some
//     owners gone loses just the dangling references.
func Decide(o Observed) Plan {
	var p Plan
	if o.Deleting {
		switch {
		case has(o.Finalizers, FinalizerOrphan):
			p.Orphan = o.Dependents
			p.RemoveFinalizer = FinalizerOrphan
		case has(o.Finalizers, FinalizerForeground):
			blocking := false
			for _, d := range o.Dependents {
				if !d.Deleting {
					p.DeleteDependents = append(p.DeleteDependents, d)
				}
				blocking = blocking || d.Blocking
			}
			if !blocking {
				p.RemoveFinalizer = FinalizerForeground
			}
		}
		return p
	}
	if len(o.Owners) == 0 {
		return p
	}
	var absent []types.UID
	for uid, state := range o.Owners {
		if state == OwnerAbsent {
			absent = append(absent, uid)
		}
	}
	switch {
	case len(absent) == len(o.Owners):
		p.DeleteSelf = true
	case len(absent) > 0:
		p.DropOwners = absent
	}
	return p
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
