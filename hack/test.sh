#!/usr/bin/env bash
# The project's test command: hack/test.sh [go test flags and packages]
#
# It prepares this machine for the tests, then runs them. As root on Debian
# it installs what the tests use and sets up cgroups; otherwise it says what
# is missing, and the tests that need it fail saying why (none is skipped).
#   - busybox-static: the image the image and OCI runtime tests build;
#   - runc, crun: the OCI runtimes the tests run containers with;
#   - libmath-bigint-perl: the pi seed (perl -Mbignum=bpi) on the host
#     runtime; Debian 12's own Math::BigInt 1.999830 dies in Calc.pm;
#   - gcc: the LD_PRELOAD attack test builds a shared library;
#   - chromium: the web view's browser tests (test/browser) drive it headless;
# crun refuses cgroup v1 hosts whose v2 hierarchy (mounted beside it, at
# unified/) holds a controller ("hybrid mode"), as this project's machines
# do with hugetlb; no cgroup uses it, so it is moved to a v1 hierarchy of its
# own, which leaves the v2 one without controllers.
#
# Without arguments it runs every package with the race detector; arguments
# replace the packages and flags (e.g. hack/test.sh -run TestX ./test/e2e/).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(busybox-static runc crun libmath-bigint-perl gcc chromium)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "hack/test.sh: installing ${missing[*]}" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -q "${missing[@]}" >/dev/null ||
			{ apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
	else
		echo "hack/test.sh: missing Debian packages ${missing[*]} (run as root to install them); tests that need them will fail" >&2
	fi
fi

# (cgroupfs files report size 0: test the content, not -s.)
if grep -q . /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		for c in $(cat /sys/fs/cgroup/unified/cgroup.controllers); do
			mkdir -p "/sys/fs/cgroup/$c" && mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c" ||
				echo "hack/test.sh: could not move cgroup controller $c to v1: the crun tests will say why they fail" >&2
		done
	else
		echo "hack/test.sh: cgroup v2 hierarchy holds controllers (hybrid mode) and this is not root: the crun tests will fail" >&2
	fi
fi

go version
if [ $# -eq 0 ]; then
	# -ldflags=-w: the test binaries without DWARF (race reports and stack
	# traces come from the binary's own tables): linking the 47 of them is
	# a sixth of the run's CPU, and internal/cli's link takes 22 CPU-s
	# instead of 33. -parallel 8: most end-to-end tests wait (for a
	# CronJob's minute slot, a server's start, a pod's grace), not compute;
	# at go test's default of one at a time per core they waited in turn
	# (the whole command: 489 s at the default, 464 s at 4, 433 s at 8 on
	# this 2-core machine; BENCHMARKS.md).
	set -- -race -count=1 -timeout 30m -ldflags=-w -parallel 8 ./...
fi
# The binary the end-to-end, browser and campaign tests start, built once
# here: each of their packages would otherwise compile it in full, side by
# side with the others.
if [ -z "${BATCHD_TEST_BINARY:-}" ]; then
	bin=$(mktemp -d)
	trap 'rm -rf "$bin"' EXIT
	go build -o "$bin/batchd" ./cmd/batchd
	export BATCHD_TEST_BINARY="$bin/batchd"
fi
go test "$@"
