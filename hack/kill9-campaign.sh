#!/usr/bin/env bash
# Kill -9 campaign: runs one Job on a fresh batchd server, kills the server
# with SIGKILL at random moments and restarts it each time, then checks that
# nothing was lost or counted twice and that no process is left behind.
#
#   hack/kill9-campaign.sh [-b BATCHD] [-k KILLS] [-c COMPLETIONS] [-p PARALLELISM] [-m NonIndexed|Indexed|CronJob] [-s 1|3]
#
# Defaults are the full campaign: 20 kills, 1,000 completions, parallelism 20,
# NonIndexed. Pods sleep 0-2 s and about one in ten fails (exit 1) and is
# retried. It needs nothing but the batchd binary (kubectl is `batchd kubectl`).
# Exit status 0 when every check passed; the last line is the result row.
#
# -m CronJob runs a CronJob at "* * * * *" (startingDeadlineSeconds 3600)
# instead, killing the server after 5-40 s up each time; the first downtime
# spans two slots and one in three of the others spans one. It then checks,
# slot by slot against the recorded downtimes, what upstream's controller
# does (hack/kill9-cronjob-check.awk): a Job for every slot the server was up
# for; for a downtime, one catch-up Job for its most recent missed slot and
# none for the earlier ones; never two Jobs for one slot; every Job completed
# by exactly one pod; no process left. -c and -p do not apply.
#
# -s 3 runs the same against a cluster of three servers on 127.0.0.1-3
# (--cluster-init, two joining with the token; each with its own data dir,
# node agent and short leader Leases) and kills a random one each time
# (down 0-10 s): the leader too, so the controllers fail over. The same
# exact counts must hold; in CronJob mode the cluster is never down as a
# whole, so every slot must have exactly one Job.
set -euo pipefail

BATCHD=batchd KILLS=20 COMPLETIONS=1000 PARALLELISM=20 MODE=NonIndexed SERVERS=1
while getopts "b:k:c:p:m:s:" opt; do
	case $opt in
	b) BATCHD=$OPTARG ;;
	k) KILLS=$OPTARG ;;
	c) COMPLETIONS=$OPTARG ;;
	p) PARALLELISM=$OPTARG ;;
	m) MODE=$OPTARG ;;
	s) SERVERS=$OPTARG ;;
	*) sed -n '2,29p' "$0" >&2; exit 2 ;;
	esac
done

case $SERVERS in 1 | 3) ;; *) echo "kill9-campaign: -s takes 1 or 3" >&2; exit 2 ;; esac
DIR=$(mktemp -d "${TMPDIR:-/tmp}/batchd-kill9-XXXXXX")
MARKER=kill9-campaign-$$-$RANDOM
started=$(date +%s)
# Server i: its data dir, log, pid and (in a cluster) address and etcd peer port.
DATAS=() LOGS=() PIDS=() ADDRS=() PEERS=()
if [ "$SERVERS" = 1 ]; then
	DATAS=("$DIR/data") LOGS=("$DIR/server.log") PIDS=("")
else
	for i in 0 1 2; do
		DATAS+=("$DIR/data$i") LOGS+=("$DIR/server$i.log") PIDS+=("") ADDRS+=("127.0.0.$((i + 1))")
		PEERS+=("$((20000 + RANDOM % 12000))")
	done
fi
LOG=${LOGS[*]}

# k runs kubectl against a server that is up.
k() {
	local i
	for i in "${!PIDS[@]}"; do
		if [ -n "${PIDS[$i]}" ]; then
			"$BATCHD" kubectl --kubeconfig "${DATAS[$i]}/kubeconfig" "$@"
			return
		fi
	done
	fail "no server is up"
}
say() { echo "kill9-campaign: $*" >&2; }
fail() { say "FAIL: $*"; say "server log: $LOG"; exit 1; }

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
	done
	# Containers outlive a killed server: stop whatever this campaign started.
	pkill -9 -f "$MARKER" 2>/dev/null || true
}
trap cleanup EXIT

