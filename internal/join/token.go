package join

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

const (
	tokenPrefix = "K10"
	serverPart  = "::server:"
)

// Token is a parsed join token.
type Token struct {
	// CAHash is the hex sha256 of the cluster CA's PEM.
	CAHash string
	// Secret authenticates the join.
	Secret string
}

// String is the token in k3s's form.
func (t Token) String() string { return tokenPrefix + t.CAHash + serverPart + t.Secret }

// NewToken is a token with a new secret for the CA caPEM.
func NewToken(caPEM []byte) (Token, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return Token{}, fmt.Errorf("generate join secret: %w", err)
	}
	return Token{CAHash: HashCA(caPEM), Secret: hex.EncodeToString(b)}, nil
}

// HashCA is the hex sha256 of a CA's PEM, as the token carries it.
func HashCA(caPEM []byte) string {
	sum := sha256.Sum256(caPEM)
	return hex.EncodeToString(sum[:])
}

// ParseToken reads a token in k3s's full form; a bare secret is refused,
// since it could not verify the CA.
func ParseToken(s string) (Token, error) {
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok {
		return Token{}, errors.New("join token must have the form K10<CA hash>::server:<secret> (see <data-dir>/token on a server of the cluster)")
	}
	hash, secret, ok := strings.Cut(rest, serverPart)
	if !ok || secret == "" {
		return Token{}, errors.New("join token must have the form K10<CA hash>::server:<secret>")
	}
	if b, err := hex.DecodeString(hash); err != nil || len(b) != sha256.Size {
		return Token{}, errors.New("join token's CA hash must be 64 hex digits")
	}
	return Token{CAHash: strings.ToLower(hash), Secret: secret}, nil
}
