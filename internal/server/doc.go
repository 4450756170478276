// Package server is batchd's composition root: it is the one place that knows
// the start order — the data dir (recognised by its marker file, locked so
// that one server uses it at a time), credentials, then etcd (embedded unless
// external servers are named), then the API server with its controllers —
// and stops them in reverse when the context ends, at any moment of the start
// too.
//
// Run serves in the foreground (`batchd server`); Start runs a server inside
// another program and returns once it is ready, with Stop (tests through
// internal/testenv, `batchd run`'s ephemeral server). Every Config comes from
// the same defaults, NewOptions().Config(), adjusted by its caller; the
// server's own lines go to Config.Log.
//
// RunAgent (`batchd agent`, agent.go) is the node half alone, for another
// machine of a cluster: node credentials from the join token, then the
// same node agent a server runs, talking to the cluster's API as its node
// identity. streams.go is where the API server reaches any node's agent
// for logs, exec, attach and port-forward.
package server
