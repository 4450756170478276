package integration

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/join"
	"github.com/batchd/batchd/internal/leader"
	"github.com/batchd/batchd/internal/server"
	"github.com/batchd/batchd/internal/serverproc"
	"github.com/batchd/batchd/internal/testenv"
)

// freePortOn is a TCP port on ip that nothing listens on now, for a server
// that binds it later (serverproc.FreePort: outside the ephemeral range).
func freePortOn(t *testing.T, ip string) int {
	t.Helper()
	p, err := serverproc.FreePort(ip)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// clusterServer starts (or restarts) a server of a cluster on ip, with its
// data dir dir: the first with --cluster-init, the others joining url.
func clusterServer(t *testing.T, dir, ip string, peerPort int, url string, token join.Token) *testenv.Env {
	t.Helper()
	e, err := testenv.StartWith(dir, func(c *server.Config) {
		c.BindAddress = net.ParseIP(ip)
		c.LeaderElection = shortLeases
		c.Cluster = &server.Cluster{Init: url == "", Server: url, Token: token, Advertise: net.ParseIP(ip), PeerPort: peerPort}
	})
	if err != nil {
		t.Fatalf("server on %s: %v", ip, err)
	}
	return e
}

func readToken(t *testing.T, dataDir string) join.Token {
	t.Helper()
	data, err := os.ReadFile(server.TokenPath(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := join.ParseToken(string(data))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Three servers on 127.0.0.1-3 form one cluster: the first with
// --cluster-init, the second joining the first, the third joining the
// second (any server takes joins). A Job created through one is read
// through another and run by the leading server's controllers; with one
// server stopped the other two still write and elect; restarted, it catches
// up with what was written meanwhile.
func TestThreeServersFormACluster(t *testing.T) {
	ctx := context.Background()
	root, err := os.MkdirTemp("", "ha-cl-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	ips := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}
	dirs := make([]string, 3)
	ports := make([]int, 3)
	servers := make([]*testenv.Env, 3)
	for i, ip := range ips {
		dirs[i] = filepath.Join(root, string(rune('a'+i)))
		if err := os.Mkdir(dirs[i], 0o700); err != nil {
			t.Fatal(err)
		}
		ports[i] = freePortOn(t, ip)
	}
	stop := func(i int) {
		if servers[i] != nil {
			if err := servers[i].Stop(); err != nil {
				t.Errorf("stop server %d: %v", i, err)
			}
			servers[i] = nil
		}
	}
	t.Cleanup(func() {
		for i := range servers {
			stop(i)
		}
	})

	servers[0] = clusterServer(t, dirs[0], ips[0], ports[0], "", join.Token{})
	tok := readToken(t, dirs[0])
	if !strings.HasPrefix(tok.String(), "K10") {
		t.Fatalf("token %q", tok)
	}
	servers[1] = clusterServer(t, dirs[1], ips[1], ports[1], servers[0].Config.Host, tok)
	servers[2] = clusterServer(t, dirs[2], ips[2], ports[2], servers[1].Config.Host, tok)
	for i, s := range servers {
		if !strings.Contains(s.Config.Host, ips[i]) {
			t.Fatalf("server %d serves %s, want %s", i, s.Config.Host, ips[i])
		}
	}

	ns := "cluster"
	if _, err := servers[0].Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	job := testenv.Job("through-a")
	job.Spec.Parallelism, job.Spec.Completions = ptr.To[int32](2), ptr.To[int32](2)
	if _, err := servers[0].Client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	exists := func(c kubernetes.Interface, name string) func(context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			_, err := c.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return err == nil, err
		}
	}
	poll(t, "the Job through the third server", exists(servers[2].Client, "through-a"))
	podsOf := func(c kubernetes.Interface, job string, n int) func(context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			pods, err := jobPods(ctx, c, ns, job)
			return len(pods) == n, err
		}
	}
	poll(t, "the Job's pods through the second server", podsOf(servers[1].Client, "through-a", 2))

	// One of three stopped: writes go on, another server leads.
	holder0, _ := holder(ctx, servers[1].Client, leader.ControllerManager)
	stop(0)
	job = testenv.Job("while-a-is-down")
	if _, err := servers[1].Client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatalf("write with one server of three down: %v", err)
	}
	poll(t, "the new Job's pod, by a leader that runs", podsOf(servers[2].Client, "while-a-is-down", 1))
	if h, _ := holder(ctx, servers[2].Client, leader.ControllerManager); h == identityOf(t, &testenv.Env{DataDir: dirs[0]}) {
		t.Fatalf("the stopped server %s still holds the lease (was %s)", h, holder0)
	}

	// Restarted (its etcd member exists: no join), it catches up.
	servers[0] = clusterServer(t, dirs[0], ips[0], ports[0], "", join.Token{})
	poll(t, "the Job written while it was down, through the restarted server", exists(servers[0].Client, "while-a-is-down"))
}
