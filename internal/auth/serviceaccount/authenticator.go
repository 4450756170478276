package serviceaccount

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	apiserviceaccount "k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/utils/clock"
)

// Leeway is the clock skew tolerated on exp/nbf/iat, and how long a bound
// object may have been deleting before its tokens stop working (upstream's
// go-jose default leeway).
const Leeway = time.Minute

// Objects looks up the objects a token is bound to; a missing object is an
// error (upstream's getter answers NotFound).
type Objects interface {
	ServiceAccount(namespace, name string) (*corev1.ServiceAccount, error)
	Pod(namespace, name string) (*corev1.Pod, error)
	Secret(namespace, name string) (*corev1.Secret, error)
}

// Authenticator accepts the tokens of Key as their service account.
type Authenticator struct {
	Issuer string
	// Audiences are the API server's: a token must name one of them (or one
	// of the audiences a TokenReview asks for).
	Audiences authenticator.Audiences
	Keys      []*ecdsa.PublicKey
	Objects   Objects
	Clock     clock.PassiveClock
}

var _ authenticator.Token = &Authenticator{}

// AuthenticateToken implements authenticator.Token. Tokens that are no JWT or
// name another issuer are not ours (false, nil); ours that fail a check are
// an error, which the request sees as 401.
func (a *Authenticator) AuthenticateToken(ctx context.Context, raw string) (*authenticator.Response, bool, error) {
	if strings.Count(raw, ".") != 2 {
		return nil, false, nil
	}
	var unverified Claims
	if _, _, err := jwt.NewParser().ParseUnverified(raw, &unverified); err != nil || unverified.Issuer != a.Issuer {
		return nil, false, nil
	}
	now := time.Now
	if a.Clock != nil {
		now = a.Clock.Now
	}
	var claims Claims
	_, err := jwt.ParseWithClaims(raw, &claims, a.keyFor,
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithTimeFunc(now), jwt.WithLeeway(Leeway), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithIssuer(a.Issuer))
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, false, errors.New("service account token has expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return nil, false, errors.New("service account token is not valid yet")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return nil, false, errors.New("service account token is issued in the future")
	default:
		return nil, false, fmt.Errorf("invalid service account token: %w", err)
	}

	tokenAuds := authenticator.Audiences(claims.Audience)
	if len(tokenAuds) == 0 {
		tokenAuds = a.Audiences
	}
	requested, ok := authenticator.AudiencesFrom(ctx)
	if !ok {
		requested = a.Audiences
	}
	auds := tokenAuds.Intersect(requested)
	if len(auds) == 0 && len(a.Audiences) != 0 {
		return nil, false, fmt.Errorf("token audiences %q is invalid for the target audiences %q", tokenAuds, requested)
	}

	info, err := a.validate(claims, now())
	if err != nil {
		return nil, false, err
	}
	return &authenticator.Response{User: info.UserInfo(), Audiences: auds}, true, nil
}

func (a *Authenticator) keyFor(t *jwt.Token) (any, error) {
	if len(a.Keys) == 0 {
		return nil, errors.New("no service-account keys")
	}
	kid, _ := t.Header["kid"].(string)
	for _, k := range a.Keys {
		if id, err := KeyID(k); err == nil && id == kid {
			return k, nil
		}
	}
	keys := make([]jwt.VerificationKey, len(a.Keys))
	for i, k := range a.Keys {
		keys[i] = k
	}
	return jwt.VerificationKeySet{Keys: keys}, nil
}

// validate checks that the objects the token names still exist with the same
// UIDs (upstream's claims validator), and returns the identity.
func (a *Authenticator) validate(c Claims, now time.Time) (*apiserviceaccount.ServiceAccountInfo, error) {
	k := c.Kubernetes
	if k.Namespace == "" || k.ServiceAccount.Name == "" || k.ServiceAccount.UID == "" {
		return nil, errors.New("service account token claims are incomplete")
	}
	if c.Subject != apiserviceaccount.MakeUsername(k.Namespace, k.ServiceAccount.Name) {
		return nil, errors.New("service account token subject does not match its claims")
	}
	if k.Pod != nil && k.Secret != nil {
		return nil, errors.New("service account token is bound to both a pod and a secret")
	}
	deletedBefore := now.Add(-Leeway)
	gone := func(ts *metav1.Time) bool { return ts != nil && ts.Time.Before(deletedBefore) }

	sa, err := a.Objects.ServiceAccount(k.Namespace, k.ServiceAccount.Name)
	if err != nil {
		return nil, err
	}
	if string(sa.UID) != k.ServiceAccount.UID {
		return nil, fmt.Errorf("service account UID (%s) does not match claim (%s)", sa.UID, k.ServiceAccount.UID)
	}
	if gone(sa.DeletionTimestamp) {
		return nil, fmt.Errorf("service account %s/%s has been deleted", k.Namespace, sa.Name)
	}
	info := &apiserviceaccount.ServiceAccountInfo{Name: sa.Name, Namespace: sa.Namespace, UID: string(sa.UID)}
	if c.ID != "" {
		info.CredentialID = "JTI=" + c.ID
	}
	if k.Secret != nil {
		s, err := a.Objects.Secret(k.Namespace, k.Secret.Name)
		if err != nil {
			return nil, err
		}
		if string(s.UID) != k.Secret.UID {
			return nil, fmt.Errorf("secret UID (%s) does not match service account secret ref claim (%s)", s.UID, k.Secret.UID)
		}
		if gone(s.DeletionTimestamp) {
			return nil, fmt.Errorf("secret %s/%s has been deleted", k.Namespace, s.Name)
		}
	}
	if k.Pod != nil {
		p, err := a.Objects.Pod(k.Namespace, k.Pod.Name)
		if err != nil {
			return nil, err
		}
		if string(p.UID) != k.Pod.UID {
			return nil, fmt.Errorf("pod UID (%s) does not match service account pod ref claim (%s)", p.UID, k.Pod.UID)
		}
		if gone(p.DeletionTimestamp) {
			return nil, fmt.Errorf("pod %s/%s has been deleted", k.Namespace, p.Name)
		}
		info.PodName, info.PodUID = p.Name, string(p.UID)
		if k.Node != nil {
			info.NodeName, info.NodeUID = k.Node.Name, k.Node.UID
		}
	}
	return info, nil
}
