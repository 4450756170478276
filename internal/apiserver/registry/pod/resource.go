package pod

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/batchd/batchd/internal/apiserver/registry"
	"github.com/batchd/batchd/internal/apiserver/validation"
)

// Resource describes core/v1 pods, with the binding and eviction
// subresources, pods/log served from logs (nil: 503) and exec, attach and
// portforward proxied to the nodes' agents (nil: 503).
func Resource(logs LogSource, streams *Streams) registry.Resource {
	return registry.Resource{
		Resource:   corev1.Resource("pods"),
		Singular:   "pod",
		Namespaced: true,
		New:        func() runtime.Object { return &corev1.Pod{} },
		NewList:    func() runtime.Object { return &corev1.PodList{} },
		Default:    func(obj runtime.Object) { SetDefaults(obj.(*corev1.Pod)) },
		ShortNames: []string{"po"},
		Categories: []string{"all"},
		Table:      Table(),
		Fields:     func(obj runtime.Object) fields.Set { return Fields(obj.(*corev1.Pod)) },
		// Each node's agent watches, and its authorizer lists, its own pods.
		Indexed: []string{"spec.nodeName"},
		Funcs: registry.Funcs{
			Spec:   func(obj runtime.Object) any { return &obj.(*corev1.Pod).Spec },
			Status: func(obj runtime.Object) any { return &obj.(*corev1.Pod).Status },
			PrepareForCreate: func(obj runtime.Object) {
				p := obj.(*corev1.Pod)
				p.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: QOSClass(&p.Spec)}
				if len(p.Spec.SchedulingGates) > 0 {
					// As upstream's pod strategy: the scheduler leaves it alone.
					p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
						Reason: corev1.PodReasonSchedulingGated, Message: "Scheduling is blocked due to non-empty scheduling gates"}}
				}
			},
			Validate: func(obj runtime.Object) field.ErrorList {
				p := obj.(*corev1.Pod)
				errs := validation.PodMetaName(&p.ObjectMeta)
				errs = append(errs, validation.PodSpec(&p.Spec, validation.PodOptions{}, field.NewPath("spec"))...)
				return append(errs, validation.NoEphemeralOnCreate(&p.Spec)...)
			},
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				p, o := obj.(*corev1.Pod), old.(*corev1.Pod)
				errs := validation.ObjectMetaUpdate(&p.ObjectMeta, &o.ObjectMeta)
				return append(errs, validateSpecUpdate(&p.Spec, &o.Spec)...)
			},
			GracefulDelete: gracefulDelete,
			// As upstream's podStatusStrategy: labels, annotations and
			// finalizers written through status are kept, but not
			// ownerReferences (old kubelets corrupted them, breaking garbage
			// collection) nor a deletionTimestamp (rest.BeforeUpdate puts a
			// stored one back).
			PrepareForStatusUpdate: prepareForStatusUpdate,
			StatusResetFields: []fieldpath.Path{
				fieldpath.MakePathOrDie("metadata", "deletionTimestamp"),
				fieldpath.MakePathOrDie("metadata", "ownerReferences"),
			},
			ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
				p, o := obj.(*corev1.Pod), old.(*corev1.Pod)
				errs := validation.ObjectMetaUpdate(&p.ObjectMeta, &o.ObjectMeta)
				if p.Spec.NodeName == "" && len(p.Status.ContainerStatuses) > 0 {
					errs = append(errs, field.Forbidden(field.NewPath("status", "containerStatuses"), "may not be set when the pod is not bound to a node"))
				}
				return errs
			},
		},
		REST: newREST(logs, streams),
	}
}

func prepareForStatusUpdate(obj, old runtime.Object) {
	p, o := obj.(*corev1.Pod), old.(*corev1.Pod)
	p.DeletionTimestamp = nil
	p.OwnerReferences = o.OwnerReferences
	// The QoS class is set at creation and immutable; a client that drops
	// it (old kubelets did) keeps the stored one.
	if p.Status.QOSClass == "" {
		p.Status.QOSClass = o.Status.QOSClass
	}
	// A client that clears observedGeneration (in the status or a
	// condition) keeps the stored value.
	if p.Status.ObservedGeneration == 0 {
		p.Status.ObservedGeneration = o.Status.ObservedGeneration
	}
	oldGen := map[corev1.PodConditionType][]int64{}
	for _, c := range o.Status.Conditions {
		oldGen[c.Type] = append(oldGen[c.Type], c.ObservedGeneration)
	}
	for i, c := range p.Status.Conditions {
		gen := int64(0)
		if gens := oldGen[c.Type]; len(gens) > 0 {
			gen, oldGen[c.Type] = gens[0], gens[1:]
		}
		if c.ObservedGeneration == 0 {
			p.Status.Conditions[i].ObservedGeneration = gen
		}
	}
}

