// Package storage runs the embedded etcd that batchd keeps its state in by default.
//
// etcd listens only on unix sockets inside the data directory (client and peer),
// so several batchd servers can run side by side and nothing is reachable from
// the network. Start blocks until etcd is ready or fails; Stop closes it.
package storage
