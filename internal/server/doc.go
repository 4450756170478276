// Package server is batchd's composition root: it is the one place that knows
// the start order — the data dir (recognised by its marker file, locked so
// that one server uses it at a time), credentials, then etcd (embedded unless
// external servers are named), then the API server with its controllers —
// and stops them in reverse when the context ends, at any moment of the start
// too.
package server
