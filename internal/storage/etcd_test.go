package storage

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/batchd/batchd/internal/serverproc"
)

// worldReadableDir is a fresh directory every user may enter, so that in
// the tests below only the etcd directory's own mode protects it.
func worldReadableDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "batchd-storage-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func startEtcd(t *testing.T, dir string) *Etcd {
	t.Helper()
	e, err := Start(context.Background(), Options{Dir: dir, UnsafeNoFsync: true, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	return e
}

// TestEtcdListensOnlyInsideItsDirectory: a single member has no peer
// listener at all, and its one client listener is a socket file inside the
// 0700 etcd directory: no abstract unix socket (which anyone on the machine
// may connect to) and no TCP port.
func TestEtcdListensOnlyInsideItsDirectory(t *testing.T) {
	dir := filepath.Join(worldReadableDir(t), "etcd")
	e := startEtcd(t, dir)
	got, err := serverproc.Listeners(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	want := serverproc.Listener{Network: "unix", Address: filepath.Join(dir, "client.sock")}
	if len(got) != 1 || got[0] != want {
		t.Errorf("etcd listens on %v, want only %v", got, want)
	}
	if e.Endpoint() != "unix://"+want.Address {
		t.Errorf("Endpoint = %q, want unix://%s", e.Endpoint(), want.Address)
	}
	for _, p := range []string{dir, want.Address} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v: others may use it", p, fi.Mode().Perm())
		}
	}
}

// TestUnprivilegedUserCannotReachEtcd performs the attack of issue 25: user
// nobody tries every socket the process with etcd listens on and asks each
// for etcd's member list (the peer API, whose forged raft messages panic the
// server). A socket of the test's own that everyone may use shows that the
// attacker process does reach what is reachable.
func TestUnprivilegedUserCannotReachEtcd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("switching to user nobody needs root (CI runs as root)")
	}
	base := worldReadableDir(t)
	startEtcd(t, filepath.Join(base, "etcd"))
	targets, err := serverproc.Listeners(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(base, "open.sock")
	control, err := net.Listen("unix", open)
	if err != nil {
		t.Fatal(err)
	}
	defer control.Close()
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := control.Accept()
			if err != nil {
				return
			}
			fmt.Fprint(c, "HTTP/1.0 200 OK\r\n\r\n")
			c.Close()
		}
	}()
	targets = append(targets, serverproc.Listener{Network: "unix", Address: open})

	// The attacker is this test binary, copied where nobody may run it.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "attacker")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, l := range targets {
		addrs = append(addrs, l.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{"BATCHD_ATTACK=" + strings.Join(addrs, ",")}
	cmd.Dir = base
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("attacker: %v\n%s", err, out)
	}
	report := string(out)
	if !strings.Contains(report, "reached "+open) {
		t.Fatalf("the attacker did not reach the open control socket, so the test proves nothing:\n%s", report)
	}
	for _, line := range strings.Split(report, "\n") {
		if strings.HasPrefix(line, "reached ") && !strings.HasPrefix(line, "reached "+open) {
			t.Errorf("user nobody %s", line)
		}
	}
}

// TestMain runs the attacker of TestUnprivilegedUserCannotReachEtcd when
// this binary is started as one.
func TestMain(m *testing.M) {
	if targets := os.Getenv("BATCHD_ATTACK"); targets != "" {
		attack(strings.Split(targets, ","))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// attack connects to each "network:address", asks for etcd's /members and
// reports the answer.
func attack(targets []string) {
	for _, target := range targets {
		network, addr, _ := strings.Cut(target, ":")
		c, err := net.DialTimeout(network, addr, 2*time.Second)
		if err != nil {
			fmt.Printf("refused %s: %v\n", addr, err)
			continue
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		fmt.Fprint(c, "GET /members HTTP/1.0\r\n\r\n")
		status, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		fmt.Printf("reached %s: %s\n", addr, strings.TrimSpace(status))
	}
}

// TestInterruptedStartNeitherHangsNorBreaksTheMember: a start cancelled at
// any moment returns promptly (closing an etcd that is not ready yet used to
// wait for ever), and the next start serves: a new member stopped before its
// first raft entries were written never elected itself again.
func TestInterruptedStartNeitherHangsNorBreaksTheMember(t *testing.T) {
	for _, delay := range []time.Duration{0, time.Millisecond, 3 * time.Millisecond, 10 * time.Millisecond, 30 * time.Millisecond, 100 * time.Millisecond} {
		dir := filepath.Join(t.TempDir(), "etcd")
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(delay, cancel)
		began := time.Now()
		e, err := Start(ctx, Options{Dir: dir, UnsafeNoFsync: true, Log: io.Discard, ReadyTimeout: 10 * time.Second})
		if took := time.Since(began); took > delay+5*time.Second {
			t.Errorf("cancelled after %s: Start returned after %s", delay, took)
		}
		if err == nil {
			e.Stop() // it was ready before the cancel
		}
		cancel()
		e, err = Start(context.Background(), Options{Dir: dir, UnsafeNoFsync: true, Log: io.Discard, ReadyTimeout: 10 * time.Second})
		if err != nil {
			t.Fatalf("start after a start cancelled after %s: %v", delay, err)
		}
		e.Stop()
	}
}

// A data dir too long for etcd's unix socket is refused with words that say
// so (the bind failed with "invalid argument").
func TestDataDirTooLongForTheSocket(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 110))
	_, err := Start(context.Background(), Options{Dir: dir, UnsafeNoFsync: true})
	if err == nil || !strings.Contains(err.Error(), "data dir too long: etcd's socket") || !strings.Contains(err.Error(), "choose a shorter --data-dir") {
		t.Fatalf("Start: %v", err)
	}
}
