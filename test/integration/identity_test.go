package integration

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/batchd/batchd/internal/server"
	"github.com/batchd/batchd/internal/testenv"
)

// tokenClient is a client that authenticates with token alone.
func tokenClient(t *testing.T, base *restclient.Config, token string) kubernetes.Interface {
	t.Helper()
	cfg := restclient.AnonymousClientConfig(base)
	cfg.BearerToken = token
	cfg.QPS, cfg.Burst = 100, 100
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newServiceAccount(t *testing.T, c kubernetes.Interface, ns, name string) *corev1.ServiceAccount {
	t.Helper()
	sa, err := c.CoreV1().ServiceAccounts(ns).Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sa
}

func requestToken(t *testing.T, c kubernetes.Interface, ns, name string, spec authenticationv1.TokenRequestSpec) *authenticationv1.TokenRequest {
	t.Helper()
	tr, err := c.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), name, &authenticationv1.TokenRequest{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest: %v", err)
	}
	return tr
}

// eventually polls f until it returns nil (caches catch up with writes).
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		last = f()
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("%s: %v", what, last)
	}
}

func bindRole(t *testing.T, c kubernetes.Interface, ns, name, kind, role string, subjects ...rbacv1.Subject) error {
	t.Helper()
	_, err := c.RbacV1().RoleBindings(ns).Create(context.Background(), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: role},
		Subjects:   subjects,
	}, metav1.CreateOptions{})
	return err
}

// TestServiceAccountTokenAndRBAC: a TokenRequest token authenticates as its
// service account; without a binding it gets upstream's 403 text for Jobs and
// Secrets, with a RoleBinding to view it lists Jobs but still reads no Secret.
func TestServiceAccountTokenAndRBAC(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	sa := newServiceAccount(t, env.Client, ns, "cleaner")
	if _, err := env.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db"},
		StringData: map[string]string{"password": "hunter2"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr := requestToken(t, env.Client, ns, "cleaner", authenticationv1.TokenRequestSpec{})
	if got := *tr.Spec.ExpirationSeconds; got != 3600 {
		t.Errorf("default expirationSeconds %d, want 3600", got)
	}
	if d := time.Until(tr.Status.ExpirationTimestamp.Time); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("expirationTimestamp in %v", d)
	}
	if len(tr.Spec.Audiences) != 1 || tr.Spec.Audiences[0] != "https://kubernetes.default.svc.cluster.local" {
		t.Errorf("audiences %v", tr.Spec.Audiences)
	}
	c := tokenClient(t, env.Config, tr.Status.Token)

	who, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u := who.Status.UserInfo
	wantGroups := "system:serviceaccounts,system:serviceaccounts:" + ns + ",system:authenticated"
	if u.Username != "system:serviceaccount:"+ns+":cleaner" || u.UID != string(sa.UID) || strings.Join(u.Groups, ",") != wantGroups {
		t.Errorf("whoami: %+v", u)
	}

	_, err = c.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	want := `jobs.batch is forbidden: User "system:serviceaccount:` + ns + `:cleaner" cannot list resource "jobs" in API group "batch" in the namespace "` + ns + `"`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("list jobs before the binding: %v\nwant: %s", err, want)
	}
	_, err = c.CoreV1().Secrets(ns).Get(ctx, "db", metav1.GetOptions{})
	want = `secrets "db" is forbidden: User "system:serviceaccount:` + ns + `:cleaner" cannot get resource "secrets" in API group "" in the namespace "` + ns + `"`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("get secret: %v\nwant: %s", err, want)
	}

	if err := bindRole(t, env.Client, ns, "cleaner-view", "ClusterRole", "view", rbacv1.Subject{Kind: "ServiceAccount", Name: "cleaner", Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "list jobs with view", func() error {
		_, err := c.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
		return err
	})
	if _, err := c.CoreV1().Secrets(ns).Get(ctx, "db", metav1.GetOptions{}); !apierrors.IsForbidden(err) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("view reads a secret: %v", err)
	}
	if _, err := c.BatchV1().Jobs(ns).Create(ctx, testenv.Job("nope"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("view creates a job: %v", err)
	}
	// Another namespace is not covered by the RoleBinding.
	if _, err := c.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("list jobs in default: %v", err)
	}

	// The service account deleted and made again: the old token is dead.
	if err := env.Client.CoreV1().ServiceAccounts(ns).Delete(ctx, "cleaner", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	newServiceAccount(t, env.Client, ns, "cleaner")
	eventually(t, "token of a re-created service account", func() error {
		_, err := c.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
		if !apierrors.IsUnauthorized(err) {
			return err
		}
		return nil
	})
}

