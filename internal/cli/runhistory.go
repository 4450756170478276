package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	runclient "github.com/batchd/batchd/internal/apis/batchd/client"
	"github.com/batchd/batchd/internal/apis/batchd/v1alpha1"
	"github.com/batchd/batchd/internal/apiserver/registry/jobrun"
)

// printRunHistory prints every JobRun of the server, oldest slot first, with
// times on the server's clock (now): what a virtual day did.
func printRunHistory(ctx context.Context, out io.Writer, cfg *rest.Config, now time.Time) error {
	client, err := runclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	list, err := client.JobRuns(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list the run history: %w", err)
	}
	fmt.Fprint(out, "\n"+RunHistory(list.Items, now))
	return nil
}

// RunHistory is the run history as a table: NAMESPACE, NAME, CRONJOB,
// OUTCOME, COMPLETIONS, SCHEDULED (the slot, RFC 3339 on the server's
// clock), DURATION; runs in slot (else creation) order.
func RunHistory(runs []v1alpha1.JobRun, now time.Time) string {
	at := func(r *v1alpha1.JobRun) time.Time {
		if r.Spec.ScheduledTime != nil {
			return r.Spec.ScheduledTime.Time
		}
		if r.Status.CreationTime != nil {
			return r.Status.CreationTime.Time
		}
		return r.CreationTimestamp.Time
	}
	sort.SliceStable(runs, func(a, b int) bool {
		if ta, tb := at(&runs[a]), at(&runs[b]); !ta.Equal(tb) {
			return ta.Before(tb)
		}
		return runs[a].Name < runs[b].Name
	})
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 8, 3, ' ', 0)
	fmt.Fprintf(w, "run history (%d)\nNAMESPACE\tNAME\tCRONJOB\tOUTCOME\tCOMPLETIONS\tSCHEDULED\tDURATION\n", len(runs))
	for i := range runs {
		r := &runs[i]
		cron, scheduled := r.Spec.CronJobName, "<none>"
		if cron == "" {
			cron = "<none>"
		}
		if r.Spec.ScheduledTime != nil {
			scheduled = r.Spec.ScheduledTime.Time.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Namespace, r.Name, cron, jobrun.Outcome(r), jobrun.Completions(r), scheduled, jobrun.Duration(r, now))
	}
	w.Flush()
	return b.String()
}
