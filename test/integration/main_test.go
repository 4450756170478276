// Package integration tests API semantics against a real in-process batchd
// (embedded etcd + API server + controllers), one server for the package.
// Every test runs in parallel with the others: each works in a namespace of
// its own (env.Namespace) or on a server of its own (testenv.StartWith).
package integration

import (
	"flag"
	"os"
	"testing"

	"github.com/batchd/batchd/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	// The tests wait on the server far more than they compute, and a few
	// wait out real grace periods (a lost node's 15 s): four at a time
	// rather than GOMAXPROCS (two here), unless -parallel says otherwise.
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "4")
	}
	os.Exit(testenv.Main(m, &env))
}
