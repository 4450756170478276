#!/usr/bin/env bash
# A release-style build: hack/build.sh [OUTPUT] (default bin/batchd).
# Stripped (-s -w), without local paths (-trimpath), its version stamped from
# `git describe` (a tag such as v0.14.0, else the commit), so that
# `batchd version` names it. Put OUTPUT on your PATH, e.g.
#   hack/build.sh /usr/local/bin/batchd
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bin/batchd}
version=$(git describe --tags --always --dirty 2>/dev/null || echo unknown)
case $version in v*) ;; *) version="v0.0.0-$version" ;; esac
CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X github.com/batchd/batchd/internal/cli.stampedVersion=$version" -o "$out" ./cmd/batchd
echo "built $out: $("$out" version | head -1)"
