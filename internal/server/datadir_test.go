package server

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestIsDataDir(t *testing.T) {
	for _, c := range []struct {
		names []string
		want  bool
	}{
		{nil, true},
		{[]string{MarkerFile, "notes.txt"}, true},
		{[]string{"etcd", "kubeconfig"}, true}, // batchd before the marker
		{[]string{"pki"}, true},
		{[]string{"notes.txt"}, false},
		{[]string{".bashrc", "Documents"}, false},
		{[]string{"server.lock"}, false}, // a lock alone is nobody's data
		{[]string{"pods"}, true},         // a disk mounted for pods before the first start
		{[]string{"images", "pods"}, true},
		{[]string{"pods", "notes.txt"}, false},
	} {
		if got := isDataDir(c.names); got != c.want {
			t.Errorf("isDataDir(%q) = %v, want %v", c.names, got, c.want)
		}
	}
}

func TestCheckDataDir(t *testing.T) {
	base := t.TempDir()
	mk := func(name string, files ...string) string {
		d := filepath.Join(base, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(d, f), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	for _, ok := range []string{filepath.Join(base, "missing"), mk("empty"), mk("marked", MarkerFile, "x")} {
		if err := CheckDataDir(ok); err != nil {
			t.Errorf("CheckDataDir(%s): %v", ok, err)
		}
	}
	home := mk("home", "notes.txt")
	err := CheckDataDir(home)
	want := "data dir " + home + " is not empty and is not a batchd data dir (it has no batchd-data-dir file): batchd will not make it private and fill it; give --data-dir a new or empty directory"
	if err == nil || err.Error() != want {
		t.Errorf("CheckDataDir(home) = %v, want %q", err, want)
	}
	file := filepath.Join(mk("f", "file"), "file")
	if err := CheckDataDir(file); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("CheckDataDir(file) = %v", err)
	}
}

func TestLockDataDir(t *testing.T) {
	dir := t.TempDir()
	first, err := lockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var inUse *InUseError
	_, err = lockDataDir(dir)
	if !errors.As(err, &inUse) || inUse.Holder.PID != os.Getpid() || inUse.Holder.URL != "" {
		t.Fatalf("second lock while starting: %v", err)
	}
	if want := "(still starting)"; !strings.Contains(err.Error(), want) {
		t.Errorf("%q lacks %q", err, want)
	}
	if err := first.setURL("https://127.0.0.1:6443"); err != nil {
		t.Fatal(err)
	}
	_, err = lockDataDir(dir)
	want := "data dir " + dir + " is in use by the batchd server with pid " + itoa(os.Getpid()) + " serving https://127.0.0.1:6443: stop it first, or give this server another --data-dir"
	if err == nil || err.Error() != want {
		t.Errorf("second lock = %v, want %q", err, want)
	}
	if h, ok := LockHolder(dir); !ok || h.PID != os.Getpid() || h.URL != "https://127.0.0.1:6443" {
		t.Errorf("Running = %+v, %v while locked", h, ok)
	}
	first.release()
	if _, ok := LockHolder(dir); ok {
		t.Error("Running after release")
	}
	if _, ok := LockHolder(filepath.Join(dir, "missing")); ok {
		t.Error("Running in a missing dir")
	}
	again, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again.release()
}

func TestHolderRoundTrip(t *testing.T) {
	for _, h := range []Holder{{}, {PID: 7}, {PID: 7, URL: "https://[::1]:1"}} {
		if got := parseHolder(h.encode()); got != h {
			t.Errorf("parseHolder(encode(%+v)) = %+v", h, got)
		}
	}
	if got := parseHolder("garbage"); got != (Holder{}) {
		t.Errorf("parseHolder(garbage) = %+v", got)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
