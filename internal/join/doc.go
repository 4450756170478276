// Package join lets a server join another's cluster, as k3s servers join
// (`--server URL --token TOKEN`): the token, K10<sha256 of the cluster CA's
// PEM>::server:<secret>, lets the joining server check the CA it is sent
// before it sends the secret, so a join cannot be intercepted; the secret
// then gets it the cluster's CA and service-account keys and an etcd member
// of its own (etcd's member add). The two endpoints are served on the API
// port in front of the API's authentication: /v1-batchd/cacerts (anyone: a
// CA certificate is public) and /v1-batchd/join (the secret).
//
// Agents (`batchd agent --server URL --token TOKEN`, node.go) check the CA
// the same way, then send certificate requests to /v1-batchd/node with the
// secret: they get a node client certificate and a serving certificate,
// signed on the server, for keys that never leave them.
package join
