package ui

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	clocktesting "k8s.io/utils/clock/testing"
)

// fakeAuthn stands for the API server's authenticator: bearer "good" is
// alice; any TLS client certificate is "cert-user".
var fakeAuthn = authenticator.RequestFunc(func(r *http.Request) (*authenticator.Response, bool, error) {
	if r.Header.Get("Authorization") == "Bearer good" {
		return &authenticator.Response{User: alice}, true, nil
	}
	if r.TLS != nil {
		return &authenticator.Response{User: &user.DefaultInfo{Name: "cert-user"}}, true, nil
	}
	return nil, false, nil
})

type harness struct {
	t     *testing.T
	clock *clocktesting.FakePassiveClock
	ui    *UI
	h     http.Handler
}

func newHarness(t *testing.T) *harness {
	clock := clocktesting.NewFakePassiveClock(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC))
	u := New(Config{Clock: clock, Local: time.UTC})
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "api:"+r.URL.Path) })
	return &harness{t: t, clock: clock, ui: u, h: u.Handler(api, fakeAuthn)}
}

// session is what a signed-in page holds: the cookie and the page key.
type session struct {
	cookie *http.Cookie
	key    string
}

func (h *harness) do(method, path, body string, headers map[string]string, sessions ...*session) *httptest.ResponseRecorder {
	h.t.Helper()
	r := httptest.NewRequest(method, "http://127.0.0.1:6443"+path, strings.NewReader(body))
	r.Host = "127.0.0.1:6443"
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	for _, s := range sessions {
		if s.cookie != nil {
			r.AddCookie(s.cookie)
		}
		if s.key != "" {
			r.Header.Set(PageKeyHeader, s.key)
		}
	}
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	return w
}

var jsonHeaders = map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "same-origin", "Origin": "https://127.0.0.1:6443"}

func decode(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("decode %q: %v", w.Body.String(), err)
	}
	return m
}

func (h *harness) code() string {
	h.t.Helper()
	w := h.do("POST", "/ui/api/login-code", "", map[string]string{"Authorization": "Bearer good"})
	if w.Code != http.StatusOK {
		h.t.Fatalf("login-code = %d %s", w.Code, w.Body)
	}
	m := decode(h.t, w)
	if m["path"] != "/ui/login?code="+m["code"].(string) || m["user"] != "alice" {
		h.t.Fatalf("login-code answer %v", m)
	}
	return m["code"].(string)
}

func (h *harness) signIn(body string) (*httptest.ResponseRecorder, *session) {
	h.t.Helper()
	w := h.do("POST", "/ui/api/session", body, jsonHeaders)
	for _, c := range w.Result().Cookies() {
		if c.Name == "__Host-batchd-ui-6443" {
			var answer struct{ PageKey string }
			if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil || answer.PageKey == "" {
				h.t.Fatalf("sign-in answer %s: no page key", w.Body)
			}
			return w, &session{cookie: c, key: answer.PageKey}
		}
	}
	return w, nil
}

func TestLoginCodeNeedsCredentials(t *testing.T) {
	h := newHarness(t)
	if w := h.do("POST", "/ui/api/login-code", "", nil); w.Code != http.StatusUnauthorized {
		t.Errorf("without credentials: %d, want 401", w.Code)
	}
	if w := h.do("POST", "/ui/api/login-code", "", map[string]string{"Authorization": "Bearer bad"}); w.Code != http.StatusUnauthorized {
		t.Errorf("bad token: %d, want 401", w.Code)
	}
	// A session cookie is no credential for a code.
	_, cookie := h.signIn(`{"code":"` + h.code() + `"}`)
	if w := h.do("POST", "/ui/api/login-code", "", nil, cookie); w.Code != http.StatusUnauthorized {
		t.Errorf("with only the session cookie: %d, want 401", w.Code)
	}
	if w := h.do("GET", "/ui/api/login-code", "", map[string]string{"Authorization": "Bearer good"}); w.Code == http.StatusOK {
		t.Errorf("GET login-code answered 200; want POST only")
	}
}

