package runtime

import (
	"errors"
	"os/exec"
	"testing"
)

// An exec's answer: the command's exit code, 128+n for a signal n, or an
// error for a command that did not run (what the nsenter helper said).
func TestExitStatus(t *testing.T) {
	waitOf := func(script string) error { return exec.Command("/bin/sh", "-c", script).Run() }
	for _, c := range []struct {
		name    string
		werr    error
		why     string
		code    int
		wantErr string
	}{
		{name: "success", werr: nil, code: 0},
		{name: "exit code", werr: waitOf("exit 3"), code: 3},
		{name: "signal", werr: waitOf("kill -TERM $$"), code: 128 + 15},
		{name: "helper could not execute", werr: waitOf("exit 1"), why: "exec: \"nosuch\": executable file not found in $PATH\n",
			wantErr: "exec: \"nosuch\": executable file not found in $PATH"},
		{name: "wait failed", werr: errors.New("Wait was already called"), wantErr: "exec: Wait was already called"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, err := exitStatus(c.werr, []byte(c.why))
			if c.wantErr != "" {
				if err == nil || err.Error() != c.wantErr || code != 0 {
					t.Fatalf("exitStatus = %d, %v; want 0, %q", code, err, c.wantErr)
				}
				return
			}
			if err != nil || code != c.code {
				t.Fatalf("exitStatus = %d, %v; want %d", code, err, c.code)
			}
		})
	}
}
