// Package node is batchd's node agent, the kubelet of one machine: it
// registers the Node and keeps its Lease fresh, runs the pods bound to it
// through the process runtime, and reports their status and events as a
// kubelet does.
//
// decide.go is the pure part (pod + runs + now → what to start, what to stop,
// the pod status); env.go builds a container's environment and command;
// volumes.go lays out the pod's volumes; agent.go observes and applies.
package node
