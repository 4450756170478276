package ui

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/authentication/user"
	clocktesting "k8s.io/utils/clock/testing"
)

var alice = &user.DefaultInfo{Name: "alice", UID: "1", Groups: []string{"batchd:view", "system:authenticated"}, Extra: map[string][]string{"k": {"v"}}}

func TestCodeWorksOnceAndExpires(t *testing.T) {
	clock := clocktesting.NewFakePassiveClock(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC))
	s := NewStore(clock, time.Minute, time.Hour, 10)

	code, expires, err := s.NewCode(alice)
	if err != nil {
		t.Fatal(err)
	}
	if want := clock.Now().Add(time.Minute); !expires.Equal(want) {
		t.Errorf("expires = %v, want %v", expires, want)
	}
	if len(code) < 40 || strings.ContainsAny(code, "+/=") {
		t.Errorf("code %q: want 256 URL-safe random bits", code)
	}
	u, ok := s.Redeem(code)
	if !ok || u.GetName() != "alice" || strings.Join(u.GetGroups(), ",") != "batchd:view,system:authenticated" || u.GetExtra()["k"][0] != "v" {
		t.Fatalf("Redeem = %v, %v; want alice with her groups", u, ok)
	}
	if _, ok := s.Redeem(code); ok {
		t.Error("a code redeemed twice")
	}

	late, _, _ := s.NewCode(alice)
	clock.SetTime(clock.Now().Add(time.Minute))
	if _, ok := s.Redeem(late); ok {
		t.Error("a code redeemed at its expiry")
	}
	if _, ok := s.Redeem("made-up"); ok {
		t.Error("an unknown code redeemed")
	}
	if codes, _ := s.Len(); codes != 0 {
		t.Errorf("%d codes kept after redeeming, want 0", codes)
	}
}

func TestSessionLifetimeAndEnd(t *testing.T) {
	clock := clocktesting.NewFakePassiveClock(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC))
	s := NewStore(clock, time.Minute, 8*time.Hour, 10)
	token, key, expires, err := s.NewSession(alice)
	if err != nil {
		t.Fatal(err)
	}
	if u, exp, ok := s.Lookup(token, key); !ok || u.GetName() != "alice" || !exp.Equal(expires) {
		t.Fatalf("Lookup = %v, %v, %v", u, exp, ok)
	}
	// Both secrets, each for its own session.
	token2, key2, _, _ := s.NewSession(alice)
	for _, pair := range [][2]string{{token, ""}, {token, "x"}, {token, key2}, {token2, key}, {key, token}} {
		if _, _, ok := s.Lookup(pair[0], pair[1]); ok {
			t.Errorf("Lookup(%q, %q) succeeded", pair[0], pair[1])
		}
	}
	clock.SetTime(clock.Now().Add(8*time.Hour - time.Second))
	if _, _, ok := s.Lookup(token, key); !ok {
		t.Error("session ended before its lifetime")
	}
	clock.SetTime(clock.Now().Add(time.Second))
	if _, _, ok := s.Lookup(token, key); ok {
		t.Error("session outlived its lifetime")
	}
	if _, sessions := s.Len(); sessions != 1 {
		t.Errorf("%d sessions kept, want only the one not yet looked up after expiry", sessions)
	}

	other, otherKey, _, _ := s.NewSession(alice)
	s.End(other)
	if _, _, ok := s.Lookup(other, otherKey); ok {
		t.Error("session alive after End")
	}
	// A code is not a session token and the reverse.
	code, _, _ := s.NewCode(alice)
	if _, _, ok := s.Lookup(code, ""); ok {
		t.Error("a login code works as a session")
	}
	live, _, _, _ := s.NewSession(alice)
	if _, ok := s.Redeem(live); ok {
		t.Error("a session token works as a login code")
	}
}

func TestStoreBound(t *testing.T) {
	clock := clocktesting.NewFakePassiveClock(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC))
	s := NewStore(clock, time.Minute, time.Hour, 3)
	var tokens [][2]string
	for range 3 {
		tok, key, _, err := s.NewSession(alice)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, [2]string{tok, key})
	}
	if _, _, _, err := s.NewSession(alice); !errors.Is(err, ErrFull) {
		t.Fatalf("fourth session: err = %v, want ErrFull", err)
	}
	for _, tok := range tokens {
		if _, _, ok := s.Lookup(tok[0], tok[1]); !ok {
			t.Error("a full store signed someone out")
		}
	}
	// Expired sessions make room.
	clock.SetTime(clock.Now().Add(time.Hour))
	if _, _, _, err := s.NewSession(alice); err != nil {
		t.Errorf("after expiry: %v", err)
	}
}

// The store keeps a copy: changing the authenticator's object later does
// not change the session's identity.
func TestStoreCopiesIdentity(t *testing.T) {
	s := NewStore(clocktesting.NewFakePassiveClock(time.Now()), time.Minute, time.Hour, 10)
	u := &user.DefaultInfo{Name: "bob", Groups: []string{"batchd:view"}}
	tok, key, _, _ := s.NewSession(u)
	u.Groups[0] = "system:masters"
	got, _, _ := s.Lookup(tok, key)
	if got.GetGroups()[0] != "batchd:view" {
		t.Errorf("groups = %v, want the ones at sign-in", got.GetGroups())
	}
}