func TestCodeSignInSetsStrictCookieOnce(t *testing.T) {
	h := newHarness(t)
	code := h.code()
	w, sess := h.signIn(`{"code":"` + code + `"}`)
	if w.Code != http.StatusOK || sess == nil {
		t.Fatalf("sign in = %d %s, session %v", w.Code, w.Body, sess)
	}
	if c := sess.cookie; !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" || c.MaxAge != int(DefaultSessionTTL/time.Second) {
		t.Errorf("cookie %+v: want HttpOnly, Secure, SameSite=Strict, Path=/, no Domain, Max-Age 8h", c)
	}
	if m := decode(t, w); m["user"] != "alice" {
		t.Errorf("signed in as %v", m["user"])
	}
	if w := h.do("GET", "/ui/api/whoami", "", nil, sess); w.Code != http.StatusOK || decode(t, w)["user"] != "alice" {
		t.Errorf("whoami = %d %s", w.Code, w.Body)
	}
	if w := h.do("GET", "/ui/api/whoami", "", nil, &session{cookie: sess.cookie}); w.Code != http.StatusUnauthorized {
		t.Errorf("whoami with the cookie but no page key = %d, want 401", w.Code)
	}
	w, c2 := h.signIn(`{"code":"` + code + `"}`)
	if w.Code != http.StatusUnauthorized || c2 != nil || !strings.Contains(w.Body.String(), "has been used or has expired") {
		t.Errorf("second use of the code = %d %s (cookie %v); want 401", w.Code, w.Body, c2)
	}
}

func TestCodeExpires(t *testing.T) {
	h := newHarness(t)
	code := h.code()
	h.clock.SetTime(h.clock.Now().Add(DefaultCodeTTL))
	if w, c := h.signIn(`{"code":"` + code + `"}`); w.Code != http.StatusUnauthorized || c != nil {
		t.Errorf("code after 60 s = %d; want 401", w.Code)
	}
}

func TestTokenSignIn(t *testing.T) {
	h := newHarness(t)
	if w, c := h.signIn(`{"token":"good"}`); w.Code != http.StatusOK || c == nil {
		t.Errorf("good token = %d %s", w.Code, w.Body)
	}
	if w, c := h.signIn(`{"token":"bad"}`); w.Code != http.StatusUnauthorized || c != nil {
		t.Errorf("bad token = %d", w.Code)
	}
	// Over TLS with a client certificate a bad token still fails: only the
	// token is checked.
	r := httptest.NewRequest("POST", "https://127.0.0.1:6443/ui/api/session", strings.NewReader(`{"token":"bad"}`))
	r.Host = "127.0.0.1:6443"
	for k, v := range jsonHeaders {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("bad token from a connection with a client certificate = %d, want 401", w.Code)
	}
	for _, body := range []string{`{}`, `{"token":"good","code":"x"}`, `not json`} {
		if w, _ := h.signIn(body); w.Code != http.StatusBadRequest {
			t.Errorf("sign in with %s = %d, want 400", body, w.Code)
		}
	}
}

// Sign-in and the other POSTs accept only the view's own pages: JSON, and
// not from another site.
func TestPostsRefuseOtherSites(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"form post", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"text/plain (no preflight)", map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType},
		{"cross-site", map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"other origin", map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"plain http origin", map[string]string{"Content-Type": "application/json", "Origin": "http://127.0.0.1:6443"}, http.StatusForbidden},
	} {
		for _, path := range []string{"/ui/api/session", "/ui/api/schedules", "/ui/api/logout"} {
			if w := h.do("POST", path, `{"token":"good"}`, tc.headers); w.Code != tc.want {
				t.Errorf("%s to %s = %d, want %d", tc.name, path, w.Code, tc.want)
			}
		}
	}
	// A client that sends neither Origin nor Sec-Fetch-Site (curl) is no browser: fine.
	if w := h.do("POST", "/ui/api/session", `{"token":"good"}`, map[string]string{"Content-Type": "application/json"}); w.Code != http.StatusOK {
		t.Errorf("JSON without origin headers = %d, want 200", w.Code)
	}
}

