#!/usr/bin/env bash
# deploy/kafka/kafka.sh — a real Apache Kafka 4.x on loopback, one node or a
# cluster of several, for deconf's tests and for trying deconf against real
# Kafka.
#
#   kafka.sh fetch               fetch the broker's jars from Maven Central (cached)
#   kafka.sh start [--nodes N]   make TLS material, format KRaft storage, start
#                                N nodes (default 1, or $DECONF_KRAFT_NODES), wait
#   kafka.sh stop                stop every node `start` started (idempotent)
#   kafka.sh env                 print shell assignments: bootstrap addresses,
#                                TLS files, each node's pid file and log
#   kafka.sh status              say whether each node runs and answers
#   kafka.sh controller          print the node id of the active KRaft controller
#   kafka.sh start-node I        start node I again (after a kill or stop-node)
#   kafka.sh stop-node I         stop node I (SIGTERM); the others go on
#
# Each node is both controller and broker (KRaft). One node formats itself
# as a standalone quorum; N nodes make an N-voter controller quorum
# (controller.quorum.voters), so a cluster of three survives losing any one
# node, its active controller included. Node I has three listeners, all on
# 127.0.0.1, from P = $DECONF_KRAFT_PORT + 3 (I - 1):
#   PLAINTEXT  P      (node 1: 19092)  principal User:ANONYMOUS
#   SSL        P + 1  (node 1: 19093)  client certificate required;
#              principal = certificate CN
#   CONTROLLER P + 2  (node 1: 19094)
# and its own data, logs, heap and pid file in $DECONF_KRAFT_RUN/node-I.
# Kafka's internal topics (consumer offsets, transaction state) are
# replicated min(3, N) times, with a minimum in-sync of 2 when that is 3.
#
# The StandardAuthorizer is on. Super users: ANONYMOUS (so the plaintext
# listener stays an operator's back door on loopback), admin and
# deconf-broker. Every other principal needs ACLs. Every super user must be a
# reserved agency id (deconf_agency_id_reserved() in proto/include/deconf/util.h,
# checked by tests/unit/test_util.c): deconfctl issues agency certificates
# with CN = agency id, so an agency named like a super user would be one.
# The nodes' certificate is issued by a throwaway CA, tls/test-ca.pem and
# tls/test-ca.key in the run directory (`env`: DECONF_KRAFT_CA_CERT and
# DECONF_KRAFT_CA_KEY): a federation whose certificates this Kafka must
# trust is made with that CA (deconfctl federation init --ca-cert FILE
# --ca-key FILE).
#
# Java: the JVM decides the TLS the SSL listener speaks (which alert a
# refused client gets, for one), so every run should use the same one.
# `start` takes the first of
#   1. $JAVA_HOME/bin/java, when JAVA_HOME is set and that file is executable;
#   2. /usr/lib/jvm/java-17-openjdk-amd64/bin/java, the JDK 17 that
#      `deploy/install-deps.sh --with-kafka` installs;
#   3. `java` on PATH, with a warning (whatever JDK that happens to be);
# prints it ("kafka.sh: java: /usr/lib/jvm/.../bin/java (openjdk 17.0.15)")
# and runs both the storage format and the nodes with it. `env` prints it
# as DECONF_KRAFT_JAVA.
#
# Environment:
#   JAVA_HOME          the JDK to run Kafka on (see "Java" above)
#   DECONF_CACHE       where jars are cached   (default ~/.cache/deconf)
#   DECONF_KRAFT_RUN   run directory: the nodes' data and logs, TLS files
#                      (default /tmp/deconf-kafka-$UID)
#   DECONF_KRAFT_PORT  node 1's first port (default 19092)
#   DECONF_KRAFT_NODES nodes `start` starts without --nodes (default 1)
#   DECONF_KRAFT_HEAP  JVM heap of each node (default 512m)
#   DECONF_KRAFT_START_TIMEOUT  seconds to wait for the nodes (default 120)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
cache=${DECONF_CACHE:-${HOME:-/root}/.cache/deconf}
libs=$cache/kafka-$version/libs
run=${DECONF_KRAFT_RUN:-/tmp/deconf-kafka-$(id -u)}
port=${DECONF_KRAFT_PORT:-19092}
heap=${DECONF_KRAFT_HEAP:-512m}
timeout=${DECONF_KRAFT_START_TIMEOUT:-120}
# how many nodes: what `start` made (the run directory says), else asked for
nodes=$(cat "$run/nodes" 2>/dev/null || echo "${DECONF_KRAFT_NODES:-1}")

