package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	runclient "github.com/batchd/batchd/internal/apis/batchd/client"
	"github.com/batchd/batchd/internal/apis/batchd/v1alpha1"
)

func (c *CLI) logsCommand() *cobra.Command {
	var (
		cluster clusterFlags
		opts    v1alpha1.JobRunLogOptions
		attempt int32
		tail    int64
	)
	cmd := &cobra.Command{
		Use:   "logs run/NAME",
		Short: "Print the kept log of a run's container (after its Job and pods are gone)",
		Long: `Print the log of one container run of a JobRun (kubectl get runs), as the node kept it
when the pod went: by default the last failed attempt, else the last one. The same as
kubectl get --raw /apis/batchd.dev/v1alpha1/namespaces/NS/jobruns/NAME/log?container=C&attempt=N.
For a pod's live log use batchd kubectl logs.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, ok := runName(args[0])
			if !ok {
				return fmt.Errorf("want run/NAME (a JobRun), not %q; for pods use batchd kubectl logs", args[0])
			}
			cfg, ns, err := cluster.restConfig()
			if err != nil {
				return err
			}
			client, err := runclient.NewForConfig(cfg)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("attempt") {
				opts.Attempt = &attempt
			}
			if cmd.Flags().Changed("tail") && tail >= 0 {
				opts.TailLines = &tail
			}
			out, err := client.JobRuns(ns).Log(cmd.Context(), name, opts)
			if err != nil {
				return err
			}
			_, err = c.Out.Write(out)
			return err
		},
	}
	cluster.add(cmd, true)
	fs := cmd.Flags()
	fs.StringVarP(&opts.Container, "container", "c", "", "The container (default: that of the chosen attempt).")
	fs.StringVar(&opts.Pod, "pod", "", "The pod, among the run's (default: that of the chosen attempt).")
	fs.Int32Var(&attempt, "attempt", 0, "The container's run, from 0 (default: the last failed one, else the last).")
	fs.Int64Var(&tail, "tail", -1, "Lines from the end to show (default: all).")
	fs.BoolVar(&opts.Timestamps, "timestamps", false, "Prefix each line with its time.")
	return cmd
}

// runName reads "run/NAME" (or runs, jobrun, jobruns, jobrun.batchd.dev).
func runName(arg string) (string, bool) {
	kind, name, found := strings.Cut(arg, "/")
	if !found || name == "" {
		return "", false
	}
	switch kind {
	case "run", "runs", "jobrun", "jobruns", "jobrun.batchd.dev", "jobruns.batchd.dev":
		return name, true
	}
	return "", false
}
