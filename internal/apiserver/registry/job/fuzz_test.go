package job

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"
)

// FuzzDecodeDefaultValidate feeds arbitrary manifests through what the API
// server does with a Job on create and update: decode, default, generate the
// selector, validate. Nothing may panic, and an object that validates must
// still validate as an update of itself.
func FuzzDecodeDefaultValidate(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "..", "..", "..", "examples", "*.yaml"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil && strings.Contains(string(b), "kind: Job") {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"spec":{"completionMode":"Indexed","completions":3,"backoffLimitPerIndex":1,"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"i"}]}}}}`))
	f.Add([]byte(`{"spec":{"podFailurePolicy":{"rules":[{"action":"FailIndex","onExitCodes":{"operator":"In","values":[1]}}]},"successPolicy":{"rules":[{"succeededIndexes":"0-2,5"}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var j batchv1.Job
		if err := yaml.Unmarshal(data, &j); err != nil {
			return
		}
		j.Name, j.Namespace, j.UID, j.ResourceVersion = "fuzz", "default", "uid", "1"
		SetDefaults(&j)
		GenerateSelector(&j)
		errs := Validate(&j)
		for _, e := range errs {
			if e.Field == "" {
				t.Errorf("error without a field path: %v", e)
			}
		}
		if len(errs) == 0 {
			if errs := ValidateUpdate(&j, j.DeepCopy()); len(errs) != 0 {
				t.Errorf("a valid Job is not a valid update of itself: %v", errs)
			}
		}
		_ = Warnings(&j)
		_, _ = Status(&j), Completions(&j)
	})
}