# node I's ports and directory
plain_port() { echo $((port + 3 * ($1 - 1))); }
tls_port() { echo $((port + 3 * ($1 - 1) + 1)); }
ctl_port() { echo $((port + 3 * ($1 - 1) + 2)); }
node_dir() { echo "$run/node-$1"; }
plain_addr() { echo "127.0.0.1:$(plain_port "$1")"; }
tls_addr() { echo "127.0.0.1:$(tls_port "$1")"; }
voter() { echo "$1@127.0.0.1:$(ctl_port "$1")"; }

# "a,b,c": what F prints for nodes 1..N
each_node() { # F
	local out='' i
	for ((i = 1; i <= nodes; i++)); do
		out+=${out:+,}$("$1" "$i")
	done
	echo "$out"
}

debian_jdk17=/usr/lib/jvm/java-17-openjdk-amd64

die() { echo "kafka.sh: $*" >&2; exit 1; }
warn() { echo "kafka.sh: warning: $*" >&2; }

# Sets $java to the java binary Kafka runs on (order: see the header).
pick_java() {
	if [ -n "${JAVA_HOME:-}" ]; then
		if [ -x "$JAVA_HOME/bin/java" ]; then
			java=$JAVA_HOME/bin/java
			return 0
		fi
		warn "JAVA_HOME=$JAVA_HOME has no executable bin/java; ignoring it"
	fi
	if [ -x "$debian_jdk17/bin/java" ]; then
		java=$debian_jdk17/bin/java
		return 0
	fi
	java=$(command -v java) ||
		die "no java: set JAVA_HOME, or deploy/install-deps.sh --with-kafka (OpenJDK 17)"
	warn "neither JAVA_HOME nor $debian_jdk17: using $java from PATH"
}

# "openjdk 17.0.15" from the first line of `java -version`
# ('openjdk version "17.0.15" 2025-04-15').
java_version() {
	"$java" -version 2>&1 | sed -n '1s/^\([^ ]*\) version "\([^"]*\)".*/\1 \2/p'
}

fetch() {
	if [ -f "$libs/.complete" ]; then
		return 0
	fi
	command -v mvn >/dev/null || die "mvn not found (apt-get install -y maven)"
	echo "kafka.sh: fetching Apache Kafka $version jars from Maven Central into $libs" >&2
	rm -rf "$libs.tmp"
	mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$libs.tmp" >&2 ||
		die "maven could not fetch Kafka $version (see its output above)"
	rm -rf "$libs"
	mv "$libs.tmp" "$libs"
	touch "$libs/.complete"
}

# A throwaway CA, the broker's server certificate and client certificates,
# made with the openssl CLI. A second CA ("rogue") signs a client certificate
# the broker must refuse.
make_tls() {
	local d=$run/tls
	[ -f "$d/.complete" ] && return 0
	rm -rf "$d"
	mkdir -p "$d"
	(
		cd "$d"
		umask 077
		ossl() { openssl "$@" 2>/dev/null; }
		mkca() { # name
			ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
				-keyout "$1-ca.key" -out "$1-ca.pem" -days 30 \
				-subj "/O=deconf test/CN=$1 test CA"
		}
		mkcert() { # ca name cn [ext]
			ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
				-keyout "$2.key" -out "$2.csr" -subj "/O=deconf test/CN=$3"
			printf '%s\n' "${4:-extendedKeyUsage=clientAuth}" >"$2.ext"
			ossl x509 -req -in "$2.csr" -CA "$1-ca.pem" -CAkey "$1-ca.key" \
				-CAcreateserial -out "$2.pem" -days 30 -extfile "$2.ext"
			rm -f "$2.csr" "$2.ext"
		}
		mkca test
		mkca rogue
		mkcert test server localhost \
			"subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth,clientAuth"
		# Kafka's PEM key store wants the key (PKCS#8) and chain in one file.
		cat server.key server.pem >server-keystore.pem
		for cn in admin deconf-broker agency-a agency-b; do
			mkcert test "$cn" "$cn"
		done
		mkcert rogue rogue agency-a
		cp test-ca.pem ca.pem
	)
	touch "$d/.complete"
}

write_config() { # I
	local i=$1 d rf isr quorum
	d=$(node_dir "$i")
	mkdir -p "$d/data" "$d/logs"
	rf=$((nodes < 3 ? nodes : 3))
	isr=$((rf == 3 ? 2 : 1))
	if [ "$nodes" -eq 1 ]; then
		quorum="controller.quorum.bootstrap.servers=127.0.0.1:$(ctl_port 1)"
	else
		quorum="controller.quorum.voters=$(each_node voter)"
	fi
	cat >"$d/server.properties" <<EOF
process.roles=broker,controller
node.id=$i
$quorum
listeners=PLAINTEXT://$(plain_addr "$i"),SSL://$(tls_addr "$i"),CONTROLLER://127.0.0.1:$(ctl_port "$i")
advertised.listeners=PLAINTEXT://$(plain_addr "$i"),SSL://$(tls_addr "$i")
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$d/data
num.partitions=1
default.replication.factor=$rf
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
# only reserved agency ids here: see deconf_agency_id_reserved()
super.users=User:ANONYMOUS;User:admin;User:deconf-broker
listener.name.ssl.ssl.client.auth=required
listener.name.ssl.ssl.keystore.type=PEM
listener.name.ssl.ssl.keystore.location=$run/tls/server-keystore.pem
listener.name.ssl.ssl.truststore.type=PEM
listener.name.ssl.ssl.truststore.location=$run/tls/ca.pem
listener.name.ssl.ssl.principal.mapping.rules=RULE:^.*CN=([^,]+).*\$/\$1/,DEFAULT
ssl.endpoint.identification.algorithm=
EOF
	cat >"$d/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $d/logs/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
logger.ctl.name = kafka.controller
logger.ctl.level = WARN
logger.server.name = kafka.server.KafkaServer
logger.server.level = INFO
logger.raft.name = kafka.server.KafkaRaftServer
logger.raft.level = INFO
EOF
}

# Sets opts to the JVM options of node I's Kafka processes (the storage
# tool and the node).
java_opts() { # I
	local d
	d=$(node_dir "$1")
	opts=(-Xms128m -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
		-Djava.awt.headless=true -Dlog4j2.configurationFile="$d/log4j2.properties"
		-cp "$libs/*")
}

# Runs a Kafka class as node I, on the java pick_java chose.
java_cmd() { # I CLASS ARGS...
	local opts
	java_opts "$1"
	shift
	"$java" "${opts[@]}" "$@"
}