func TestSignOut(t *testing.T) {
	h := newHarness(t)
	_, c := h.signIn(`{"token":"good"}`)
	w := h.do("POST", "/ui/api/logout", `{}`, jsonHeaders, c)
	if w.Code != http.StatusOK {
		t.Fatalf("logout = %d", w.Code)
	}
	var cleared bool
	for _, rc := range w.Result().Cookies() {
		cleared = cleared || rc.Name == c.cookie.Name && rc.MaxAge < 0
	}
	if !cleared {
		t.Error("logout did not clear the cookie")
	}
	if w := h.do("GET", "/ui/api/whoami", "", nil, c); w.Code != http.StatusUnauthorized {
		t.Errorf("whoami after logout = %d, want 401", w.Code)
	}
}

func TestSchedulesNeedSession(t *testing.T) {
	h := newHarness(t)
	body := `{"items":[{"schedule":"30 2 * 3,10 0","timeZone":"Europe/Berlin","count":10},{"schedule":"not a schedule","count":1}]}`
	if w := h.do("POST", "/ui/api/schedules", body, jsonHeaders); w.Code != http.StatusUnauthorized {
		t.Errorf("without a session = %d, want 401", w.Code)
	}
	_, c := h.signIn(`{"token":"good"}`)
	w := h.do("POST", "/ui/api/schedules", body, jsonHeaders, c)
	if w.Code != http.StatusOK {
		t.Fatalf("schedules = %d %s", w.Code, w.Body)
	}
	var got struct {
		Items []scheduleAnswer `json:"items"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Items) != 2 || got.Items[0].Zone != "Europe/Berlin" || got.Items[1].Error == "" {
		t.Fatalf("items = %+v", got.Items)
	}
	many := `{"items":[` + strings.Repeat(`{"schedule":"@daily"},`, maxScheduleItems) + `{"schedule":"@daily"}]}`
	if w := h.do("POST", "/ui/api/schedules", many, jsonHeaders, c); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("%d items = %d, want 413", maxScheduleItems+1, w.Code)
	}
}

func TestRoutesAndAssets(t *testing.T) {
	h := newHarness(t)
	if w := h.do("GET", "/apis/batch/v1/jobs", "", nil); w.Body.String() != "api:/apis/batch/v1/jobs" {
		t.Errorf("API path not handed on: %q", w.Body)
	}
	if w := h.do("GET", "/ui", "", nil); w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/ui/" {
		t.Errorf("/ui = %d %s", w.Code, w.Header().Get("Location"))
	}
	for _, route := range []string{"/ui/", "/ui/login?code=x", "/ui/jobs/ns/name", "/ui/cronjobs/ns/name", "/ui/nodes/n"} {
		w := h.do("GET", route, "", nil)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `<script type="module" src="/ui/assets/js/app.js">`) {
			t.Errorf("%s = %d, want the page", route, w.Code)
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", route, csp)
		}
		if w.Header().Get("Referrer-Policy") != "no-referrer" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", route, w.Header())
		}
	}
	w := h.do("GET", "/ui/assets/js/app.js", "", nil)
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/javascript") || w.Header().Get("ETag") == "" {
		t.Fatalf("app.js = %d %v", w.Code, w.Header())
	}
	if w2 := h.do("GET", "/ui/assets/js/app.js", "", map[string]string{"If-None-Match": w.Header().Get("ETag")}); w2.Code != http.StatusNotModified {
		t.Errorf("revalidation = %d, want 304", w2.Code)
	}
	if w := h.do("GET", "/ui/assets/style.css", "", nil); !strings.HasPrefix(w.Header().Get("Content-Type"), "text/css") {
		t.Errorf("style.css type %q", w.Header().Get("Content-Type"))
	}
	for _, p := range []string{"/ui/assets/nope.js", "/ui/assets/../handler.go", "/ui/assets/%2e%2e/handler.go"} {
		if w := h.do("GET", p, "", nil); w.Code == http.StatusOK && !strings.Contains(w.Body.String(), "<!doctype html>") {
			t.Errorf("%s = %d %q", p, w.Code, w.Body.String()[:min(80, w.Body.Len())])
		}
	}
	if w := h.do("GET", "/ui/api/nope", "", nil); w.Code != http.StatusNotFound {
		t.Errorf("/ui/api/nope = %d", w.Code)
	}
}
