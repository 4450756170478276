package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

// kubectls runs a check with the embedded kubectl and, when installed, the
// machine's kubectl.
func kubectls(t *testing.T, check func(t *testing.T, run func(args ...string) result)) {
	t.Run("embedded", func(t *testing.T) {
		check(t, func(args ...string) result { return kubectl(t, "", args...) })
	})
	if _, ok := stockKubectl(t, "version", "--client"); ok {
		t.Run("stock", func(t *testing.T) {
			check(t, func(args ...string) result { r, _ := stockKubectl(t, args...); return r })
		})
	}
}

// asToken runs kubectl with a bearer token alone (no client certificate).
func asToken(t *testing.T, run func(args ...string) result, token string, args ...string) result {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	server := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster].Server
	flags := []string{"--kubeconfig=" + os.DevNull, "--server=" + server, "--certificate-authority=" + filepath.Join(dataDir, "pki", "ca.crt"), "--token=" + token}
	return run(append(flags, args...)...)
}

func TestAuthCommands(t *testing.T) {
	t.Parallel()
	n := ns(t)
	kubectls(t, func(t *testing.T, run func(args ...string) result) {
		r := run("auth", "whoami")
		must(t, r, "ATTRIBUTE", "VALUE", "Username", "batchd-admin", "Groups", "[system:masters system:authenticated]")

		r = run("auth", "can-i", "--list", "-n", n)
		must(t, r, "Resources", "Non-Resource URLs", "Resource Names", "Verbs")
		if !regexp.MustCompile(`(?m)^\*\.\*\s+\[\]\s+\[\]\s+\[\*\]`).MatchString(r.stdout) {
			t.Errorf("can-i --list for the admin lacks *.*:\n%s", r.stdout)
		}
		must(t, run("auth", "can-i", "create", "jobs", "-n", n), "yes")
		r = run("auth", "can-i", "get", "secrets", "-n", n, "--as=system:serviceaccount:"+n+":default")
		if r.code != 1 || strings.TrimSpace(r.stdout) != "no" {
			t.Errorf("can-i as a service account:\n%s", r)
		}
		r = run("auth", "can-i", "--list", "-n", n, "--as=someone", "--as-group=batchd:view")
		must(t, r, "selfsubjectaccessreviews.authorization.k8s.io", "[/metrics]", "jobs.batch")
		if regexp.MustCompile(`(?m)^secrets\s`).MatchString(r.stdout) {
			t.Errorf("a viewer may list secrets:\n%s", r.stdout)
		}

		// create token, then use it as the only credential.
		r = run("create", "token", "default", "-n", n)
		must(t, r)
		token := strings.TrimSpace(r.stdout)
		if strings.Count(token, ".") != 2 {
			t.Fatalf("not a JWT: %q", token)
		}
		r = asToken(t, run, token, "auth", "whoami")
		must(t, r, "system:serviceaccount:"+n+":default", "[system:serviceaccounts system:serviceaccounts:"+n+" system:authenticated]", "authentication.kubernetes.io/credential-id")
		r = asToken(t, run, token, "get", "jobs", "-n", n)
		fails(t, r, `Error from server (Forbidden): jobs.batch is forbidden: User "system:serviceaccount:`+n+`:default" cannot list resource "jobs" in API group "batch" in the namespace "`+n+`"`)
		r = run("create", "token", "default", "-n", n, "--duration=1m")
		fails(t, r, "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes")
	})
	// A RoleBinding to view lets the token list Jobs (the authorizer's cache may lag a moment).
	must(t, kubectl(t, "", "create", "rolebinding", "default-view", "--clusterrole=view", "--serviceaccount="+n+":default", "-n", n), "rolebinding.rbac.authorization.k8s.io/default-view created")
	token := strings.TrimSpace(kubectl(t, "", "create", "token", "default", "-n", n).stdout)
	run := func(args ...string) result { return kubectl(t, "", args...) }
	eventually(t, "view lists jobs", func() bool { return asToken(t, run, token, "get", "jobs", "-n", n).code == 0 })
	fails(t, asToken(t, run, token, "get", "secrets", "-n", n), `cannot list resource "secrets"`)
	must(t, kubectl(t, "", "get", "rolebindings", "-n", n, "-o", "wide"), "NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS", "default-view", "ClusterRole/view", n+"/default")
}

