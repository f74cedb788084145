#!/usr/bin/env bash
# deploy/quickstart.sh — THE main job: a demo federation end to end.
#
# On a fresh Debian 12 machine: installs what it needs, builds, starts Kafka
# (librdkafka's in-memory mock cluster through `deconfctl dev-kafka`; the
# real Kafka of deploy/kafka/ with DECONF_KAFKA=real, or a cluster of three
# of its nodes with DECONF_KAFKA=cluster), creates a federation
# with three demo agencies — a federal agency, a state task force, a tribal
# police department — runs the broker and each agency's adapter on its case
# file from deploy/demo/, prints the notices each agency received, in plain
# words, then stops everything it started and exits 0.
#
# The demo cases overlap the way real ones do: one phone number written two
# ways, an e-mail in two cases (different capitalization), an IP address two
# agencies saw within one evening and a third saw two weeks earlier (no
# conflict: addresses are reassigned), the same Discord user, and an
# undercover e-mail held RESTRICTED (its owner is told; the other side is
# not).
#
# With a real Kafka everything goes over its mTLS listener, as in a
# deployment: the federation is made with the CA that Kafka trusts (kafka.sh
# env: DECONF_KRAFT_CA_CERT, DECONF_KRAFT_CA_KEY), deconfctl connects as
# `admin`, the broker with its certificate as `deconf-broker`, and each
# adapter with its agency's bundle as that agency, held to the ACLs that
# `deconfctl topics apply` created.
#
# Usage: deploy/quickstart.sh [--help]
#
# Environment:
#   DECONF_KAFKA          mock (default), real or cluster
#   DECONF_QUICKSTART_DIR where it works (default: a new directory under /tmp,
#                         removed at the end unless DECONF_KEEP=1)
#   DECONF_BUILD          the build tree it makes (default build/quickstart)
#   DECONF_BIN_DIR        run the deconfctl, deconf-broker and deconf-adapter
#                         of this directory instead of building them, e.g.
#                         /usr/bin after installing the Debian packages (with
#                         DECONF_KAFKA=mock, nothing is installed or built)
set -euo pipefail

