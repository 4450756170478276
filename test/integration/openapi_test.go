package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// Both OpenAPI documents are served as kube-apiserver serves them: v2 (JSON
// and protobuf, built on its first request), and v3 per group version, each
// with the Job schema and its paths — kubectl explain, client-side
// validation and client generators read them.
func TestOpenAPIDocuments(t *testing.T) {
	ctx := context.Background()
	rc := env.Client.Discovery().RESTClient()

	body, err := rc.Get().AbsPath("/openapi/v2").SetHeader("Accept", "application/json").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var v2 struct {
		Swagger     string                          `json:"swagger"`
		Info        struct{ Title, Version string } `json:"info"`
		Paths       map[string]json.RawMessage      `json:"paths"`
		Definitions map[string]json.RawMessage      `json:"definitions"`
	}
	if err := json.Unmarshal(body, &v2); err != nil {
		t.Fatalf("/openapi/v2: %v", err)
	}
	if v2.Swagger != "2.0" || v2.Info.Title != "Kubernetes" || !strings.HasPrefix(v2.Info.Version, "v1.") {
		t.Errorf("/openapi/v2: swagger %q, info %+v", v2.Swagger, v2.Info)
	}
	if _, ok := v2.Definitions["io.k8s.api.batch.v1.Job"]; !ok {
		t.Errorf("/openapi/v2 lacks io.k8s.api.batch.v1.Job (%d definitions)", len(v2.Definitions))
	}
	for _, p := range []string{"/apis/batch/v1/namespaces/{namespace}/jobs", "/apis/batch/v1/namespaces/{namespace}/cronjobs/{name}/status", "/api/v1/namespaces/{namespace}/pods/{name}/log"} {
		if _, ok := v2.Paths[p]; !ok {
			t.Errorf("/openapi/v2 lacks path %s", p)
		}
	}
	// client-go's discovery reads the protobuf form.
	doc, err := env.Client.Discovery().OpenAPISchema()
	if err != nil {
		t.Fatalf("OpenAPISchema (protobuf): %v", err)
	}
	found := false
	for _, d := range doc.GetDefinitions().GetAdditionalProperties() {
		found = found || d.GetName() == "io.k8s.api.batch.v1.CronJob"
	}
	if !found {
		t.Error("protobuf /openapi/v2 lacks io.k8s.api.batch.v1.CronJob")
	}

	paths, err := env.Client.Discovery().OpenAPIV3().Paths()
	if err != nil {
		t.Fatal(err)
	}
	gv, ok := paths["apis/batch/v1"]
	if !ok {
		t.Fatalf("/openapi/v3 lacks apis/batch/v1: %v", paths)
	}
	b, err := gv.Schema("application/json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"io.k8s.api.batch.v1.Job"`) || !strings.Contains(string(b), `"/apis/batch/v1/namespaces/{namespace}/jobs"`) {
		t.Errorf("/openapi/v3/apis/batch/v1 lacks the Job schema or its path (%d bytes)", len(b))
	}
}
