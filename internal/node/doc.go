// Package node is batchd's node agent, the kubelet of one machine: it
// registers the Node and keeps its Lease fresh, runs the pods bound to it
// through a runtime.Runtime, and reports their status and events as a
// kubelet does.
//
// The agent is the control plane's shape applied to a node: pure decisions
// with the time passed in, effects at the edges, a clock injected
// everywhere, one concern per file, each tested alone (like nomad's
// taskrunner hooks).
//
// The pod worker (one owner per pod):
//
//	agent.go        Config, New, Run: the informers, the queue, the parts below
//	worker.go       a worker per pod keyed by UID only: observe → Decide → act →
//	                Result{Requeue, RequeueAt}; start, remove, orphans
//	decide.go       pure: pod + runs + start errors + now → Plan (start, kill,
//	status.go       status, events, requeue, which run an ephemeral container
//	                joins); status.go is the pod status
//
// What a container needs (Lookup is the seam to the API's objects):
//
//	prepare.go       effects: volumes, subPaths, /etc/hosts, the image → inputs
//	containerspec.go pure: those inputs → runtime.Spec, host or OCI
//	env.go           pure: environment, $(VAR) expansion, the command
//	volumes.go       volume set-up (volume/ holds subPath and atomic writes)
//	user.go          runAsUser, runAsGroup, groups; redact.go keeps Secrets out
//	runtimeclass.go  the pod's runtime handler (host, oci, runc, crun)
//
// The node-wide parts, each small:
//
//	heartbeat.go  Node registration and status, Lease renewal
//	node.go       the Machine and its Node status (pure)
//	images.go     image manager: pulls with back-off and remembered failures, GC
//	claims.go     the local PersistentVolumeClaim provisioner and binder
//	events.go     the kubelet's events, each planned one recorded once
//	stop.go       Killing, preStop hook, SIGTERM, grace on the clock, SIGKILL
//	storage.go    eviction manager: measures disk use; eviction.go decides (pure)
//	logs.go       pods/log from the runtime's CRI logs
//	streams.go    what the streaming endpoint (stream/: exec, attach,
//	              port-forward, served to the API server) finds of pods
//
// runtime/ is the process side (the Runtime interface, the host and OCI
// drivers, the supervisor); runtime/runtimetest has a fake the agent runs
// on in-process (internal/testenv.StartWithNode).
package node
