package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestSecretValuesNeverLeak: a Secret's value, used every way a pod can use
// it and sent in every kind of invalid write, never appears in the server's
// log, in events, in pod or Job status, or in an error message; kubectl
// get/describe show sizes only.
func TestSecretValuesNeverLeak(t *testing.T) {
	t.Parallel()
	n := ns(t)
	raw := make([]byte, 12)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	value := "sv-" + hex.EncodeToString(raw)
	encoded := base64.StdEncoding.EncodeToString([]byte(value))
	var outputs []string // everything the server said back
	check := func(what, text string) {
		t.Helper()
		if strings.Contains(text, value) || strings.Contains(text, encoded) {
			t.Errorf("%s shows the secret value:\n%s", what, text)
		}
	}
	run := func(stdin string, args ...string) result {
		t.Helper()
		r := kubectl(t, stdin, append([]string{"-n", n}, args...)...)
		outputs = append(outputs, r.stderr)
		return r
	}

	must(t, run("", "create", "secret", "generic", "creds", "--from-literal=password="+value), "secret/creds created")
	apply(t, n, `apiVersion: batch/v1
kind: Job
metadata:
  name: uses-secret
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      volumes: [{name: s, secret: {secretName: creds}}]
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "[ \"$PASSWORD\" = \"$(cat /s/password)\" ] && [ \"$password\" = \"$PASSWORD\" ] && echo same; exit 3"]
        env: [{name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}]
        envFrom: [{secretRef: {name: creds}}]
        volumeMounts: [{name: s, mountPath: /s}]
`)
	waitCondition(t, n, "uses-secret", "Failed")
	if out := run("", "logs", "job/uses-secret").stdout; out != "same\n" {
		t.Errorf("the pod did not get the value three ways: %q", out)
	}
	apply(t, n, `apiVersion: v1
kind: Pod
metadata:
  name: missing-key
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command: ["true"]
    env: [{name: X, valueFrom: {secretKeyRef: {name: creds, key: nope}}}]
`)
	eventually(t, "missing-key waits with CreateContainerConfigError", func() bool {
		return strings.Contains(run("", "get", "pod", "missing-key").stdout, "CreateContainerConfigError")
	})

	// Invalid writes: each error names the field, none shows the value.
	for _, tc := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"invalid key", fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: bad-key}\ndata: {\"bad key\": %s}\n", encoded),
			[]string{"apply", "-f", "-"}, `data[bad key]: Invalid value: "bad key"`},
		{"too large", fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: too-large}\nstringData: {password: %s, pad: %s}\n", value, strings.Repeat("x", 1<<20)),
			[]string{"apply", "--server-side", "-f", "-"}, "data: Too long: may not be more than 1048576 bytes"},
		{"bad base64", "apiVersion: v1\nkind: Secret\nmetadata: {name: bad-b64}\ndata: {password: \"" + value + "!\"}\n",
			[]string{"apply", "-f", "-"}, "illegal base64 data"},
	} {
		r := run(tc.stdin, tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: want an error with %q, got %s", tc.name, tc.want, r)
		}
		check(tc.name+" error", r.stderr)
	}
	must(t, run(fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: frozen}\nimmutable: true\nstringData: {password: %s}\n", value), "apply", "-f", "-"), "created")
	r := run("", "patch", "secret", "frozen", "-p", `{"stringData":{"password":"`+value+`-changed"}}`)
	if want := "data: Forbidden: field is immutable when `immutable` is set"; r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("patching an immutable Secret: want %q, got %s", want, r)
	}
	check("immutable error", r.stderr)

	check("kubectl get secrets", run("", "get", "secrets", "-o", "wide").stdout)
	d := run("", "describe", "secret", "creds").stdout
	if !strings.Contains(d, fmt.Sprintf("password:  %d bytes", len(value))) {
		t.Errorf("describe secret:\n%s", d)
	}
	check("kubectl describe secret", d)
	check("events", run("", "get", "events", "-o", "yaml").stdout)
	check("pods", run("", "get", "pods", "-o", "yaml").stdout)
	check("jobs", run("", "get", "jobs", "-o", "yaml").stdout)
	check("describe pods", run("", "describe", "pods").stdout)
	check("describe job", run("", "describe", "job", "uses-secret").stdout)
	for i, o := range outputs {
		check(fmt.Sprintf("kubectl stderr #%d", i), o)
	}
	log, err := os.ReadFile(serverLog)
	if err != nil {
		t.Fatal(err)
	}
	check("the server log", string(log))
}
