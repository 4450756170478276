package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/batchd/batchd/internal/node/runtime"
	"github.com/batchd/batchd/internal/run"
	"github.com/batchd/batchd/internal/server"
)

type runOptions struct {
	files      []string
	kubeconfig string
	dataDir    string
	namespace  string
	keep       bool
	logs       string
	trigger    bool
	forTime    time.Duration
	remove     bool
	clock      string
	clockStart string
	clockRate  float64
}

func (c *CLI) runCommand() *cobra.Command {
	o := runOptions{dataDir: server.DefaultDataDir(), logs: "all", clock: server.ClockReal}
	if dir := os.Getenv("BATCHD_DATA_DIR"); dir != "" {
		o.dataDir = dir
	}
	cmd := &cobra.Command{
		Use:   "run -f FILE|DIR|- [-f ...]",
		Short: "Apply manifests, follow their Jobs to the end and exit with their outcome",
		Long: `Apply every object of the manifests and follow every Job to its end, showing
progress and container logs. Exit codes: 0 all Jobs Complete, 1 a Job Failed,
2 bad input (missing file, invalid manifest), 130 interrupted.

Without --kubeconfig (or KUBECONFIG) it uses the server of --data-dir if one is
running, else starts an ephemeral one in a temporary directory and removes it
afterwards (--keep keeps it).

Interrupted (Ctrl-C) on a server that outlives the run, it suspends the Jobs
it follows (their pods stop, the Jobs stay, and it says how to resume or
delete them); with --rm it deletes them instead, and also when they end.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(o.files) == 0 {
				fmt.Fprintf(c.Err, "error: must specify -f FILE|DIR|-\n\n%s", cmd.UsageString())
				return ExitError{Code: run.ExitBadInput}
			}
			return ExitError{Code: c.run(cmd.Context(), o)}
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&o.files, "filename", "f", nil, "Manifest file, directory or - for stdin (repeatable).")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "Use the server of this kubeconfig instead of a local one.")
	f.StringVar(&o.dataDir, "data-dir", o.dataDir, "Data directory of the local server to use if it is running.")
	f.StringVarP(&o.namespace, "namespace", "n", "", "Namespace for objects that name none (default \"default\").")
	f.BoolVar(&o.keep, "keep", false, "Keep the ephemeral server's data directory.")
	f.StringVar(&o.logs, "logs", o.logs, "Container logs to show: all (streamed), failed (last lines of failed pods at the end) or none.")
	f.BoolVar(&o.trigger, "trigger", false, "Create one Job from each CronJob now and follow it.")
	f.DurationVar(&o.forTime, "for", 0, "Keep running this long so CronJob schedules fire, following the Jobs they create.")
	f.BoolVar(&o.remove, "rm", false, "Delete the followed Jobs (and their pods) when the run ends or is interrupted.")
	f.StringVar(&o.clock, "clock", o.clock, "virtual runs the ephemeral server on a virtual clock (see batchd server --clock): --for is then virtual time, and the run history is printed at the end.")
	f.StringVar(&o.clockStart, "clock-start", "", "Where the virtual clock starts, as RFC 3339 (default: now).")
	f.Float64Var(&o.clockRate, "clock-rate", 60, "Virtual seconds per real second of the virtual clock (60: a virtual minute per second). Scale your tasks' durations by it: their processes run in real time.")
	return cmd
}

func (c *CLI) run(ctx context.Context, o runOptions) int {
	switch o.logs {
	case "all", "failed", "none":
	default:
		fmt.Fprintf(c.Err, "error: --logs must be all, failed or none, not %q\n", o.logs)
		return run.ExitBadInput
	}
	objs, err := run.Load(o.files, c.In)
	if err != nil {
		fmt.Fprintln(c.Err, "error:", err)
		return run.ExitBadInput
	}
	virtual := o.clock == server.ClockVirtual
	switch {
	case o.clock != server.ClockReal && !virtual:
		fmt.Fprintf(c.Err, "error: --clock must be real or virtual, not %q\n", o.clock)
		return run.ExitBadInput
	case virtual && o.clockRate <= 0:
		fmt.Fprintln(c.Err, "error: batchd run --clock virtual needs --clock-rate above 0: nothing would move a frozen clock")
		return run.ExitBadInput
	case virtual && (o.kubeconfig != "" || os.Getenv("KUBECONFIG") != ""):
		fmt.Fprintln(c.Err, "error: --clock virtual runs its own ephemeral server: it cannot be used with --kubeconfig or KUBECONFIG")
		return run.ExitBadInput
	}
	ro := run.Options{Out: c.Out, Terminal: isTerminal(c.Out), Logs: o.logs, Trigger: o.trigger, For: o.forTime, Namespace: o.namespace, Remove: o.remove}
	if err := run.CheckCronJobs(objs, ro); err != nil {
		fmt.Fprintln(c.Err, "error:", err)
		return run.ExitBadInput
	}
	cfg, clk, stop, err := c.connect(ctx, o)
	ro.Clock = clk
	if err != nil {
		fmt.Fprintln(c.Err, "error:", err)
		if ctx.Err() != nil {
			return run.ExitInterrupt
		}
		return run.ExitFailed
	}
	// An ephemeral server goes away with all its pods; on a server that
	// outlives this run, the user's Jobs stay, suspended (deleted with --rm).
	ro.OnInterrupt = run.InterruptLeave
	if stop == nil {
		ro.OnInterrupt = run.InterruptSuspend
		// The client libraries log through klog; none of that is the user's output.
		quietKlog(io.Discard)
	}
	code := func() int {
		e, err := run.New(cfg, ro)
		if err != nil {
			fmt.Fprintln(c.Err, "error:", err)
			return run.ExitFailed
		}
		code, err := e.Run(ctx, objs)
		if err != nil {
			fmt.Fprintln(c.Err, "error:", err)
		}
		if virtual && ctx.Err() == nil {
			if err := printRunHistory(ctx, c.Out, cfg, clk.Now()); err != nil {
				fmt.Fprintln(c.Err, "error:", err)
			}
		}
		return code
	}()
	if stop != nil {
		if err := stop(); err != nil {
			fmt.Fprintln(c.Err, "error:", err)
		}
	}
	return code
}

// connect picks the server: the kubeconfig given, the running server of the
// data dir, or a new ephemeral one (then stop ends it and removes its data).
// With --clock virtual it is always a new ephemeral server, on that clock.
func (c *CLI) connect(ctx context.Context, o runOptions) (*rest.Config, clock.WithTicker, func() error, error) {
	path := o.kubeconfig
	if path == "" {
		path = os.Getenv("KUBECONFIG")
	}
	if path != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		return cfg, nil, nil, err
	}
	if o.clock != server.ClockVirtual {
		if cfg, err := clientcmd.BuildConfigFromFlags("", server.KubeconfigPath(o.dataDir)); err == nil && serving(ctx, cfg) {
			return cfg, nil, nil, nil
		}
	}
	return c.ephemeral(ctx, o)
}

// serving reports whether the server of cfg answers /readyz.
func serving(ctx context.Context, cfg *rest.Config) bool {
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = time.Second
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// ephemeralShutdownTimeout bounds the ephemeral server's wait for its
// connections to close.
const ephemeralShutdownTimeout = 200 * time.Millisecond

// ephemeral starts a server in this process, in a temporary data dir on a
// free loopback port, its logs going to a file beside it (<dir>.log). The
// data dir is the temporary directory itself, not a subdirectory: etcd's
// unix socket inside it must fit in 107 bytes, with a long TMPDIR too.
func (c *CLI) ephemeral(ctx context.Context, o runOptions) (*rest.Config, clock.WithTicker, func() error, error) {
	keep := o.keep
	dir, err := os.MkdirTemp("", "batchd-run-")
	if err != nil {
		return nil, nil, nil, err
	}
	logPath := dir + ".log"
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, nil, err
	}
	quietKlog(logFile)
	restoreStderr, err := c.stderrTo(logFile)
	if err != nil {
		logFile.Close()
		os.RemoveAll(dir)
		os.Remove(logPath)
		return nil, nil, nil, err
	}
	opts := server.NewOptions()
	opts.DataDir, opts.SecurePort = dir, 0
	if o.clock == server.ClockVirtual {
		opts.Clock, opts.ClockStart, opts.ClockRate = o.clock, o.clockStart, o.clockRate
	}
	cfg, err := opts.Config()
	if err != nil {
		restoreStderr()
		logFile.Close()
		os.RemoveAll(dir)
		os.Remove(logPath)
		return nil, nil, nil, err
	}
	cfg.Log = logFile
	// Its clients are all in this process and done when it stops: an HTTP/2
	// connection one of them left idle as the stop began would otherwise
	// hold the stop a second (x/net/http2's goAwayTimeout; see
	// apiserver.CloseIdle), one run in several.
	cfg.ShutdownTimeout = ephemeralShutdownTimeout
	// Its data lives as long as the run: nothing is worth an fsync (with
	// --keep, what it wrote is in the files once it stops, short of the
	// machine crashing meanwhile).
	cfg.UnsafeNoFsync = true
	cleanup := func() error {
		runtime.KillAll(filepath.Join(dir, "pods"))
		restoreStderr()
		logFile.Close()
		if keep {
			fmt.Fprintf(c.Err, "kept the server's data in %s (its log: %s)\n", dir, logPath)
			return nil
		}
		return errors.Join(os.RemoveAll(dir), os.Remove(logPath))
	}
	// The server outlives ctx (an interrupt) until its Jobs are cleaned up:
	// ctx only bounds its start.
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		if ctx.Err() == nil {
			err = fmt.Errorf("start ephemeral server: %w", err)
		}
		return nil, nil, nil, errors.Join(err, cleanup())
	}
	stop := func() error {
		err := srv.Stop()
		return errors.Join(err, cleanup())
	}
	return srv.Admin, cfg.Clock, stop, nil
}

// stderrTo points file descriptor 2 at w, so that what libraries of the
// in-process server print there (the etcd client's zap logger) lands in its
// log, while c.Err keeps writing to the real standard error. The returned
// function undoes it.
func (c *CLI) stderrTo(w *os.File) (func(), error) {
	saved, err := unix.Dup(2)
	if err != nil {
		return nil, err
	}
	if err := unix.Dup2(int(w.Fd()), 2); err != nil {
		unix.Close(saved)
		return nil, err
	}
	prev := c.Err
	c.Err = os.NewFile(uintptr(saved), "stderr")
	return func() {
		_ = unix.Dup2(saved, 2)
		if f, ok := c.Err.(*os.File); ok {
			f.Close()
		}
		c.Err = prev
	}, nil
}

// quietKlog sends klog's output (the in-process server's and the client
// libraries' logs) to w instead of the terminal.
func quietKlog(w io.Writer) {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("alsologtostderr", "false")
	_ = fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(w)
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
