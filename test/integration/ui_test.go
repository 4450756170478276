package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	restclient "k8s.io/client-go/rest"
)

// session is a signed-in page's: its cookie and page key.
type session struct {
	cookie *http.Cookie
	key    string
}

// TestWebViewSession: the web view's session reads as the user who signed
// in — the API server's authorizer decides, so a viewer's session may list
// Jobs but not Secrets — and never writes, not even what the user's own
// credentials may write, the admin's included: the cookie gets 401 for every
// unsafe request.
func TestWebViewSession(t *testing.T) {
	ns := env.Namespace(t)
	transport, err := restclient.TransportFor(restclient.AnonymousClientConfig(env.Config))
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: transport}
	base := strings.TrimSuffix(env.Config.Host, "/")
	send := func(method, path, body string, header http.Header, s *session) (int, string, *http.Response) {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		if s != nil {
			req.AddCookie(s.cookie)
			req.Header.Set("X-Batchd-Page-Key", s.key)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data), resp
	}
	// adminCode gets a login code as `batchd ui` does with the server's own
	// kubeconfig (a system:masters client certificate).
	adminCode := func() (int, string) {
		t.Helper()
		admin, err := restclient.TransportFor(env.Config)
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequestWithContext(context.Background(), "POST", base+"/ui/api/login-code", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := (&http.Client{Transport: admin}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	signIn := func(user string) *session {
		t.Helper()
		var status int
		var body string
		if user == "admin" {
			status, body = adminCode()
		} else {
			status, body, _ = send("POST", "/ui/api/login-code", "", http.Header{"Authorization": {"Bearer " + env.Tokens[user]}}, nil)
		}
		if status != http.StatusOK {
			t.Fatalf("login code for %s: %d %s", user, status, body)
		}
		var code struct{ Code, User string }
		if err := json.Unmarshal([]byte(body), &code); err != nil || (user != "admin" && code.User != user) {
			t.Fatalf("login code answer %q: %v", body, err)
		}
		payload, _ := json.Marshal(map[string]string{"code": code.Code})
		status, body, resp := send("POST", "/ui/api/session", string(payload), http.Header{"Content-Type": {"application/json"}}, nil)
		if status != http.StatusOK {
			t.Fatalf("sign in %s: %d %s", user, status, body)
		}
		var answer struct{ PageKey string }
		if err := json.Unmarshal([]byte(body), &answer); err != nil || answer.PageKey == "" {
			t.Fatalf("sign in %s: no page key in %s", user, body)
		}
		for _, c := range resp.Cookies() {
			if strings.HasPrefix(c.Name, "__Host-batchd-ui-") {
				return &session{&http.Cookie{Name: c.Name, Value: c.Value}, answer.PageKey}
			}
		}
		t.Fatalf("sign in %s: no session cookie", user)
		return nil
	}
	viewer, editor, admin := signIn("viewer"), signIn("editor"), signIn("admin")

	if status, body, _ := send("GET", "/apis/batch/v1/namespaces/"+ns+"/jobs", "", nil, viewer); status != http.StatusOK {
		t.Errorf("viewer session lists jobs: %d %s", status, body)
	}
	if status, body, _ := send("GET", "/apis/batch/v1/jobs?watch=1&timeoutSeconds=1", "", nil, viewer); status != http.StatusOK {
		t.Errorf("viewer session watches jobs: %d %s", status, body)
	}
	status, body, _ := send("GET", "/api/v1/namespaces/"+ns+"/secrets", "", nil, viewer)
	if status != http.StatusForbidden || !strings.Contains(body, `User \"viewer\" cannot list resource \"secrets\"`) {
		t.Errorf("viewer session lists secrets: %d %s; want 403 for viewer", status, body)
	}
	// RBAC's view role covers the run history.
	if status, body, _ := send("GET", "/apis/batchd.dev/v1alpha1/namespaces/"+ns+"/jobruns", "", nil, viewer); status != http.StatusOK {
		t.Errorf("viewer session lists jobruns: %d %s", status, body)
	}
	if status, body, _ := send("GET", "/api/v1/namespaces/"+ns+"/secrets", "", nil, admin); status != http.StatusOK {
		t.Errorf("admin session lists secrets: %d %s", status, body)
	}

	job := `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"from-cookie"},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox","command":["true"]}]}}}}`
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	for _, tc := range []struct {
		name, method, path, body string
		header                   http.Header
	}{
		{"create", "POST", "/apis/batch/v1/namespaces/" + ns + "/jobs", job, jsonHeader},
		{"delete", "DELETE", "/api/v1/namespaces/" + ns, "", nil},
		{"patch", "PATCH", "/api/v1/namespaces/" + ns, `{"metadata":{"labels":{"x":"y"}}}`, http.Header{"Content-Type": {"application/merge-patch+json"}}},
		{"exec", "GET", "/api/v1/namespaces/" + ns + "/pods/p/exec?command=sh", "", nil},
		{"attach", "GET", "/api/v1/namespaces/" + ns + "/pods/p/attach", "", nil},
		{"port-forward", "GET", "/api/v1/namespaces/" + ns + "/pods/p/portforward", "", nil},
		{"proxy", "GET", "/api/v1/namespaces/" + ns + "/pods/p/proxy/", "", nil},
		{"token request", "POST", "/api/v1/namespaces/" + ns + "/serviceaccounts/default/token", `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{}}`, jsonHeader},
		{"cross-site read", "GET", "/apis/batch/v1/namespaces/" + ns + "/jobs", "", http.Header{"Sec-Fetch-Site": {"cross-site"}}},
	} {
		for name, s := range map[string]*session{"viewer": viewer, "editor": editor, "admin": admin} {
			if status, body, _ := send(tc.method, tc.path, tc.body, tc.header, s); status != http.StatusUnauthorized {
				t.Errorf("%s session, %s: %d %s; want 401", name, tc.name, status, body)
			}
		}
	}
	// The cookie without the page key (another server on this host gets the
	// cookie from the browser, not the key) is no session.
	if status, _, _ := send("GET", "/apis/batch/v1/namespaces/"+ns+"/jobs", "", nil, &session{viewer.cookie, ""}); status != http.StatusUnauthorized {
		t.Errorf("the cookie alone reads: %d, want 401", status)
	}
	// The editor's own token may create, so the 401 above is the cookie's limit, not the role's.
	if status, body, _ := send("POST", "/apis/batch/v1/namespaces/"+ns+"/jobs", job, http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + env.Tokens["editor"]}}, nil); status != http.StatusCreated {
		t.Errorf("editor token creates: %d %s", status, body)
	}
	// Sign out ends the session for API requests too.
	if status, body, _ := send("POST", "/ui/api/logout", "{}", jsonHeader, viewer); status != http.StatusOK {
		t.Fatalf("logout: %d %s", status, body)
	}
	if status, _, _ := send("GET", "/apis/batch/v1/namespaces/"+ns+"/jobs", "", nil, viewer); status != http.StatusUnauthorized {
		t.Errorf("after logout the cookie reads: %d", status)
	}
}
