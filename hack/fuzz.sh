#!/usr/bin/env bash
# Runs every fuzz target for the given time each (default 10s; the
# campaign's one-off run used 10m): hack/fuzz.sh [DURATION]
# What a target finds lands in its package's testdata/fuzz/ and from then on
# runs with the ordinary tests as a regression case.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-10s}
targets=(
	"./internal/apiserver/registry/job FuzzDecodeDefaultValidate"
	"./internal/apiserver/registry/cronjob FuzzValidateCronJob"
	"./internal/apiserver/registry/pod FuzzLogOptionsFromQuery"
	"./internal/controller/cronjob FuzzParseSchedule"
	"./internal/node FuzzExpand"
	"./internal/node/runtime FuzzReadLog"
	"./internal/node/runtime FuzzParseCRI"
)
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "fuzz: $name ($pkg) for $time"
	go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$time"
done
