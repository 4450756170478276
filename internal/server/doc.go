// Package server is batchd's composition root: it is the one place that knows
// the start order — credentials, then etcd (embedded unless external servers
// are named), then the API server with its controllers — and stops them in
// reverse when the context ends.
package server
