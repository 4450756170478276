package node

import (
	"errors"
	"testing"
)

func TestRedact(t *testing.T) {
	rs := []Redaction{{Value: "hunter2", Secret: "creds", Key: "pw"}, {Value: "hunter2-long", Secret: "creds", Key: "long"}, {Value: "ab", Secret: "s", Key: "k"}, {Value: ""}}
	for msg, want := range map[string]string{
		`exec: "hunter2": executable file not found in $PATH`: `exec: "<redacted: from secret creds key pw>": executable file not found in $PATH`,
		"unable to provision SubPath `x/hunter2-long/..`":     "unable to provision SubPath `x/<redacted: from secret creds key long>/..`",
		`exec: "ab": executable file not found in $PATH`:      `exec: "<redacted: from secret s key k>": executable file not found in $PATH`,
		"a tab and a cab": "a tab and a cab",
		"":                "",
	} {
		if got := Redact(msg, rs); got != want {
			t.Errorf("Redact(%q) = %q, want %q", msg, got, want)
		}
	}
	err := redactError(&ConfigError{Message: `couldn't use "hunter2"`}, rs)
	var cfg *ConfigError
	if !errors.As(err, &cfg) || cfg.Message != `couldn't use "<redacted: from secret creds key pw>"` {
		t.Errorf("redactError = %#v", err)
	}
}