// TestTokenBoundToPod: a token bound to a pod names it in its claims and dies
// with it; one bound to a secret dies with the secret.
func TestTokenBoundToPod(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	newServiceAccount(t, env.Client, ns, "worker")
	// The service account controller makes "default" shortly after the
	// namespace; the first token request below is for it.
	poll(t, "service account default", func(ctx context.Context) (bool, error) {
		_, err := env.Client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{ServiceAccountName: "worker",
		Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}}}}
	pod, err := env.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Bound to a pod of another service account: upstream's 400.
	_, err = env.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "default", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "p"}}}, metav1.CreateOptions{})
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), `cannot bind token for serviceaccount "default" to pod running with different serviceaccount name.`) {
		t.Errorf("wrong service account: %v", err)
	}
	_, err = env.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "worker", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "p", UID: "wrong"}}}, metav1.CreateOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "the UID in the bound object reference (wrong) does not match the UID in record") {
		t.Errorf("wrong UID: %v", err)
	}
	_, err = env.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "worker", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "ConfigMap", APIVersion: "v1", Name: "x"}}}, metav1.CreateOptions{})
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "cannot bind token to object of type /v1, Kind=ConfigMap") {
		t.Errorf("configmap: %v", err)
	}

	tr := requestToken(t, env.Client, ns, "worker", authenticationv1.TokenRequestSpec{
		ExpirationSeconds: new(int64(3607)),
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "p", UID: pod.UID}})
	// The kubelet's lifetime: reported as asked, issued for longer (upstream's extension).
	if d := time.Until(tr.Status.ExpirationTimestamp.Time); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("expirationTimestamp in %v", d)
	}
	c := tokenClient(t, env.Config, tr.Status.Token)
	who, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := who.Status.UserInfo.Extra["authentication.kubernetes.io/pod-name"]; len(got) != 1 || got[0] != "p" {
		t.Errorf("pod-name extra: %v", who.Status.UserInfo.Extra)
	}
	if got := who.Status.UserInfo.Extra["authentication.kubernetes.io/pod-uid"]; len(got) != 1 || got[0] != string(pod.UID) {
		t.Errorf("pod-uid extra: %v", who.Status.UserInfo.Extra)
	}
	if err := env.Client.CoreV1().Pods(ns).Delete(ctx, "p", *metav1.NewDeleteOptions(0)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "token of a deleted pod", func() error {
		_, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if !apierrors.IsUnauthorized(err) {
			return err
		}
		return nil
	})

	if _, err := env.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr = requestToken(t, env.Client, ns, "worker", authenticationv1.TokenRequestSpec{
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Secret", APIVersion: "v1", Name: "s"}})
	c = tokenClient(t, env.Config, tr.Status.Token)
	if _, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("secret-bound token: %v", err)
	}
	if err := env.Client.CoreV1().Secrets(ns).Delete(ctx, "s", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{}); !apierrors.IsUnauthorized(err) {
		t.Errorf("token of a deleted secret: %v", err)
	}
}

// TestTokenExpiry runs a server of its own on a fake clock: a token works
// until its expiry (plus upstream's minute of leeway), then gets 401.
func TestTokenExpiry(t *testing.T) {
	dir, err := os.MkdirTemp("", "batchd-clock-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	clk := clocktesting.NewFakePassiveClock(time.Now())
	e, err := testenv.StartWith(dir, func(c *server.Config) { c.TokenClock = clk })
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	ctx := context.Background()
	eventually(t, "default service account", func() error {
		_, err := e.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	tr := requestToken(t, e.Client, "default", "default", authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(600))})
	c := tokenClient(t, e.Config, tr.Status.Token)
	whoami := func() error {
		_, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		return err
	}
	if err := whoami(); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	clk.SetTime(clk.Now().Add(10*time.Minute + 30*time.Second))
	if err := whoami(); err != nil {
		t.Errorf("within the leeway: %v", err)
	}
	clk.SetTime(clk.Now().Add(time.Minute))
	if err := whoami(); !apierrors.IsUnauthorized(err) {
		t.Errorf("expired token: %v, want 401", err)
	}
	// A TokenReview says why.
	rev, err := e.Client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tr.Status.Token}}, metav1.CreateOptions{})
	if err != nil || rev.Status.Authenticated || !strings.Contains(rev.Status.Error, "service account token has expired") {
		t.Errorf("token review of an expired token: %+v %v", rev.Status, err)
	}
}

