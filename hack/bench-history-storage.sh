#!/usr/bin/env bash
# Storage per 1,000 runs of the run history (issue 23): hack/bench-history-storage.sh [BATCHD] [N]
#
# Starts a fresh `batchd server` (extra flags from $SERVER_ARGS, e.g.
# SERVER_ARGS=--run-history=false for the peer without history), applies N
# one-pod Jobs that each print one line, waits for all to succeed, deletes
# the Jobs (their pods go, their records and logs stay), then prints the
# JobRuns' size (compact JSON, as stored), the etcd data dir and bbolt file,
# and the kept logs' bytes and disk blocks.
set -euo pipefail
B=${1:-batchd}
N=${2:-1000}
T=$(mktemp -d /tmp/batchd-bench-storage-XXXX)
# shellcheck disable=SC2086
"$B" server --data-dir "$T/d" --secure-port 0 ${SERVER_ARGS:-} >"$T/out" 2>"$T/log" &
SP=$!
trap 'kill $SP 2>/dev/null; wait $SP 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 200); do grep -q "batchd is ready" "$T/out" 2>/dev/null && break; sleep 0.3; done
K=("$B" kubectl --kubeconfig "$T/d/kubeconfig")
for i in $(seq "$N"); do cat <<Y
---
apiVersion: batch/v1
kind: Job
metadata: {name: run-$i}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox, command: ["echo", "run $i: hello from a one-line job"]}]
Y
done >"$T/jobs.yaml"
"${K[@]}" apply -f "$T/jobs.yaml" >/dev/null
n=0
for _ in $(seq 900); do
	n=$("${K[@]}" get jobs -o jsonpath='{range .items[*]}{.status.succeeded}{"\n"}{end}' | grep -c '^1$' || true)
	[ "$n" -ge "$N" ] && break
	sleep 2
done
echo "Jobs succeeded: $n of $N"
"${K[@]}" delete jobs --all --wait=true >/dev/null
for _ in $(seq 300); do [ "$("${K[@]}" get pods -o name | wc -l)" -eq 0 ] && break; sleep 1; done
if [ -d "$T/d/runs" ]; then
	for _ in $(seq 60); do
		done=$("${K[@]}" get runs -o jsonpath='{range .items[*]}{.status.outcome}{"\n"}{end}' | grep -c Succeeded || true)
		[ "$done" -ge "$N" ] && break
		sleep 1
	done
	"${K[@]}" get runs -o json >"$T/runs.json"
	python3 - "$T/runs.json" <<'P'
import json, sys
items = json.load(open(sys.argv[1]))['items']
sizes = [len(json.dumps(i, separators=(',', ':'))) for i in items]
print("JobRuns: %d, compact JSON %d bytes (%.0f per run, %d–%d)" % (len(items), sum(sizes), sum(sizes) / len(items), min(sizes), max(sizes)))
P
	echo "kept logs: $(find "$T/d/runs" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}') bytes in $(find "$T/d/runs" -type f | wc -l) files and $(find "$T/d/runs" -mindepth 1 -type d | wc -l) directories; disk $(du -sB1 "$T/d/runs" | cut -f1) bytes"
else
	echo "no run history (kept logs: none)"
fi
echo "etcd: data dir $(du -sb "$T/d/etcd" | cut -f1) bytes, bbolt file $(find "$T/d/etcd" -name db -printf '%s') bytes"
