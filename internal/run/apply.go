package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
)

// apply server-side applies one object (force, field manager batchd-run) and
// prints what kubectl apply would.
func (e *Engine) apply(ctx context.Context, a applied, dryRun bool) (metav1.Object, error) {
	r := e.dyn.Resource(a.mapping.Resource).Namespace(a.obj.GetNamespace())
	data, err := json.Marshal(a.obj.Object)
	if err != nil {
		return nil, err
	}
	opts := metav1.PatchOptions{FieldManager: "batchd-run", Force: ptr.To(true)}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	if dryRun {
		got, err := r.Patch(ctx, a.obj.GetName(), types.ApplyPatchType, data, opts)
		if err != nil {
			return nil, applyError(a.obj.Source, err)
		}
		return got, nil
	}
	// The object as it was tells created from configured from unchanged.
	before, getErr := r.Get(ctx, a.obj.GetName(), metav1.GetOptions{})
	got, err := r.Patch(ctx, a.obj.GetName(), types.ApplyPatchType, data, opts)
	if err != nil {
		return nil, applyError(a.obj.Source, err)
	}
	what := "created"
	if getErr == nil {
		what = "configured"
		if before.GetResourceVersion() == got.GetResourceVersion() {
			what = "unchanged"
		}
	}
	e.screen.log(fmt.Sprintf("%s/%s %s", kindGroup(a.mapping), got.GetName(), what))
	return got, nil
}

// applyError words a rejected object as kubectl does: `The Job "x" is
// invalid: field: message` (one cause) or one "* field: message" line per
// cause; other API errors as `Error from server (Reason): error when
// applying "file": message`.
func applyError(source string, err error) error {
	var status apierrors.APIStatus
	if apierrors.IsInvalid(err) && errors.As(err, &status) && status.Status().Details != nil {
		d := status.Status().Details
		var causes []string
		for _, c := range d.Causes {
			causes = append(causes, c.Field+": "+c.Message)
		}
		head := fmt.Sprintf("The %s %q is invalid", d.Kind, d.Name)
		switch len(causes) {
		case 0:
			return errors.New(head)
		case 1:
			return errors.New(head + ": " + causes[0])
		}
		return errors.New(head + ": \n* " + strings.Join(causes, "\n* "))
	}
	return fmt.Errorf("Error from server (%s): error when applying %q: %w", apierrors.ReasonForError(err), source, err)
}

// kindGroup is how kubectl names a kind in its messages: "job.batch", "configmap".
func kindGroup(m *meta.RESTMapping) string {
	kind := strings.ToLower(m.GroupVersionKind.Kind)
	if m.Resource.Group == "" {
		return kind
	}
	return kind + "." + m.Resource.Group
}

// trigger creates a Job from a CronJob's template now, as `kubectl create
// job --from=cronjob/NAME` does.
func (e *Engine) trigger(ctx context.Context, ns, name string) (*batchv1.Job, error) {
	cj, err := e.client.BatchV1().CronJobs(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	jobName := name + "-manual-" + rand.String(5)
	if len(jobName) > 63 {
		jobName = jobName[len(jobName)-63:]
	}
	annotations := map[string]string{"cronjob.kubernetes.io/instantiate": "manual"}
	for k, v := range cj.Spec.JobTemplate.Annotations {
		annotations[k] = v
	}
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: jobName, Namespace: ns, Labels: cj.Spec.JobTemplate.Labels, Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: cj.Name, UID: cj.UID, Controller: ptr.To(true)}}},
		Spec: cj.Spec.JobTemplate.Spec,
	}
	created, err := e.client.BatchV1().Jobs(ns).Create(ctx, j, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	e.screen.log(fmt.Sprintf("job.batch/%s created (from cronjob/%s)", created.Name, name))
	return created, nil
}
