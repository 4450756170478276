// Package storage runs the embedded etcd that batchd keeps its state in by default.
//
// etcd listens on one unix socket file inside the 0700 etcd directory and on
// nothing else: a single member has no peer listener (an abstract unix socket
// there let any local user talk raft to it), so several batchd servers can run
// side by side and nothing is reachable from the network or by other users.
// Start blocks until etcd is ready or fails; Stop closes it.
package storage
