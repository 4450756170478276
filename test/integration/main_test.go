// Package integration tests API semantics against a real in-process batchd
// (embedded etcd + API server + controllers), one server for the package.
package integration

import (
	"os"
	"testing"

	"github.com/batchd/batchd/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }
