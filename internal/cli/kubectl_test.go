//go:build !nokubectl

package cli

import (
	"testing"

	"github.com/batchd/batchd/internal/cli/kubectllang"
)

// In the binary's whole package graph, kubectllang's init ran before any of
// kubectl's packages translated a message (else its loader is not used).
func TestKubectlLangInitRunsFirst(t *testing.T) {
	if !kubectllang.Installed {
		t.Fatal("a package translated a kubectl message before internal/cli/kubectllang's init: kubectl loads its English catalogue again at every start")
	}
}
