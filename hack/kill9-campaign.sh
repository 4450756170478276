#!/usr/bin/env bash
# Kill -9 campaign: runs one Job on a fresh batchd server, kills the server
# with SIGKILL at random moments and restarts it each time, then checks that
# nothing was lost or counted twice and that no process is left behind.
#
#   hack/kill9-campaign.sh [-b BATCHD] [-k KILLS] [-c COMPLETIONS] [-p PARALLELISM] [-m NonIndexed|Indexed]
#
# Defaults are the full campaign: 20 kills, 1,000 completions, parallelism 20,
# NonIndexed. Pods sleep 0-2 s and about one in ten fails (exit 1) and is
# retried. It needs nothing but the batchd binary (kubectl is `batchd kubectl`).
# Exit status 0 when every check passed; the last line is the result row.
set -euo pipefail

BATCHD=batchd KILLS=20 COMPLETIONS=1000 PARALLELISM=20 MODE=NonIndexed
while getopts "b:k:c:p:m:" opt; do
	case $opt in
	b) BATCHD=$OPTARG ;;
	k) KILLS=$OPTARG ;;
	c) COMPLETIONS=$OPTARG ;;
	p) PARALLELISM=$OPTARG ;;
	m) MODE=$OPTARG ;;
	*) sed -n '2,12p' "$0" >&2; exit 2 ;;
	esac
done

DIR=$(mktemp -d "${TMPDIR:-/tmp}/batchd-kill9-XXXXXX")
DATA=$DIR/data
LOG=$DIR/server.log
MARKER=kill9-campaign-$$-$RANDOM
PID=
started=$(date +%s)

k() { "$BATCHD" kubectl --kubeconfig "$DATA/kubeconfig" "$@"; }
say() { echo "kill9-campaign: $*" >&2; }
fail() { say "FAIL: $*"; say "server log: $LOG"; exit 1; }

cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
	# Containers outlive a killed server: stop whatever this campaign started.
	pkill -9 -f "$MARKER" 2>/dev/null || true
}
trap cleanup EXIT

start() {
	local before
	before=$(grep -c "batchd is ready" "$LOG" 2>/dev/null || true)
	"$BATCHD" server --data-dir "$DATA" --secure-port 0 --node-name kill9 >>"$LOG" 2>&1 &
	PID=$!
	for _ in $(seq 600); do
		if [ "$(grep -c "batchd is ready" "$LOG" 2>/dev/null || true)" -gt "${before:-0}" ]; then
			return 0
		fi
		kill -0 "$PID" 2>/dev/null || fail "server exited while starting"
		sleep 0.1
	done
	fail "server not ready after 60 s"
}

start
indexed=""
[ "$MODE" = Indexed ] && indexed="  completionMode: Indexed"
k apply -f - >/dev/null <<EOF
apiVersion: batch/v1
kind: Job
metadata: {name: campaign}
spec:
  completions: $COMPLETIONS
  parallelism: $PARALLELISM
  backoffLimit: $COMPLETIONS
$indexed
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - name: work
        image: busybox
        command:
        - sh
        - -c
        - 'r=\$(od -An -N1 -tu1 /dev/urandom | tr -d " "); sleep \$((r % 3)); echo done \$r; [ \$r -ge 26 ]'
        - $MARKER
EOF

for i in $(seq "$KILLS"); do
	sleep "$((RANDOM % 4 + 1)).$((RANDOM % 10))"
	kill -9 "$PID"
	wait "$PID" 2>/dev/null || true
	start
	succeeded=$(k get job campaign -o 'jsonpath={.status.succeeded}' 2>/dev/null || true)
	say "kill $i/$KILLS, restarted (succeeded: ${succeeded:-0})"
done

k wait --for=condition=complete job/campaign --timeout=900s >/dev/null || {
	k get job campaign -o yaml >&2
	fail "the Job did not complete"
}
elapsed=$(($(date +%s) - started))

succeeded=$(k get job campaign -o 'jsonpath={.status.succeeded}')
failed=$(k get job campaign -o 'jsonpath={.status.failed}')
failed=${failed:-0}
phases=$(k get pods -l batch.kubernetes.io/job-name=campaign -o 'jsonpath={range .items[*]}{.status.phase}{"\n"}{end}')
succeeded_pods=$(grep -c '^Succeeded$' <<<"$phases" || true)
failed_pods=$(grep -c '^Failed$' <<<"$phases" || true)
unfinished=$(grep -cv -e '^Succeeded$' -e '^Failed$' <<<"$phases" || true)
tracked=$(k get pods -l batch.kubernetes.io/job-name=campaign -o 'jsonpath={range .items[*]}{.metadata.finalizers}{"\n"}{end}' | grep -c job-tracking || true)
indexes=$(k get job campaign -o 'jsonpath={.status.completedIndexes}')

problems=()
[ "$succeeded" = "$COMPLETIONS" ] || problems+=("status.succeeded $succeeded != completions $COMPLETIONS")
[ "$succeeded_pods" = "$COMPLETIONS" ] || problems+=("$succeeded_pods Succeeded pods for $COMPLETIONS completions")
[ "$failed" = "$failed_pods" ] || problems+=("status.failed $failed != $failed_pods Failed pods")
[ "$unfinished" = 0 ] || problems+=("$unfinished pods not finished")
[ "$tracked" = 0 ] || problems+=("$tracked pods still carry the tracking finalizer")
if [ "$MODE" = Indexed ] && [ "$indexes" != "0-$((COMPLETIONS - 1))" ]; then
	problems+=("completedIndexes $indexes")
fi

# Deleting the Job stops and removes every pod; no process may be left.
k delete job campaign --cascade=foreground --timeout=120s >/dev/null || problems+=("delete did not finish")
strays=0
for _ in $(seq 100); do
	strays=$(pgrep -f "$MARKER" | wc -l || true)
	[ "$strays" = 0 ] && break
	sleep 0.1
done
[ "$strays" = 0 ] || problems+=("$strays processes left after the Job was deleted")

echo "| $MODE | $KILLS | $COMPLETIONS | $succeeded | $((succeeded_pods - COMPLETIONS)) | $failed/$failed_pods | $strays | ${elapsed}s |"
if [ "${#problems[@]}" -gt 0 ]; then
	for p in "${problems[@]}"; do say "FAIL: $p"; done
	say "server log: $LOG"
	exit 1
fi
kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
PID=
rm -rf "$DIR"
