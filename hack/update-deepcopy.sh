#!/usr/bin/env bash
# Regenerates the deep copies of batchd's own API types (internal/apis/...).
# Run after changing a type there, then hack/update-openapi.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ver=$(go list -m -f '{{.Version}}' k8s.io/apimachinery)
GOBIN="$(go env GOPATH)/bin" go install "k8s.io/code-generator/cmd/deepcopy-gen@${ver}"
hdr=$(mktemp)
trap 'rm -f "$hdr"' EXIT
: >"$hdr"
"$(go env GOPATH)/bin/deepcopy-gen" --go-header-file "$hdr" --output-file zz_generated.deepcopy.go \
  github.com/batchd/batchd/internal/apis/batchd/v1alpha1
