// Package pki creates and loads the credentials a batchd server owns: a CA, a
// serving certificate signed by it, and the admin's client certificate and
// bearer token. They live in <data-dir>/pki with keys readable by the owner only,
// are made on the first start and reused on later ones.
package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// AdminUser and AdminGroup are the identity the admin credentials carry.
const (
	AdminUser  = "batchd-admin"
	AdminGroup = "system:masters"
)

// KubeletClientUser is the API server's identity towards node agents, whose
// streaming endpoints (exec, attach, port-forward) accept no other: the
// name of kube-apiserver's --kubelet-client-certificate in kubeadm clusters.
const KubeletClientUser = "kube-apiserver-kubelet-client"

// Bundle holds the PEM material of one server.
type Bundle struct {
	CACert, CAKey           []byte
	ServingCert, ServingKey []byte
	AdminCert, AdminKey     []byte
	AdminToken              string
	// KubeletClientCert and KubeletClientKey authenticate the API server
	// to node agents (KubeletClientUser).
	KubeletClientCert, KubeletClientKey []byte
	// ServiceAccountKey (PEM, EC P-256) signs service-account tokens; it is
	// kept as sa.key (0600) beside its public half sa.pub (0600).
	ServiceAccountKey []byte
}

// Options say which names the serving certificate must cover.
type Options struct {
	Dir   string   // <data-dir>/pki
	Hosts []string // DNS names and IPs beyond the defaults
	Now   time.Time
}

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 2 * 365 * 24 * time.Hour
	renewBefore  = 30 * 24 * time.Hour
)

// DefaultHosts are always in the serving certificate.
func DefaultHosts() []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	return hosts
}

// Ensure loads the bundle from o.Dir, creating whatever is missing, and renews
// the serving certificate when it expires soon or does not cover o.Hosts.
func Ensure(o Options) (*Bundle, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create pki directory: %w", err)
	}
	hosts := uniq(append(DefaultHosts(), o.Hosts...))

	caCert, caKey, err := loadPair(o.Dir, "ca")
	if err != nil {
		if caCert, caKey, err = newCA(o.Now); err != nil {
			return nil, err
		}
		if err := writePair(o.Dir, "ca", caCert, caKey); err != nil {
			return nil, err
		}
	}
	ca, signer, err := parsePair(caCert, caKey)
	if err != nil {
		return nil, fmt.Errorf("parse CA: %w", err)
	}

	b := &Bundle{CACert: caCert, CAKey: caKey}
	b.ServingCert, b.ServingKey, err = loadPair(o.Dir, "serving")
	if err != nil || !servingCovers(b.ServingCert, hosts, o.Now) {
		b.ServingCert, b.ServingKey, err = newLeaf(ca, signer, o.Now, pkix.Name{CommonName: "batchd"}, hosts, x509.ExtKeyUsageServerAuth)
		if err != nil {
			return nil, err
		}
		if err := writePair(o.Dir, "serving", b.ServingCert, b.ServingKey); err != nil {
			return nil, err
		}
	}
	b.AdminCert, b.AdminKey, err = loadPair(o.Dir, "admin")
	if err != nil || !valid(b.AdminCert, o.Now) {
		b.AdminCert, b.AdminKey, err = newLeaf(ca, signer, o.Now,
			pkix.Name{CommonName: AdminUser, Organization: []string{AdminGroup}}, nil, x509.ExtKeyUsageClientAuth)
		if err != nil {
			return nil, err
		}
		if err := writePair(o.Dir, "admin", b.AdminCert, b.AdminKey); err != nil {
			return nil, err
		}
	}
	b.KubeletClientCert, b.KubeletClientKey, err = loadPair(o.Dir, "kubelet-client")
	if err != nil || !valid(b.KubeletClientCert, o.Now) {
		b.KubeletClientCert, b.KubeletClientKey, err = newLeaf(ca, signer, o.Now, pkix.Name{CommonName: KubeletClientUser}, nil, x509.ExtKeyUsageClientAuth)
		if err != nil {
			return nil, err
		}
		if err := writePair(o.Dir, "kubelet-client", b.KubeletClientCert, b.KubeletClientKey); err != nil {
			return nil, err
		}
	}
	tokenPath := filepath.Join(o.Dir, "admin.token")
	tok, err := os.ReadFile(tokenPath)
	if err != nil || len(bytes.TrimSpace(tok)) == 0 {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, fmt.Errorf("generate token: %w", err)
		}
		tok = []byte(hex.EncodeToString(raw))
		if err := WriteFile(tokenPath, append(tok, '\n'), 0o600); err != nil {
			return nil, err
		}
	}
	b.AdminToken = strings.TrimSpace(string(tok))
	if b.ServiceAccountKey, err = ensureServiceAccountKey(o.Dir); err != nil {
		return nil, err
	}
	return b, nil
}