// Fields are the pod fields selectable with --field-selector.
func Fields(p *corev1.Pod) fields.Set {
	return fields.Set{
		"spec.nodeName":            p.Spec.NodeName,
		"spec.restartPolicy":       string(p.Spec.RestartPolicy),
		"spec.schedulerName":       p.Spec.SchedulerName,
		"spec.serviceAccountName":  p.Spec.ServiceAccountName,
		"spec.hostNetwork":         fmt.Sprint(p.Spec.HostNetwork),
		"status.phase":             string(p.Status.Phase),
		"status.podIP":             p.Status.PodIP,
		"status.nominatedNodeName": p.Status.NominatedNodeName,
	}
}

const specUpdateForbidden = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

// validateSpecUpdate allows only the changes upstream allows on a running pod.
func validateSpecUpdate(spec, old *corev1.PodSpec) field.ErrorList {
	mutable := spec.DeepCopy()
	for i := range mutable.Containers {
		if i < len(old.Containers) {
			mutable.Containers[i].Image = old.Containers[i].Image
		}
	}
	for i := range mutable.InitContainers {
		if i < len(old.InitContainers) {
			mutable.InitContainers[i].Image = old.InitContainers[i].Image
		}
	}
	var errs field.ErrorList
	if old.ActiveDeadlineSeconds != nil && (spec.ActiveDeadlineSeconds == nil || *spec.ActiveDeadlineSeconds > *old.ActiveDeadlineSeconds) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "activeDeadlineSeconds"), spec.ActiveDeadlineSeconds, "must be less than or equal to previous value"))
	}
	mutable.ActiveDeadlineSeconds = old.ActiveDeadlineSeconds
	if len(spec.Tolerations) >= len(old.Tolerations) && apiequality.Semantic.DeepEqual(spec.Tolerations[:len(old.Tolerations)], old.Tolerations) {
		mutable.Tolerations = old.Tolerations
	}
	mutable.TerminationGracePeriodSeconds = old.TerminationGracePeriodSeconds
	// Scheduling gates may only be removed.
	had := map[string]bool{}
	for _, g := range old.SchedulingGates {
		had[g.Name] = true
	}
	for i, g := range spec.SchedulingGates {
		if !had[g.Name] {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "schedulingGates").Index(i), fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.Name)))
		}
	}
	mutable.SchedulingGates = old.SchedulingGates
	if !apiequality.Semantic.DeepEqual(mutable, old) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"), specUpdateForbidden))
	}
	return errs
}

// gracefulDelete gives a running pod its grace period (the delete's, else
// spec.terminationGracePeriodSeconds) so its node can stop it; a pod that is
// not bound or has finished goes at once, as upstream's pod strategy does.
func gracefulDelete(obj runtime.Object, opts *metav1.DeleteOptions) bool {
	p := obj.(*corev1.Pod)
	period := int64(corev1.DefaultTerminationGracePeriodSeconds)
	switch {
	case opts.GracePeriodSeconds != nil:
		period = *opts.GracePeriodSeconds
	case p.Spec.TerminationGracePeriodSeconds != nil:
		period = *p.Spec.TerminationGracePeriodSeconds
	}
	if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		period = 0
	}
	opts.GracePeriodSeconds = &period
	return true
}

// newREST serves pods with their binding, eviction, log, exec, attach,
// portforward and ephemeralcontainers subresources.
func newREST(logs LogSource, streams *Streams) func(*registry.Storage) (rest.Storage, map[string]rest.Storage) {
	return func(s *registry.Storage) (rest.Storage, map[string]rest.Storage) {
		return s, map[string]rest.Storage{
			"ephemeralcontainers": newEphemeralContainersREST(s.Store),
			"binding":             &BindingREST{Store: s.Store},
			"eviction":            &EvictionREST{Store: s.Store},
			"log":                 &LogREST{Store: s.Store, Source: logs},
			"exec":                &ExecREST{Store: s.Store, Streams: streams},
			"attach":              &AttachREST{Store: s.Store, Streams: streams},
			"portforward":         &PortForwardREST{Store: s.Store, Streams: streams},
		}
	}
}
