package server

import (
	"path/filepath"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/batchd/batchd/internal/history"
	"github.com/batchd/batchd/internal/node/runtime"
)

// runLogsDir is where the run history keeps logs: beside the pods' directories.
func runLogsDir(dataDir string) string { return filepath.Join(dataDir, "runs") }

// openRunLogs opens the kept-log store, or nil with the history off.
func openRunLogs(cfg Config) (*history.Store, error) {
	if !cfg.RunHistory.Enabled {
		return nil, nil
	}
	limit := cfg.RunHistory.LogLimit
	if limit == 0 {
		limit = -1 // --run-log-limit 0: keep no logs
	}
	return history.Open(runLogsDir(cfg.DataDir), limit)
}

// keepLogs is the node's hand-off: a pod's container runs' logs go to the
// store before the runtime removes the pod's state.
func keepLogs(store *history.Store) func(string, map[string][]runtime.Run) {
	if store == nil {
		return nil
	}
	return func(pod string, runs map[string][]runtime.Run) {
		var logs []history.Log
		for container, rs := range runs {
			for _, r := range rs {
				logs = append(logs, history.Log{Container: container, Attempt: r.ID.Attempt, Path: r.LogPath})
			}
		}
		if err := store.Keep(pod, logs); err != nil {
			klog.Background().Error(err, "keep logs of pod", "pod", pod)
		}
	}
}

// runLogSource finds a run's log: kept, else still the node's.
type runLogSource struct {
	store *history.Store
	node  *nodeRuntime
}

func (s runLogSource) LogPath(pod types.UID, container string, attempt int) (string, bool) {
	if p, ok := s.store.Path(string(pod), container, attempt); ok {
		return p, true
	}
	if s.node == nil || s.node.runtime == nil {
		return "", false
	}
	runs, err := s.node.runtime.Runs(string(pod))
	if err != nil {
		return "", false
	}
	for _, r := range runs[container] {
		if r.ID.Attempt == attempt {
			return r.LogPath, true
		}
	}
	return "", false
}
