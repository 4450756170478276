// Package v1alpha1 is batchd's own API group, batchd.dev/v1alpha1: the
// JobRun, a durable record of one run of a Job (or of a CronJob slot that
// did not start one). Kubernetes keeps no such record: a Job's pods go when
// it fails, its Job goes with TTL or history limits, and with them every
// exit code and log line. JobRuns outlive both; batchd's controllers write
// them and users read them with stock kubectl (`kubectl get runs`).
//
// The types are plain structs with generated deep copies and OpenAPI
// definitions (hack/update-openapi.sh), served as JSON only: they carry no
// protobuf marshalling, so the server stores them as JSON too.
//
// +k8s:deepcopy-gen=package
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=dev.batchd.v1alpha1
// +groupName=batchd.dev
package v1alpha1
