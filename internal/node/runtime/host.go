package runtime

import (
	"encoding/json"
	"fmt"
	"os"
)

// hostArgs are the supervisor options of a host run: the command runs on
// this machine, in private mount and UTS namespaces holding its volumes, its
// hostname and a private /tmp, with the data dir masked, as its user and in
// its cgroup.
func (r *Local) hostArgs(spec Spec, args *supervisorArgs) error {
	args.Env = spec.Env
	args.Hostname, args.WorkDir, args.Argv0Name = spec.Hostname, spec.WorkDir, spec.Argv0Name
	args.Masks = r.cfg.Masked
	args.User = spec.User
	args.Mounts = spec.Mounts
	if spec.Join != nil {
		// A copy of the other run's namespaces: its hostname and /tmp
		// are there already; the masks are made again over the mounts.
		started, err := readStarted(r.runDir(spec.Join.ID))
		if err != nil || started.Pid <= 0 {
			return fmt.Errorf("join container %q: it is not running", spec.Join.ID.Container)
		}
		args.Join, args.Hostname = started.Pid, ""
	} else if spec.PrivateTmp {
		tmp := r.TmpDir(spec.ID)
		if err := os.MkdirAll(tmp, 0o777); err != nil {
			return fmt.Errorf("create private /tmp: %w", err)
		}
		if err := os.Chmod(tmp, os.ModePerm|os.ModeSticky); err != nil {
			return fmt.Errorf("create private /tmp: %w", err)
		}
		args.Mounts = append(append([]Mount{}, spec.Mounts...), Mount{Source: tmp, Target: "/tmp"})
	}
	if err := r.cgroupArgs(spec, args); err != nil {
		return err
	}
	args.Argv = spec.Argv
	// What an exec into the container takes of it.
	proc, err := json.Marshal(processRecord{Env: spec.Env, WorkDir: spec.WorkDir, User: spec.User})
	if err != nil {
		return err
	}
	return writeRecord(r.runDir(spec.ID), fileProcess, proc)
}

// processRecord is a host run's process as an exec into it takes it.
type processRecord struct {
	Env     []string `json:"env,omitempty"`
	WorkDir string   `json:"workDir,omitempty"`
	User    *User    `json:"user,omitempty"`
}
