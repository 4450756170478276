package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/batchd/batchd/internal/apiserver"
)

// The clock endpoint: viewers and editors read it; only the admin may
// move a clock, and a real one refuses to be moved with a 409 saying how to
// get a virtual one; an editor gets upstream's 403 for the path.
func TestClockEndpoint(t *testing.T) {
	ctx := context.Background()
	viewer, err := env.As("viewer")
	if err != nil {
		t.Fatal(err)
	}
	editor, err := env.As("editor")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := viewer.CoreV1().RESTClient().Get().AbsPath(apiserver.ClockPath).DoRaw(ctx)
	if err != nil {
		t.Fatalf("viewer reads the clock: %v", err)
	}
	var st apiserver.ClockState
	if err := json.Unmarshal(raw, &st); err != nil || st.Mode != "real" || st.Now.IsZero() {
		t.Errorf("clock %s: %+v %v", raw, st, err)
	}
	move := []byte(`{"advance":"1h"}`)
	err = editor.CoreV1().RESTClient().Post().AbsPath(apiserver.ClockPath).Body(move).Do(ctx).Error()
	if want := `forbidden: User "editor" cannot post path "/batchd/v1/clock"`; !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), want) {
		t.Errorf("editor moves the clock: %v, want 403 %q", err, want)
	}
	err = env.Client.CoreV1().RESTClient().Post().AbsPath(apiserver.ClockPath).Body(move).Do(ctx).Error()
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "the server's clock is real") {
		t.Errorf("admin moves a real clock: %v, want 409", err)
	}
}
