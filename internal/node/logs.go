package node

import (
	"context"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/clock"

	"github.com/batchd/batchd/internal/node/runtime"
)

// Logs serves pods/log from the runtime's CRI log files.
type Logs struct {
	Runtime runtime.Runtime
	// Clock dates sinceSeconds (default: the real one).
	Clock clock.PassiveClock
}

// Logs streams the log of the container's current run, or of the previous
// one with opts.Previous.
func (l Logs) Logs(ctx context.Context, pod *corev1.Pod, container string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	all, err := l.Runtime.Runs(string(pod.UID))
	if err != nil {
		return nil, err
	}
	runs := all[container]
	var run runtime.Run
	switch {
	case opts.Previous && len(runs) >= 2:
		run = runs[len(runs)-2]
	case opts.Previous:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("previous terminated container %q in pod %q not found", container, pod.Name))
	case len(runs) == 0:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: ContainerCreating", container, pod.Name))
	default:
		run = runs[len(runs)-1]
	}
	ro := runtime.LogOptions{Follow: opts.Follow, Tail: -1, Timestamps: opts.Timestamps}
	if opts.TailLines != nil {
		ro.Tail = *opts.TailLines
	}
	if opts.LimitBytes != nil {
		ro.LimitBytes = *opts.LimitBytes
	}
	switch {
	case opts.SinceTime != nil:
		ro.Since = opts.SinceTime.Time
	case opts.SinceSeconds != nil:
		var clk clock.PassiveClock = clock.RealClock{}
		if l.Clock != nil {
			clk = l.Clock
		}
		ro.Since = clk.Now().Add(-time.Duration(*opts.SinceSeconds) * time.Second)
	}
	id := run.ID
	running := func() bool {
		rs, err := l.Runtime.Runs(id.Pod)
		if err != nil {
			return false
		}
		for _, r := range rs[id.Container] {
			if r.ID == id {
				return r.Running
			}
		}
		return false
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(runtime.ReadLog(ctx, run.LogPath, ro, pw, running))
	}()
	return pr, nil
}
