// Package apiserver assembles batchd's Kubernetes API server on
// k8s.io/apiserver: the scheme (upstream k8s.io/api types, no internal
// versions), the served resources and their storage in etcd, OpenAPI v2/v3
// from the generated definitions, authentication (admin client certificate or
// bearer token; anonymous requests get 401), and NamespaceLifecycle admission.
// Controllers start from the "start-controllers" post-start hook on the
// loopback client, which reaches the handler chain in memory (inprocess.go)
// rather than through TLS on the secure port. The web view (internal/ui) is
// served at /ui/ in front of the handler chain, its session cookie one more
// authenticator (ui.go).
package apiserver