// TestEscalationPrevention: a batchd:edit user may write RBAC objects but not
// grant more than it holds (cluster-admin); a namespace admin may bind view
// but not cluster-admin; nobody may impersonate without the verb.
func TestEscalationPrevention(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	editor, err := env.As("editor")
	if err != nil {
		t.Fatal(err)
	}
	err = bindRole(t, editor, ns, "grab", "ClusterRole", "cluster-admin", rbacv1.Subject{Kind: "User", Name: "editor"})
	want := `rolebindings.rbac.authorization.k8s.io "grab" is forbidden: user "editor" (groups=["batchd:edit" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:`
	if !apierrors.IsForbidden(err) || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), `{NonResourceURLs:["*"], Verbs:["*"]}`) {
		t.Errorf("editor binds cluster-admin: %v", err)
	}
	// What the editor holds, it may grant.
	if err := bindRole(t, editor, ns, "share-view", "ClusterRole", "view", rbacv1.Subject{Kind: "User", Name: "viewer"}); err != nil {
		t.Errorf("editor binds view: %v", err)
	}
	_, err = editor.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "t-escalate-" + ns},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"escalate"}, APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles"}}}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `{APIGroups:["rbac.authorization.k8s.io"], Resources:["clusterroles"], Verbs:["escalate"]}`) {
		t.Errorf("editor creates an escalating role: %v", err)
	}
	_, err = editor.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "t-aggregate-" + ns},
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"x": "y"}}}}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "must have cluster-admin privileges to use the aggregationRule") {
		t.Errorf("editor creates an aggregated role: %v", err)
	}

	// A service account with upstream's admin role in its namespace.
	newServiceAccount(t, env.Client, ns, "boss")
	if err := bindRole(t, env.Client, ns, "boss-admin", "ClusterRole", "admin", rbacv1.Subject{Kind: "ServiceAccount", Name: "boss", Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	boss := tokenClient(t, env.Config, requestToken(t, env.Client, ns, "boss", authenticationv1.TokenRequestSpec{}).Status.Token)
	eventually(t, "admin binds view", func() error {
		return bindRole(t, boss, ns, "boss-shares-view", "ClusterRole", "view", rbacv1.Subject{Kind: "ServiceAccount", Name: "default", Namespace: ns})
	})
	err = bindRole(t, boss, ns, "boss-grabs", "ClusterRole", "cluster-admin", rbacv1.Subject{Kind: "ServiceAccount", Name: "boss", Namespace: ns})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "is attempting to grant RBAC permissions not currently held") {
		t.Errorf("admin binds cluster-admin: %v", err)
	}
	// The bind verb on cluster-admin is enough, without holding it.
	if _, err := env.Client.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "binder"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"bind"}, APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles"}, ResourceNames: []string{"edit"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := bindRole(t, env.Client, ns, "boss-binder", "Role", "binder", rbacv1.Subject{Kind: "ServiceAccount", Name: "boss", Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	// Upstream's edit holds nothing of RBAC: an edit subject gets the authorizer's 403.
	newServiceAccount(t, env.Client, ns, "dev")
	if err := bindRole(t, env.Client, ns, "dev-edit", "ClusterRole", "edit", rbacv1.Subject{Kind: "ServiceAccount", Name: "dev", Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	dev := tokenClient(t, env.Config, requestToken(t, env.Client, ns, "dev", authenticationv1.TokenRequestSpec{}).Status.Token)
	eventually(t, "edit creates jobs", func() error {
		_, err := dev.BatchV1().Jobs(ns).Create(ctx, testenv.Job("by-dev"), metav1.CreateOptions{})
		return err
	})
	err = bindRole(t, dev, ns, "dev-grabs", "ClusterRole", "cluster-admin", rbacv1.Subject{Kind: "ServiceAccount", Name: "dev", Namespace: ns})
	want = `rolebindings.rbac.authorization.k8s.io is forbidden: User "system:serviceaccount:` + ns + `:dev" cannot create resource "rolebindings" in API group "rbac.authorization.k8s.io" in the namespace "` + ns + `"`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("edit binds cluster-admin: %v\nwant %s", err, want)
	}

	// Impersonation needs the impersonate verb (or 1.37's constrained
	// impersonate-on verbs, which the server tries first and names in its 403).
	cfg := restclient.AnonymousClientConfig(env.Config)
	cfg.BearerToken = env.Tokens["editor"]
	cfg.Impersonate = restclient.ImpersonationConfig{UserName: "batchd-admin", Groups: []string{"system:masters"}}
	imp, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = imp.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	want = `namespaces is forbidden: User "editor" cannot impersonate-on:user-info:list resource "namespaces" in API group "" at the cluster scope`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("editor impersonates: %v\nwant %s", err, want)
	}
}

