package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// corpusCase is one file of testdata/invalid (see hack/gen-invalid-corpus.py).
type corpusCase struct {
	name     string
	resource string
	status   int
	wants    []string
	body     []byte
}

func readCorpus(t *testing.T) []corpusCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.yaml"))
	if err != nil || len(files) < 200 {
		t.Fatalf("corpus: %d files, %v", len(files), err)
	}
	var cases []corpusCase
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c := corpusCase{name: strings.TrimSuffix(filepath.Base(f), ".yaml")}
		rest := raw
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for sc.Scan() {
			line := sc.Text()
			key, value, ok := strings.Cut(strings.TrimPrefix(line, "# "), ": ")
			if !strings.HasPrefix(line, "# ") || !ok {
				break
			}
			switch key {
			case "resource":
				c.resource = value
			case "status":
				c.status, _ = strconv.Atoi(value)
			case "want":
				c.wants = append(c.wants, value)
			}
			rest = rest[len(line)+1:]
		}
		c.body = rest
		if c.resource == "" || c.status == 0 {
			t.Fatalf("%s: no resource/status header", f)
		}
		cases = append(cases, c)
	}
	return cases
}

// TestInvalidManifestCorpus sends every malformed or invalid manifest of
// testdata/invalid to the API server as kubectl would (YAML, strict field
// validation) and expects the HTTP status and error text of the file's
// header, upstream's wording with the field path; nothing may be created and
// the server must stay healthy throughout.
func TestInvalidManifestCorpus(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	cases := readCorpus(t)
	// One request over the API server's 3 MiB limit, built here rather than stored.
	cases = append(cases, corpusCase{name: "huge-request", resource: "jobs", status: 413,
		wants: []string{"Request entity too large: limit is 3145728"},
		body:  []byte("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: huge\n  annotations:\n    big: " + strings.Repeat("x", 3300000) + "\n")})
	rest := env.Client.BatchV1().RESTClient()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := rest.Post().Namespace(ns).Resource(c.resource)
			if strings.HasPrefix(c.resource, "/") {
				// An API path of another group (RBAC, TokenRequest, Services).
				req = rest.Post().AbsPath(strings.ReplaceAll(c.resource, "{ns}", ns))
			}
			res := req.Param("fieldValidation", "Strict").
				SetHeader("Content-Type", "application/yaml").Body(c.body).Do(ctx)
			var status int
			res.StatusCode(&status)
			err := res.Error()
			if err == nil {
				// Removed again so that later cases do not collide with it.
				if strings.HasPrefix(c.resource, "/") {
					_ = rest.Delete().AbsPath(strings.ReplaceAll(c.resource, "{ns}", ns), "corpus").Do(ctx).Error()
				} else {
					_ = rest.Delete().Namespace(ns).Resource(c.resource).Name("corpus").Do(ctx).Error()
				}
				t.Fatalf("accepted (HTTP %d)", status)
			}
			if status != c.status {
				t.Errorf("HTTP %d, want %d: %v", status, c.status, err)
			}
			var se *apierrors.StatusError
			msg := err.Error()
			if errors.As(err, &se) && se.ErrStatus.Details != nil {
				msg = se.ErrStatus.Message
				for _, cause := range se.ErrStatus.Details.Causes {
					if cause.Field == "" && status == 422 {
						t.Errorf("a cause without a field: %+v", cause)
					}
				}
			}
			for _, want := range c.wants {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q:\n%s", want, msg)
				}
			}
		})
	}
	jobs, err := env.Client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(jobs.Items) != 0 {
		t.Errorf("Jobs created by invalid manifests: %v %v", jobs, err)
	}
	cronJobs, err := env.Client.BatchV1().CronJobs(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(cronJobs.Items) != 0 {
		t.Errorf("CronJobs created by invalid manifests: %v %v", cronJobs, err)
	}
	if body, err := rest.Get().AbsPath("/readyz").DoRaw(ctx); err != nil || string(body) != "ok" {
		t.Errorf("readyz after the corpus: %s %v", body, err)
	}
}
