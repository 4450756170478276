package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/utils/clock"
)

//go:embed assets
var embedded embed.FS

// Defaults of Config.
const (
	DefaultCodeTTL     = 60 * time.Second
	DefaultSessionTTL  = 8 * time.Hour
	DefaultMaxSessions = 10000
)

// Config of the web view; the zero value is usable.
type Config struct {
	// Clock runs code and session lifetimes (default: the real clock).
	Clock clock.PassiveClock
	// CodeTTL is how long a login code from `batchd ui` stays valid.
	CodeTTL time.Duration
	// SessionTTL bounds a session: after it the browser signs in again.
	SessionTTL time.Duration
	// MaxSessions bounds the live sessions (and, separately, the live codes).
	MaxSessions int
	// Local is the zone of CronJobs without timeZone: the controller's.
	Local *time.Location
}

// UI is the web view: its pages, its login and its session store.
type UI struct {
	cfg    Config
	store  *Store
	assets fs.FS
	etags  map[string]string
}

// New returns the web view with cfg's nil fields defaulted.
func New(cfg Config) *UI {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.CodeTTL <= 0 {
		cfg.CodeTTL = DefaultCodeTTL
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.Local == nil {
		cfg.Local = time.Local
	}
	u := &UI{cfg: cfg, store: NewStore(cfg.Clock, cfg.CodeTTL, cfg.SessionTTL, cfg.MaxSessions), assets: embedded, etags: map[string]string{}}
	_ = fs.WalkDir(embedded, "assets", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := fs.ReadFile(embedded, p)
			sum := sha256.Sum256(data)
			u.etags[strings.TrimPrefix(p, "assets/")] = `"` + hex.EncodeToString(sum[:8]) + `"`
		}
		return nil
	})
	return u
}

// Store is the session store (tests inspect it).
func (u *UI) Store() *Store { return u.store }

// Session is the authenticator the API server adds to its chain: the
// session cookie stands for the signed-in user on safe reads only.
func (u *UI) Session() authenticator.Request { return sessionAuthenticator{u.store} }

// Handler serves /ui/ and hands every other request to api. authn is the
// API server's own authenticator (without the session cookie): it checks
// the credentials `batchd ui` presents to get a login code and the bearer
// tokens typed on the login page.
func (u *UI) Handler(api http.Handler, authn authenticator.Request) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ui/api/login-code", func(w http.ResponseWriter, r *http.Request) { u.loginCode(w, r, authn) })
	mux.HandleFunc("POST /ui/api/session", func(w http.ResponseWriter, r *http.Request) { u.signIn(w, r, authn) })
	mux.HandleFunc("POST /ui/api/logout", u.signOut)
	mux.HandleFunc("GET /ui/api/whoami", u.whoami)
	mux.HandleFunc("POST /ui/api/schedules", u.schedules)
	mux.HandleFunc("GET /ui/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint")
	})
	mux.HandleFunc("GET /ui/assets/{file...}", u.asset)
	mux.HandleFunc("GET /ui/", u.index)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/ui":
			http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
		case strings.HasPrefix(r.URL.Path, "/ui/"):
			securityHeaders(w.Header())
			mux.ServeHTTP(w, r)
		default:
			api.ServeHTTP(w, r)
		}
	})
}

// securityHeaders: only this origin's scripts, styles and connections; no
// framing, no referrer (a login code in the address never leaks).
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// index serves the page for every route of the view (/ui/, /ui/jobs/…):
// the router in the page draws the route.
func (u *UI) index(w http.ResponseWriter, r *http.Request) {
	data, err := fs.ReadFile(u.assets, "assets/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(data)
}

func (u *UI) asset(w http.ResponseWriter, r *http.Request) {
	name := path.Clean(r.PathValue("file"))
	etag, ok := u.etags[name]
	if !ok || name == "index.html" {
		http.NotFound(w, r)
		return
	}
	data, err := fs.ReadFile(u.assets, "assets/"+name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
}

// loginCode issues a one-time code bound to whoever presents API credentials
// (`batchd ui` with its kubeconfig). Anyone who can authenticate may sign
// in to the view as themselves; what they then see is what the API server's
// authorizer lets that identity read.
func (u *UI) loginCode(w http.ResponseWriter, r *http.Request, authn authenticator.Request) {
	resp, ok, err := authn.AuthenticateRequest(r)
	if err != nil || !ok {
		writeError(w, http.StatusUnauthorized, "authenticate with API credentials (a client certificate or bearer token) to get a login code")
		return
	}
	code, expires, err := u.store.NewCode(resp.User)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"code": code, "expires": expires.UTC(), "path": "/ui/login?code=" + code, "user": resp.User.GetName()})
}

type signInRequest struct {
	Code  string `json:"code,omitempty"`
	Token string `json:"token,omitempty"`
}

// signIn exchanges a login code or a bearer token for a session cookie.
func (u *UI) signIn(w http.ResponseWriter, r *http.Request, authn authenticator.Request) {
	if !pageRequest(w, r) {
		return
	}
	var req signInRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "read request: "+err.Error())
		return
	}
	var who user.Info
	switch {
	case req.Code != "" && req.Token == "":
		v, ok := u.store.Redeem(req.Code)
		if !ok {
			writeError(w, http.StatusUnauthorized, "this login code has been used or has expired: run `batchd ui` again for a new one")
			return
		}
		who = v
	case req.Token != "" && req.Code == "":
		// Only the token counts: a synthetic request carries no client
		// certificate and no cookie.
		probe := (&http.Request{Header: http.Header{"Authorization": {"Bearer " + req.Token}}}).WithContext(r.Context())
		resp, ok, err := authn.AuthenticateRequest(probe)
		if err != nil || !ok {
			writeError(w, http.StatusUnauthorized, "the API server did not accept this token")
			return
		}
		who = resp.User
	default:
		writeError(w, http.StatusBadRequest, "send either a login code or a bearer token")
		return
	}
	if c, err := r.Cookie(CookieName(r.Host)); err == nil {
		u.store.End(c.Value) // a new sign-in replaces the old session
	}
	token, pageKey, expires, err := u.store.NewSession(who)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName(r.Host), Value: token, Path: "/",
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Expires: expires, MaxAge: int(u.cfg.SessionTTL / time.Second),
	})
	answer := identity(who, expires)
	answer["pageKey"] = pageKey
	writeJSON(w, http.StatusOK, answer)
}

func (u *UI) signOut(w http.ResponseWriter, r *http.Request) {
	if !pageRequest(w, r) {
		return
	}
	if c, err := r.Cookie(CookieName(r.Host)); err == nil {
		u.store.End(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName(r.Host), Value: "", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	writeJSON(w, http.StatusOK, map[string]any{})
}

func (u *UI) whoami(w http.ResponseWriter, r *http.Request) {
	who, expires, ok := u.session(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, "not signed in")
		return
	}
	writeJSON(w, http.StatusOK, identity(who, expires))
}

// schedules previews CronJob schedules the page read through the API.
func (u *UI) schedules(w http.ResponseWriter, r *http.Request) {
	if !pageRequest(w, r) {
		return
	}
	if _, _, ok := u.session(r); !ok {
		writeError(w, http.StatusUnauthorized, "not signed in")
		return
	}
	var req struct {
		Items []scheduleQuery `json:"items"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<20)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "read request: "+err.Error())
		return
	}
	if len(req.Items) > maxScheduleItems {
		writeError(w, http.StatusRequestEntityTooLarge, "at most 1000 schedules per request")
		return
	}
	now := u.cfg.Clock.Now()
	out := make([]scheduleAnswer, len(req.Items))
	for i, q := range req.Items {
		out[i] = previewSchedule(q, now, u.cfg.Local)
	}
	writeJSON(w, http.StatusOK, map[string]any{"now": now.UTC(), "items": out})
}

func (u *UI) session(r *http.Request) (user.Info, time.Time, bool) {
	token, pageKey, ok := sessionOf(r)
	if !ok {
		return nil, time.Time{}, false
	}
	return u.store.Lookup(token, pageKey)
}

// pageRequest admits a POST only from the view's own pages: JSON (which a
// cross-site form cannot send without a CORS preflight this server never
// answers) and, when the browser says where it comes from, from this origin.
func pageRequest(w http.ResponseWriter, r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "send application/json")
		return false
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		writeError(w, http.StatusForbidden, "cross-site request refused")
		return false
	}
	if origin := r.Header.Get("Origin"); origin != "" && origin != "https://"+r.Host {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
		return false
	}
	return true
}

func identity(u user.Info, expires time.Time) map[string]any {
	return map[string]any{"user": u.GetName(), "groups": u.GetGroups(), "expires": expires.UTC()}
}

func writeStoreError(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrFull) {
		writeError(w, http.StatusTooManyRequests, err.Error())
		return
	}
	writeError(w, http.StatusInternalServerError, err.Error())
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
