package validation

import (
	"fmt"
	"reflect"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Ephemeral containers (kubectl debug) are added to a running pod through
// its ephemeralcontainers subresource only, never on create nor in a
// template, and once added they may neither change nor go: the rules of
// upstream's validateEphemeralContainers and
// ValidatePodEphemeralContainersUpdate.

// ephemeralAllowed are the container fields an ephemeral container may
// set: what does not make it part of the workload (no ports, probes,
// lifecycle, resources or restart rules). An allow list, as upstream's, so
// that a field added to Container is refused until it is looked at.
var ephemeralAllowed = sets.New(
	"Name", "Image", "Command", "Args", "WorkingDir", "EnvFrom", "Env", "VolumeMounts", "VolumeDevices",
	"TerminationMessagePath", "TerminationMessagePolicy", "ImagePullPolicy", "SecurityContext", "Stdin", "StdinOnce", "TTY",
)

const ephemeralForbidden = "cannot be set for an Ephemeral Container"

// ephemeralContainers validates spec.ephemeralContainers: each as a
// container, with a name unique among all the pod's containers (names holds
// the containers' and init containers'), a targetContainerName naming one
// of those, and none of the fields outside the allow list.
func ephemeralContainers(spec *corev1.PodSpec, vols, names sets.Set[string], p *field.Path) field.ErrorList {
	var errs field.ErrorList
	others := sets.New[string]()
	for _, list := range [][]corev1.Container{spec.Containers, spec.InitContainers} {
		for _, c := range list {
			others.Insert(c.Name)
		}
	}
	for i := range spec.EphemeralContainers {
		ec := &spec.EphemeralContainers[i]
		ep := p.Index(i)
		c := corev1.Container(ec.EphemeralContainerCommon)
		// The container checks, names aside (they are checked across all
		// containers below); restartPolicy is refused by the allow list.
		c.RestartPolicy, c.RestartPolicyRules = nil, nil
		errs = append(errs, reindex(containers([]corev1.Container{c}, vols, sets.New[string](), PodOptions{}, false, p), p.Index(0).String(), ep.String())...)
		if ec.Name != "" {
			if names.Has(ec.Name) {
				errs = append(errs, field.Duplicate(ep.Child("name"), ec.Name))
			}
			names.Insert(ec.Name)
		}
		if ec.TargetContainerName != "" && !others.Has(ec.TargetContainerName) {
			errs = append(errs, field.NotFound(ep.Child("targetContainerName"), ec.TargetContainerName))
		}
		errs = append(errs, allowList(ec.EphemeralContainerCommon, ep)...)
		for j, m := range ec.VolumeMounts {
			mp := ep.Child("volumeMounts").Index(j)
			if m.SubPath != "" {
				errs = append(errs, field.Forbidden(mp.Child("subPath"), ephemeralForbidden))
			}
			if m.SubPathExpr != "" {
				errs = append(errs, field.Forbidden(mp.Child("subPathExpr"), ephemeralForbidden))
			}
		}
	}
	return errs
}

// reindex moves the errors of a container validated alone (at index 0)
// to its place in the list.
func reindex(errs field.ErrorList, from, to string) field.ErrorList {
	for _, e := range errs {
		if len(e.Field) >= len(from) && e.Field[:len(from)] == from {
			e.Field = to + e.Field[len(from):]
		}
	}
	return errs
}

// allowList refuses every field of c that is set and not allowed, named
// as its JSON field (the Go name with a lower-case first letter, as
// upstream's validateFieldAllowList does).
func allowList(c corev1.EphemeralContainerCommon, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	t, v := reflect.TypeOf(c), reflect.ValueOf(c)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if ephemeralAllowed.Has(f.Name) || v.Field(i).IsZero() {
			continue
		}
		r, n := utf8.DecodeRuneInString(f.Name)
		errs = append(errs, field.Forbidden(p.Child(string(unicode.ToLower(r))+f.Name[n:]), ephemeralForbidden))
	}
	return errs
}

// NoEphemeralOnCreate refuses a new pod with ephemeral containers: they
// are added to a running pod only.
func NoEphemeralOnCreate(spec *corev1.PodSpec) field.ErrorList {
	if len(spec.EphemeralContainers) == 0 {
		return nil
	}
	return field.ErrorList{field.Forbidden(field.NewPath("spec", "ephemeralContainers"), "cannot be set on create")}
}

// PodEphemeralContainersUpdate validates a write through
// pods/ephemeralcontainers: the pod (with its new ephemeral containers) is
// valid, and the ones it had are all there, unchanged (a patch does not
// keep their order, so each is found by name).
func PodEphemeralContainersUpdate(spec, old *corev1.PodSpec) field.ErrorList {
	errs := PodSpec(spec, PodOptions{}, field.NewPath("spec"))
	p := field.NewPath("spec", "ephemeralContainers")
	byName := map[string]*corev1.EphemeralContainer{}
	for i := range spec.EphemeralContainers {
		byName[spec.EphemeralContainers[i].Name] = &spec.EphemeralContainers[i]
	}
	for _, o := range old.EphemeralContainers {
		n, ok := byName[o.Name]
		switch {
		case !ok:
			errs = append(errs, field.Forbidden(p, fmt.Sprintf("existing ephemeral containers %q may not be removed\n", o.Name)))
		case !apiequality.Semantic.DeepEqual(o, *n):
			errs = append(errs, field.Forbidden(p, fmt.Sprintf("existing ephemeral containers %q may not be changed\n%v", o.Name, cmp.Diff(o, *n))))
		}
	}
	return errs
}
