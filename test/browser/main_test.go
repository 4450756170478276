// Package browser drives batchd's web view (/ui/) in a real headless
// Chromium against a real `batchd server` process: pages load and show the
// right content, login works and fails as it should, and the view follows
// changes live. Chromium is required: without it the tests fail saying how
// to install it (Debian: apt-get install -y chromium).
//
// Screenshots of every page (light and dark, desktop and phone) are written
// to $BATCHD_SCREENSHOTS, else to $TMPDIR/batchd-ui-screenshots.
package browser

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	noderuntime "github.com/batchd/batchd/internal/node/runtime"
	"github.com/batchd/batchd/internal/serverproc"
)

var (
	batchd      string // the built binary
	kubeconfig  string
	dataDir     string
	serverLog   string
	baseURL     string // https://127.0.0.1:PORT
	viewerToken string
	client      kubernetes.Interface
	chromium    string   // the browser binary
	shared      *browser // the one Chromium the tests share, trusting the test server
	shots       string   // screenshot directory
	server      *serverproc.Process
)

// browser is a running Chromium that trusts one server's key.
type browser struct {
	ctx              context.Context
	base, kubeconfig string
}

// startBrowser starts Chromium trusting exactly the server key spki (as a
// user who accepted its certificate) and waits until it answers.
func startBrowser(chromium, profile, spki, base, kubeconfig string) (*browser, func(), error) {
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(profile),
		chromedp.Flag("ignore-certificate-errors-spki-list", spki),
	}, chromiumFlags...)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	stop := func() { cancelCtx(); cancelAlloc() }
	if err := chromedp.Do(ctx); err != nil {
		stop()
		return nil, nil, fmt.Errorf("start Chromium (%s): %w", chromium, err)
	}
	return &browser{ctx: ctx, base: base, kubeconfig: kubeconfig}, stop, nil
}

// chromiumFlags are the flags that work in this environment (root, no
// display, no network beyond loopback).
var chromiumFlags = []chromedp.ExecAllocatorOption{
	chromedp.Headless,
	chromedp.NoSandbox,
	chromedp.DisableGPU,
	chromedp.NoFirstRun,
	chromedp.NoDefaultBrowserCheck,
	chromedp.Flag("disable-quic", true),
	chromedp.Flag("disable-background-networking", true),
	chromedp.Flag("disable-component-update", true),
	chromedp.Flag("disable-sync", true),
	chromedp.Flag("disable-dev-shm-usage", true),
	chromedp.Flag("hide-scrollbars", true),
	chromedp.Flag("mute-audio", true),
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func findChromium() (string, error) {
	if p := os.Getenv("BATCHD_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("the browser tests need headless Chromium and found none on PATH (chromium, chromium-browser, google-chrome): install it with `apt-get install -y chromium` (Debian, as root; hack/test.sh does this) or point $BATCHD_CHROMIUM at a Chrome or Chromium binary")
}

func run(m *testing.M) int {
	var err error
	chromium, err = findChromium()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "batchd-browser-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	shots = os.Getenv("BATCHD_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(os.TempDir(), "batchd-ui-screenshots")
	}
	if shots, err = filepath.Abs(shots); err == nil {
		err = os.MkdirAll(shots, 0o755)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "screenshot dir:", err)
		return 1
	}

	if batchd, err = serverproc.TestBinary(tmp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	viewerToken = "viewer-" + base64.RawURLEncoding.EncodeToString([]byte(tmp))[:24]
	tokenFile := filepath.Join(tmp, "tokens.csv")
	if err := os.WriteFile(tokenFile, []byte(viewerToken+",viewer,1001,\"batchd:view\"\n"), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	serverLog = filepath.Join(tmp, "server.log")
	logFile, err := os.Create(serverLog)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer logFile.Close()
	dataDir = filepath.Join(tmp, "data")
	defer noderuntime.KillAll(filepath.Join(dataDir, "pods"))
	server, err = serverproc.Start(batchd, dataDir, logFile, 2*time.Minute, "--token-file", tokenFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		dumpLog()
		return 1
	}
	defer server.Kill()
	kubeconfig = server.Kubeconfig
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	baseURL = strings.TrimSuffix(cfg.Host, "/")
	if client, err = kubernetes.NewForConfig(cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	spki, err := servingSPKI(filepath.Join(dataDir, "pki", "serving.crt"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	b, stopBrowser, err := startBrowser(chromium, filepath.Join(tmp, "chromium-profile"), spki, baseURL, kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	shared = b
	code := m.Run()
	stopBrowser()
	if err := server.Stop(30 * time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "stop server:", err)
		code = 1
	}
	if code != 0 {
		dumpLog()
	}
	fmt.Fprintf(os.Stderr, "screenshots: %s\n", shots)
	return code
}

func dumpLog() {
	if data, err := os.ReadFile(serverLog); err == nil {
		if len(data) > 200_000 {
			data = data[len(data)-200_000:]
		}
		fmt.Fprintf(os.Stderr, "--- batchd server log (tail) ---\n%s\n", data)
	}
}

// servingSPKI is the base64 SHA-256 of the serving certificate's public key,
// for Chromium's --ignore-certificate-errors-spki-list.
func servingSPKI(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return "", fmt.Errorf("%s: no PEM block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// page is one browser tab in a fresh browser context (its own cookies).
type page struct {
	t   testing.TB
	b   *browser
	ctx context.Context
	mu  sync.Mutex
	js  []string // uncaught exceptions and console errors
}

// newPage opens a tab in a new browser context; the test fails if the
// page throws or logs an error.
func newPage(t testing.TB) *page {
	t.Helper()
	return shared.newPage(t)
}

func (b *browser) newPage(t testing.TB) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	p := &page{t: t, b: b, ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 860)); err != nil {
		cancel()
		t.Fatalf("open tab: %v", err)
	}
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	console := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			p.note(fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
		}
	}()
	go func() {
		defer wg.Done()
		for ev, err := range console {
			if err != nil {
				return
			}
			if ev.Type != runtime.ConsoleAPICalledTypeError {
				continue
			}
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			p.note("console.error: " + strings.Join(parts, " "))
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, e := range p.js {
			t.Errorf("JavaScript: %s", e)
		}
	})
	return p
}

func (p *page) note(s string) {
	p.mu.Lock()
	p.js = append(p.js, s)
	p.mu.Unlock()
}

func (p *page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("browser: %v", err)
	}
}

// click clicks the first element sel matches. The pages re-render as the
// API's watch events arrive: an element found may be replaced before the
// click lands on it (CDP: "Could not find node with given id"), and the
// click is then tried again on the new one, for a minute at most.
func (p *page) click(sel string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
	defer cancel()
	for {
		err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel)))
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "Could not find node with given id") || ctx.Err() != nil {
			p.t.Fatalf("browser: click %s: %v", sel, err)
		}
	}
}