# delete_and_count_strays KIND: deleting the campaign's object stops and
# removes every pod; no process of the campaign may be left (sets strays).
delete_and_count_strays() {
	k delete "$1" campaign --cascade=foreground --timeout=120s >/dev/null || problems+=("delete did not finish")
	strays=0
	for _ in $(seq 100); do
		strays=$(pgrep -f "$MARKER" | wc -l || true)
		[ "$strays" = 0 ] && break
		sleep 0.1
	done
	[ "$strays" = 0 ] || problems+=("$strays processes left after the $1 was deleted")
}

# finish reports the problems found and exits 1, or stops the server,
# removes the campaign's directory and exits 0.
finish() {
	if [ "${#problems[@]}" -gt 0 ]; then
		for p in "${problems[@]}"; do say "FAIL: $p"; done
		say "server log: $LOG"
		exit 1
	fi
	local i
	for i in "${!PIDS[@]}"; do
		[ -n "${PIDS[$i]}" ] && kill "${PIDS[$i]}" 2>/dev/null && wait "${PIDS[$i]}" 2>/dev/null || true
		PIDS[i]=
	done
	rm -rf "$DIR"
	exit 0
}

# start_server I starts server I (again) and waits until it is ready.
start_server() {
	local i=$1 before args
	before=$(grep -c "batchd is ready" "${LOGS[$i]}" 2>/dev/null || true)
	args=(--data-dir "${DATAS[$i]}" --secure-port 0 --node-name kill9)
	if [ "$SERVERS" != 1 ]; then
		args=(--data-dir "${DATAS[$i]}" --secure-port 0 --node-name "kill9-$i" --bind-address "${ADDRS[$i]}"
			--etcd-peer-port "${PEERS[$i]}" --leader-elect-lease-duration=4s --leader-elect-renew-deadline=3s
			--leader-elect-retry-period=500ms)
		if [ "$i" = 0 ]; then
			args+=(--cluster-init)
		else
			# Only the first start joins; a member restarted ignores these.
			args+=(--server "$(sed -n 's/^ *server: //p' "${DATAS[0]}/kubeconfig" | head -1)" --token "$(cat "${DATAS[0]}/token")")
		fi
	fi
	"$BATCHD" server "${args[@]}" >>"${LOGS[$i]}" 2>&1 &
	PIDS[i]=$!
	for _ in $(seq 600); do
		if [ "$(grep -c "batchd is ready" "${LOGS[$i]}" 2>/dev/null || true)" -gt "${before:-0}" ]; then
			return 0
		fi
		kill -0 "${PIDS[$i]}" 2>/dev/null || fail "server $i exited while starting"
		sleep 0.1
	done
	fail "server $i not ready after 60 s"
}

# start starts every server, the first alone.
start() {
	local i
	for i in "${!PIDS[@]}"; do start_server "$i"; done
}

# kill_server I kills server I with SIGKILL.
kill_server() {
	kill -9 "${PIDS[$1]}"
	wait "${PIDS[$1]}" 2>/dev/null || true
	PIDS[$1]=
}

# bounce kills a random server (the only one, or one of three), keeps it
# down for HOLD seconds and starts it again.
bounce() {
	local i=$((RANDOM % SERVERS)) holder
	BOUNCED=$i
	if [ "$SERVERS" != 1 ]; then
		holder=$(k get lease -n kube-system kube-controller-manager -o 'jsonpath={.spec.holderIdentity}' 2>/dev/null || true)
		[ -n "$holder" ] && [ "$holder" = "$(cat "${DATAS[$i]}/leader-identity" 2>/dev/null)" ] && BOUNCED="$i, the leader"
	fi
	kill_server "$i"
	sleep "$1"
	start_server "$i"
}


if [ "$MODE" = CronJob ]; then
	start
	k apply -f - >/dev/null <<EOF
