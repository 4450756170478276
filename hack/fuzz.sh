#!/usr/bin/env bash
# Runs every fuzz target for the given budget each: hack/fuzz.sh [BUDGET]
# BUDGET is a -fuzztime: a count of executions such as 20000x (the default,
# and what CI runs) or a duration such as 10m (the campaign's one-off run).
# CI uses a count because Go 1.26's coordinator can fail a duration-bounded
# run with a spurious "context deadline exceeded" at the deadline
# (golang/go#75804, fixed in Go 1.27); a count has no deadline to race.
# What a target finds lands in its package's testdata/fuzz/ and from then on
# runs with the ordinary tests as a regression case.
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${1:-20000x}
targets=(
	"./internal/apiserver/registry/job FuzzDecodeDefaultValidate"
	"./internal/apiserver/registry/cronjob FuzzValidateCronJob"
	"./internal/apiserver/registry/pod FuzzLogOptionsFromQuery"
	"./internal/cronspec FuzzParseStandard"
	"./internal/cronspec FuzzScheduleNext"
	"./internal/controller/cronjob FuzzParseSchedule"
	"./internal/node FuzzExpand"
	"./internal/node/runtime FuzzReadLog"
	"./internal/node/runtime FuzzParseCRI"
)
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "fuzz: $name ($pkg), $budget"
	go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$budget"
done
