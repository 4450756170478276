package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// RunOptions configure the `batchd run` wall-time benchmark.
type RunOptions struct {
	Binary   string
	Out      io.Writer
	Runs     int
	Manifest string
}

// Run times `batchd run -f MANIFEST` from exec to exit, as a newcomer runs
// it: no KUBECONFIG and no server running, so each run starts (and removes)
// an ephemeral engine.
func Run(ctx context.Context, o RunOptions) error {
	tmp, err := begin(o.Out, "batchd-bench-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBECONFIG=") && !strings.HasPrefix(kv, "BATCHD_DATA_DIR=") {
			env = append(env, kv)
		}
	}
	env = append(env, "BATCHD_DATA_DIR="+filepath.Join(tmp, "no-server"))
	var walls []float64
	for i := 0; i < o.Runs; i++ {
		cmd := exec.CommandContext(ctx, o.Binary, "run", "-f", o.Manifest, "--logs=none")
		cmd.Env = env
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("batchd run -f %s: %v\n%s", o.Manifest, err, out)
		}
		walls = append(walls, time.Since(start).Seconds())
	}
	rowMedian(o.Out, fmt.Sprintf("`batchd run -f %s` wall time, ephemeral engine included (s)", o.Manifest), walls, "%.2f")
	return nil
}