func uniq(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func newKey() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal key: %w", err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func newCA(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, keyPEM, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: fmt.Sprintf("batchd-ca@%d", now.Unix())},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

func newLeaf(ca *x509.Certificate, signer *ecdsa.PrivateKey, now time.Time, subject pkix.Name, hosts []string, usage ...x509.ExtKeyUsage) (certPEM, keyPEM []byte, err error) {
	key, keyPEM, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := leafTemplate(sn, now, subject, hosts, usage)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, signer)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate %s: %w", subject.CommonName, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

func parseCert(certPEM []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no certificate PEM block")
	}
	return x509.ParseCertificate(block.Bytes)
}

func parsePair(certPEM, keyPEM []byte) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, nil, err
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, nil, errors.New("no key PEM block")
	}
	key, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func valid(certPEM []byte, now time.Time) bool {
	c, err := parseCert(certPEM)
	return err == nil && now.Add(renewBefore).Before(c.NotAfter)
}

func servingCovers(certPEM []byte, hosts []string, now time.Time) bool {
	c, err := parseCert(certPEM)
	if err != nil || !now.Add(renewBefore).Before(c.NotAfter) {
		return false
	}
	for _, h := range hosts {
		if c.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func loadPair(dir, name string) (certPEM, keyPEM []byte, err error) {
	certPEM, err = os.ReadFile(filepath.Join(dir, name+".crt"))
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = os.ReadFile(filepath.Join(dir, name+".key"))
	if err != nil {
		return nil, nil, err
	}
	if _, _, err := parsePair(certPEM, keyPEM); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

func writePair(dir, name string, certPEM, keyPEM []byte) error {
	if err := WriteFile(filepath.Join(dir, name+".key"), keyPEM, 0o600); err != nil {
		return err
	}
	return WriteFile(filepath.Join(dir, name+".crt"), certPEM, 0o644)
}

// WriteFile replaces path atomically so a crash never leaves half a key behind.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}

// ensureServiceAccountKey loads sa.key, or makes it (and sa.pub) on first use.
func ensureServiceAccountKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, "sa.key")
	if keyPEM, err := os.ReadFile(path); err == nil {
		if block, _ := pem.Decode(keyPEM); block != nil {
			if _, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
				return keyPEM, nil
			}
		}
	}
	key, keyPEM, err := newKey()
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("marshal service-account public key: %w", err)
	}
	if err := WriteFile(path, keyPEM, 0o600); err != nil {
		return nil, err
	}
	// Owner-only like every non-certificate file of the pki directory.
	if err := WriteFile(filepath.Join(dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600); err != nil {
		return nil, err
	}
	return keyPEM, nil
}

// PeerFiles are the files an etcd member's peer listener uses.
type PeerFiles struct {
	CertFile, KeyFile, CAFile string
}

