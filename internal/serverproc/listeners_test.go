package serverproc

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseHexAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"00000000:0050":                         "0.0.0.0:80",
		"00000000000000000000000001000000:0016": "[::1]:22",
	} {
		got, err := parseHexAddr(in)
		if err != nil || got != want {
			t.Errorf("parseHexAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := parseHexAddr("zz:1"); err == nil {
		t.Error("parseHexAddr accepted garbage")
	}
}

// TestListenersSeesThisProcess: the sockets this test listens on, named,
// abstract and TCP, are listed, and nothing it merely connected is.
func TestListenersSeesThisProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	named, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer named.Close()
	abstract, err := net.Listen("unix", "@batchd-listeners-test")
	if err != nil {
		t.Fatal(err)
	}
	defer abstract.Close()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	got, err := Listeners(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []Listener{{"unix", path}, {"unix", "@batchd-listeners-test"}, {"tcp", tcp.Addr().String()}} {
		if !slices.Contains(got, want) {
			t.Errorf("Listeners lacks %v: %v", want, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("Listeners = %v, want exactly the three listeners", got)
	}
	if !(Listener{"unix", "@x"}).Abstract() || !(Listener{"unix", ""}).Abstract() || (Listener{"unix", path}).Abstract() {
		t.Error("Abstract misclassifies")
	}
}

func TestPortOwnersFindsThisProcess(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pids, err := PortOwners(ln.Addr().(*net.TCPAddr).Port)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pids, []int{os.Getpid()}) {
		t.Errorf("PortOwners = %v, want [%d]", pids, os.Getpid())
	}
}

func TestErrorLines(t *testing.T) {
	log := "2026-11-30T06:41:46.600Z\twarn\tRunning http and grpc server on single port.\t{\"component\": \"etcd\"}\n" +
		"2026-11-30T06:41:46.678Z\terror\tfailed to update storage version\t{\"component\": \"etcd\"}\n" +
		"I1130 06:41:46.878605   22879 handler.go:309] Adding GroupVersion  v1 to ResourceManager\n" +
		"W1130 06:41:46.878605   22879 warnings.go:70] something\n" +
		"E1130 07:40:47.529305     948 secure_serving.go:245] Failed to shutdown server: context deadline exceeded\n" +
		"{\"level\":\"warn\",\"ts\":\"2026-11-30T08:13:14.169922Z\",\"logger\":\"etcd-client\",\"msg\":\"retrying\"}\n" +
		"{\"level\":\"error\",\"ts\":\"2026-11-30T08:13:14.169922Z\",\"logger\":\"etcd-client\",\"msg\":\"boom\"}\n" +
		"storage: not ready: data dir /d has 1.0 MiB free\n" +
		"Error: listen: listen tcp 127.0.0.1:6443: bind: address already in use\n" +
		"panic: runtime error\n"
	got := ErrorLines(log)
	want := []string{"failed to update storage version", "Failed to shutdown server", `"msg":"boom"`, "Error: listen", "panic: runtime error"}
	if len(got) != len(want) {
		t.Fatalf("ErrorLines = %q, want %d lines", got, len(want))
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("line %d = %q, want it to contain %q", i, got[i], w)
		}
	}
}
