#!/usr/bin/env bash
# tests/run.sh — THE test command for deconf.
#
# On a fresh Debian 12 machine it does all its own set-up: installs the
# Debian packages it needs, fetches Apache Kafka's jars with Maven, builds
# with CMake (a normal build, a Release build, an ASan+UBSan build and a
# libFuzzer build, all with -DDECONF_WERROR=ON), starts a real Kafka 4.x
# broker on 127.0.0.1 (deploy/kafka/kafka.sh), runs the unit and integration
# tests in the normal and the sanitizer build, drives the analyst's console
# in headless Chromium (tests/browser/), runs the quick start (on
# dev-kafka; later on a real Kafka of one node and of three, over mTLS),
# builds the Debian packages from the Release tree and checks them
# (tests/package.sh: contents, maintainer scripts in a scratch root, the
# quick start on the packaged programs), then
# starts a second Kafka of three nodes and runs the fault tests on it
# (label "cluster": tests/integration/test_cluster.c) while each fuzz target
# runs for a short bounded time and a volume test (1.5 million indicators
# through dev-kafka, tests/volume/) runs beside them, stops every Kafka on
# every exit path, and ends with one line "N passed, N failed".
#
# The Release build (-O3) is built, not run: gcc warns differently at -O3
# (a format-truncation in test_matcher.c once broke only this build), and
# Release is what a packager builds.
#
# Kafka runs on the JDK 17 that install-deps.sh installs: when JAVA_HOME is
# unset and /usr/lib/jvm/java-17-openjdk-amd64 exists, it becomes JAVA_HOME,
# so another JDK that happens to be first on PATH does not decide which TLS
# stack the mTLS tests meet.
#
# Environment:
#   DECONF_BUILD_DIR   where the builds go (default: <repo>/build)
#   DECONF_FUZZ_SECONDS  per fuzz target (default 30)
#   DECONF_SKIP_ASAN=1   skip the sanitizer pass (local iteration only;
#                        refused when CI=true)
#   JAVA_HOME          the JDK Kafka runs on (default: Debian's JDK 17)
#   CI=true            set by CI: the whole suite runs, DECONF_SKIP_ASAN is
#                      an error
#
# Every fuzz target tests/fuzz/CMakeLists.txt declares must have been built
# and must run: a missing one is a failed check, never silently skipped.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${DECONF_BUILD_DIR:-$root/build}
fuzz_seconds=${DECONF_FUZZ_SECONDS:-30}
jobs=$(nproc 2>/dev/null || echo 2)
# The integration tests mostly wait on Kafka, not on the CPU: one more test
# than there are cores keeps both busy. Those bounded in time run alone
# (RUN_SERIAL in tests/integration/CMakeLists.txt).
test_jobs=$((jobs + 1))
passed=0
failed=0
failures=()

say() { printf '\n=== %s  [%d s since start]\n' "$*" "$SECONDS"; }

# Record one check: name, exit status.
check() {
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures+=("$1")
	fi
}

