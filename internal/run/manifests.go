// Package run is `batchd run`: it loads manifests, applies them to a server,
// follows every Job to its end while showing progress and logs, and turns
// the outcome into an exit code. view.go holds the pure parts (what to show,
// which exit code), engine.go the effects.
package run

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Object is one manifest document and where it came from.
type Object struct {
	Source string
	*unstructured.Unstructured
}

// InputError is bad input: a missing file, a document that does not parse,
// or a manifest the server rejects. `batchd run` exits 2 for it.
type InputError struct{ Err error }

func (e InputError) Error() string { return e.Err.Error() }
func (e InputError) Unwrap() error { return e.Err }

// Load reads every manifest document of paths, as kubectl's -f does: a file,
// a directory (its .yaml, .yml and .json files, in name order) or "-" for
// stdin. Errors use kubectl's wording.
func Load(paths []string, stdin io.Reader) ([]Object, error) {
	var out []Object
	for _, p := range paths {
		files, err := expand(p)
		if err != nil {
			return nil, InputError{err}
		}
		for _, f := range files {
			var data []byte
			if f == "-" {
				data, err = io.ReadAll(stdin)
			} else {
				data, err = os.ReadFile(f)
			}
			if err != nil {
				return nil, InputError{err}
			}
			objs, err := decode(f, data)
			if err != nil {
				return nil, InputError{err}
			}
			out = append(out, objs...)
		}
	}
	if len(out) == 0 {
		return nil, InputError{errors.New("no objects passed to run")}
	}
	return out, nil
}

func expand(p string) ([]string, error) {
	if p == "-" {
		return []string{p}, nil
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("the path %q does not exist", p)
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml", ".json":
			if !e.IsDir() {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
	}
	sort.Strings(files)
	return files, nil
}

// decode splits a file into its documents, skipping empty ones.
func decode(source string, data []byte) ([]Object, error) {
	var out []Object
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		u := &unstructured.Unstructured{}
		err := d.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("error parsing %s: %w", source, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		var missing []string
		if u.GetAPIVersion() == "" {
			missing = append(missing, "apiVersion not set")
		}
		if u.GetKind() == "" {
			missing = append(missing, "kind not set")
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("error validating %q: error validating data: [%s]", source, strings.Join(missing, ", "))
		}
		out = append(out, Object{Source: source, Unstructured: u})
	}
}