func TestRBACEscalationWithKubectl(t *testing.T) {
	t.Parallel()
	n := ns(t)
	// The admin impersonates a batchd:edit user: may bind view, not cluster-admin.
	as := []string{"--as=alice", "--as-group=batchd:edit"}
	must(t, kubectl(t, "", append([]string{"create", "rolebinding", "share", "--clusterrole=view", "--user=bob", "-n", n}, as...)...), "rolebinding.rbac.authorization.k8s.io/share created")
	r := kubectl(t, "", append([]string{"create", "rolebinding", "grab", "--clusterrole=cluster-admin", "--user=alice", "-n", n}, as...)...)
	fails(t, r, `rolebindings.rbac.authorization.k8s.io "grab" is forbidden: user "alice" (groups=["batchd:edit" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:`,
		`{NonResourceURLs:["*"], Verbs:["*"]}`)
	// bob, granted view by alice, reads pods (the admin may impersonate anyone).
	eventually(t, "bob reads pods", func() bool { return kubectl(t, "", "get", "pods", "-n", n, "--as=bob").code == 0 })
	fails(t, kubectl(t, "", "create", "job", "x", "--image=busybox", "-n", n, "--as=bob"), `User "bob" cannot create resource "jobs" in API group "batch"`)
	// Server-side apply of RBAC kinds (their OpenAPI models are served).
	rbacManifest := `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: cleaner
rules:
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "delete"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: cleaner
subjects:
- kind: ServiceAccount
  name: default
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: cleaner
`
	for _, want := range []string{"serverside-applied", "serverside-applied"} {
		must(t, kubectl(t, rbacManifest, "apply", "--server-side", "-n", n, "-f", "-"), "role.rbac.authorization.k8s.io/cleaner "+want, "rolebinding.rbac.authorization.k8s.io/cleaner "+want)
	}
	eventually(t, "the role applies", func() bool {
		return kubectl(t, "", "auth", "can-i", "delete", "jobs", "-n", n, "--as=system:serviceaccount:"+n+":default").code == 0
	})
	must(t, kubectl(t, "", "get", "clusterroles"), "NAME", "CREATED AT", "cluster-admin", "system:basic-user", "batchd:view")
	must(t, kubectl(t, "", "get", "clusterrolebindings", "cluster-admin", "-o", "wide"), "ClusterRole/cluster-admin", "system:masters")
}