if [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
	exit 0
fi
[ $# -eq 0 ] || { echo "quickstart: unexpected argument '$1' (--help for usage)" >&2; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
mode=${DECONF_KAFKA:-mock}
build=${DECONF_BUILD:-$root/build/quickstart}
work=${DECONF_QUICKSTART_DIR:-$(mktemp -d /tmp/deconf-quickstart.XXXXXX)}
http_port=${DECONF_QUICKSTART_HTTP_PORT:-19464}
pids=()
kafka_started=

say() { printf '\n== %s\n' "$*"; }
die() { echo "quickstart: $*" >&2; exit 1; }

cleanup() {
	local rc=$?
	# the last started first: the console and the broker stop while the
	# Kafka they use still answers
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	if [ -n "$kafka_started" ]; then
		DECONF_KRAFT_RUN="$work/kafka" "$root/deploy/kafka/kafka.sh" stop >/dev/null 2>&1 || true
	fi
	if [ "${DECONF_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
		echo "quickstart: files and logs kept in $work" >&2
	else
		rm -rf "$work"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

case "$mode" in
mock | real | cluster) ;;
*) die "DECONF_KAFKA=$mode: mock, real or cluster" ;;
esac

if [ -n "${DECONF_BIN_DIR:-}" ]; then
	say "1. the installed programs in $DECONF_BIN_DIR"
	# the real Kafka still needs Java and Maven
	[ "$mode" = mock ] || "$root/deploy/install-deps.sh" --with-kafka
	ctl="$DECONF_BIN_DIR/deconfctl"
	broker="$DECONF_BIN_DIR/deconf-broker"
	adapter="$DECONF_BIN_DIR/deconf-adapter"
	for p in "$ctl" "$broker" "$adapter"; do
		[ -x "$p" ] || die "DECONF_BIN_DIR=$DECONF_BIN_DIR: no program $(basename "$p") there"
	done
	"$broker" --version
	"$adapter" --version
else
	say "1. packages and build"
	if [ "$mode" != mock ]; then
		"$root/deploy/install-deps.sh" --with-kafka
	else
		"$root/deploy/install-deps.sh"
	fi
	cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDECONF_TESTS=OFF \
		>"$work/cmake.log" 2>&1 || { cat "$work/cmake.log" >&2; die "cmake failed"; }
	cmake --build "$build" --target deconf-broker deconf-adapter deconfctl \
		>"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; die "build failed"; }
	ctl="$build/broker/deconfctl"
	broker="$build/broker/deconf-broker"
	adapter="$build/adapters/deconf-adapter"
	echo "built deconfctl, deconf-broker and deconf-adapter in $build"
fi

say "2. Kafka ($mode)"
if [ "$mode" != mock ]; then
	export DECONF_KRAFT_RUN="$work/kafka"
	kafka_started=1
	"$root/deploy/kafka/kafka.sh" start --nodes "$([ "$mode" = cluster ] && echo 3 || echo 1)"
	eval "$("$root/deploy/kafka/kafka.sh" env)"
	# the mTLS listeners: every client below shows a certificate
	bootstrap=$DECONF_KRAFT_BOOTSTRAP_TLS
	echo "Apache Kafka at $bootstrap (mTLS; its CA: $DECONF_KRAFT_CA_CERT)"
else
	"$ctl" dev-kafka >"$work/dev-kafka.out" 2>"$work/dev-kafka.log" &
	pids+=($!)
	for _ in $(seq 1 50); do
		[ -s "$work/dev-kafka.out" ] && break
		sleep 0.1
	done
	bootstrap=$(head -n 1 "$work/dev-kafka.out")
	[ -n "$bootstrap" ] || { cat "$work/dev-kafka.log" >&2; die "deconfctl dev-kafka did not start"; }
	echo "librdkafka's mock cluster at $bootstrap (in memory; DECONF_KAFKA=real for Apache Kafka)"
fi

say "3. the federation and its agencies"
fed="$work/federation"
if [ "$mode" = mock ]; then
	"$ctl" federation init "$fed" --plaintext --bootstrap "$bootstrap"
else
	# certificates from the CA Kafka trusts: deconfctl as admin, the broker
	# as deconf-broker, each agency as itself
	"$ctl" federation init "$fed" --bootstrap "$bootstrap" \
		--ca-cert "$DECONF_KRAFT_CA_CERT" --ca-key "$DECONF_KRAFT_CA_KEY"
fi
export DECONF_FEDERATION="$fed"
if [ "$mode" != mock ]; then
	"$ctl" topics apply # the federation's own topics, the directory first
fi
"$ctl" agency add fbi-cac --name "FBI Albuquerque Crimes Against Children" --level federal \
	--country US --poc-name "CAC duty agent" --poc-phone "+1 505 555 0100" \
	--poc-email cac-duty@fbi.example
"$ctl" agency add nm-icac --name "New Mexico ICAC Task Force" --level state --country US \
	--poc-name "Task force desk" --poc-phone "+1 505 555 0140" --poc-email icac@nmag.example
"$ctl" agency add navajo-pd --name "Navajo Nation Police Department" --level tribal \
	--country US --poc-name "Criminal Investigations desk" --poc-phone "+1 928 555 0102" \
	--poc-email cid@nnpd.example
if [ "$mode" != mock ]; then
	"$ctl" topics apply # now each agency's topics and literal ACLs
fi
"$ctl" agency list

say "4. the broker"
# a port another process answers on would pass for this broker's /readyz
if (exec 3<>"/dev/tcp/127.0.0.1/$http_port") 2>/dev/null; then
	die "127.0.0.1:$http_port is taken by another process: set DECONF_QUICKSTART_HTTP_PORT"
fi
(cd "$fed" && exec "$broker" -c broker.conf --set http.port="$http_port" \
	--set matcher.state_dir="$work/broker-state") 2>"$work/broker.log" &
pids+=($!)
ready=
for _ in $(seq 1 120); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$http_port" &&
		printf 'GET /readyz HTTP/1.0\r\n\r\n' >&3 && grep -q "^ready" <&3) 2>/dev/null; then
		ready=1
		break
	fi
	kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/broker.log" >&2; die "the broker exited"; }
	sleep 0.5
done
[ -n "$ready" ] || { tail -n 30 "$work/broker.log" >&2; die "the broker was not ready in 60 s"; }
echo "deconf-broker is ready (metrics: http://127.0.0.1:$http_port/metrics)"

say "5. each agency submits its cases (hashed on its own machine)"
# submit waits for the broker's signed receipts: it exits 0 only once the
# federation has accepted everything it sent
for a in fbi-cac nm-icac navajo-pd; do
	(cd "$fed/agencies/$a" && "$adapter" -c agency.conf --no-progress submit "$root/deploy/demo/$a.csv")
done

say "5b. what the federation holds for each agency (its receipts, from its own ledger)"
for a in fbi-cac nm-icac navajo-pd; do
	printf '\n---------------- %s ----------------\n' "$a"
	out=$(cd "$fed/agencies/$a" && "$adapter" -c agency.conf status) ||
		die "$a: deconf-adapter status failed"
	printf '%s\n' "$out"
	printf '%s\n' "$out" | grep -q ' 0 pending, 0 queued, 0 being withdrawn, 0 refused, 0 withdrawal(s) refused; 0 submission(s) waiting' ||
		die "$a: not everything it submitted is confirmed (logs in $work)"
done

# The notices the broker has committed, from its /metrics.
sent() {
	(exec 3<>"/dev/tcp/127.0.0.1/$http_port" && printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 &&
		awk '/^deconf_notices_total\{/ { n += $NF } END { print n + 0 }' <&3) 2>/dev/null || echo 0
}
expected_total=9
for _ in $(seq 1 120); do
	[ "$(sent)" -ge "$expected_total" ] && break
	sleep 0.5
done

say "6. what each agency was told"
# what each agency must receive: fbi-cac the phone, the e-mail, the IP and
# the Discord user; nm-icac the phone, the IP, the user and the RESTRICTED
# match; navajo-pd the e-mail (not the IP: two weeks apart)
declare -A expected=([fbi-cac]=4 [nm-icac]=4 [navajo-pd]=1)
for a in fbi-cac nm-icac navajo-pd; do
	printf '\n---------------- %s ----------------\n' "$a"
	got=0
	for _ in $(seq 1 60); do
		out=$(cd "$fed/agencies/$a" && "$adapter" -c agency.conf notices 2>&1) ||
			die "$a: deconf-adapter notices failed"
		n=$(printf '%s\n' "$out" | sed -n 's/^notices: \([0-9]*\) new.*/\1/p')
		[ "${n:-0}" -gt 0 ] && printf '%s\n' "$out" | grep -v '^notices: '
		got=$((got + ${n:-0}))
		[ "$got" -ge "${expected[$a]}" ] && break
		sleep 1
	done
	echo "($got notice(s) for $a)"
	[ "$got" -eq "${expected[$a]}" ] ||
		die "$a received $got notice(s), expected ${expected[$a]} (logs in $work)"
done
say "6b. two operations at one place and time (event deconfliction)"
# Each agency's own systems geocode its operation; only hashed grid cells
# of the place leave the agency. fbi-cac serves a search warrant tomorrow
# evening; nm-icac's undercover meet is 200 m away the same evening (they
# conflict: urgent); navajo-pd's surveillance on the same street is next
# week (no conflict).
day1=$(date -u -d "tomorrow" +%Y-%m-%d)
day8=$(date -u -d "8 days" +%Y-%m-%d)
(cd "$fed/agencies/fbi-cac" && "$adapter" -c agency.conf --no-progress event add FBI-OP-0212 \
	kind=search_warrant lat=35.08440 lon=-106.65110 radius=150 \
	from="${day1}T18:00:00Z" to="${day1}T22:00:00Z" caution=armed \
	poc_name="SA Dana Reyes" poc_phone="+1 505 555 0177" address="1400 Central Ave SW") ||
	die "fbi-cac: event add failed"
(cd "$fed/agencies/nm-icac" && "$adapter" -c agency.conf --no-progress event add ICAC-UC-77 \
	kind=undercover_meet lat=35.08620 lon=-106.65110 radius=100 \
	from="${day1}T19:30:00Z" to="${day1}T21:00:00Z" caution=undercover \
	poc_name="Sgt. Luis Ortiz" poc_phone="+1 505 555 0181") ||
	die "nm-icac: event add failed"
(cd "$fed/agencies/navajo-pd" && "$adapter" -c agency.conf --no-progress event add NNPD-SURV-5 \
	kind=surveillance lat=35.08500 lon=-106.65200 radius=100 \
	from="${day8}T14:00:00Z" to="${day8}T18:00:00Z" poc_name="Det. Tsosie") ||
	die "navajo-pd: event add failed"
declare -A expected_events=([fbi-cac]=1 [nm-icac]=1 [navajo-pd]=0)
for a in fbi-cac nm-icac navajo-pd; do
	printf '\n---------------- %s ----------------\n' "$a"
	got=0
	for try in $(seq 1 30); do
		out=$(cd "$fed/agencies/$a" && "$adapter" -c agency.conf notices --new 2>&1) ||
			die "$a: deconf-adapter notices failed"
		n=$(printf '%s\n' "$out" | sed -n 's/^notices: \([0-9]*\) new.*/\1/p')
		[ "${n:-0}" -gt 0 ] && printf '%s\n' "$out" | grep -v '^notices: '
		got=$((got + ${n:-0}))
		[ "$got" -ge "${expected_events[$a]}" ] && [ "${expected_events[$a]}" -gt 0 ] && break
		# an agency that must hear nothing is asked again for 3 s (its
		# event was matched a moment after the others')
		[ "${expected_events[$a]}" -eq 0 ] && [ "$try" -ge 3 ] && break
		sleep 1
	done
	echo "($got event notice(s) for $a)"
	[ "$got" -eq "${expected_events[$a]}" ] ||
		die "$a received $got event notice(s), expected ${expected_events[$a]} (logs in $work)"
	[ "$got" -eq 0 ] || printf '%s\n' "$out" | grep -q 'URGENT: another agency plans an operation' ||
		die "$a: the event conflict is not shown as urgent"
done

say "7. what ops staff see"
"$ctl" status
if [ "$mode" = mock ]; then
	echo "(librdkafka's mock cluster keeps no transactional offset commits: its consumer lag"
	echo " is not meaningful; with DECONF_KAFKA=real it is)"
fi

cat <<EOF

The broker matched keyed hashes only: no raw indicator left an agency, and the
broker never held the key that makes them. The navajo-pd IP address was seen
two weeks before the others' (no conflict: addresses are reassigned), and
nm-icac's undercover e-mail is RESTRICTED: nm-icac was told navajo-pd holds it,
navajo-pd was told nothing. fbi-cac's warrant and nm-icac's undercover meet,
200 m apart the same evening, were told of each other at once (urgent);
navajo-pd's surveillance on the same street next week met nothing. No
coordinate or address left any agency: only hashed cells of a grid did.
EOF
say "8. the analyst's console of fbi-cac (deconf-adapter serve), and the watch desk"
# Local to the agency: its notices next to its own cases and raw values,
# which never leave it. Loopback only, behind a token printed at start.
(cd "$fed/agencies/fbi-cac" && exec "$adapter" -c agency.conf serve --listen 127.0.0.1:0) \
	>"$work/console.log" 2>&1 &
pids+=($!)
url=
for _ in $(seq 1 100); do
	url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/login?token=[0-9a-f]*' "$work/console.log" | head -n 1) || true
	[ -n "$url" ] && break
	sleep 0.1
done
[ -n "$url" ] || die "the console did not start (logs in $work/console.log)"
# the page as a browser gets it: the token URL sets a cookie, then /
hostport=${url#http://}
hostport=${hostport%%/*}
page=$(python3 - "$url" "$hostport" <<'PY'
import http.client, sys
url, hostport = sys.argv[1], sys.argv[2]
host, port = hostport.rsplit(":", 1)
c = http.client.HTTPConnection(host, int(port), timeout=10)
c.request("GET", url[len("http://") + len(hostport):])
r = c.getresponse(); r.read()
cookie = (r.getheader("Set-Cookie") or "").split(";")[0]
c.request("GET", "/", headers={"Cookie": cookie})
r = c.getresponse()
print(r.status)
print(r.read().decode("utf-8", "replace"))
PY
) || die "the console did not answer (logs in $work/console.log)"
[ "$(printf '%s\n' "$page" | head -n 1)" = 200 ] || die "the console refused its own token"
# its own raw value (the demo file's spelling) beside the counterpart's desk
printf '%s\n' "$page" | grep -qF '(505) 555-0187' &&
	printf '%s\n' "$page" | grep -qF 'Sgt. Maria Lopez' ||
	die "the console does not show fbi-cac's notice with its own raw value"
echo "fbi-cac's console serves its notices, next to its own raw values:"
echo "  $url"
# the federation's watch desk: the broker's own page (no raw value, no token)
desk=$(python3 - "$http_port" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.request("GET", "/desk")
r = c.getresponse()
print(r.status)
print(r.read().decode("utf-8", "replace"))
PY
) || die "the watch desk did not answer"
[ "$(printf '%s\n' "$desk" | head -n 1)" = 200 ] &&
	printf '%s\n' "$desk" | grep -qF 'navajo-pd' ||
	die "the watch desk does not list the agencies"
printf '%s\n' "$desk" | grep -qF '(505) 555-0187' && die "the watch desk shows a raw value"
echo "the federation's watch desk (agencies, conflicts per hour, escalations, lag):"
echo "  http://127.0.0.1:$http_port/desk"
if [ "${DECONF_KEEP:-0}" = 1 ]; then
	echo "DECONF_KEEP=1: the broker, Kafka, the console and the watch desk keep running;"
	echo "open the URLs above in a browser on this machine. Ctrl-C stops them."
	while :; do sleep 3600; done
fi
echo "(DECONF_KEEP=1 deploy/quickstart.sh keeps it running, to open in a browser)"

say "done: stopping the broker and Kafka"
