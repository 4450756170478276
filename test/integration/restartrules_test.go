package integration

import (
	"context"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/testenv"
)

// Issue 15 item 3 (API): container restart rules (KEP-5307) are accepted on a
// regular container of a Job's template and of a Pod, with a podFailurePolicy
// (pod restartPolicy Never), and kept as written; the invalid forms are in
// testdata/invalid (hack/gen-invalid-corpus.py).
func TestContainerRestartRulesAccepted(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	rules := []corev1.ContainerRestartRule{{Action: corev1.ContainerRestartRuleActionRestart,
		ExitCodes: &corev1.ContainerRestartRuleOnExitCodes{Operator: corev1.ContainerRestartRuleOnExitCodesOpIn, Values: []int32{42}}}}
	j := testenv.ExternalJob("rules")
	c := &j.Spec.Template.Spec.Containers[0]
	c.RestartPolicy, c.RestartPolicyRules = ptr.To(corev1.ContainerRestartPolicyNever), rules
	j.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyOnFailure)}}
	j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
		Action:      batchv1.PodFailurePolicyActionFailJob,
		OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}},
	}}}
	got, err := env.Client.BatchV1().Jobs(ns).Create(ctx, j, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create job: %v", err)
	}
	gc := got.Spec.Template.Spec.Containers[0]
	if gc.RestartPolicy == nil || *gc.RestartPolicy != corev1.ContainerRestartPolicyNever || len(gc.RestartPolicyRules) != 1 ||
		gc.RestartPolicyRules[0].ExitCodes.Values[0] != 42 {
		t.Errorf("stored container %+v", gc)
	}
	p := testenv.Pod("rules")
	p.Spec.Containers[0].RestartPolicy = ptr.To(corev1.ContainerRestartPolicyOnFailure)
	p.Spec.Containers[0].RestartPolicyRules = rules
	if _, err := env.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod: %v", err)
	}
}
