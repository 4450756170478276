// Package nodeauth is what a node agent may do with its node identity
// (CN system:node:<name>, O system:nodes): upstream's Node authorizer and
// NodeRestriction admission plugin, as ideas, in our own small code.
//
// An agent may read what a kubelet reads (Nodes, Pods, Services,
// Endpoints, RuntimeClasses), change only its own Node and its status and
// its own Lease in kube-node-lease, write the status of and delete the pods
// bound to it, record events, and create tokens of the service accounts its
// pods run as, bound to one of those pods. Secrets, ConfigMaps and
// PersistentVolumeClaims it may get (not list or watch) only by name and
// only when a pod bound to it refers to them; claims it may also bind
// (update, update status), since batchd's local provisioner runs on the
// node. Upstream keeps a graph of pods, secrets and volumes for this; we
// ask the API for the node's pods in the namespace at the time of the
// request (an agent reads a Secret when it starts a pod, not in a loop), so
// the answer is never stale: from the watch cache by its spec.nodeName
// index, the node's pods still to finish first. Whether a pod whose status
// a node writes, or which it deletes, is bound to it is admission's check,
// on the stored pod the request replaces (NodeRestriction's way), so a
// status write costs no extra read.
//
// Everything else gets no opinion here, and so RBAC's answer (nothing, by
// default, for system:nodes).
package nodeauth
