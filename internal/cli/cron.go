package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	cronjobregistry "github.com/batchd/batchd/internal/apiserver/registry/cronjob"
	"github.com/batchd/batchd/internal/controller/cronjob"
	"github.com/batchd/batchd/internal/cronspec"
	"github.com/batchd/batchd/internal/server"
)

// clusterFlags reach the API server as `batchd kubectl` does: --kubeconfig,
// else $KUBECONFIG, else the kubeconfig of the local server's data dir.
type clusterFlags struct {
	kubeconfig, context, namespace string
}

func (f *clusterFlags) add(cmd *cobra.Command, namespaceShort bool) {
	f.addConnection(cmd)
	fs := cmd.Flags()
	if namespaceShort {
		fs.StringVarP(&f.namespace, "namespace", "n", "", "The CronJob's namespace (default: the context's).")
	} else {
		fs.StringVar(&f.namespace, "namespace", "", "The CronJob's namespace (default: the context's).")
	}
}

// addConnection registers --kubeconfig and --context only.
func (f *clusterFlags) addConnection(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "Path to the kubeconfig file (default: $KUBECONFIG, else the local batchd's).")
	fs.StringVar(&f.context, "context", "", "The kubeconfig context to use.")
}

func (f *clusterFlags) client() (kubernetes.Interface, string, error) {
	cfg, ns, err := f.restConfig()
	if err != nil {
		return nil, "", err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, "", err
	}
	return client, ns, nil
}

// restConfig is the client config and namespace the flags name.
func (f *clusterFlags) restConfig() (*restclient.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	switch {
	case f.kubeconfig != "":
		rules.ExplicitPath = f.kubeconfig
	case os.Getenv("KUBECONFIG") == "":
		dir := server.DefaultDataDir()
		if d := os.Getenv("BATCHD_DATA_DIR"); d != "" {
			dir = d
		}
		rules.ExplicitPath = server.KubeconfigPath(dir)
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: f.context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("load kubeconfig: %w", err)
	}
	ns := f.namespace
	if ns == "" {
		if ns, _, err = cc.Namespace(); err != nil {
			return nil, "", fmt.Errorf("load kubeconfig: %w", err)
		}
	}
	return cfg, ns, nil
}

// cronJobName reads "cronjob/NAME" (or cronjobs, cj, cronjob.batch); ok is
// false for anything else.
func cronJobName(arg string) (string, bool) {
	kind, name, found := strings.Cut(arg, "/")
	if !found || name == "" {
		return "", false
	}
	switch kind {
	case "cronjob", "cronjobs", "cj", "cronjob.batch", "cronjobs.batch":
		return name, true
	}
	return "", false
}

func (c *CLI) cronCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cron",
		Short: "Preview and trigger CronJobs",
	}
	cmd.AddCommand(c.cronNextCommand(), c.cronTriggerCommand())
	return cmd
}

type cronNextOptions struct {
	cluster  clusterFlags
	timeZone string
	count    int
	from     string
	dst      string
}

func (c *CLI) cronNextCommand() *cobra.Command {
	o := cronNextOptions{count: 5}
	cmd := &cobra.Command{
		Use:   "next SCHEDULE|cronjob/NAME",
		Short: "Print the next fire times of a schedule or a CronJob, in its time zone and in UTC",
		Long: `Print the next N times a schedule fires, computed by the controller's own
schedule code, in the time zone and in UTC, with a note wherever a
daylight-saving change skips, moves or repeats a slot. For cronjob/NAME the
CronJob is read from the API server (its timeZone, batchd.dev/jitter and
batchd.dev/dst apply); a schedule the API would refuse is refused with the
API's words.`,
		Example: `  batchd cron next "30 2 * * *" --time-zone Europe/Berlin -n 3 --from 2027-03-27
  batchd cron next "30 2 * * *" --time-zone Europe/Berlin --dst once --from 2027-03-27
  batchd cron next cronjob/weekly-report --namespace reports`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.cronNext(cmd.Context(), o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.timeZone, "time-zone", "", "The schedule's time zone (an IANA name; default: this machine's, as the server reads a CronJob without timeZone).")
	f.IntVarP(&o.count, "count", "n", o.count, "How many fire times to print (1 to 1000).")
	f.StringVar(&o.from, "from", "", "Start after this time: RFC 3339, or 2006-01-02[T15:04[:05]] in the time zone (default: now).")
	f.StringVar(&o.dst, "dst", "", "DST policy for a SCHEDULE: kubernetes (default) or once.")
	o.cluster.add(cmd, false)
	return cmd
}

func (c *CLI) cronNext(ctx context.Context, o cronNextOptions, arg string) error {
	if o.count < 1 || o.count > 1000 {
		return fmt.Errorf("-n must be from 1 to 1000, not %d", o.count)
	}
	var (
		schedule string
		tz       *string
		opts     = cronspec.Options{DST: cronspec.DSTKubernetes}
		offset   time.Duration
		header   [][2]string
	)
	if name, ok := cronJobName(arg); ok {
		if o.timeZone != "" || o.dst != "" {
			return fmt.Errorf("--time-zone and --dst apply to a SCHEDULE; a CronJob's are its spec.timeZone and %s annotation", cronspec.DSTAnnotation)
		}
		client, ns, err := o.cluster.client()
		if err != nil {
			return err
		}
		cj, err := client.BatchV1().CronJobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		schedule, tz = cj.Spec.Schedule, cj.Spec.TimeZone
		var invalid []string
		parsed, errs := cronspec.ParseOptions(cj.Annotations)
		for _, e := range errs {
			invalid = append(invalid, e.Error()+" (read as the default)")
		}
		opts = parsed
		offset = cronspec.Offset(string(cj.UID), opts.Jitter)
		header = append(header, [2]string{"CronJob", ns + "/" + cj.Name})
		if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
			header = append(header, [2]string{"Suspended", "yes: the controller starts none of these until it is resumed"})
		}
		for _, s := range invalid {
			header = append(header, [2]string{"Warning", s})
		}
	} else {
		schedule = arg
		if o.timeZone != "" {
			tz = &o.timeZone
		}
		if errs := cronjobregistry.ValidateSchedule(schedule, tz); len(errs) > 0 {
			return errs.ToAggregate()
		}
		switch d := cronspec.DST(o.dst); d {
		case "":
		case cronspec.DSTKubernetes, cronspec.DSTOnce:
			opts.DST = d
		default:
			return fmt.Errorf("--dst must be %s or %s, not %q", cronspec.DSTKubernetes, cronspec.DSTOnce, o.dst)
		}
	}
	s, err := cronspec.New(schedule, tz, time.Local, opts.DST)
	if err != nil {
		return fmt.Errorf("parse schedule %q: %w", schedule, err)
	}
	loc := s.Location()
	if loc == nil {
		loc = time.Local
	}
	from := time.Now()
	if o.from != "" {
		if from, err = parseFrom(o.from, loc); err != nil {
			return err
		}
	}
	zone := loc.String()
	header = append(header, [2]string{"Schedule", schedule}, [2]string{"Time zone", zone})
	dst := string(opts.DST)
	if opts.DST == cronspec.DSTOnce && !s.Fixed() {
		dst += " (no effect: the minute or hour field is a wildcard, which follows the clock)"
	}
	header = append(header, [2]string{"DST policy", dst})
	if opts.Jitter > 0 {
		header = append(header, [2]string{"Jitter", fmt.Sprintf("%s (this CronJob's offset: %s)", opts.Jitter, offset)})
	}
	writePreview(c.Out, header, zone, loc, cronspec.Preview(s, offset, from, o.count))
	return nil
}

