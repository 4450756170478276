package cli

import (
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/spf13/cobra"

	"github.com/batchd/batchd/internal/bench"
)

func (c *CLI) benchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure batchd (the figures in BENCHMARKS.md)",
	}
	o := bench.APIOptions{Runs: 5, Creates: 2000, Writers: []int{1, 8, 32}, Stored: 10000}
	api := &cobra.Command{
		Use:   "api",
		Short: "Start-up time, memory, Job create throughput and `kubectl get jobs` latency of a batchd server process",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			o.Binary, o.Out = self, c.Out
			return bench.API(cmd.Context(), o)
		},
	}
	api.Flags().IntVar(&o.Runs, "runs", o.Runs, "Repetitions per figure; the median is reported.")
	api.Flags().IntVar(&o.Creates, "creates", o.Creates, "Jobs created per throughput run.")
	api.Flags().IntSliceVar(&o.Writers, "writers", o.Writers, "Concurrent writers for the throughput runs.")
	api.Flags().IntVar(&o.Stored, "stored", o.Stored, "Jobs stored for the memory and list figures.")
	api.Flags().StringArrayVar(&o.ServerArgs, "server-arg", nil, "A flag of every server started, e.g. --server-arg=--run-history=false (repeatable).")
	po := bench.PodsOptions{Runs: 5, Latency: 1000, Rate: 50, Throughput: 2000, Writers: 8, OCI: 200, OCIRate: 10, Busybox: "/bin/busybox"}
	pods := &cobra.Command{
		Use:   "pods",
		Short: "Pod start latency and trivial-pod throughput of the node agent, next to xargs -P",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			po.Binary, po.Out = self, c.Out
			return bench.Pods(cmd.Context(), po)
		},
	}
	pods.Flags().IntVar(&po.Runs, "runs", po.Runs, "Repetitions per figure; the median is reported.")
	pods.Flags().IntVar(&po.Latency, "latency-pods", po.Latency, "Pods created for the start-latency figure.")
	pods.Flags().Float64Var(&po.Rate, "rate", po.Rate, "Pods created per second for the start-latency figure.")
	pods.Flags().IntVar(&po.Throughput, "throughput-pods", po.Throughput, "Trivial pods for the throughput figure.")
	pods.Flags().IntVar(&po.Writers, "writers", po.Writers, "Concurrent creators (and xargs -P) for the throughput figure.")
	pods.Flags().IntVar(&po.OCI, "oci", po.OCI, "Pods run with runc (runtimeClassName oci) and with the host runtime for the side-by-side start latency; 0 skips it.")
	pods.Flags().Float64Var(&po.OCIRate, "oci-rate", po.OCIRate, "Pods created per second for the side-by-side figure.")
	pods.Flags().BoolVar(&po.Crun, "crun", po.Crun, "Also start the OCI pods with crun (a RuntimeClass of handler crun; the node must have crun).")
	co := bench.CronJobsOptions{Runs: 5, Sizes: []int{1000, 10000}}
	cronjobs := &cobra.Command{
		Use:   "cronjobs",
		Short: "Job creation skew and CPU per minute with many every-minute CronJobs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			co.Binary, co.Out = self, c.Out
			return bench.CronJobs(cmd.Context(), co)
		},
	}
	cronjobs.Flags().IntVar(&co.Runs, "runs", co.Runs, "Repetitions per size; the median is reported.")
	cronjobs.Flags().IntSliceVar(&co.Sizes, "sizes", co.Sizes, "Numbers of CronJobs.")
	ro := bench.RunOptions{Runs: 5, Manifest: "examples/pi.yaml"}
	runCmd := &cobra.Command{
		Use:   "run",
		Short: "Wall time of `batchd run -f MANIFEST` with an ephemeral engine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			ro.Binary, ro.Out = self, c.Out
			return bench.Run(cmd.Context(), ro)
		},
	}
	runCmd.Flags().IntVar(&ro.Runs, "runs", ro.Runs, "Repetitions; the median is reported.")
	runCmd.Flags().StringVarP(&ro.Manifest, "filename", "f", ro.Manifest, "Manifest to run.")
	jo := bench.JobsOptions{Runs: 5, Completions: 10000, Parallelism: 100, FakeKubelets: 16}
	jobs := &cobra.Command{
		Use:   "jobs",
		Short: "Pods/s of one Indexed Job of `true`: real runtime beside xargs -P, and an instant fake runtime",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			jo.Binary, jo.Out, jo.Progress = self, c.Out, c.Err
			return bench.Jobs(cmd.Context(), jo)
		},
	}
	jobs.Flags().IntVar(&jo.Runs, "runs", jo.Runs, "Repetitions; the median is reported.")
	jobs.Flags().IntVar(&jo.Completions, "completions", jo.Completions, "Completions of the Job (and processes for xargs).")
	jobs.Flags().IntVar(&jo.Parallelism, "parallelism", jo.Parallelism, "Parallelism of the Job (and xargs -P).")
	jobs.Flags().IntVar(&jo.FakeKubelets, "fake-writers", jo.FakeKubelets, "Concurrent pod status writers of the instant fake runtime.")
	jobs.Flags().IntVar(&jo.Agents, "agents", jo.Agents, "Also run the real runtime with this many `batchd agent` processes beside the server (on 127.0.0.2 and up).")
	jobs.Flags().BoolVar(&jo.NoHistory, "no-history", jo.NoHistory, "Run the servers with --run-history=false, to compare Job throughput without the run history.")
	lo := bench.LoadOptions{Runs: 5, Stored: 10000, Watchers: 100, Clients: 8, Duration: 30 * time.Second}
	load := &cobra.Command{
		Use:   "load",
		Short: "API latency (get/list/create p50/p99) and server memory with 10,000 Jobs stored and 100 watchers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			lo.Binary, lo.Out = self, c.Out
			return bench.Load(cmd.Context(), lo)
		},
	}
	load.Flags().IntVar(&lo.Runs, "runs", lo.Runs, "Repetitions; the median is reported.")
	load.Flags().IntVar(&lo.Stored, "stored", lo.Stored, "Jobs stored before the load.")
	load.Flags().IntVar(&lo.Watchers, "watchers", lo.Watchers, "Concurrent watches of every Job.")
	load.Flags().IntVar(&lo.Clients, "clients", lo.Clients, "Concurrent clients issuing get, list (500) and create in turn.")
	load.Flags().DurationVar(&lo.Duration, "duration", lo.Duration, "How long the clients run.")
	io := bench.ImagesOptions{Runs: 5, Busybox: "/bin/busybox"}
	images := &cobra.Command{
		Use:   "images",
		Short: "Cold pull and unpack of a busybox image from a local registry, and its import as a docker save tar",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			io.Out = c.Out
			return bench.Images(cmd.Context(), io)
		},
	}
	images.Flags().IntVar(&io.Runs, "runs", io.Runs, "Repetitions; the median is reported.")
	images.Flags().StringVar(&io.Busybox, "busybox", io.Busybox, "Static busybox binary the image is built from.")
	eo := bench.ExecOptions{Runs: 3, Execs: 100, Busybox: "/bin/busybox", OCIRuntime: "runc"}
	execCmd := &cobra.Command{
		Use:   "exec",
		Short: "Round trip of kubectl exec P -- true (host and OCI pods, kubectl and client-go), beside runc exec alone",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			eo.Binary, eo.Out = self, c.Out
			if eo.OCIRuntime != "" {
				if eo.OCIRuntime, err = exec.LookPath(eo.OCIRuntime); err != nil {
					return err
				}
			}
			return bench.Exec(cmd.Context(), eo)
		},
	}
	execCmd.Flags().IntVar(&eo.Runs, "runs", eo.Runs, "Repetitions (a server each); the median is reported.")
	execCmd.Flags().IntVar(&eo.Execs, "execs", eo.Execs, "Sequential execs per figure and run.")
	execCmd.Flags().StringVar(&eo.OCIRuntime, "oci-runtime", eo.OCIRuntime, "The runc the OCI pod's runtime is and that is timed alone (\"\": no OCI pod).")
	execCmd.Flags().StringVar(&eo.Busybox, "busybox", eo.Busybox, "Static busybox binary the OCI pod's image is built from.")
	to := bench.TableOptions{Runs: 5}
	table := &cobra.Command{
		Use:   "table",
		Short: "The regression table (start-up, memory, creates, get jobs, run, Job pods/s, CronJob skew, size), beside a baseline",
		Long: `Measures the figures BENCHMARKS.md tracks in one run (about 30 minutes on 2 cores) and, with
--baseline, sets each beside the baseline's: a figure is flagged BETTER or WORSE when every run of
one lies beyond every run of the other (the runs' own spread is the noise), and the command fails
when one got worse. Run it from the repository's root (it runs examples/hello-job.yaml), on a quiet
machine, before and after a performance-relevant change:
  batchd bench table --baseline hack/bench-baseline.md
  batchd bench table --save hack/bench-baseline.md   # after a change that moves a figure on purpose`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			to.Binary, to.Out = self, c.Out
			return bench.Table(cmd.Context(), to)
		},
	}
	table.Flags().IntVar(&to.Runs, "runs", to.Runs, "Repetitions per figure; the median is reported.")
	table.Flags().StringVar(&to.Baseline, "baseline", "", "An earlier table (or any bench output) to compare with.")
	table.Flags().StringVar(&to.Save, "save", "", "Write this run's figures to this file (the next baseline).")
	compare := &cobra.Command{
		Use:   "compare BASELINE CURRENT",
		Short: "Set the figures of two saved bench outputs side by side, flagging those that moved beyond their runs' spread",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var tables [2][]bench.Figure
			for i, name := range args {
				f, err := os.Open(name)
				if err != nil {
					return err
				}
				tables[i], err = bench.ParseTable(f)
				f.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
			if worse := bench.WriteComparison(c.Out, bench.Compare(tables[0], tables[1])); worse > 0 {
				return fmt.Errorf("%d figure(s) of %s worse than in %s beyond both runs' spread", worse, args[1], args[0])
			}
			return nil
		},
	}
	cmd.AddCommand(api, pods, cronjobs, runCmd, jobs, load, images, execCmd, table, compare)
	return cmd
}
