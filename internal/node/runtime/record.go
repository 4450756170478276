package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The supervisor's file protocol: what it and the runtime write in a run's
// directory, and the one place that reads it back. The supervisor writes
// started and exit (supervise.c); the runtime writes the OCI files at the
// start and an exit record for a run whose supervisor was lost.
const (
	// fileStarted: pid, supervisor pid, start time, once the command ran.
	fileStarted = "started"
	// fileExit: exit code, signal, OOM, times, and a reason and message
	// for a run that did not end by its process exiting.
	fileExit = "exit"
	// fileImage: an OCI run's image name and ID, for its status.
	fileImage = "image"
	// fileOCIRuntime: the runc or crun an OCI run runs with, to delete its
	// container should the supervisor die.
	fileOCIRuntime = "oci-runtime"
	// fileOCIKind: which of runc and crun it is (OCIKind).
	fileOCIKind = "oci-kind"
	// fileContainerID: the OCI runtime's name for the run.
	fileContainerID = "container-id"
	// fileOCIRunning: the OCI runtime said once that the run's container
	// runs (exec need not ask it again).
	fileOCIRunning = "oci-running"
	// fileProcess: a host run's environment, working dir and user, which an
	// exec into it takes (an OCI run's are in its bundle's config.json).
	fileProcess = "process.json"
)

// startedRecord is the supervisor's record of a command that was executed.
type startedRecord struct {
	Pid, Supervisor int
	Started         time.Time
}

func readStarted(dir string) (startedRecord, error) {
	kv, err := readKV(filepath.Join(dir, fileStarted))
	if err != nil {
		return startedRecord{}, err
	}
	var rec startedRecord
	rec.Pid, _ = strconv.Atoi(kv["pid"])
	rec.Supervisor, _ = strconv.Atoi(kv["supervisor"])
	rec.Started = parseTime(kv["started"])
	return rec, nil
}

// exitRecord is how a run ended.
type exitRecord struct {
	Code, Signal      int
	OOM               bool
	Started, Finished time.Time
	Reason            Reason
	Message           string
}

// format is the record as the supervisor writes it.
func (e exitRecord) format() []byte {
	oom := 0
	if e.OOM {
		oom = 1
	}
	s := fmt.Sprintf("code=%d\nsignal=%d\noom=%d\nstarted=%s\nfinished=%s\n", e.Code, e.Signal, oom,
		e.Started.UTC().Format(time.RFC3339Nano), e.Finished.UTC().Format(time.RFC3339Nano))
	if e.Reason != "" {
		s += fmt.Sprintf("reason=%s\nmessage=%s\n", e.Reason, strings.NewReplacer("\n", " ", "\r", " ").Replace(e.Message))
	}
	return []byte(s)
}

// parseExit reads an exit record: code, started and finished must be
// there and well-formed; signal and oom, when there, too.
func parseExit(kv map[string]string) (exitRecord, bool) {
	var out exitRecord
	code, err := strconv.Atoi(kv["code"])
	if err != nil || code < 0 || code > 255 {
		return exitRecord{}, false
	}
	out.Code = code
	var oom int
	for key, dst := range map[string]*int{"signal": &out.Signal, "oom": &oom} {
		if v, ok := kv[key]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return exitRecord{}, false
			}
			*dst = n
		}
	}
	out.OOM = oom > 0 && out.Code == 137
	var err1, err2 error
	out.Started, err1 = time.Parse(time.RFC3339Nano, kv["started"])
	out.Finished, err2 = time.Parse(time.RFC3339Nano, kv["finished"])
	if err1 != nil || err2 != nil {
		return exitRecord{}, false
	}
	out.Reason, out.Message = Reason(kv["reason"]), kv["message"]
	return out, true
}

// readExit fills run from the run's exit record, if there is one. A record
// that is there but not whole (empty, cut short or garbage: a full disk
// makes such) is an unknown outcome, never a success.
func readExit(dir string, run *Run) bool {
	exit, err := readKV(filepath.Join(dir, fileExit))
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	run.Running = false
	rec, ok := parseExit(exit)
	if err != nil || !ok {
		run.ExitCode, run.Signal, run.OOMKilled = 137, 0, false
		run.Reason = ReasonUnknown
		run.Message = "The container's exit record could not be read: its outcome is unknown"
		if fi, err := os.Stat(filepath.Join(dir, fileExit)); err == nil {
			run.FinishedAt = fi.ModTime()
			if run.StartedAt.IsZero() {
				run.StartedAt = run.FinishedAt
			}
		}
		return true
	}
	run.ExitCode, run.Signal, run.OOMKilled = rec.Code, rec.Signal, rec.OOM
	run.StartedAt, run.FinishedAt = rec.Started, rec.Finished
	run.Reason, run.Message = rec.Reason, rec.Message
	return true
}

// lostRecord is the exit record of a run whose supervisor is gone without
// writing one.
func lostRecord(run Run) exitRecord {
	return exitRecord{Code: run.ExitCode, Started: run.StartedAt, Finished: run.FinishedAt, Reason: run.Reason, Message: run.Message}
}

// markLost reports run, which has neither an exit record nor a supervisor,
// as ContainerStatusUnknown with exit code 137, timed by its directory.
func markLost(dir string, run *Run) {
	run.Running = false
	run.Reason = ReasonUnknown
	run.Message = "The container could not be located when the pod was terminated"
	run.ExitCode = 137
	if fi, err := os.Stat(dir); err == nil {
		run.FinishedAt = fi.ModTime()
		if run.StartedAt.IsZero() {
			run.StartedAt = run.FinishedAt
		}
	}
}

func readKV(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	kv := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), "=")
		if ok {
			kv[k] = v
		}
	}
	return kv, s.Err()
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// writeRecord replaces dir/name with data once data is on disk, so that
// the record is whole or absent.
func writeRecord(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, "."+name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// containerID is the OCI container of the run in dir: as recorded at its
// start; runs started before the name was recorded had the older form.
func containerID(dir string, id ID) string {
	if b, err := os.ReadFile(filepath.Join(dir, fileContainerID)); err == nil && len(b) > 0 {
		return string(b)
	}
	return fmt.Sprintf("batchd-%s-%s-%d", id.Pod, strings.TrimPrefix(id.Container, "."), id.Attempt)
}
