package run

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// interrupted stops what this run started as Options.OnInterrupt says and
// reports 130.
func (e *Engine) interrupted(names []types.NamespacedName, cronJobs []applied) (int, error) {
	e.screen.done()
	sort.Slice(names, func(a, b int) bool { return names[a].String() < names[b].String() })
	switch {
	case e.o.OnInterrupt == InterruptDelete || e.o.Remove && e.o.OnInterrupt != InterruptLeave:
		return ExitInterrupt, e.deleteJobs(names)
	case e.o.OnInterrupt == InterruptSuspend:
		return ExitInterrupt, e.suspend(names, cronJobs)
	}
	return ExitInterrupt, nil
}

// deleteJobs deletes Jobs with their pods.
func (e *Engine) deleteJobs(names []types.NamespacedName) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	for _, n := range names {
		err := e.client.BatchV1().Jobs(n.Namespace).Delete(ctx, n.Name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(e.o.Out, "job.batch/%s deleted\n", n.Name)
		}
	}
	return errors.Join(errs...)
}

// suspend suspends the unfinished Jobs (their pods stop, the Jobs stay) and
// the applied CronJobs, and says how to resume or delete them.
func (e *Engine) suspend(names []types.NamespacedName, cronJobs []applied) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	patch := []byte(`{"spec":{"suspend":true}}`)
	var errs []error
	for _, n := range names {
		j, err := e.client.BatchV1().Jobs(n.Namespace).Get(ctx, n.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, done := Finished(j); done {
			continue
		}
		if _, err := e.client.BatchV1().Jobs(n.Namespace).Patch(ctx, n.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(e.o.Out, "job.batch/%s suspended: its pods are stopped, the Job stays.\n  resume: kubectl patch job %s%s -p '{\"spec\":{\"suspend\":false}}'\n  delete: kubectl delete job %s%s\n",
			n.Name, n.Name, nsFlag(n.Namespace), n.Name, nsFlag(n.Namespace))
	}
	for _, cj := range cronJobs {
		ns, n := cj.obj.GetNamespace(), cj.obj.GetName()
		if _, err := e.client.BatchV1().CronJobs(ns).Patch(ctx, n, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
			continue
		}
		fmt.Fprintf(e.o.Out, "cronjob.batch/%s suspended: no more Jobs are scheduled.\n  resume: kubectl patch cronjob %s%s -p '{\"spec\":{\"suspend\":false}}'\n  delete: kubectl delete cronjob %s%s\n",
			n, n, nsFlag(ns), n, nsFlag(ns))
	}
	return errors.Join(errs...)
}

func nsFlag(ns string) string {
	if ns == "" || ns == metav1.NamespaceDefault {
		return ""
	}
	return " -n " + ns
}