node_alive() { # I
	local f
	f=$(node_dir "$1")/kafka.pid
	[ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Start node I's process on its formatted storage; no wait.
launch() { # I
	local d opts
	d=$(node_dir "$1")
	java_opts "$1"
	setsid bash -c 'exec "$@"' _ "$java" "${opts[@]}" \
		kafka.Kafka "$d/server.properties" \
		>>"$d/logs/stdout.log" 2>&1 </dev/null &
	echo $! >"$d/kafka.pid"
}

# Node I answers on its listeners and its log (appended to) says "started"
# once for each launch.
node_up() { # I
	local d n
	d=$(node_dir "$1")
	port_open "$(plain_port "$1")" && port_open "$(tls_port "$1")" || return 1
	n=$(grep -c "Kafka Server started" "$d/logs/server.log" 2>/dev/null) || n=0
	[ "$n" -ge "$(cat "$d/logs/launches")" ]
}

node_logs() { # I
	local d
	d=$(node_dir "$1")
	echo "kafka.sh: node $1: last lines of its logs:" >&2
	tail -n 40 "$d/logs/stdout.log" "$d/logs/server.log" >&2 2>/dev/null || true
}

# Wait for nodes I... to be up; prints the seconds it took. A node that
# exits or a timeout: its logs, everything stopped, exit 1.
wait_up() { # I...
	local waited=0 i pending
	while :; do
		pending=
		for i in "$@"; do
			if ! node_alive "$i"; then
				echo "kafka.sh: node $i exited" >&2
				node_logs "$i"
				stop
				exit 1
			fi
			node_up "$i" || pending+=" $i"
		done
		[ -z "$pending" ] && break
		if [ "$waited" -ge "$((timeout * 2))" ]; then
			echo "kafka.sh: node(s)$pending did not answer within ${timeout}s" >&2
			for i in $pending; do node_logs "$i"; done
			stop
			exit 1
		fi
		sleep 0.5
		waited=$((waited + 1))
	done
	echo $((waited / 2))
}

start() {
	local i jv cluster_id up d fmt running
	while [ $# -gt 0 ]; do
		case $1 in
		--nodes)
			[ $# -ge 2 ] || die "--nodes needs a number"
			nodes=$2
			shift 2
			;;
		--nodes=*)
			nodes=${1#--nodes=}
			shift
			;;
		*) die "start: unknown option $1 (kafka.sh --help)" ;;
		esac
	done
	case $nodes in
	[1-9]) ;;
	*) die "--nodes $nodes: a number of nodes, 1 to 9" ;;
	esac
	fetch
	if [ -f "$run/nodes" ]; then
		running=$(cat "$run/nodes")
		for ((i = 1; i <= running; i++)); do
			node_alive "$i" || continue
			[ "$running" = "$nodes" ] ||
				die "already running with $running node(s); kafka.sh stop first"
			echo "kafka.sh: already running ($nodes node(s), java:" \
				"$(cat "$run/java" 2>/dev/null || echo unknown))" >&2
			return 0
		done
	fi
	for ((i = 1; i <= nodes; i++)); do
		for p in "$(plain_port "$i")" "$(tls_port "$i")" "$(ctl_port "$i")"; do
			port_open "$p" && die "port $p on 127.0.0.1 is taken; set DECONF_KRAFT_PORT"
		done
	done
	pick_java
	jv=$(java_version) || jv=
	[ -n "$jv" ] || die "$java does not run (\`$java -version\` printed no version)"
	echo "kafka.sh: java: $java ($jv)" >&2
	mkdir -p "$run"
	rm -rf "$run"/node-* "$run/data" "$run/logs" "$run/kafka.pid"
	make_tls
	echo "$nodes" >"$run/nodes"
	echo "$java" >"$run/java"
	cluster_id=$(java_cmd 1 kafka.tools.StorageTool random-uuid 2>/dev/null)
	for ((i = 1; i <= nodes; i++)); do
		write_config "$i"
		d=$(node_dir "$i")
		fmt=()
		[ "$nodes" -eq 1 ] && fmt=(--standalone)
		java_cmd "$i" kafka.tools.StorageTool format "${fmt[@]}" --cluster-id "$cluster_id" \
			--config "$d/server.properties" --ignore-formatted >"$d/format.log" 2>&1 ||
			{ cat "$d/format.log" >&2; die "node $i: storage format failed"; }
		echo 0 >"$d/logs/launches"
	done
	echo "kafka.sh: starting Kafka $version, $nodes node(s), in $run (waiting up to ${timeout}s)" >&2
	for ((i = 1; i <= nodes; i++)); do
		echo $(($(cat "$(node_dir "$i")/logs/launches") + 1)) >"$(node_dir "$i")/logs/launches"
		launch "$i"
	done
	# shellcheck disable=SC2046
	up=$(wait_up $(seq 1 "$nodes"))
	echo "kafka.sh: Kafka $version up after ${up}s: plaintext $(each_node plain_addr)," \
		"mTLS $(each_node tls_addr)" >&2
}

node_arg() { # I
	case ${1:-} in
	[1-9]) [ "$1" -le "$nodes" ] || die "node $1: the cluster has $nodes node(s)" ;;
	*) die "a node number, 1..$nodes" ;;
	esac
}

start_node() { # I
	local d
	node_arg "${1:-}"
	[ -f "$run/java" ] || die "no cluster in $run: kafka.sh start first"
	if node_alive "$1"; then
		echo "kafka.sh: node $1 already runs" >&2
		return 0
	fi
	java=$(cat "$run/java")
	d=$(node_dir "$1")
	echo $(($(cat "$d/logs/launches") + 1)) >"$d/logs/launches"
	launch "$1"
	echo "kafka.sh: node $1 up after $(wait_up "$1")s" >&2
}

