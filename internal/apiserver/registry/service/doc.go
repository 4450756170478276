// Package service serves core/v1 Services and Endpoints and discovery.k8s.io/v1
// EndpointSlices as stored objects, with upstream's defaults, the basics of its
// validation and kubectl's columns. ClusterIPs and node ports are allocated
// (allocator.go) so that manifests and clients see what a cluster shows; batchd
// runs no service proxy, so neither is routed (pods share the host network and
// reach each other and the API server by the node's addresses). Headless
// Services (clusterIP: None), e.g. for Indexed Jobs, need no allocation.
package service
