package browser

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// An anonymous browser gets the login page, whatever page it asks for, and
// the API answers its requests with 401.
func TestAnonymousGetsLoginPage(t *testing.T) {
	t.Parallel()
	p := newPage(t)
	p.open("/ui/jobs/default/anything")
	p.waitJS("login form", `!!document.querySelector('#login-form input[type=password]')`)
	p.waitText("#login", "batchd ui")
	if status := eval[int](p, `fetch('/apis/batch/v1/jobs').then(r => r.status)`); status != 401 {
		t.Errorf("anonymous GET /apis/batch/v1/jobs = %d, want 401", status)
	}
	if status := eval[int](p, `fetch('/ui/api/whoami').then(r => r.status)`); status != 401 {
		t.Errorf("anonymous GET /ui/api/whoami = %d, want 401", status)
	}
	p.screenshots("login")
}

// A bearer token typed on the login page signs in as its user; the session
// then reads what that user may read (a viewer: not Secrets) and writes
// nothing, not even what the user could write with the token itself.
func TestBearerTokenLogin(t *testing.T) {
	t.Parallel()
	p := newPage(t)
	p.open("/ui/")
	p.waitJS("login form", `!!document.querySelector('#login-form')`)

	p.do(chromedp.SendKeys(chromedp.CSS("#token"), "not-a-token"), chromedp.Click(chromedp.CSS("#login-form button[type=submit]")))
	p.waitText(".login-error", "did not accept")

	eval[string](p, `document.querySelector('#token').value = ''`)
	p.do(chromedp.SendKeys(chromedp.CSS("#token"), viewerToken), chromedp.Click(chromedp.CSS("#login-form button[type=submit]")))
	p.waitJS("signed in as viewer", `document.querySelector('.who')?.innerText === 'viewer'`)
	p.waitJS("overview", `document.querySelector('h1')?.innerText === 'Overview'`)

	if eval[bool](p, `document.cookie.includes('batchd-ui')`) {
		t.Error("the session cookie is readable by JavaScript; want HttpOnly")
	}
	// The page's own requests: the session cookie and the page key.
	status := func(path, init string) int {
		t.Helper()
		return eval[int](p, fmt.Sprintf(`fetch(%q, Object.assign({headers: {'X-Batchd-Page-Key': localStorage.getItem('batchd-page-key'), 'Content-Type': 'application/json'}}, %s)).then(r => r.status)`, path, init))
	}
	if s := status("/apis/batch/v1/jobs?limit=1", "{}"); s != 200 {
		t.Errorf("viewer session: list jobs = %d, want 200", s)
	}
	if s := status("/api/v1/namespaces/default/secrets", "{}"); s != 403 {
		t.Errorf("viewer session: list secrets = %d, want 403 (authorized as the viewer)", s)
	}
	// The session never authenticates a write: 401, not the role's 403.
	if s := status("/api/v1/namespaces", `{method: 'POST', body: JSON.stringify({metadata: {name: 'from-the-browser'}})}`); s != 401 {
		t.Errorf("viewer session: POST namespace = %d, want 401", s)
	}
	// The cookie alone — what another server on this host would get from
	// the browser — is no session.
	if s := eval[int](p, `fetch('/apis/batch/v1/jobs?limit=1').then(r => r.status)`); s != 401 {
		t.Errorf("the cookie without the page key: list jobs = %d, want 401", s)
	}
}

// The link `batchd ui` prints signs in once: a second browser opening it
// gets the login page with the reason.
func TestLoginCodeWorksOnce(t *testing.T) {
	t.Parallel()
	a := newPage(t)
	url := a.login()
	if search := eval[string](a, `location.search`); search != "" {
		t.Errorf("the code stays in the address bar: %q", search)
	}
	a.waitJS("overview", `document.querySelector('h1')?.innerText === 'Overview'`)

	b := newPage(t)
	b.do(chromedp.Navigate(url))
	b.waitText(".login-error", "has been used or has expired")
	b.waitJS("login form", `!!document.querySelector('#login-form')`)
	if who := eval[string](b, `document.querySelector('.who')?.innerText ?? ''`); who != "" {
		t.Errorf("second use of the code signed in as %q", who)
	}
}
