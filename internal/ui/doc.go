// Package ui is batchd's read-only web view, served by `batchd server` at
// /ui/ on the API port: an overview of every namespace's Jobs and CronJobs,
// a page per Job (a timeline of its attempts, their logs, conditions,
// events), per CronJob (next fire times with DST notes, run history) and per
// Node (capacity against requests, pods, runtime handlers).
//
// Why the page talks to the Kubernetes API itself. The page's JavaScript is
// an ordinary API client: it lists with limit and continue and then watches
// from the list's resourceVersion, as an informer does. So the view is live
// (a watch event is on screen within a frame), what a user sees is decided
// by the API server's own authorizer (RBAC) for that user, with nothing to
// keep in step, and the server holds no second cache of 10,000 Jobs for the
// view: an open page costs the server a few watches. The run history is the
// server's JobRuns (batchd.dev/v1alpha1), read the same way (runs.js).
// The only server-side endpoint with data is the schedule preview, which
// computes from what the page sends (schedule, zone, annotations, UID) with
// internal/cronspec — the controller's own code — and reads nothing.
//
// Identity. `batchd ui` presents the kubeconfig's credentials and gets a
// one-time login code (60 s) bound to that identity; the page exchanges it,
// or a bearer token typed on the login page, for a session of two secrets:
// a cookie (__Host-batchd-ui-PORT: HttpOnly, Secure, SameSite=Strict, path
// /, 8 hours) and a page key the page keeps in its origin's storage and
// sends as the X-Batchd-Page-Key header. Browsers send a host's cookies to
// every port of it, so another server on this machine that the browser
// visits would get the cookie; storage is per origin, so it never gets the
// key. Sessions live in memory (Store): a restart signs every browser out
// and the page says so. The session authenticates API requests through an
// authenticator the API server adds to its chain, but only safe reads
// (SafeRead: GET, no upgrade, no exec/attach/portforward/proxy, not sent by
// another site), so it can never be used to write: CSRF-proof by
// construction. The view never requests Secrets.
//
// Assets are plain ES modules and CSS embedded with go:embed: no build step,
// no CDN, nothing fetched at run time. The browser tests in test/browser
// drive them in headless Chromium.
package ui
