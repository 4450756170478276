package serverproc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BinaryEnv names the batchd binary the end-to-end tests run, built once
// by hack/test.sh for every test package that needs it.
const BinaryEnv = "BATCHD_TEST_BINARY"

// TestBinary is the batchd binary a test package (run from a directory two
// levels under the module root) starts: $BATCHD_TEST_BINARY when set, else
// one built into dir. One build shared by the packages saves each of them
// a full compile of its own, which `go test ./...` would otherwise run
// side by side.
func TestBinary(dir string) (string, error) {
	if b := os.Getenv(BinaryEnv); b != "" {
		if _, err := os.Stat(b); err != nil {
			return "", fmt.Errorf("%s: %w", BinaryEnv, err)
		}
		return b, nil
	}
	bin := filepath.Join(dir, "batchd")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/batchd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build batchd: %w", err)
	}
	return bin, nil
}