apiVersion: batch/v1
kind: CronJob
metadata: {name: campaign}
spec:
  schedule: "* * * * *"
  startingDeadlineSeconds: 3600
  successfulJobsHistoryLimit: 1000
  failedJobsHistoryLimit: 1000
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
          - name: work
            image: busybox
            command: [sh, -c, 'sleep \$(( \$(od -An -N1 -tu1 /dev/urandom) % 3 )); echo done', $MARKER]
EOF
	created=$(date +%s)
	# Timeline: "KILL_AT READY_AT" per downtime.
	downs=()
	for i in $(seq "$KILLS"); do
		sleep "$((RANDOM % 36 + 5)).$((RANDOM % 10))"
		killed=$(date +%s.%N)
		hold=0
		if [ "$SERVERS" != 1 ]; then
			hold=$((RANDOM % 11)) # one of three: the cluster stays up
		elif [ "$i" = 1 ]; then
			hold=125 # across two slots: only the later may be caught up
		elif [ $((RANDOM % 3)) = 0 ]; then
			hold=65 # across one slot
		fi
		bounce "$hold"
		[ "$SERVERS" = 1 ] && downs+=("$killed $(date +%s.%N)")
		say "kill $i/$KILLS (server $BOUNCED), down ${hold}s+, restarted ($(k get jobs --no-headers 2>/dev/null | wc -l) Jobs)"
	done
	# Let the slots after the last restart run, and their Jobs finish.
	last=$(date +%s)
	sleep $((60 - last % 60 + 75))
	ended=$(date +%s)
	elapsed=$((ended - started))

	# Every Job: name, scheduled time, succeeded; every pod: Job, phase.
	jobs=$(k get jobs -o 'jsonpath={range .items[*]}{.metadata.name} {.metadata.annotations.batch\.kubernetes\.io/cronjob-scheduled-timestamp} {.status.succeeded}{"\n"}{end}')
	pods=$(k get pods -o 'jsonpath={range .items[*]}{.metadata.labels.batch\.kubernetes\.io/job-name} {.status.phase}{"\n"}{end}')
	report=$(
		{
			printf 'created %s\nended %s\n' "$created" "$ended"
			for d in "${downs[@]}"; do echo "down $d"; done
			while read -r name ts ok; do
				[ -n "$name" ] && echo "job $name $(date -d "$ts" +%s) ${ok:-0}"
			done <<<"$jobs"
			while read -r job phase; do [ -n "$job" ] && echo "pod $job $phase"; done <<<"$pods"
		} | awk -f "$(dirname "$0")/kill9-cronjob-check.awk"
	)
	problems=()
	while read -r line; do
		case $line in
		problem:*) problems+=("${line#problem: }") ;;
		summary*) read -r _ slots njobs musts skipped <<<"$line" ;;
		esac
	done <<<"$report"
	delete_and_count_strays cronjob
	[ "${njobs:-0}" -gt 0 ] || problems+=("no Job at all")
	# mode | kills | slots | Jobs | slots that needed a Job | missed slots rightly skipped | duplicates | strays | time
	echo "| CronJob$([ "$SERVERS" = 1 ] || echo ", 3 servers") | $KILLS | $slots | $njobs | $musts | $skipped | $(grep -c 'two Jobs' <<<"$report" || true) | $strays | ${elapsed}s |"
	finish
fi

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
	hold=0
	[ "$SERVERS" = 1 ] || hold=$((RANDOM % 11))
	bounce "$hold"
	succeeded=$(k get job campaign -o 'jsonpath={.status.succeeded}' 2>/dev/null || true)
	say "kill $i/$KILLS (server $BOUNCED, down ${hold}s), restarted (succeeded: ${succeeded:-0})"
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

delete_and_count_strays job

echo "| $MODE$([ "$SERVERS" = 1 ] || echo ", 3 servers") | $KILLS | $COMPLETIONS | $succeeded | $((succeeded_pods - COMPLETIONS)) | $failed/$failed_pods | $strays | ${elapsed}s |"
finish