func writePreview(w io.Writer, header [][2]string, zone string, loc *time.Location, entries []cronspec.Entry) {
	for _, h := range header {
		fmt.Fprintf(w, "%-11s %s\n", h[0]+":", h[1])
	}
	fmt.Fprintln(w)
	const layout = "Mon 2006-01-02 15:04:05 MST"
	width := len("TIME (" + zone + ")")
	for _, e := range entries {
		if e.Fire && len(e.At.In(loc).Format(layout)) > width {
			width = len(e.At.In(loc).Format(layout))
		}
	}
	fmt.Fprintf(w, "%4s  %-*s  %s\n", "#", width, "TIME ("+zone+")", "TIME (UTC)")
	if len(entries) == 0 {
		fmt.Fprintln(w, "      (never fires)")
	}
	n := 0
	for _, e := range entries {
		if !e.Fire {
			fmt.Fprintf(w, "%4s  %s\n", "", e.Note)
			continue
		}
		n++
		fmt.Fprintf(w, "%4d  %-*s  %s\n", n, width, e.At.In(loc).Format(layout), e.At.UTC().Format(layout))
	}
}

// parseFrom reads --from: RFC 3339, or a date and time without offset in loc.
func parseFrom(v string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--from %q: want RFC 3339 (2027-03-28T01:00:00Z) or 2006-01-02[T15:04[:05]] in the time zone", v)
}

func (c *CLI) cronTriggerCommand() *cobra.Command {
	var cluster clusterFlags
	cmd := &cobra.Command{
		Use:   "trigger cronjob/NAME",
		Short: "Start one run of a CronJob now, honouring its concurrencyPolicy",
		Long: `Set the CronJob's ` + cronspec.TriggerAnnotation + ` annotation to a fresh token: the
controller starts one run as if a slot had come now (Forbid skips it while a
run is active, Replace replaces the active run, Allow starts another), once
per token, as ` + "`kubectl annotate cronjob NAME " + cronspec.TriggerAnnotation + "=TOKEN`" + ` does.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, ok := cronJobName(args[0])
			if !ok {
				return fmt.Errorf("want cronjob/NAME, not %q", args[0])
			}
			client, ns, err := cluster.client()
			if err != nil {
				return err
			}
			token, err := newToken(time.Now())
			if err != nil {
				return err
			}
			patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{cronspec.TriggerAnnotation: token}}})
			if err != nil {
				return err
			}
			cj, err := client.BatchV1().CronJobs(ns).Patch(cmd.Context(), name, types.MergePatchType, patch, metav1.PatchOptions{})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "cronjob.batch/%s triggered: token %s, job %s%s\n", cj.Name, token, cronjob.TriggerJobName(cj, token), policyNote(cj))
			return nil
		},
	}
	cluster.add(cmd, true)
	return cmd
}

func policyNote(cj *batchv1.CronJob) string {
	switch {
	case cj.Spec.Suspend != nil && *cj.Spec.Suspend:
		return " (suspended: it will be skipped)"
	case cj.Spec.ConcurrencyPolicy == batchv1.ForbidConcurrent && len(cj.Status.Active) > 0:
		return " (concurrencyPolicy Forbid and a run is active: it will be skipped)"
	}
	return ""
}

// newToken is a fresh trigger token: the time, for people, and randomness,
// so two triggers in one second differ.
func newToken(now time.Time) (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make trigger token: %w", err)
	}
	return now.UTC().Format("20060102t150405") + "-" + hex.EncodeToString(b), nil
}
