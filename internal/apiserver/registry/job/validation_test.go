package job

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/apiserver/validation/validationtest"
)

// newJob is a Job as the API server holds it after defaulting and selector
// generation: the input to Validate.
func newJob(mutate func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "myjob", Namespace: "default", UID: types.UID("1234"), ResourceVersion: "1"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "c", Image: "busybox"}},
		}}},
	}
	if mutate != nil {
		mutate(j)
	}
	SetDefaults(j)
	GenerateSelector(j)
	return j
}

func errorStrings(t *testing.T, errs field.ErrorList) string {
	t.Helper()
	if agg := errs.ToAggregate(); agg != nil {
		return agg.Error()
	}
	return ""
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*batchv1.Job)
		want   []string // substrings of the aggregated error; none means valid
	}{
		{"valid default job", nil, nil},
		{"restartPolicy Always", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways },
			[]string{`spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`}},
		{"restartPolicy unknown", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "Sometimes" },
			[]string{`spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: "OnFailure", "Never"`}},
		{"negative parallelism", func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To[int32](-1) },
			[]string{`spec.parallelism: Invalid value: -1: must be greater than or equal to 0`}},
		{"negative backoffLimit and deadline", func(j *batchv1.Job) {
			j.Spec.BackoffLimit = ptr.To[int32](-2)
			j.Spec.ActiveDeadlineSeconds = ptr.To[int64](-3)
		}, []string{`spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0`, `spec.activeDeadlineSeconds: Invalid value: -3: must be greater than or equal to 0`}},
		{"unknown completion mode", func(j *batchv1.Job) { j.Spec.CompletionMode = ptr.To(batchv1.CompletionMode("Foo")) },
			[]string{`spec.completionMode: Unsupported value: "Foo": supported values: "NonIndexed", "Indexed"`}},
		{"indexed needs completions", func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			j.Spec.Parallelism = ptr.To[int32](2)
		}, []string{`spec.completions: Required value: when completion mode is Indexed`}},
		{"indexed parallelism cap", func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			j.Spec.Completions = ptr.To[int32](5)
			j.Spec.Parallelism = ptr.To[int32](100001)
		}, []string{`spec.parallelism: Invalid value: 100001: must be less than or equal to 100000 when completion mode is Indexed`}},
		{"indexed pod name too long", func(j *batchv1.Job) {
			j.Name = strings.Repeat("a", 62)
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			j.Spec.Completions = ptr.To[int32](10)
		}, []string{`metadata.name: Invalid value: "` + strings.Repeat("a", 62) + `": will not able to create pod with invalid DNS label: ` + strings.Repeat("a", 62) + `-9`}},
		{"backoffLimitPerIndex needs indexed", func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = ptr.To[int32](1) },
			[]string{`spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode`}},
		{"maxFailedIndexes needs backoffLimitPerIndex", func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			j.Spec.Completions = ptr.To[int32](5)
			j.Spec.MaxFailedIndexes = ptr.To[int32](1)
		}, []string{`spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified`}},
		{"maxFailedIndexes above completions", func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			j.Spec.Completions = ptr.To[int32](5)
			j.Spec.BackoffLimitPerIndex = ptr.To[int32](1)
			j.Spec.MaxFailedIndexes = ptr.To[int32](6)
		}, []string{`spec.maxFailedIndexes: Invalid value: 6: must be less than or equal to completions`}},
		{"pod failure policy with OnFailure", func(j *batchv1.Job) {
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: "In", Values: []int32{1}},
			}}}
		}, []string{`spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified`}},
		{"pod failure policy rule shape", func(j *batchv1.Job) {
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
				{Action: batchv1.PodFailurePolicyActionFailJob},
				{Action: batchv1.PodFailurePolicyActionIgnore, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: "In", Values: []int32{0, 3, 2}}},
				{Action: batchv1.PodFailurePolicyActionFailIndex, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: "DisruptionTarget"}}},
				{Action: "Explode", OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: "DisruptionTarget"}}},
				{Action: batchv1.PodFailurePolicyActionCount, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: "NotIn", Values: []int32{1}, ContainerName: ptr.To("nope")}},
			}}
		}, []string{
			`spec.podFailurePolicy.rules[0]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required`,
			`spec.podFailurePolicy.rules[1].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator`,
			`spec.podFailurePolicy.rules[1].onExitCodes.values: Invalid value: [0,3,2]: must be ordered`,
			`spec.podFailurePolicy.rules[2].action: Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set`,
			`spec.podFailurePolicy.rules[3].action: Unsupported value: "Explode": supported values: "Count", "FailIndex", "FailJob", "Ignore"`,
			`spec.podFailurePolicy.rules[4].onExitCodes.containerName: Invalid value: "nope": must be one of the container or initContainer names in the pod template`,
		}},
		{"podReplacementPolicy with pod failure policy", func(j *batchv1.Job) {
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: "DisruptionTarget"}},
			}}}
			j.Spec.PodReplacementPolicy = ptr.To(batchv1.TerminatingOrFailed)
		}, []string{`spec.podReplacementPolicy: Unsupported value: "TerminatingOrFailed": supported values: "Failed"`}},
		{"success policy needs indexed", func(j *batchv1.Job) {
			j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr.To[int32](1)}}}
		}, []string{`spec.successPolicy: Invalid value: {"rules":[{"succeededCount":1}]}: requires indexed completion mode`}},
		{"success policy rules", func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			j.Spec.Completions = ptr.To[int32](5)
			j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{
				{},
				{SucceededIndexes: ptr.To("0,x")},
				{SucceededIndexes: ptr.To("3,1")},
				{SucceededIndexes: ptr.To("0-2"), SucceededCount: ptr.To[int32](4)},
				{SucceededCount: ptr.To[int32](6)},
				{SucceededIndexes: ptr.To("7")},
			}}
		}, []string{
			`spec.successPolicy.rules[0]: Required value: at least one of succeededCount or succeededIndexes must be specified`,
			`spec.successPolicy.rules[1].succeededIndexes: Invalid value: "0,x": error parsing succeededIndexes: cannot convert string to integer for index: "x"`,
			`spec.successPolicy.rules[2].succeededIndexes: Invalid value: "3,1": error parsing succeededIndexes: non-increasing order, previous: 3, current: 1`,
			`spec.successPolicy.rules[3].succeededCount: Invalid value: 4: must be less than or equal to 3 (the number of indexes in the specified succeededIndexes field)`,
			`spec.successPolicy.rules[4].succeededCount: Invalid value: 6: must be less than or equal to 5 (the number of specified completions)`,
			`spec.successPolicy.rules[5].succeededIndexes: Invalid value: "7": error parsing succeededIndexes: too large index: "7"`,
		}},
		{"managedBy too long and not a path", func(j *batchv1.Job) { j.Spec.ManagedBy = ptr.To(strings.Repeat("x", 64)) },
			[]string{`spec.managedBy: Too long: may not be more than 63 bytes`, `spec.managedBy: Invalid value:`}},
		{"user selector without manualSelector", func(j *batchv1.Job) {
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
			j.Spec.Template.Labels = map[string]string{"app": "x"}
		}, []string{"spec.selector: Invalid value: ", "`selector` not auto-generated"}},
		{"manual selector must match template", func(j *batchv1.Job) {
			j.Spec.ManualSelector = ptr.To(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
			j.Spec.Template.Labels = map[string]string{"app": "y"}
		}, []string{"spec.template.metadata.labels: Invalid value: {\"app\":\"y\"}: `selector` does not match template `labels`"}},
		{"container basics", func(j *batchv1.Job) {
			j.Spec.Template.Spec.Containers = []corev1.Container{
				{Name: "Bad_Name", Image: "busybox"},
				{Name: "dup", Image: "busybox", VolumeMounts: []corev1.VolumeMount{{Name: "missing", MountPath: "/x"}}},
				{Name: "dup", Image: "busybox", Env: []corev1.EnvVar{{Name: "A=B"}}},
			}
		}, []string{
			`spec.template.spec.containers[0].name: Invalid value: "Bad_Name": a lowercase RFC 1123 label must consist of`,
			`spec.template.spec.containers[2].name: Duplicate value: "dup"`,
			`spec.template.spec.containers[1].volumeMounts[0].name: Not found: "missing"`,
			`spec.template.spec.containers[2].env[0].name: Invalid value: "A=B"`,
		}},
		{"no containers", func(j *batchv1.Job) { j.Spec.Template.Spec.Containers = nil },
			[]string{`spec.template.spec.containers: Required value`}},
		{"requests above limits", func(j *batchv1.Job) {
			j.Spec.Template.Spec.Containers[0].Resources = corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resourceQuantity("2")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resourceQuantity("1")},
			}
		}, []string{`spec.template.spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			validationtest.Expect(t, Validate(newJob(c.mutate)), c.want...)
		})
	}
}

func TestValidateUpdate(t *testing.T) {
	old := newJob(nil)
	cases := []struct {
		name   string
		mutate func(*batchv1.Job)
		want   string
	}{
		{"parallelism may change", func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To[int32](3) }, ""},
		{"completions immutable", func(j *batchv1.Job) { j.Spec.Completions = ptr.To[int32](5) }, "spec.completions: Invalid value: 5: field is immutable"},
		{"selector immutable", func(j *batchv1.Job) { j.Spec.Selector.MatchLabels["x"] = "y" }, "spec.selector: Invalid value: "},
		{"template immutable", func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "alpine" }, "spec.template: Invalid value: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := old.DeepCopy()
			c.mutate(j)
			got := errorStrings(t, ValidateUpdate(j, old))
			if c.want == "" && got != "" || !strings.Contains(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// A suspended Job that never started may change scheduling directives and
// resources (KEP-5440); once started and unsuspended it may not.
func TestTemplateMutableWhileSafelySuspended(t *testing.T) {
	old := newJob(func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) })
	j := old.DeepCopy()
	j.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	j.Spec.Template.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resourceQuantity("1Gi")}
	if got := errorStrings(t, ValidateUpdate(j, old)); got != "" {
		t.Fatalf("suspended, never started: %s", got)
	}
	now := metav1.Now()
	running := newJob(nil)
	running.Status.StartTime = &now
	j = running.DeepCopy()
	j.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	if got := errorStrings(t, ValidateUpdate(j, running)); !strings.Contains(got, "spec.template: Invalid value: ") {
		t.Fatalf("running job: got %q", got)
	}
}

func TestCountIndexes(t *testing.T) {
	cases := []struct {
		in      string
		want    int32
		wantErr string
	}{
		{"", 0, ""},
		{"0", 1, ""},
		{"1,3-5,7", 5, ""},
		{"0-9", 10, ""},
		{"1-2-3", 0, `the fragment "1-2-3" violates the requirement that an index interval can have at most two parts separated by '-'`},
		{"5,4", 0, "non-increasing order, previous: 5, current: 4"},
		{"3-1", 0, "non-increasing order, previous: 3, current: 1"},
		{"10", 0, `too large index: "10"`},
	}
	for _, c := range cases {
		got, err := countIndexes(c.in, 10)
		if c.wantErr != "" {
			if err == nil || err.Error() != c.wantErr {
				t.Errorf("countIndexes(%q) err = %v, want %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("countIndexes(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
}
