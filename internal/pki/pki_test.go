package pki

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestEnsureCreatesThenReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	first, err := Ensure(Options{Dir: dir, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ca.key", "serving.key", "admin.key", "admin.token", "sa.key", "sa.pub"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %o, want 600", name, fi.Mode().Perm())
		}
	}
	second, err := Ensure(Options{Dir: dir, Now: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.CACert, second.CACert) || !bytes.Equal(first.ServingCert, second.ServingCert) ||
		!bytes.Equal(first.AdminCert, second.AdminCert) || first.AdminToken != second.AdminToken ||
		!bytes.Equal(first.KubeletClientCert, second.KubeletClientCert) ||
		len(first.ServiceAccountKey) == 0 || !bytes.Equal(first.ServiceAccountKey, second.ServiceAccountKey) {
		t.Error("second start did not reuse the credentials")
	}
	if len(first.AdminToken) != 64 {
		t.Errorf("token length %d", len(first.AdminToken))
	}
}

func TestServingCertificateCoversHostsAndChains(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	b, err := Ensure(Options{Dir: dir, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(b.CACert)
	serving, _ := parseCert(b.ServingCert)
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := serving.Verify(x509.VerifyOptions{DNSName: h, Roots: pool, CurrentTime: now}); err != nil {
			t.Errorf("serving cert for %s: %v", h, err)
		}
	}
	admin, _ := parseCert(b.AdminCert)
	if _, err := admin.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: now}); err != nil {
		t.Errorf("admin cert: %v", err)
	}
	if admin.Subject.CommonName != AdminUser || admin.Subject.Organization[0] != AdminGroup {
		t.Errorf("admin subject %v", admin.Subject)
	}
	kc, _ := parseCert(b.KubeletClientCert)
	if _, err := kc.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: now}); err != nil {
		t.Errorf("kubelet client cert: %v", err)
	}
	if kc.Subject.CommonName != KubeletClientUser || len(kc.Subject.Organization) != 0 {
		t.Errorf("kubelet client subject %v: no groups, so that it grants nothing against the API", kc.Subject)
	}

	// A new bind address renews the serving certificate, keeping the CA.
	again, err := Ensure(Options{Dir: dir, Now: now, Hosts: []string{"10.1.2.3"}})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(again.ServingCert, b.ServingCert) || !bytes.Equal(again.CACert, b.CACert) {
		t.Error("serving cert not renewed for a new host, or CA changed")
	}
	renewed, _ := parseCert(again.ServingCert)
	if err := renewed.VerifyHostname("10.1.2.3"); err != nil {
		t.Error(err)
	}
}

func TestExpiringCertificatesAreRenewed(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	b, err := Ensure(Options{Dir: dir, Now: start})
	if err != nil {
		t.Fatal(err)
	}
	later, err := Ensure(Options{Dir: dir, Now: start.Add(leafValidity - renewBefore/2)})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(b.ServingCert, later.ServingCert) || bytes.Equal(b.AdminCert, later.AdminCert) {
		t.Error("certificates close to expiry were not renewed")
	}
}
