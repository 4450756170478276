package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
)

// TableOptions configure the regression table: the figures of issue 21's
// table in one run, beside a stored baseline.
type TableOptions struct {
	Binary string
	Out    io.Writer
	Runs   int
	// Baseline is a file of an earlier table (or any bench output) to
	// compare with; "" prints the figures only.
	Baseline string
	// Save writes this run's figures to a file, to be the next baseline.
	Save string
}

// Table measures, in one run: start-up, idle and loaded memory, single-
// writer Job creates, `kubectl get jobs` over 10,000 Jobs (bench api); the
// wall time of `batchd run -f examples/hello-job.yaml` (bench run); the
// 10,000-completion Indexed Job (bench jobs); CronJob skew with 1,000
// CronJobs (bench cronjobs); and the binary's size. With a baseline it then
// flags each figure whose runs all lie beyond the baseline's (Compare), and
// fails if one got worse.
func Table(ctx context.Context, o TableOptions) error {
	var base []Figure
	if o.Baseline != "" {
		// Read first: a wrong path fails before half an hour of measuring.
		f, err := os.Open(o.Baseline)
		if err != nil {
			return fmt.Errorf("read the baseline: %w", err)
		}
		base, err = ParseTable(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("read the baseline %s: %w", o.Baseline, err)
		}
	}
	var figures bytes.Buffer
	out := io.MultiWriter(o.Out, &figures)
	steps := []func() error{
		func() error {
			return API(ctx, APIOptions{Binary: o.Binary, Out: out, Runs: o.Runs, Creates: 2000, Writers: []int{1}, Stored: 10000})
		},
		func() error {
			return Run(ctx, RunOptions{Binary: o.Binary, Out: out, Runs: o.Runs, Manifest: "examples/hello-job.yaml"})
		},
		func() error {
			return Jobs(ctx, JobsOptions{Binary: o.Binary, Out: out, Runs: o.Runs, Completions: 10000, Parallelism: 100, FakeKubelets: 16})
		},
		func() error {
			return CronJobs(ctx, CronJobsOptions{Binary: o.Binary, Out: out, Runs: o.Runs, Sizes: []int{1000}})
		},
		func() error {
			st, err := os.Stat(o.Binary)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "| figure | median | runs |\n|---|---|---|\n")
			row(out, "binary size (MB)", float64(st.Size())/1e6, "%.1f", 1)
			return nil
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	if o.Save != "" {
		if err := os.WriteFile(o.Save, figures.Bytes(), 0o644); err != nil {
			return fmt.Errorf("save the figures: %w", err)
		}
	}
	if o.Baseline == "" {
		return nil
	}
	now, err := ParseTable(&figures)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "\nBeside the baseline %s:\n\n", o.Baseline)
	if worse := WriteComparison(o.Out, Compare(base, now)); worse > 0 {
		return fmt.Errorf("%d figure(s) worse than the baseline %s beyond both runs' spread", worse, o.Baseline)
	}
	return nil
}
