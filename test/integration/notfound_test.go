package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	restclient "k8s.io/client-go/rest"
)

// Issue 15 item 7: a path nothing serves is answered, as kube-apiserver
// answers it, with a v1 Status (NotFound, 404) that clients can decode —
// not with the path index; "/" still lists the paths.
func TestUnknownPathsAnswerAStatus(t *testing.T) {
	hc, err := restclient.HTTPClientFor(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string, map[string]any) {
		t.Helper()
		resp, err := hc.Get(env.Config.Host + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if err := json.Unmarshal(body, &obj); err != nil {
			t.Fatalf("GET %s: body is not JSON: %v\n%s", path, err, body)
		}
		return resp.StatusCode, resp.Header.Get("Content-Type"), obj
	}
	for _, path := range []string{"/apis/nope/v1/things", "/foo", "/apis/nope", "/api/v2", "/apis/batch/v1/nope"} {
		code, ctype, obj := get(path)
		want := map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
			"message": "the server could not find the requested resource", "code": float64(404)}
		for k, v := range want {
			if obj[k] != v {
				t.Errorf("GET %s: %s = %v, want %v (body %v)", path, k, obj[k], v, obj)
			}
		}
		if code != http.StatusNotFound || ctype != "application/json" {
			t.Errorf("GET %s: HTTP %d %s, want 404 application/json", path, code, ctype)
		}
	}
	if code, _, obj := get("/"); code != http.StatusOK || obj["paths"] == nil {
		t.Errorf("GET /: HTTP %d %v, want the path index", code, obj)
	}
}
