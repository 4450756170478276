package serverproc

import (
	"net"
	"os"
	"path/filepath"
	"slices"
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
