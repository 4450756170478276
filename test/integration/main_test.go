// Package integration tests API semantics against a real in-process batchd
// (embedded etcd + API server + controllers), one server for the package.
// Every test runs in parallel with the others: each works in a namespace of
// its own (env.Namespace) or on a server of its own (testenv.StartWith).
package integration

import (
	"os"
	"testing"

	"github.com/batchd/batchd/internal/testenv"
)

var env *testenv.Env

// TestMain runs the tests two at a time (-parallel's default, GOMAXPROCS, on
// this 2-core machine kind): four at a time passed alone (76-85 s against
// 156 s one at a time), but beside the e2e package, as hack/test.sh runs them,
// servers then took over a minute to start and namespaces over 30 s to go.
func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }
