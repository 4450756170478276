package join

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/batchd/batchd/internal/pki"
)

func TestTokenRoundTrip(t *testing.T) {
	tok, err := NewToken([]byte("-----BEGIN CERTIFICATE-----\n...\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := tok.String()
	if !strings.HasPrefix(s, "K10") || !strings.Contains(s, "::server:") {
		t.Fatalf("token %q is not in k3s's form", s)
	}
	back, err := ParseToken(s + "\n")
	if err != nil || back != tok {
		t.Fatalf("ParseToken(%q) = %v, %v", s, back, err)
	}
	for _, bad := range []string{"", "secret", "K10abc::server:x", "K10" + strings.Repeat("a", 64) + "::server:", "K10" + strings.Repeat("a", 64) + ":node:x"} {
		if _, err := ParseToken(bad); err == nil {
			t.Errorf("ParseToken(%q) accepted", bad)
		}
	}
}

// tlsServer serves s over TLS with a serving certificate of a fresh CA.
func tlsServer(t *testing.T, s *Server) (*httptest.Server, []byte) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	b, err := pki.Ensure(pki.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(b.ServingCert, b.ServingKey)
	if err != nil {
		t.Fatal(err)
	}
	if s.Keys == nil {
		s.Keys = func() ([]byte, []byte, []byte, error) { return b.CACert, b.CAKey, b.ServiceAccountKey, nil }
	}
	srv := httptest.NewUnstartedServer(s)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, b.CACert
}

// The joiner checks the CA against the token before it sends the secret,
// and gets the cluster's keys and initial cluster with the right one.
func TestJoinVerifiesTheCAFirst(t *testing.T) {
	var joins atomic.Int32
	s := &Server{AddMember: func(ctx context.Context, name, peerURL string) (string, error) {
		joins.Add(1)
		return "a=https://127.0.0.1:2380," + name + "=" + peerURL, nil
	}}
	srv, ca := tlsServer(t, s)
	tok, err := NewToken(ca)
	if err != nil {
		t.Fatal(err)
	}
	s.Token = tok
	req := Request{Name: "b", PeerURL: "https://127.0.0.2:2380"}

	wrong := tok
	wrong.CAHash = strings.Repeat("0", 64)
	if _, err := Join(context.Background(), srv.URL, wrong, req); err != ErrCAMismatch {
		t.Fatalf("join with another CA's hash: %v, want ErrCAMismatch", err)
	}
	if joins.Load() != 0 {
		t.Fatal("the secret was sent to a server whose CA was not verified")
	}
	badSecret := tok
	badSecret.Secret = "guess"
	if _, err := Join(context.Background(), srv.URL, badSecret, req); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("join with a wrong secret: %v, want 401", err)
	}
	resp, err := Join(context.Background(), srv.URL, tok, req)
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.CACert) != string(ca) || len(resp.CAKey) == 0 || len(resp.ServiceAccount) == 0 {
		t.Fatal("join response lacks the cluster's keys")
	}
	if resp.InitialCluster != "a=https://127.0.0.1:2380,b=https://127.0.0.2:2380" || joins.Load() != 1 {
		t.Fatalf("initial cluster %q after %d member adds", resp.InitialCluster, joins.Load())
	}
	// Only POST joins.
	r, err := srv.Client().Get(srv.URL + JoinPath)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET join: %s", r.Status)
	}
}
