package ui

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/utils/clock"
)

// ErrFull is returned when the store holds as many live codes or sessions
// as it may: new ones wait until old ones expire (nobody is signed out to
// make room).
var ErrFull = errors.New("too many sessions or login codes: try again later")

// Store keeps login codes and sessions in memory. Only SHA-256 digests of
// the secrets are kept, so a lookup compares digests, not secrets, and a
// memory dump yields nothing usable. A restart empties it: every browser
// signs in again.
type Store struct {
	clock      clock.PassiveClock
	codeTTL    time.Duration
	sessionTTL time.Duration
	max        int

	mu       sync.Mutex
	codes    map[[32]byte]entry
	sessions map[[32]byte]entry
}

type entry struct {
	user    user.Info
	expires time.Time
	// pageKey is the digest of the session's second secret, which the page
	// keeps in its origin's storage and sends as a header (sessions only).
	pageKey [32]byte
}

// NewStore returns an empty store: codes live codeTTL, sessions sessionTTL,
// and at most max of each are live at once.
func NewStore(c clock.PassiveClock, codeTTL, sessionTTL time.Duration, max int) *Store {
	return &Store{clock: c, codeTTL: codeTTL, sessionTTL: sessionTTL, max: max,
		codes: map[[32]byte]entry{}, sessions: map[[32]byte]entry{}}
}

// NewCode issues a one-time login code for u.
func (s *Store) NewCode(u user.Info) (string, time.Time, error) {
	code, _, expires, err := s.add(s.codes, u, s.codeTTL)
	return code, expires, err
}

// Redeem returns the user a code was issued to and forgets the code: a code
// works once, and an expired one not at all.
func (s *Store) Redeem(code string) (user.Info, bool) {
	k := digest(code)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.codes[k]
	delete(s.codes, k)
	if !ok || !s.clock.Now().Before(e.expires) {
		return nil, false
	}
	return e.user, true
}

// NewSession starts a session for u and returns its two secrets: the token
// (the HttpOnly cookie) and the page key (kept by the page, sent as a
// header). A session needs both: browsers send a host's cookies to every
// port of it, so another server on this machine that a browser visits gets
// the cookie, but not the page key, which the browser keeps per origin.
func (s *Store) NewSession(u user.Info) (token, pageKey string, expires time.Time, err error) {
	return s.add(s.sessions, u, s.sessionTTL)
}

// Lookup returns the user and expiry of a live session with this token and
// page key.
func (s *Store) Lookup(token, pageKey string) (user.Info, time.Time, bool) {
	k := digest(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.sessions[k]
	if !ok {
		return nil, time.Time{}, false
	}
	if !s.clock.Now().Before(e.expires) {
		delete(s.sessions, k)
		return nil, time.Time{}, false
	}
	if got := digest(pageKey); subtle.ConstantTimeCompare(got[:], e.pageKey[:]) != 1 {
		return nil, time.Time{}, false
	}
	return e.user, e.expires, true
}

// End forgets a session (sign out).
func (s *Store) End(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, digest(token))
}

// Len reports the live codes and sessions (expired ones still held are
// counted until the next sweep).
func (s *Store) Len() (codes, sessions int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.codes), len(s.sessions)
}

func (s *Store) add(m map[[32]byte]entry, u user.Info, ttl time.Duration) (secret, pageKey string, expires time.Time, err error) {
	if secret, err = newSecret(); err != nil {
		return "", "", time.Time{}, err
	}
	if pageKey, err = newSecret(); err != nil {
		return "", "", time.Time{}, err
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(m) >= s.max {
		sweep(m, now)
		if len(m) >= s.max {
			return "", "", time.Time{}, ErrFull
		}
	}
	e := entry{user: copyUser(u), expires: now.Add(ttl), pageKey: digest(pageKey)}
	m[digest(secret)] = e
	return secret, pageKey, e.expires, nil
}

func sweep(m map[[32]byte]entry, now time.Time) {
	for k, e := range m {
		if !now.Before(e.expires) {
			delete(m, k)
		}
	}
}

// newSecret is 256 random bits, URL-safe.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func digest(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// copyUser detaches the identity from the authenticator's objects.
func copyUser(u user.Info) user.Info {
	var extra map[string][]string
	if e := u.GetExtra(); len(e) > 0 {
		extra = make(map[string][]string, len(e))
		for k, v := range maps.All(e) {
			extra[k] = slices.Clone(v)
		}
	}
	return &user.DefaultInfo{Name: u.GetName(), UID: u.GetUID(), Groups: slices.Clone(u.GetGroups()), Extra: extra}
}
