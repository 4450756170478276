package serviceaccount

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	corev1 "k8s.io/api/core/v1"
	apiserviceaccount "k8s.io/apiserver/pkg/authentication/serviceaccount"
)

// DefaultIssuer is the iss claim of the tokens and, as kube-apiserver defaults
// --api-audiences to the issuer, the audience the API server accepts.
const DefaultIssuer = "https://kubernetes.default.svc.cluster.local"

// Upstream's lifetimes: tokens the kubelet asks for (3607 s, bound to a pod, for
// the API server's own audience) are issued for a year so that clients that do
// not reload the file keep working, with a warnafter claim at the asked time.
const (
	WarnOnlyExpirationSeconds = 3607
	ExtendedExpiration        = 365 * 24 * time.Hour
	// MinExpirationSeconds is the shortest lifetime a TokenRequest may ask for.
	MinExpirationSeconds = 10 * 60
)

// Claims are the claims of a service-account token.
type Claims struct {
	jwt.RegisteredClaims
	Kubernetes Private `json:"kubernetes.io,omitempty"`
}

// Private is the kubernetes.io claim.
type Private struct {
	Namespace      string           `json:"namespace,omitempty"`
	ServiceAccount Ref              `json:"serviceaccount,omitempty"`
	Pod            *Ref             `json:"pod,omitempty"`
	Secret         *Ref             `json:"secret,omitempty"`
	Node           *Ref             `json:"node,omitempty"`
	WarnAfter      *jwt.NumericDate `json:"warnafter,omitempty"`
}

// Ref names a bound object.
type Ref struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

// Binding is what a token is issued for: a service account and at most one of
// a pod (with its node, if scheduled and found) or a secret.
type Binding struct {
	ServiceAccount *corev1.ServiceAccount
	Pod            *corev1.Pod
	Node           *corev1.Node
	Secret         *corev1.Secret
}

// NewClaims returns the claims of a token for b, valid from now for lifetime;
// warnAfter > 0 adds the warnafter claim. id becomes the jti claim.
func NewClaims(issuer string, b Binding, audiences []string, now time.Time, lifetime, warnAfter time.Duration, id string) Claims {
	sa := b.ServiceAccount
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   apiserviceaccount.MakeUsername(sa.Namespace, sa.Name),
			Audience:  jwt.ClaimStrings(audiences),
			ExpiresAt: jwt.NewNumericDate(now.Add(lifetime)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        id,
		},
		Kubernetes: Private{
			Namespace:      sa.Namespace,
			ServiceAccount: Ref{Name: sa.Name, UID: string(sa.UID)},
		},
	}
	switch {
	case b.Pod != nil:
		c.Kubernetes.Pod = &Ref{Name: b.Pod.Name, UID: string(b.Pod.UID)}
		if b.Node != nil {
			c.Kubernetes.Node = &Ref{Name: b.Node.Name, UID: string(b.Node.UID)}
		}
	case b.Secret != nil:
		c.Kubernetes.Secret = &Ref{Name: b.Secret.Name, UID: string(b.Secret.UID)}
	}
	if warnAfter > 0 {
		c.Kubernetes.WarnAfter = jwt.NewNumericDate(now.Add(warnAfter))
	}
	return c
}

// Key is the service-account signing key.
type Key struct {
	private *ecdsa.PrivateKey
	id      string
}

// ParseKey reads a PEM EC private key (P-256).
func ParseKey(pemBytes []byte) (*Key, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("parse service-account key: no PEM block")
	}
	k, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse service-account key: %w", err)
	}
	id, err := KeyID(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Key{private: k, id: id}, nil
}

// Public returns the verification key.
func (k *Key) Public() *ecdsa.PublicKey { return &k.private.PublicKey }

// ID is the kid header of the tokens it signs.
func (k *Key) ID() string { return k.id }

// KeyID is upstream's key id: the unpadded base64url SHA-256 of the public key's DER.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("marshal public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// Sign returns the compact JWS of c.
func (k *Key) Sign(c Claims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = k.id
	s, err := t.SignedString(k.private)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}
