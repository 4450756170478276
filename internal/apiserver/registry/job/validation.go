package job

import (
	"fmt"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/apiserver/validation"
)

const (
	maxParallelismForIndexed  = 100000
	maxCompletionsPerIndexCap = 100000
	maxFailedIndexesCap       = 100000
	maxPodFailurePolicyRules  = 20
	maxOnPodConditions        = 20
	maxExitCodeValues         = 255
	maxSuccessPolicyRules     = 20
	maxSucceededIndexesSize   = 64 * 1024
	maxManagedByLength        = 63
)

// Validate checks a new Job (upstream ValidateJob).
func Validate(j *batchv1.Job) field.ErrorList {
	errs := validation.ObjectMeta(&j.ObjectMeta, true, validation.DNSSubdomain)
	if isIndexed(&j.Spec) && j.Spec.Completions != nil && *j.Spec.Completions > 0 {
		last := fmt.Sprintf("%s-%d", j.Name, *j.Spec.Completions-1)
		if len(utilvalidation.IsDNS1123Label(last)) > 0 {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), j.Name,
				fmt.Sprintf("will not able to create pod with invalid DNS label: %s", last)))
		}
	}
	errs = append(errs, validateGeneratedSelector(j, true)...)
	return append(errs, ValidateSpec(&j.Spec, field.NewPath("spec"), true)...)
}

// ValidateUpdate checks a Job update (upstream ValidateJobUpdate).
func ValidateUpdate(j, old *batchv1.Job) field.ErrorList {
	errs := validation.ObjectMetaUpdate(&j.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateGeneratedSelector(j, hasPrefixedLabels(old))...)
	errs = append(errs, ValidateSpec(&j.Spec, field.NewPath("spec"), true)...)
	return append(errs, validateSpecUpdate(j, old)...)
}

func isIndexed(s *batchv1.JobSpec) bool {
	return s.CompletionMode != nil && *s.CompletionMode == batchv1.IndexedCompletion
}

func hasPrefixedLabels(j *batchv1.Job) bool {
	_, a := j.Spec.Template.Labels[LabelControllerUID]
	_, b := j.Spec.Template.Labels[LabelJobName]
	return a && b
}

func validateGeneratedSelector(j *batchv1.Job, requirePrefixed bool) field.ErrorList {
	if ptr.Deref(j.Spec.ManualSelector, false) || j.Spec.Selector == nil {
		return nil
	}
	var errs field.ErrorList
	meta := field.NewPath("spec", "template", "metadata")
	has := func(key, want string) {
		got, ok := j.Spec.Template.Labels[key]
		switch {
		case !ok:
			errs = append(errs, field.Required(meta.Child("labels").Key(key), want))
		case got != want:
			errs = append(errs, field.Invalid(meta.Child("labels").Key(key), j.Spec.Template.Labels, want))
		}
	}
	uid := string(j.UID)
	has(LabelLegacyControllerUID, uid)
	has(LabelLegacyJobName, j.Name)
	if requirePrefixed {
		has(LabelControllerUID, uid)
		has(LabelJobName, j.Name)
	}
	want := &metav1.LabelSelector{MatchLabels: map[string]string{LabelControllerUID: uid}}
	if !apiequality.Semantic.DeepEqual(j.Spec.Selector, want) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "selector"), j.Spec.Selector, "`selector` not auto-generated"))
	}
	return errs
}

