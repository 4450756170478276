// Package e2e builds the batchd binary once, starts `batchd server` as a real
// process on a free port with a temporary data dir, and drives it with
// `batchd kubectl` — and with a stock kubectl when one is on PATH — as a user
// would.
package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/batchd/batchd/internal/node/runtime"
	"github.com/batchd/batchd/internal/serverproc"
)

var (
	batchd     string // path of the built binary
	kubeconfig string
	serverLog  string
	dataDir    string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	// The tests wait on the server, on pods and on minute slots far more
	// than they compute: six parallel tests at a time rather than
	// GOMAXPROCS (two here), unless -parallel says otherwise. (Alone on
	// this 2-core machine kind the package took 302 s at 4 and 207 s at 8,
	// every test passing; 6 leaves room for the packages running beside it.)
	flag.Parse()
	parallel := false
	flag.Visit(func(f *flag.Flag) { parallel = parallel || f.Name == "test.parallel" })
	if !parallel {
		_ = flag.Set("test.parallel", "6")
	}
	tmp, err := os.MkdirTemp("", "batchd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if batchd, err = serverproc.TestBinary(tmp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	serverLog = filepath.Join(tmp, "server.log")
	logFile, err := os.Create(serverLog)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer logFile.Close()
	dataDir = filepath.Join(tmp, "data")
	// Containers outlive the server by design: kill what the tests left running.
	defer runtime.KillAll(filepath.Join(dataDir, "pods"))
	srv, err := serverproc.Start(batchd, dataDir, logFile, 2*time.Minute)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		dumpLog()
		return 1
	}
	kubeconfig = srv.Kubeconfig
	code := m.Run()
	// SIGTERM must stop the server cleanly.
	if err := srv.Stop(30 * time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "stop server:", err)
		code = 1
	}
	if code != 0 {
		dumpLog()
	}
	return code
}

func dumpLog() {
	if data, err := os.ReadFile(serverLog); err == nil {
		fmt.Fprintf(os.Stderr, "--- batchd server log ---\n%s\n", data)
	}
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// kubectl runs the embedded kubectl against the test server.
func kubectl(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runKubectl(t, batchd, append([]string{"kubectl"}, args...), stdin)
}

// stockKubectl runs a system kubectl, if one is installed.
func stockKubectl(t *testing.T, args ...string) (result, bool) {
	t.Helper()
	path, err := exec.LookPath("kubectl")
	if err != nil {
		return result{}, false
	}
	return runKubectl(t, path, args, ""), true
}

func runKubectl(t *testing.T, bin string, args []string, stdin string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s %v: %v", bin, args, err)
	}
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// must fails the test unless r succeeded and its stdout contains every want.
func must(t *testing.T, r result, wants ...string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("command failed:\n%s", r)
	}
	for _, w := range wants {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, r)
		}
	}
}

// mustSoon is must of a command run until it passes, for up to 30 s: what
// the node agent and the controllers record as events is written after the
// status it explains, so a test that saw the status may ask for the event
// before it is stored (a user running kubectl a moment later sees it).
func mustSoon(t *testing.T, run func() result, wants ...string) {
	t.Helper()
	var last result
	_ = poll(func() bool { last = run(); return passes(last, wants) })
	must(t, last, wants...)
}

// passes tells whether must would pass r.
func passes(r result, wants []string) bool {
	if r.code != 0 {
		return false
	}
	for _, w := range wants {
		if !strings.Contains(r.stdout, w) {
			return false
		}
	}
	return true
}

// fails expects a failure whose stderr contains every want.
func fails(t *testing.T, r result, wants ...string) {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("command succeeded, want failure:\n%s", r)
	}
	for _, w := range wants {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r)
		}
	}
}

func testdata(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ns(t *testing.T) string {
	t.Helper()
	name := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	name = strings.NewReplacer("_", "-").Replace(name)
	if len(name) > 50 {
		// Long test names share their first 50 characters (…AreLocallyRestarted /
		// …AreNotLocallyRestarted): keep them apart with a hash of the whole name.
		name = fmt.Sprintf("%s-%08x", strings.Trim(name[:40], "-"), crc32.ChecksumIEEE([]byte(name)))
	}
	name = strings.Trim(name, "-")
	// Made and removed through the API: two kubectl processes per test
	// that only set the stage.
	c := clientOf(t, kubeconfig).Resource(namespaces)
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}}
	if _, err := c.Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return name
}

// eventually polls cond every 100ms for up to 30s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if err := poll(cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// poll calls cond every 100 ms until it holds, for up to 30 s.
func poll(cond func() bool) error {
	return wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
}