stop_node() { # I: SIGTERM, SIGKILL after 30 s
	local f pid
	f=$(node_dir "$1")/kafka.pid
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 60); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$f"
}

stop() {
	local i any=
	[ -f "$run/nodes" ] || return 0
	# all at once: a node stopping alone first moves its leaderships to
	# the others, which are stopping too
	for ((i = 1; i <= nodes; i++)); do
		[ -f "$(node_dir "$i")/kafka.pid" ] && any=1
		stop_node "$i" &
	done
	wait
	rm -f "$run/java" "$run/nodes"
	[ -n "$any" ] && echo "kafka.sh: stopped" >&2
	return 0
}

print_env() {
	local i d
	# The java the running nodes were started with, else the one start
	# would take now.
	java=$(cat "$run/java" 2>/dev/null) ||
		java=$(pick_java 2>/dev/null && echo "$java") || java=
	cat <<EOF
DECONF_KRAFT_JAVA=$java
DECONF_KRAFT_NODES=$nodes
DECONF_KRAFT_BOOTSTRAP=$(each_node plain_addr)
DECONF_KRAFT_BOOTSTRAP_TLS=$(each_node tls_addr)
DECONF_KRAFT_TLS_DIR=$run/tls
DECONF_KRAFT_CA_CERT=$run/tls/test-ca.pem
DECONF_KRAFT_CA_KEY=$run/tls/test-ca.key
DECONF_KRAFT_LOG=$(node_dir 1)/logs/server.log
DECONF_KRAFT_PIDFILE=$(node_dir 1)/kafka.pid
EOF
	for ((i = 1; i <= nodes; i++)); do
		d=$(node_dir "$i")
		echo "DECONF_KRAFT_NODE${i}_BOOTSTRAP=$(plain_addr "$i")"
		echo "DECONF_KRAFT_NODE${i}_BOOTSTRAP_TLS=$(tls_addr "$i")"
		echo "DECONF_KRAFT_NODE${i}_PIDFILE=$d/kafka.pid"
		echo "DECONF_KRAFT_NODE${i}_LOG=$d/logs/server.log"
	done
}

# The node id of the active KRaft controller (Kafka's metadata quorum tool,
# asked through node 1's listener, else any node that answers).
controller() {
	local i out id
	[ -f "$run/java" ] || die "no cluster in $run: kafka.sh start first"
	java=$(cat "$run/java")
	printf 'status = error\nrootLogger.level = OFF\n' >"$run/tools-log4j2.properties"
	for ((i = 1; i <= nodes; i++)); do
		node_alive "$i" || continue
		out=$("$java" -Xmx128m -Dlog4j2.configurationFile="$run/tools-log4j2.properties" \
			-cp "$libs/*" org.apache.kafka.tools.MetadataQuorumCommand \
			--bootstrap-server "$(plain_addr "$i")" describe --status 2>/dev/null) || continue
		id=$(printf '%s\n' "$out" | sed -n 's/^LeaderId:[[:space:]]*\([0-9]*\).*/\1/p')
		[ -n "$id" ] && { echo "$id"; return 0; }
	done
	die "no node told which controller is active"
}

status() {
	local i bad=0
	for ((i = 1; i <= nodes; i++)); do
		if node_alive "$i" && port_open "$(plain_port "$i")"; then
			echo "node $i: running (pid $(cat "$(node_dir "$i")/kafka.pid")), plaintext" \
				"$(plain_addr "$i"), mTLS $(tls_addr "$i")"
		else
			echo "node $i: not running"
			bad=1
		fi
	done
	return $bad
}

case "${1:-}" in
fetch) fetch ;;
start)
	shift
	start "$@"
	;;
stop) stop ;;
env) print_env ;;
status) status ;;
controller) controller ;;
start-node) start_node "${2:-}" ;;
stop-node)
	node_arg "${2:-}"
	stop_node "$2"
	echo "kafka.sh: node $2 stopped" >&2
	;;
-h | --help | help)
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	;;
*)
	echo "usage: kafka.sh fetch | start [--nodes N] | stop | env | status |" \
		"controller | start-node I | stop-node I   (kafka.sh --help)" >&2
	exit 2
	;;
esac