// ValidateSpec checks a JobSpec. requireSelector is false inside a CronJob's
// job template, where the selector is generated later.
func ValidateSpec(s *batchv1.JobSpec, p *field.Path, requireSelector bool) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validation.NonNegative32(s.Parallelism, p.Child("parallelism"))...)
	errs = append(errs, validation.NonNegative32(s.Completions, p.Child("completions"))...)
	errs = append(errs, validation.NonNegative64(s.ActiveDeadlineSeconds, p.Child("activeDeadlineSeconds"))...)
	errs = append(errs, validation.NonNegative32(s.BackoffLimit, p.Child("backoffLimit"))...)
	errs = append(errs, validation.NonNegative32(s.TTLSecondsAfterFinished, p.Child("ttlSecondsAfterFinished"))...)
	errs = append(errs, validation.NonNegative32(s.BackoffLimitPerIndex, p.Child("backoffLimitPerIndex"))...)
	errs = append(errs, validation.NonNegative32(s.MaxFailedIndexes, p.Child("maxFailedIndexes"))...)

	if requireSelector {
		if s.Selector == nil {
			errs = append(errs, field.Required(p.Child("selector"), ""))
		} else {
			errs = append(errs, validation.LabelSelector(s.Selector, p.Child("selector"))...)
			if sel, err := metav1.LabelSelectorAsSelector(s.Selector); err == nil {
				if !sel.Matches(labels.Set(s.Template.Labels)) {
					errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), s.Template.Labels, "`selector` does not match template `labels`"))
				}
			}
		}
	}

	if s.CompletionMode != nil {
		switch *s.CompletionMode {
		case batchv1.NonIndexedCompletion, batchv1.IndexedCompletion:
		default:
			errs = append(errs, field.NotSupported(p.Child("completionMode"), *s.CompletionMode, []string{string(batchv1.NonIndexedCompletion), string(batchv1.IndexedCompletion)}))
		}
	}
	if isIndexed(s) {
		if s.Completions == nil {
			errs = append(errs, field.Required(p.Child("completions"), fmt.Sprintf("when completion mode is %s", batchv1.IndexedCompletion)))
		}
		if s.Parallelism != nil && *s.Parallelism > maxParallelismForIndexed {
			errs = append(errs, field.Invalid(p.Child("parallelism"), *s.Parallelism, fmt.Sprintf("must be less than or equal to %d when completion mode is %s", maxParallelismForIndexed, batchv1.IndexedCompletion)))
		}
		if s.Completions != nil && s.MaxFailedIndexes != nil && *s.MaxFailedIndexes > *s.Completions {
			errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *s.MaxFailedIndexes, "must be less than or equal to completions"))
		}
		if s.MaxFailedIndexes != nil && *s.MaxFailedIndexes > maxFailedIndexesCap {
			errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *s.MaxFailedIndexes, fmt.Sprintf("must be less than or equal to %d", maxFailedIndexesCap)))
		}
		if s.Completions != nil && *s.Completions > maxCompletionsPerIndexCap && s.BackoffLimitPerIndex != nil {
			if s.MaxFailedIndexes == nil {
				errs = append(errs, field.Required(p.Child("maxFailedIndexes"), fmt.Sprintf("must be specified when completions is above %d", maxCompletionsPerIndexCap)))
			} else if *s.MaxFailedIndexes > 10000 {
				errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *s.MaxFailedIndexes, "must be less than or equal to 10000 when completions is above 100000"))
			}
			if s.Parallelism != nil && *s.Parallelism > 10000 {
				errs = append(errs, field.Invalid(p.Child("parallelism"), *s.Parallelism, "must be less than or equal to 10000 when completions is above 100000 and used with backoff limit per index"))
			}
		}
	} else {
		if s.BackoffLimitPerIndex != nil {
			errs = append(errs, field.Invalid(p.Child("backoffLimitPerIndex"), *s.BackoffLimitPerIndex, "requires indexed completion mode"))
		}
		if s.MaxFailedIndexes != nil {
			errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *s.MaxFailedIndexes, "requires indexed completion mode"))
		}
	}
	if s.MaxFailedIndexes != nil && s.BackoffLimitPerIndex == nil {
		errs = append(errs, field.Required(p.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
	}

	if s.PodFailurePolicy != nil {
		errs = append(errs, validatePodFailurePolicy(s, p.Child("podFailurePolicy"))...)
	}
	if s.SuccessPolicy != nil {
		if isIndexed(s) {
			errs = append(errs, validateSuccessPolicy(s, p.Child("successPolicy"))...)
		} else {
			errs = append(errs, field.Invalid(p.Child("successPolicy"), *s.SuccessPolicy, "requires indexed completion mode"))
		}
	}
	if s.PodReplacementPolicy != nil {
		allowed := []batchv1.PodReplacementPolicy{batchv1.TerminatingOrFailed, batchv1.Failed}
		if s.PodFailurePolicy != nil {
			allowed = []batchv1.PodReplacementPolicy{batchv1.Failed}
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == *s.PodReplacementPolicy
		}
		if !ok {
			vals := make([]string, len(allowed))
			for i, a := range allowed {
				vals[i] = string(a)
			}
			errs = append(errs, field.NotSupported(p.Child("podReplacementPolicy"), *s.PodReplacementPolicy, vals))
		}
	}
	if s.ManagedBy != nil {
		mp := p.Child("managedBy")
		errs = append(errs, utilvalidation.IsDomainPrefixedPath(mp, *s.ManagedBy)...)
		if len(*s.ManagedBy) > maxManagedByLength {
			errs = append(errs, field.TooLong(mp, "" /*unused*/, maxManagedByLength))
		}
	}
	if s.Scheduling != nil {
		errs = append(errs, field.Forbidden(p.Child("scheduling"), "disabled by feature-gate WorkloadWithJob"))
	}
	errs = append(errs, validateTemplate(&s.Template, p.Child("template"))...)
	return errs
}

func validateTemplate(t *corev1.PodTemplateSpec, p *field.Path) field.ErrorList {
	errs := validation.PodTemplateSpec(t, p)
	rp := p.Child("spec", "restartPolicy")
	// The pod validation already reported an unknown value; replace its message
	// with the Job's narrower one.
	filtered := errs[:0]
	for _, e := range errs {
		if e.Field != rp.String() {
			filtered = append(filtered, e)
		}
	}
	errs = filtered
	switch t.Spec.RestartPolicy {
	case corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever:
	case corev1.RestartPolicyAlways, "":
		errs = append(errs, field.Required(rp, `valid values: "OnFailure", "Never"`))
	default:
		errs = append(errs, field.NotSupported(rp, t.Spec.RestartPolicy, []string{string(corev1.RestartPolicyOnFailure), string(corev1.RestartPolicyNever)}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil && *t.Spec.ActiveDeadlineSeconds < 0 {
		errs = append(errs, field.Invalid(p.Child("spec", "activeDeadlineSeconds"), *t.Spec.ActiveDeadlineSeconds, "must be greater than or equal to 0"))
	}
	return errs
}

var pfpActions = []string{string(batchv1.PodFailurePolicyActionCount), string(batchv1.PodFailurePolicyActionFailIndex), string(batchv1.PodFailurePolicyActionFailJob), string(batchv1.PodFailurePolicyActionIgnore)}

func validatePodFailurePolicy(s *batchv1.JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	rulesPath := p.Child("rules")
	if n := len(s.PodFailurePolicy.Rules); n > maxPodFailurePolicyRules {
		errs = append(errs, field.TooMany(rulesPath, n, maxPodFailurePolicyRules))
	}
	containers := sets.New[string]()
	for _, c := range s.Template.Spec.Containers {
		containers.Insert(c.Name)
	}
	for _, c := range s.Template.Spec.InitContainers {
		containers.Insert(c.Name)
	}
	for i, r := range s.PodFailurePolicy.Rules {
		rp := rulesPath.Index(i)
		switch r.Action {
		case "":
			errs = append(errs, field.Required(rp.Child("action"), fmt.Sprintf("valid values: %q", pfpActions)))
		case batchv1.PodFailurePolicyActionFailIndex:
			if s.BackoffLimitPerIndex == nil {
				errs = append(errs, field.Invalid(rp.Child("action"), r.Action, "requires the backoffLimitPerIndex to be set"))
			}
		case batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionIgnore:
		default:
			errs = append(errs, field.NotSupported(rp.Child("action"), r.Action, pfpActions))
		}
		switch {
		case r.OnExitCodes != nil && r.OnPodConditions != nil:
			errs = append(errs, field.Invalid(rp, field.OmitValueType{}, "specifying both OnExitCodes and OnPodConditions is not supported"))
		case r.OnExitCodes == nil && r.OnPodConditions == nil:
			errs = append(errs, field.Invalid(rp, field.OmitValueType{}, "specifying one of OnExitCodes and OnPodConditions is required"))
		case r.OnExitCodes != nil:
			errs = append(errs, validateOnExitCodes(r.OnExitCodes, containers, rp.Child("onExitCodes"))...)
		default:
			cp := rp.Child("onPodConditions")
			if n := len(r.OnPodConditions); n > maxOnPodConditions {
				errs = append(errs, field.TooMany(cp, n, maxOnPodConditions))
			}
			for k, c := range r.OnPodConditions {
				pp := cp.Index(k)
				for _, msg := range utilvalidation.IsQualifiedName(string(c.Type)) {
					errs = append(errs, field.Invalid(pp.Child("type"), c.Type, msg))
				}
				switch c.Status {
				case corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown:
				case "":
					errs = append(errs, field.Required(pp.Child("status"), `valid values: "False", "True", "Unknown"`))
				default:
					errs = append(errs, field.NotSupported(pp.Child("status"), c.Status, []string{"False", "True", "Unknown"}))
				}
			}
		}
	}
	if s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever && s.Template.Spec.RestartPolicy != "" && s.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.Invalid(field.NewPath("spec", "template", "spec", "restartPolicy"), s.Template.Spec.RestartPolicy,
			fmt.Sprintf("only %q is supported when podFailurePolicy is specified", corev1.RestartPolicyNever)))
	}
	return errs
}

func validateOnExitCodes(r *batchv1.PodFailurePolicyOnExitCodesRequirement, containers sets.Set[string], p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.ContainerName != nil && !containers.Has(*r.ContainerName) {
		errs = append(errs, field.Invalid(p.Child("containerName"), *r.ContainerName, "must be one of the container or initContainer names in the pod template"))
	}
	switch r.Operator {
	case batchv1.PodFailurePolicyOnExitCodesOpIn, batchv1.PodFailurePolicyOnExitCodesOpNotIn:
	case "":
		errs = append(errs, field.Required(p.Child("operator"), `valid values: "In", "NotIn"`))
	default:
		errs = append(errs, field.NotSupported(p.Child("operator"), r.Operator, []string{"In", "NotIn"}))
	}
	vp := p.Child("values")
	switch n := len(r.Values); {
	case n == 0:
		errs = append(errs, field.Invalid(vp, r.Values, "at least one value is required"))
	case n > maxExitCodeValues:
		errs = append(errs, field.TooMany(vp, n, maxExitCodeValues))
	}
	seen := sets.New[int32]()
	for i, v := range r.Values {
		if r.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && v == 0 {
			errs = append(errs, field.Invalid(vp.Index(i), v, "must not be 0 for the In operator"))
		}
		if seen.Has(v) {
			errs = append(errs, field.Duplicate(vp.Index(i), v))
		} else if i > 0 && r.Values[i-1] > v {
			errs = append(errs, field.Invalid(vp, r.Values, "must be ordered"))
		}
		seen.Insert(v)
	}
	return errs
}

func validateSuccessPolicy(s *batchv1.JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	rulesPath := p.Child("rules")
	rules := s.SuccessPolicy.Rules
	if len(rules) == 0 {
		errs = append(errs, field.Required(rulesPath, "at least one rules must be specified when the successPolicy is specified"))
	}
	if len(rules) > maxSuccessPolicyRules {
		errs = append(errs, field.TooMany(rulesPath, len(rules), maxSuccessPolicyRules))
	}
	completions := ptr.Deref(s.Completions, 0)
	for i, r := range rules {
		rp := rulesPath.Index(i)
		if r.SucceededIndexes == nil && r.SucceededCount == nil {
			errs = append(errs, field.Required(rp, "at least one of succeededCount or succeededIndexes must be specified"))
		}
		var total int32 = -1
		if r.SucceededIndexes != nil {
			ip := rp.Child("succeededIndexes")
			if len(*r.SucceededIndexes) > maxSucceededIndexesSize {
				errs = append(errs, field.TooLong(ip, "", maxSucceededIndexesSize))
			} else if n, err := countIndexes(*r.SucceededIndexes, completions); err != nil {
				errs = append(errs, field.Invalid(ip, *r.SucceededIndexes, fmt.Sprintf("error parsing succeededIndexes: %s", err)))
			} else {
				total = n
			}
		}
		if r.SucceededCount != nil {
			cp := rp.Child("succeededCount")
			switch {
			case *r.SucceededCount < 0:
				errs = append(errs, field.Invalid(cp, *r.SucceededCount, "must be greater than or equal to 0"))
			case *r.SucceededCount > completions:
				errs = append(errs, field.Invalid(cp, *r.SucceededCount, fmt.Sprintf("must be less than or equal to %d (the number of specified completions)", completions)))
			case total >= 0 && *r.SucceededCount > total:
				errs = append(errs, field.Invalid(cp, *r.SucceededCount, fmt.Sprintf("must be less than or equal to %d (the number of indexes in the specified succeededIndexes field)", total)))
			}
		}
	}
	return errs
}

// countIndexes parses an interval list such as "1,3-5,7" whose indexes must
// increase and stay below completions, and returns how many indexes it names.
func countIndexes(s string, completions int32) (int32, error) {
	if s == "" {
		return 0, nil
	}
	var total int32
	prev := int64(-1)
	for _, frag := range strings.Split(s, ",") {
		parts := strings.Split(frag, "-")
		if len(parts) > 2 {
			return 0, fmt.Errorf("the fragment %q violates the requirement that an index interval can have at most two parts separated by '-'", frag)
		}
		var bounds [2]int64
		for i, part := range parts {
			v, err := strconv.ParseInt(part, 10, 32)
			if err != nil {
				return 0, fmt.Errorf("cannot convert string to integer for index: %q", part)
			}
			if v >= int64(completions) {
				return 0, fmt.Errorf("too large index: %q", part)
			}
			bounds[i] = v
		}
		if len(parts) == 1 {
			bounds[1] = bounds[0]
		}
		if bounds[0] <= prev {
			return 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", prev, bounds[0])
		}
		if bounds[1] < bounds[0] {
			return 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", bounds[0], bounds[1])
		}
		total += int32(bounds[1] - bounds[0] + 1)
		prev = bounds[1]
	}
	return total, nil
}

func validateSpecUpdate(j, old *batchv1.Job) field.ErrorList {
	p := field.NewPath("spec")
	s, o := &j.Spec, &old.Spec
	var errs field.ErrorList
	errs = append(errs, validation.Immutable(s.Selector, o.Selector, p.Child("selector"))...)
	errs = append(errs, validation.Immutable(s.CompletionMode, o.CompletionMode, p.Child("completionMode"))...)
	errs = append(errs, validation.Immutable(s.PodFailurePolicy, o.PodFailurePolicy, p.Child("podFailurePolicy"))...)
	errs = append(errs, validation.Immutable(s.BackoffLimitPerIndex, o.BackoffLimitPerIndex, p.Child("backoffLimitPerIndex"))...)
	errs = append(errs, validation.Immutable(s.SuccessPolicy, o.SuccessPolicy, p.Child("successPolicy"))...)
	errs = append(errs, validation.Immutable(s.ManagedBy, o.ManagedBy, p.Child("managedBy"))...)
	if isIndexed(o) {
		if s.Completions == nil {
			errs = append(errs, field.Invalid(p.Child("completions"), nil, "field is immutable"))
		} else if o.Completions != nil && *s.Completions != *o.Completions && (s.Parallelism == nil || *s.Parallelism != *s.Completions) {
			errs = append(errs, field.Invalid(p.Child("completions"), *s.Completions, "can only be modified in tandem with spec.parallelism"))
		}
	} else {
		errs = append(errs, validation.Immutable(s.Completions, o.Completions, p.Child("completions"))...)
	}
	errs = append(errs, validateTemplateUpdate(j, old)...)
	return errs
}

// validateTemplateUpdate keeps the template immutable, except that a safely
// suspended Job may change scheduling directives and container resources
// (KEP-5440, on by default in 1.36).
func validateTemplateUpdate(j, old *batchv1.Job) field.ErrorList {
	t := j.Spec.Template.DeepCopy()
	if safelySuspended(old) {
		ot := &old.Spec.Template
		t.Labels, t.Annotations = ot.Labels, ot.Annotations
		t.Spec.NodeSelector, t.Spec.Tolerations, t.Spec.SchedulingGates = ot.Spec.NodeSelector, ot.Spec.Tolerations, ot.Spec.SchedulingGates
		if t.Spec.Affinity != nil || ot.Spec.Affinity != nil {
			a := t.Spec.Affinity.DeepCopy()
			if a == nil {
				a = &corev1.Affinity{}
			}
			if ot.Spec.Affinity != nil {
				a.NodeAffinity = ot.Spec.Affinity.NodeAffinity
			} else {
				a.NodeAffinity = nil
			}
			if apiequality.Semantic.DeepEqual(a, &corev1.Affinity{}) && ot.Spec.Affinity == nil {
				a = nil
			}
			t.Spec.Affinity = a
		}
		for _, pair := range [][2][]corev1.Container{{t.Spec.Containers, ot.Spec.Containers}, {t.Spec.InitContainers, ot.Spec.InitContainers}} {
			for i := range pair[0] {
				if i < len(pair[1]) {
					pair[0][i].Resources = pair[1][i].Resources
				}
			}
		}
	}
	if apiequality.Semantic.DeepEqual(t, &old.Spec.Template) {
		return nil
	}
	return field.ErrorList{field.Invalid(field.NewPath("spec", "template"), j.Spec.Template, "field is immutable")}
}

func safelySuspended(j *batchv1.Job) bool {
	if !ptr.Deref(j.Spec.Suspend, false) {
		return false
	}
	if j.Status.StartTime == nil {
		return true
	}
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobSuspended && c.Status == corev1.ConditionTrue {
			return j.Status.Active == 0
		}
	}
	return false
}
