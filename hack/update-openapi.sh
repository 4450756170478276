#!/usr/bin/env bash
# Regenerates internal/apiserver/openapi/zz_generated.openapi.go from the k8s.io/api
# types batchd serves and batchd's own (internal/apis/..., which also get their
# zz_generated.model_name.go). Run after bumping k8s.io/api, adding a served group
# or changing an own type (after hack/update-deepcopy.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ver=$(go list -m -f '{{.Version}}' k8s.io/kube-openapi)
GOBIN="$(go env GOPATH)/bin" go install "k8s.io/kube-openapi/cmd/openapi-gen@${ver}"
"$(go env GOPATH)/bin/openapi-gen" \
  --go-header-file hack/boilerplate.go.txt \
  --output-dir internal/apiserver/openapi \
  --output-pkg github.com/batchd/batchd/internal/apiserver/openapi \
  --output-file zz_generated.openapi.go \
  --readonly-pkg k8s.io/api/core/v1 --readonly-pkg k8s.io/api/batch/v1 \
  --readonly-pkg k8s.io/api/coordination/v1 --readonly-pkg k8s.io/api/events/v1 --readonly-pkg k8s.io/api/scheduling/v1alpha3 --readonly-pkg k8s.io/api/policy/v1 --readonly-pkg k8s.io/api/node/v1 \
  --readonly-pkg k8s.io/api/rbac/v1 --readonly-pkg k8s.io/api/authorization/v1 --readonly-pkg k8s.io/api/authentication/v1 --readonly-pkg k8s.io/api/discovery/v1 \
  --readonly-pkg k8s.io/apimachinery/pkg/apis/meta/v1 --readonly-pkg k8s.io/apimachinery/pkg/runtime \
  --readonly-pkg k8s.io/apimachinery/pkg/version --readonly-pkg k8s.io/apimachinery/pkg/api/resource \
  --readonly-pkg k8s.io/apimachinery/pkg/util/intstr \
  --output-model-name-file zz_generated.model_name.go \
  --report-filename /dev/null \
  k8s.io/api/core/v1 k8s.io/api/batch/v1 k8s.io/api/coordination/v1 k8s.io/api/events/v1 k8s.io/api/scheduling/v1alpha3 k8s.io/api/policy/v1 k8s.io/api/node/v1 \
  k8s.io/api/rbac/v1 k8s.io/api/authorization/v1 k8s.io/api/authentication/v1 k8s.io/api/discovery/v1 \
  k8s.io/apimachinery/pkg/apis/meta/v1 k8s.io/apimachinery/pkg/runtime k8s.io/apimachinery/pkg/version \
  k8s.io/apimachinery/pkg/api/resource k8s.io/apimachinery/pkg/util/intstr \
  github.com/batchd/batchd/internal/apis/batchd/v1alpha1