// TestReviews: can-i (SelfSubjectAccessReview), can-i --list
// (SelfSubjectRulesReview), SubjectAccessReview and impersonation by the admin.
func TestReviews(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	viewer, err := env.As("viewer")
	if err != nil {
		t.Fatal(err)
	}
	canI := func(c kubernetes.Interface, verb, resource string) authorizationv1.SubjectAccessReviewStatus {
		t.Helper()
		r, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: "batch", Resource: resource}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status
	}
	if !canI(viewer, "list", "jobs").Allowed || canI(viewer, "create", "jobs").Allowed {
		t.Error("viewer can-i list/create jobs")
	}
	if s := canI(env.Client, "delete", "cronjobs"); !s.Allowed {
		t.Errorf("admin can-i: %+v", s)
	}
	_, err = viewer.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.resourceAttributes: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified") {
		t.Errorf("empty review: %v", err)
	}

	rules, err := viewer.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx, &authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: ns}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var readsJobs, reviews bool
	for _, r := range rules.Status.ResourceRules {
		if strings.Contains(strings.Join(r.Resources, ","), "jobs") && strings.Join(r.Verbs, ",") == "get,list,watch" {
			readsJobs = true
		}
		if strings.Contains(strings.Join(r.Resources, ","), "selfsubjectaccessreviews") {
			reviews = true
		}
	}
	if !readsJobs || !reviews || len(rules.Status.NonResourceRules) == 0 {
		t.Errorf("viewer's rules: %+v", rules.Status)
	}

	sar, err := env.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: "someone", Groups: []string{"batchd:edit"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: "create", Group: "batch", Resource: "jobs"}}}, metav1.CreateOptions{})
	if err != nil || !sar.Status.Allowed {
		t.Errorf("subject access review: %+v %v", sar, err)
	}
	if _, err := viewer.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("viewer reviews others: %v", err)
	}

	// The admin impersonates the viewer.
	cfg := restclient.CopyConfig(env.Config)
	cfg.Impersonate = restclient.ImpersonationConfig{UserName: "viewer", Groups: []string{"batchd:view"}}
	imp, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := imp.BatchV1().Jobs(ns).Create(ctx, testenv.Job("as-viewer"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) ||
		!strings.Contains(err.Error(), `User "viewer" cannot create resource "jobs"`) {
		t.Errorf("impersonated viewer creates a job: %v", err)
	}
	who, err := imp.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil || who.Status.UserInfo.Username != "viewer" || strings.Join(who.Status.UserInfo.Groups, ",") != "batchd:view,system:authenticated" {
		t.Errorf("impersonated whoami: %+v %v", who, err)
	}
}

// TestDefaultPolicy: upstream's default roles exist, the aggregated ones are
// filled (and follow a new aggregate-to-view role), and every namespace gets
// kube-root-ca.crt with the cluster CA.
func TestDefaultPolicy(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	for _, name := range []string{"cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery", "system:public-info-viewer", "batchd:view", "batchd:edit"} {
		if _, err := env.Client.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("ClusterRole %s: %v", name, err)
		}
	}
	crb, err := env.Client.RbacV1().ClusterRoleBindings().Get(ctx, "cluster-admin", metav1.GetOptions{})
	if err != nil || crb.Subjects[0].Name != "system:masters" {
		t.Errorf("cluster-admin binding: %+v %v", crb, err)
	}
	covers := func(role, resource string) error {
		r, err := env.Client.RbacV1().ClusterRoles().Get(ctx, role, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, rule := range r.Rules {
			for _, res := range rule.Resources {
				if res == resource {
					return nil
				}
			}
		}
		return apierrors.NewNotFound(rbacv1.Resource("rule"), resource)
	}
	eventually(t, "admin aggregates edit and view", func() error {
		for _, role := range []string{"view", "edit", "admin"} {
			if err := covers(role, "jobs"); err != nil {
				return err
			}
		}
		return covers("admin", "rolebindings")
	})
	name := "t-widgets-" + ns
	if _, err := env.Client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
		Rules:      []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{"example.com"}, Resources: []string{name}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer env.Client.RbacV1().ClusterRoles().Delete(ctx, name, metav1.DeleteOptions{})
	eventually(t, "view, edit and admin aggregate a new role", func() error {
		for _, role := range []string{"view", "edit", "admin"} {
			if err := covers(role, name); err != nil {
				return err
			}
		}
		return nil
	})

	ca, err := os.ReadFile(env.DataDir + "/pki/ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "kube-root-ca.crt", func() error {
		cm, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cm.Data["ca.crt"] != string(ca) {
			return apierrors.NewBadRequest("ca.crt differs from the CA")
		}
		return nil
	})
}
