package join

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// An agent verifies the CA against the token before it sends the secret,
// gets a client certificate of its node identity and a serving certificate
// for its address, both of the cluster's CA, for keys that stay with it;
// a restart reuses them without asking the server.
func TestNodeCredentials(t *testing.T) {
	s := &Server{}
	var asked atomic.Int32
	srv, ca := tlsServer(t, s)
	inner := srv.Config.Handler
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == NodePath {
			asked.Add(1)
		}
		inner.ServeHTTP(w, r)
	})
	tok, err := NewToken(ca)
	if err != nil {
		t.Fatal(err)
	}
	s.Token = tok
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "pki")
	hosts := []string{"127.0.0.2"}

	wrong := tok
	wrong.CAHash = strings.Repeat("0", 64)
	if _, err := EnsureNodeCredentials(ctx, dir, srv.URL, wrong, "a1", hosts); err != ErrCAMismatch {
		t.Fatalf("credentials with another CA's hash: %v, want ErrCAMismatch", err)
	}
	if asked.Load() != 0 {
		t.Fatal("the secret was sent to a server whose CA was not verified")
	}
	bad := tok
	bad.Secret = "guess"
	if _, err := EnsureNodeCredentials(ctx, dir, srv.URL, bad, "a1", hosts); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("credentials with a wrong secret: %v, want 401", err)
	}
	if _, err := EnsureNodeCredentials(ctx, dir, srv.URL, tok, "Not_A_Name", hosts); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("credentials for a bad node name: %v, want 400", err)
	}

	creds, err := EnsureNodeCredentials(ctx, dir, srv.URL, tok, "a1", hosts)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := parse(t, creds.ClientCert)
	if client.Subject.CommonName != "system:node:a1" || len(client.Subject.Organization) != 1 || client.Subject.Organization[0] != "system:nodes" {
		t.Fatalf("client certificate subject %v", client.Subject)
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("client certificate: %v", err)
	}
	serving := parse(t, creds.ServingCert)
	if _, err := serving.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.2"}); err != nil {
		t.Fatalf("serving certificate for 127.0.0.2: %v", err)
	}
	if err := serving.VerifyHostname("127.0.0.3"); err == nil {
		t.Fatal("serving certificate covers an address the agent did not ask for")
	}
	// The keys are the agent's own: the certificates certify them.
	for _, pair := range []string{"node-client", "node-serving"} {
		key, err := os.ReadFile(filepath.Join(dir, pair+".key"))
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(filepath.Join(dir, pair+".key")); fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s.key mode %v", pair, fi.Mode().Perm())
		}
		if !strings.Contains(string(key), "PRIVATE KEY") {
			t.Fatalf("%s.key holds no key", pair)
		}
	}
	if n := asked.Load(); n != 3 {
		t.Fatalf("%d node requests, want 3", n)
	}
	again, err := EnsureNodeCredentials(ctx, dir, srv.URL, tok, "a1", hosts)
	if err != nil {
		t.Fatal(err)
	}
	if asked.Load() != 3 || string(again.ClientCert) != string(creds.ClientCert) || string(again.ServingKey) != string(creds.ServingKey) {
		t.Fatal("a restart did not reuse the node's credentials")
	}
	// Another address: a new serving certificate.
	moved, err := EnsureNodeCredentials(ctx, dir, srv.URL, tok, "a1", []string{"127.0.0.3"})
	if err != nil {
		t.Fatal(err)
	}
	if err := parse(t, moved.ServingCert).VerifyHostname("127.0.0.3"); err != nil || asked.Load() != 4 {
		t.Fatalf("moved agent: %v after %d requests", err, asked.Load())
	}
}

func parse(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	if b == nil {
		t.Fatal("no PEM")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
