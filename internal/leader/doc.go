// Package leader makes sure that what must act once in a cluster acts on one
// server at a time: client-go's leader election on a coordination.k8s.io
// Lease, as kube-controller-manager and kube-scheduler elect, with their
// timing (15 s lease, 10 s renew deadline, 2 s retry).
//
// Two things differ from upstream, both because batchd serves the API from
// the same process. A server that loses its lease does not exit (the API,
// and the node agent's pods, would go with it): it stops what it led, waits
// until that has stopped, and campaigns again with fresh state. And its
// identity is stable per data dir (Identity), so a server restarted after a
// crash finds itself the holder and leads again at once instead of waiting
// out the lease; a graceful stop releases the lease once what it led has
// stopped, so another server takes over at its next retry.
package leader