// EnsurePeer makes (or keeps) in dir the certificate an etcd member shows
// its peers, signed by the CA in dir, for both ends of raft's mutual TLS
// (server and client authentication), naming hosts and DefaultHosts: etcd
// checks a peer's certificate against the address it connects from, which
// on one machine is 127.0.0.1 whatever address the peer advertises.
func EnsurePeer(dir string, hosts []string, now time.Time) (PeerFiles, error) {
	hosts = uniq(append(DefaultHosts(), hosts...))
	f := PeerFiles{CertFile: filepath.Join(dir, "etcd-peer.crt"), KeyFile: filepath.Join(dir, "etcd-peer.key"), CAFile: filepath.Join(dir, "ca.crt")}
	caCert, caKey, err := loadPair(dir, "ca")
	if err != nil {
		return f, fmt.Errorf("load CA: %w", err)
	}
	ca, signer, err := parsePair(caCert, caKey)
	if err != nil {
		return f, fmt.Errorf("parse CA: %w", err)
	}
	cert, _, err := loadPair(dir, "etcd-peer")
	if err == nil && servingCovers(cert, hosts, now) {
		if c, err := parseCert(cert); err == nil && c.CheckSignatureFrom(ca) == nil {
			return f, nil
		}
	}
	cert, key, err := newLeaf(ca, signer, now, pkix.Name{CommonName: "batchd-etcd-peer"}, hosts, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return f, err
	}
	return f, writePair(dir, "etcd-peer", cert, key)
}

// Node identities, as upstream's kubelet client certificates carry them: the
// Node authorizer knows a node by CN system:node:<name> in O system:nodes.
const (
	NodeUserPrefix = "system:node:"
	NodeGroup      = "system:nodes"
)

// NewKeyAndCSR makes a key and a certificate request for it: what an agent
// sends to be certified, its key staying with it.
func NewKeyAndCSR(commonName string) (keyPEM, csrPEM []byte, err error) {
	key, keyPEM, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: commonName}}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate request: %w", err)
	}
	return keyPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// SignCSR certifies the public key of csrPEM (whose signature proves its
// sender holds the key) with the CA caCert/caKey, for subject and hosts as
// the signer says (the request's own subject and names are ignored).
func SignCSR(caCertPEM, caKeyPEM, csrPEM []byte, subject pkix.Name, hosts []string, now time.Time, usage ...x509.ExtKeyUsage) ([]byte, error) {
	ca, signer, err := parsePair(caCertPEM, caKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("parse CA: %w", err)
	}
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("no certificate request PEM block")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certificate request signature: %w", err)
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := leafTemplate(sn, now, subject, hosts, usage)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, csr.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("create certificate %s: %w", subject.CommonName, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// NodePair loads the pair name from dir when it is valid at now, signed by
// caPEM's CA, for commonName and covering hosts (ok false otherwise).
func NodePair(dir, name string, caPEM []byte, commonName string, hosts []string, now time.Time) (certPEM, keyPEM []byte, ok bool) {
	certPEM, keyPEM, err := loadPair(dir, name)
	if err != nil || !servingCovers(certPEM, hosts, now) {
		return nil, nil, false
	}
	ca, err := parseCert(caPEM)
	if err != nil {
		return nil, nil, false
	}
	c, err := parseCert(certPEM)
	if err != nil || c.CheckSignatureFrom(ca) != nil || c.Subject.CommonName != commonName {
		return nil, nil, false
	}
	return certPEM, keyPEM, true
}

// WritePair writes a certificate and its key to dir as name.crt and name.key.
func WritePair(dir, name string, certPEM, keyPEM []byte) error {
	return writePair(dir, name, certPEM, keyPEM)
}

// leafTemplate is a leaf certificate of the CA: for subject, valid from an
// hour before now for leafValidity, naming hosts (IPs and DNS names).
func leafTemplate(sn *big.Int, now time.Time, subject pkix.Name, hosts []string, usage []x509.ExtKeyUsage) *x509.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      subject,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usage,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return tmpl
}