func (p *page) open(path string) {
	p.t.Helper()
	p.do(chromedp.Navigate(p.b.base + path))
}

// eval returns the value of a JavaScript expression (promises awaited).
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS polls a JavaScript condition until it is true (30 s).
func (p *page) waitJS(what, cond string) {
	p.t.Helper()
	p.waitJSFor(what, cond, 30*time.Second)
}

func (p *page) waitJSFor(what, cond string, timeout time.Duration) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
		body, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.querySelector('main')?.innerText ?? ''`))
		p.t.Fatalf("%s: %v\npage text:\n%s", what, err, body)
	}
}

// waitText waits until an element matching sel contains text.
func (p *page) waitText(sel, text string) {
	p.t.Helper()
	p.waitJS(fmt.Sprintf("%s shows %q", sel, text), fmt.Sprintf(`[...document.querySelectorAll(%q)].some(e => e.innerText.includes(%q))`, sel, text))
}

// login signs the page in with a one-time code from `batchd ui`.
func (p *page) login() string {
	p.t.Helper()
	url := batchdUI(p.t, p.b.kubeconfig, p.b.base)
	p.do(chromedp.Navigate(url))
	p.waitJS("signed in", `document.querySelector('.who')?.innerText === 'batchd-admin'`)
	return url
}

// batchdUI runs `batchd ui` and returns the URL it prints.
func batchdUI(t testing.TB, kubeconfig, baseURL string) string {
	t.Helper()
	out, err := exec.Command(batchd, "ui", "--kubeconfig", kubeconfig).Output()
	if err != nil {
		t.Fatalf("batchd ui: %v", err)
	}
	url := strings.TrimSpace(string(out))
	if !strings.HasPrefix(url, baseURL+"/ui/login?code=") {
		t.Fatalf("batchd ui printed %q, want %s/ui/login?code=…", url, baseURL)
	}
	return url
}

// views are the screenshot variants of a page.
var views = []struct {
	name          string
	width, height int64
	mobile, dark  bool
}{
	{"desktop-light", 1280, 860, false, false},
	{"desktop-dark", 1280, 860, false, true},
	{"phone-light", 390, 844, true, false},
	{"phone-dark", 390, 844, true, true},
}

// screenshots writes name-<view>.png for every view, then restores the
// desktop light view.
func (p *page) screenshots(name string) {
	p.t.Helper()
	for _, v := range views {
		scheme := "light"
		if v.dark {
			scheme = "dark"
		}
		opts := []chromedp.EmulateViewportOption{}
		if v.mobile {
			opts = append(opts, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(2))
		}
		p.do(chromedp.EmulateViewport(v.width, v.height, opts...), colorScheme(scheme))
		// At the top (the header is sticky), after layout and paint of the
		// resize: no event to wait on but the next frames.
		eval[bool](p, `window.scrollTo(0, 0) || new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`)
		ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err != nil {
			p.t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(shots, fmt.Sprintf("%s-%s.png", name, v.name)), buf, 0o644); err != nil {
			p.t.Fatalf("write screenshot: %v", err)
		}
	}
	p.do(chromedp.EmulateViewport(1280, 860), colorScheme("light"))
}

func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

// kubectl runs the embedded kubectl against the test server.
func kubectl(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, batchd, append([]string{"kubectl"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl %v: %v\nstdout: %s\nstderr: %s", args, err, out.String(), errOut.String())
	}
	return out.String()
}

// namespace creates a namespace named after the test.
func namespace(t *testing.T) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.Trim(name, "-")
	kubectl(t, "", "create", "namespace", name)
	t.Cleanup(func() { kubectl(t, "", "delete", "namespace", name, "--wait=false") })
	return name
}
