#!/usr/bin/env bash
# Leader failover time (issue 20): hack/bench-failover.sh [BATCHD] [RUNS]
#
# Forms a cluster of three servers on 127.0.0.1-3 (--cluster-init, two
# joining with the token; no node agents), then RUNS times: SIGKILLs the
# server that holds the controllers' Lease (kube-system/kube-controller-manager)
# and reads, through another server, when the new leader acquired it — the
# new leader's first write (the Lease's spec.acquireTime) — and restarts the
# killed server. Prints each failover (acquire time − kill time) and the
# median. Lease flags come from $LEASE_ARGS (default: upstream's 15 s / 10 s
# / 2 s), e.g. LEASE_ARGS="--leader-elect-lease-duration=4s
# --leader-elect-renew-deadline=3s --leader-elect-retry-period=500ms".
set -euo pipefail
B=${1:-batchd}
RUNS=${2:-5}
T=$(mktemp -d /tmp/batchd-bench-failover-XXXX)
PIDS=("" "" "")
trap 'for p in "${PIDS[@]}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
PEERS=("$((20000 + RANDOM % 4000))" "$((24000 + RANDOM % 4000))" "$((28000 + RANDOM % 4000))")

start() {
	local i=$1 before args
	before=$(grep -c "batchd is ready" "$T/log$i" 2>/dev/null || true)
	# shellcheck disable=SC2206
	args=(--data-dir "$T/d$i" --secure-port 0 --disable-node-agent --bind-address "127.0.0.$((i + 1))"
		--etcd-peer-port "${PEERS[$i]}" ${LEASE_ARGS:-})
	if [ "$i" = 0 ]; then
		args+=(--cluster-init)
	else
		args+=(--server "$(sed -n 's/^ *server: //p' "$T/d0/kubeconfig" | head -1)" --token "$(cat "$T/d0/token")")
	fi
	"$B" server "${args[@]}" >>"$T/log$i" 2>&1 &
	PIDS[i]=$!
	for _ in $(seq 600); do
		[ "$(grep -c "batchd is ready" "$T/log$i" 2>/dev/null || true)" -gt "${before:-0}" ] && return 0
		sleep 0.1
	done
	echo "server $i not ready" >&2
	exit 1
}
lease() { "$B" kubectl --kubeconfig "$T/d$1/kubeconfig" get lease -n kube-system kube-controller-manager -o "jsonpath=$2" 2>/dev/null || true; }

for i in 0 1 2; do start "$i"; done
results=()
for r in $(seq "$RUNS"); do
	holder=""
	until [ -n "$holder" ]; do holder=$(lease 0 '{.spec.holderIdentity}'); sleep 0.2; done
	leader=-1
	for i in 0 1 2; do [ "$holder" = "$(cat "$T/d$i/leader-identity")" ] && leader=$i; done
	[ "$leader" -ge 0 ] || { echo "holder $holder is no server" >&2; exit 1; }
	other=$(((leader + 1) % 3))
	killed=$(date +%s.%N)
	kill -9 "${PIDS[$leader]}"
	wait "${PIDS[$leader]}" 2>/dev/null || true
	PIDS[leader]=""
	for _ in $(seq 1200); do
		now=$(lease "$other" '{.spec.holderIdentity}')
		[ -n "$now" ] && [ "$now" != "$holder" ] && break
		sleep 0.1
	done
	acquired=$(date -d "$(lease "$other" '{.spec.acquireTime}')" +%s.%N)
	took=$(awk -v a="$acquired" -v k="$killed" 'BEGIN { printf "%.3f", a - k }')
	results+=("$took")
	printf 'run %d: server %d (leader) killed; new leader acquired after %.2f s\n' "$r" "$leader" "$took"
	start "$leader"
done
printf '%s\n' "${results[@]}" | sort -n | awk '{a[NR]=$1} END {printf "failover median of %d: %.2f s (min %.2f, max %.2f)\n", NR, a[int((NR+1)/2)], a[1], a[NR]}'