finish() {
	local rc=$?
	# the volume test stops what it started on TERM
	[ -n "${volume_pid:-}" ] && kill -TERM "$volume_pid" 2>/dev/null && wait "$volume_pid"
	[ -n "${fuzz_pid:-}" ] && kill -TERM "$fuzz_pid" 2>/dev/null && wait "$fuzz_pid"
	[ -n "${cluster_started:-}" ] && DECONF_KRAFT_RUN=$DECONF_CLUSTER_RUN \
		DECONF_KRAFT_PORT=$DECONF_CLUSTER_PORT "$root/deploy/kafka/kafka.sh" stop
	[ -n "${kafka_started:-}" ] && "$root/deploy/kafka/kafka.sh" stop || true
	if [ ${#failures[@]} -gt 0 ]; then
		printf '\nfailed: %s\n' "${failures[*]}"
	fi
	if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
		failed=1 # a run that executed nothing has not passed
	fi
	printf '\n%d passed, %d failed\n' "$passed" "$failed"
	if [ "$failed" -ne 0 ] || [ "$rc" -ne 0 ]; then
		exit 1
	fi
	exit 0
}
trap finish EXIT
trap 'exit 130' INT TERM

fatal() {
	echo "tests/run.sh: $*" >&2
	failed=$((failed + 1))
	failures+=("setup")
	exit 1
}

# A CI run that skipped the sanitizer pass would pass without it.
if [ -n "${DECONF_SKIP_ASAN:-}" ] && [ "${CI:-}" = true ]; then
	fatal "DECONF_SKIP_ASAN is set in a CI run (CI=true): the sanitizer pass cannot be skipped there"
fi

# The fuzz targets the fuzz build must make: the names tests/fuzz/CMakeLists.txt
# declares (foreach(name ...) lists and add_executable(fuzz_NAME ...)).
fuzz_targets() {
	sed -n -e 's/^[[:space:]]*foreach(name \([a-z0-9_ ]*\))[[:space:]]*$/\1/p' \
		-e 's/^[[:space:]]*add_executable(fuzz_\([a-z0-9_]\{1,\}\)[[:space:]].*/\1/p' \
		"$root/tests/fuzz/CMakeLists.txt" | tr ' ' '\n' | sed '/^$/d' | sort -u
}
fuzz_names=$(fuzz_targets)
[ -n "$fuzz_names" ] || fatal "no fuzz targets found in tests/fuzz/CMakeLists.txt"
for src in "$root"/tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	name=${name#fuzz_}
	printf '%s\n' $fuzz_names | grep -qx "$name" ||
		fatal "tests/fuzz/$(basename "$src") is not a target of tests/fuzz/CMakeLists.txt"
done

say "dependencies"
"$root/deploy/install-deps.sh" --with-kafka || fatal "could not install Debian packages"
# After install-deps.sh (which installs it), before Maven and Kafka use it.
if [ -z "${JAVA_HOME:-}" ] && [ -d /usr/lib/jvm/java-17-openjdk-amd64 ]; then
	export JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
fi
"$root/deploy/kafka/kafka.sh" fetch || fatal "could not fetch Kafka"

# ctest over one build tree; adds its per-test results to the totals.
run_ctest() { # name build-dir ctest-args...
	local name=$1 dir=$2 log="$2/ctest-$1.log" total nfail
	shift 2
	say "ctest ($name)"
	(cd "$dir" && ctest --output-on-failure --no-tests=error -j "$test_jobs" \
		--timeout 900 "$@") 2>&1 | tee "$log"
	total=$(sed -n 's/.*tests passed, \([0-9]*\) tests\{0,1\} failed out of \([0-9]*\).*/\2/p' "$log")
	nfail=$(sed -n 's/.*tests passed, \([0-9]*\) tests\{0,1\} failed out of \([0-9]*\).*/\1/p' "$log")
	if [ -z "$total" ]; then
		check "ctest-$name" 1
		return
	fi
	passed=$((passed + total - nfail))
	failed=$((failed + nfail))
	[ "$nfail" -eq 0 ] || failures+=("ctest-$name")
	# A skipped test ran nothing: it is a failure here.
	if grep -q "Not Run\|\*\*\*Skipped" "$log"; then
		check "ctest-$name-skipped" 1
	fi
}

# Every tree the suite builds treats warnings as errors (DECONF_WERROR).
build_tree() { # dir cc cmake-args...
	local dir=$1 cc=$2
	shift 2
	CC=$cc cmake -S "$root" -B "$dir" -G Ninja -DDECONF_WERROR=ON "$@" \
		>"$dir.cmake.log" 2>&1 ||
		{ cat "$dir.cmake.log"; return 1; }
	ninja -C "$dir" 2>&1 | tail -n 30
	return "${PIPESTATUS[0]}"
}

mkdir -p "$build"
say "build (gcc, -Werror)"
CXX=g++ build_tree "$build/normal" gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo
check build-normal $?
say "build (gcc, Release, -Werror)"
CXX=g++ build_tree "$build/release" gcc -DCMAKE_BUILD_TYPE=Release
check build-release $?
if [ -z "${DECONF_SKIP_ASAN:-}" ]; then
	say "build (clang, ASan+UBSan)"
	CXX=clang++ build_tree "$build/asan" clang -DCMAKE_BUILD_TYPE=Debug -DDECONF_SANITIZE=ON
	check build-asan $?
fi
say "build (clang, libFuzzer)"
CXX=clang++ build_tree "$build/fuzz" clang -DCMAKE_BUILD_TYPE=Debug -DDECONF_FUZZ=ON -DDECONF_TESTS=OFF
check build-fuzz $?

say "start Kafka"
export DECONF_KRAFT_RUN=$build/kafka-run
"$root/deploy/kafka/kafka.sh" start || fatal "Kafka did not start"
kafka_started=1
eval "$("$root/deploy/kafka/kafka.sh" env | sed 's/^/export /')"

# the cluster tests (label "cluster") run later, on a cluster of their own
[ -d "$build/normal" ] && run_ctest normal "$build/normal" -LE cluster
if [ -z "${DECONF_SKIP_ASAN:-}" ] && [ -f "$build/asan/build.ninja" ]; then
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	export LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0
	run_ctest asan "$build/asan" -LE cluster
	unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
fi

# The analyst's console in a real browser: headless Chromium driven by
# Selenium (install-deps.sh installs chromium, chromium-driver and
# python3-selenium) against one agency's console of a federation on this
# Kafka; screenshots of each page in $build/screenshots.
say "browser: the analyst's console (tests/browser/console.py)"
timeout 300 "$build/normal/tests/integration/itest_console" --browser \
	"$root/tests/browser/console.py" "$build/screenshots"
check browser-console $?

# THE main-job command must work: it runs here as a user runs it (its own
# build tree, librdkafka's mock cluster), so CI proves it.
say "deploy/quickstart.sh"
DECONF_BUILD="$build/quickstart" timeout 900 "$root/deploy/quickstart.sh" \
	>"$build/quickstart.log" 2>&1
rc=$?
tail -n 25 "$build/quickstart.log"
check quickstart $rc

# The Debian packages, made from the Release tree as a packager makes them:
# built, their contents, their maintainer scripts (run into a scratch root,
# never on this machine: tests/package.sh says how), and the quick start on
# the programs they install (dpkg-deb -x into a scratch root).
pkgs=$build/packages
say "Debian packages: cpack -G DEB (Release tree)"
"$root/tests/package.sh" build "$build/release" "$pkgs"
check package-build $?
for step in contents scripts; do
	say "Debian packages: $step"
	"$root/tests/package.sh" "$step" "$pkgs"
	check "package-$step" $?
done
say "Debian packages: deploy/quickstart.sh on the packaged programs"
DECONF_QUICKSTART_HTTP_PORT=19466 timeout 300 "$root/tests/package.sh" quickstart "$pkgs" \
	>"$build/quickstart-packaged.log" 2>&1
rc=$?
tail -n 12 "$build/quickstart-packaged.log"
check package-quickstart $rc

# Three things that take a few minutes each and are bounded, not timed,
# share the machine: the volume test and the fuzz smoke runs in the
# background, the fault tests on a three-node Kafka cluster in front.
#
# 1.5 million indicators through dev-kafka, all matched (the quick start's
# Kafka must keep a user's first million and more).
say "volume: 1.5 million indicators through deconfctl dev-kafka (in the background)"
timeout 900 "$root/tests/volume/devkafka_volume.sh" "$build/normal" \
	>"$build/volume.log" 2>&1 &
volume_pid=$!

# Each fuzz target for fuzz_seconds; "name status" lines in fuzz/results.
fuzz_smoke() {
	local target name f corpus seeds
	for target in $fuzz_names; do
		name=fuzz_$target
		f=$build/fuzz/tests/fuzz/$name
		if [ ! -x "$f" ]; then
			echo "tests/run.sh: $name was not built ($f is missing)" >"$build/fuzz/$name.log"
			echo "$name 1" >>"$build/fuzz/results"
			continue
		fi
		corpus=$build/fuzz/corpus/$name
		mkdir -p "$corpus"
		seeds=$root/tests/fuzz/seeds/${name#fuzz_}
		[ -d "$seeds" ] || seeds=
		timeout $((fuzz_seconds + 60)) "$f" -max_total_time="$fuzz_seconds" \
			-artifact_prefix="$build/fuzz/$name-" \
			-rss_limit_mb=2048 -print_final_stats=1 "$corpus" $seeds \
			>"$build/fuzz/$name.log" 2>&1
		echo "$name $?" >>"$build/fuzz/results"
	done
}
say "fuzz smoke runs, ${fuzz_seconds}s per target (in the background)"
rm -f "$build/fuzz/results"
fuzz_smoke &
fuzz_pid=$!

# Kafka faults (kill -9 of a leader, of the transaction coordinator, of the
# active controller; a node paused; the broker and a node at once) on a
# cluster of three nodes of its own.
say "Kafka cluster: 3 nodes"
export DECONF_CLUSTER_RUN=$build/kafka-cluster DECONF_CLUSTER_PORT=19192
if DECONF_KRAFT_RUN=$DECONF_CLUSTER_RUN DECONF_KRAFT_PORT=$DECONF_CLUSTER_PORT \
	"$root/deploy/kafka/kafka.sh" start --nodes 3; then
	cluster_started=1
	run_ctest cluster "$build/normal" -L cluster
	DECONF_KRAFT_RUN=$DECONF_CLUSTER_RUN DECONF_KRAFT_PORT=$DECONF_CLUSTER_PORT \
		"$root/deploy/kafka/kafka.sh" stop
	cluster_started=
else
	check kafka-cluster 1
fi

# The quick start on the real Kafka, over its mTLS listener (one node, then
# a cluster of three), with Kafka ports of their own.
for mode in real cluster; do
	say "DECONF_KAFKA=$mode deploy/quickstart.sh"
	DECONF_KAFKA=$mode DECONF_KRAFT_PORT=19292 DECONF_QUICKSTART_HTTP_PORT=19465 \
		DECONF_BUILD="$build/quickstart" timeout 900 "$root/deploy/quickstart.sh" \
		>"$build/quickstart-$mode.log" 2>&1
	rc=$?
	tail -n 12 "$build/quickstart-$mode.log"
	check "quickstart-$mode" $rc
done

wait "$fuzz_pid"
fuzz_pid=
for target in $fuzz_names; do
	name=fuzz_$target
	say "fuzz smoke: $name (${fuzz_seconds}s)"
	tail -n 12 "$build/fuzz/$name.log"
	rc=$(sed -n "s/^$name \([0-9]*\)\$/\1/p" "$build/fuzz/results" 2>/dev/null)
	check "$name" "${rc:-1}"
done

say "volume: 1.5 million indicators through deconfctl dev-kafka"
wait "$volume_pid"
rc=$?
volume_pid=
grep -v '^/' "$build/volume.log" | tail -n 30
check volume-devkafka $rc