func TestClusterInfoAndServices(t *testing.T) {
	kubectls(t, func(t *testing.T, run func(args ...string) result) {
		r := run("cluster-info")
		if !regexp.MustCompile(`Kubernetes control plane.* is running at .*https://127\.0\.0\.1:\d+`).MatchString(r.stdout) || r.code != 0 {
			t.Errorf("cluster-info:\n%s", r)
		}
		r = run("get", "services", "-n", "default")
		must(t, r, "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE")
		if !regexp.MustCompile(`(?m)^kubernetes\s+ClusterIP\s+10\.96\.0\.1\s+<none>\s+443/TCP\s`).MatchString(r.stdout) {
			t.Errorf("kubernetes service row:\n%s", r.stdout)
		}
		r = run("get", "endpoints", "kubernetes", "-n", "default")
		if !regexp.MustCompile(`(?m)^kubernetes\s+127\.0\.0\.1:\d+\s`).MatchString(r.stdout) {
			t.Errorf("kubernetes endpoints:\n%s", r)
		}
		must(t, run("get", "endpointslices", "-n", "default"), "ADDRESSTYPE", "IPv4", "127.0.0.1")
	})
	// A headless Service for an Indexed Job applies as on a cluster.
	n := ns(t)
	manifest := `apiVersion: v1
kind: Service
metadata:
  name: workers
spec:
  clusterIP: None
  selector:
    job-name: work
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 8080
`
	must(t, kubectl(t, manifest, "apply", "-n", n, "-f", "-"), "service/workers created", "service/web created")
	r := kubectl(t, "", "get", "svc", "-n", n, "-o", "wide")
	if !regexp.MustCompile(`(?m)^workers\s+ClusterIP\s+None\s+<none>\s+<none>\s+\S+\s+job-name=work$`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^web\s+NodePort\s+10\.\d+\.\d+\.\d+\s+<none>\s+80:3\d{4}/TCP\s`).MatchString(r.stdout) {
		t.Errorf("services:\n%s", r)
	}
	must(t, kubectl(t, manifest, "apply", "-n", n, "-f", "-"), "service/workers unchanged", "service/web unchanged")
	must(t, kubectl(t, "", "explain", "role.rules.verbs"), "verbs is a list of Verbs")
}

// TestPodsSeeTheirServiceAccountFiles: a Job's pod finds its namespace and the
// cluster CA (kube-root-ca.crt) under /var/run/secrets/kubernetes.io/serviceaccount;
// with automountServiceAccountToken false nothing is mounted there. (The token
// file itself is the node agent's to project.)
func TestPodsSeeTheirServiceAccountFiles(t *testing.T) {
	t.Parallel()
	n := ns(t)
	ca, err := os.ReadFile(filepath.Join(dataDir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	// The serving certificate must be valid for KUBERNETES_SERVICE_HOST as the
	// mounted ca.crt sees it: curl verifies TLS (the anonymous request gets 401).
	curl := ""
	if _, err := exec.LookPath("curl"); err == nil {
		curl = `echo tls=$(curl -s -o /dev/null -w %{http_code} --cacert $d/ca.crt https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/version); `
	}
	job := func(name, automount string) string {
		return `apiVersion: batch/v1
kind: Job
metadata:
  name: ` + name + `
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never` + automount + `
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "d=/var/run/secrets/kubernetes.io/serviceaccount; if [ -e $d/namespace ]; then echo ns=$(cat $d/namespace); cat $d/ca.crt; ` + curl + `else echo no-mount; fi"]
`
	}
	must(t, kubectl(t, job("mounted", "")+"---\n"+job("unmounted", "\n      automountServiceAccountToken: false"), "apply", "-n", n, "-f", "-"), "job.batch/mounted created", "job.batch/unmounted created")
	for _, j := range []string{"mounted", "unmounted"} {
		must(t, kubectl(t, "", "wait", "--for=condition=complete", "job/"+j, "-n", n, "--timeout=60s"), "condition met")
	}
	r := kubectl(t, "", "logs", "job/mounted", "-n", n)
	must(t, r, "ns="+n, string(ca))
	if curl != "" {
		must(t, r, "tls=401")
	}
	r = kubectl(t, "", "logs", "job/unmounted", "-n", n)
	must(t, r, "no-mount")
	r = kubectl(t, "", "get", "pods", "-n", n, "-l", "job-name=mounted", "-o", "jsonpath={.items[0].spec.volumes[0].name} {.items[0].spec.serviceAccountName}")
	if !regexp.MustCompile(`^kube-api-access-[a-z0-9]{5} default$`).MatchString(r.stdout) {
		t.Errorf("pod spec:\n%s", r)
	}
}

// TestPodRunsKubectlInCluster: a CronJob's pod runs stock kubectl in-cluster
// (no kubeconfig: client-go's in-cluster config reads
// KUBERNETES_SERVICE_HOST/PORT and the projected token and ca.crt, which
// the node requested for the pod): RBAC refuses it with upstream's words as
// system:serviceaccount:NS:default, then, once a RoleBinding grants view,
// it lists the Jobs of its namespace.
func TestPodRunsKubectlInCluster(t *testing.T) {
	t.Parallel()
	bin := "/usr/bin/kubectl"
	if _, err := os.Stat(bin); err != nil {
		// Host pods get a private /tmp: the test's binary goes where they see it.
		dir, err := os.MkdirTemp("/var/tmp", "batchd-e2e-kubectl-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		data, err := os.ReadFile(batchd)
		if err != nil {
			t.Fatal(err)
		}
		bin = filepath.Join(dir, "kubectl")
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	n := ns(t)
	must(t, kubectl(t, `apiVersion: batch/v1
kind: CronJob
metadata: {name: cleaner}
spec:
  schedule: "0 0 31 2 *"
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          runtimeClassName: host
          containers:
          - name: c
            image: bitnami/kubectl
            command: ["sh", "-c", "`+bin+` get jobs -o name 2>&1; echo exit=$?"]
`, "apply", "-n", n, "-f", "-"), "cronjob.batch/cleaner created")
	run := func(name string) result {
		t.Helper()
		must(t, kubectl(t, "", "create", "job", name, "--from=cronjob/cleaner", "-n", n), "job.batch/"+name+" created")
		eventually(t, name+" finished", func() bool {
			return get(t, n, "job/"+name, "{.status.succeeded}{.status.failed}") == "1"
		})
		return kubectl(t, "", "logs", "job/"+name, "-n", n)
	}
	must(t, run("denied"), `jobs.batch is forbidden: User "system:serviceaccount:`+n+`:default" cannot list resource "jobs" in API group "batch" in the namespace "`+n+`"`, "exit=1")
	must(t, kubectl(t, "", "create", "rolebinding", "default-view", "--clusterrole=view", "--serviceaccount="+n+":default", "-n", n),
		"rolebinding.rbac.authorization.k8s.io/default-view created")
	must(t, run("allowed"), "job.batch/allowed", "job.batch/denied", "exit=0")
}

// TestIndexedJobPodsResolveEachOther: the pods of an Indexed Job whose
// subdomain names a headless Service resolve each other's
// <job>-<index>.<subdomain> names through the node-managed /etc/hosts
// (glibc's getent, as a program in the pod would), peers that start later
// included.
func TestIndexedJobPodsResolveEachOther(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("getent"); err != nil {
		t.Fatal("getent (libc-bin) is needed: host pods run the machine's programs")
	}
	n := ns(t)
	must(t, kubectl(t, `apiVersion: v1
kind: Service
metadata: {name: workers}
spec:
  clusterIP: None
  selector: {batch.kubernetes.io/job-name: idx}
---
apiVersion: batch/v1
kind: Job
metadata: {name: idx}
spec:
  completions: 3
  parallelism: 3
  completionMode: Indexed
  backoffLimit: 0
  template:
    spec:
      subdomain: workers
      restartPolicy: Never
      runtimeClassName: host
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "for i in $(seq 1 100); do getent hosts idx-0.workers && getent hosts idx-1.workers && getent hosts idx-2.workers.`+n+`.svc.cluster.local && exit 0; sleep 0.2; done; cat /etc/hosts; exit 1"]
`, "apply", "-n", n, "-f", "-"), "service/workers created", "job.batch/idx created")
	must(t, kubectl(t, "", "wait", "--for=condition=complete", "job/idx", "-n", n, "--timeout=60s"), "condition met")
	must(t, kubectl(t, "", "logs", "-n", n, "job/idx"), "idx-1.workers", "idx-2.workers."+n+".svc.cluster.local")
}
