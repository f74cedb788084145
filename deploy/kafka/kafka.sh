#!/usr/bin/env bash
# deploy/kafka/kafka.sh — a real Apache Kafka 4.x broker on loopback for
# deconf's tests and for trying deconf against real Kafka.
#
#   kafka.sh fetch    fetch the broker's jars from Maven Central (cached)
#   kafka.sh start    make TLS material, format KRaft storage, start, wait
#   kafka.sh stop     stop the broker started by `start` (idempotent)
#   kafka.sh env      print shell assignments: bootstrap addresses, TLS files
#   kafka.sh status   say whether it runs and answers
#
# One process is both controller and broker (KRaft, `--standalone`). Three
# listeners, all on 127.0.0.1:
#   PLAINTEXT  $DECONF_KRAFT_PORT      (default 19092)  principal User:ANONYMOUS
#   SSL        $DECONF_KRAFT_PORT + 1  (default 19093)  client certificate
#              required; principal = certificate CN
#   CONTROLLER $DECONF_KRAFT_PORT + 2  (default 19094)
# The StandardAuthorizer is on. Super users: ANONYMOUS (so the plaintext
# listener stays an operator's back door on loopback), admin and
# deconf-broker. Every other principal needs ACLs. Every super user must be a
# reserved agency id (deconf_agency_id_reserved() in proto/include/deconf/util.h,
# checked by tests/unit/test_util.c): deconfctl issues agency certificates
# with CN = agency id, so an agency named like a super user would be one.
#
# Java: the JVM decides the TLS the SSL listener speaks (which alert a
# refused client gets, for one), so every run should use the same one.
# `start` takes the first of
#   1. $JAVA_HOME/bin/java, when JAVA_HOME is set and that file is executable;
#   2. /usr/lib/jvm/java-17-openjdk-amd64/bin/java, the JDK 17 that
#      `deploy/install-deps.sh --with-kafka` installs;
#   3. `java` on PATH, with a warning (whatever JDK that happens to be);
# prints it ("kafka.sh: java: /usr/lib/jvm/.../bin/java (openjdk 17.0.15)")
# and runs both the storage format and the broker with it. `env` prints it
# as DECONF_KRAFT_JAVA.
#
# Environment:
#   JAVA_HOME          the JDK to run Kafka on (see "Java" above)
#   DECONF_CACHE       where jars are cached   (default ~/.cache/deconf)
#   DECONF_KRAFT_RUN   run directory: data, logs, TLS files, pid
#                      (default /tmp/deconf-kafka-$UID)
#   DECONF_KRAFT_PORT  first of the three ports (default 19092)
#   DECONF_KRAFT_HEAP  JVM heap (default 512m)
#   DECONF_KRAFT_START_TIMEOUT  seconds to wait for the broker (default 120)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
cache=${DECONF_CACHE:-${HOME:-/root}/.cache/deconf}
libs=$cache/kafka-$version/libs
run=${DECONF_KRAFT_RUN:-/tmp/deconf-kafka-$(id -u)}
port=${DECONF_KRAFT_PORT:-19092}
tls_port=$((port + 1))
ctl_port=$((port + 2))
heap=${DECONF_KRAFT_HEAP:-512m}
timeout=${DECONF_KRAFT_START_TIMEOUT:-120}

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

write_config() {
	mkdir -p "$run/data" "$run/logs"
	cat >"$run/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$ctl_port
listeners=PLAINTEXT://127.0.0.1:$port,SSL://127.0.0.1:$tls_port,CONTROLLER://127.0.0.1:$ctl_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SSL://127.0.0.1:$tls_port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$run/data
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
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
	cat >"$run/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $run/logs/server.log
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

# The JVM options of every Kafka process (storage tool and broker).
java_opts=(-Xms128m -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
	-Djava.awt.headless=true -Dlog4j2.configurationFile="$run/log4j2.properties"
	-cp "$libs/*")

# Runs a Kafka class on the java pick_java chose.
java_cmd() {
	"$java" "${java_opts[@]}" "$@"
}

pid_alive() {
	[ -f "$run/kafka.pid" ] && kill -0 "$(cat "$run/kafka.pid")" 2>/dev/null
}

port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
	fetch
	if pid_alive; then
		echo "kafka.sh: already running (pid $(cat "$run/kafka.pid"), java:" \
			"$(cat "$run/java" 2>/dev/null || echo unknown))" >&2
		return 0
	fi
	for p in "$port" "$tls_port" "$ctl_port"; do
		port_open "$p" && die "port $p on 127.0.0.1 is taken; set DECONF_KRAFT_PORT"
	done
	pick_java
	local jv
	jv=$(java_version) || jv=
	[ -n "$jv" ] || die "$java does not run (\`$java -version\` printed no version)"
	echo "kafka.sh: java: $java ($jv)" >&2
	mkdir -p "$run"
	rm -rf "$run/data" "$run/logs"
	make_tls
	write_config
	echo "$java" >"$run/java"
	java_cmd kafka.tools.StorageTool format --standalone \
		--cluster-id "$(java_cmd kafka.tools.StorageTool random-uuid 2>/dev/null)" \
		--config "$run/server.properties" --ignore-formatted \
		>"$run/format.log" 2>&1 || { cat "$run/format.log" >&2; die "storage format failed"; }
	setsid bash -c 'exec "$@"' _ "$java" "${java_opts[@]}" \
		kafka.Kafka "$run/server.properties" \
		>"$run/logs/stdout.log" 2>&1 </dev/null &
	echo $! >"$run/kafka.pid"
	local waited=0
	echo "kafka.sh: starting Kafka $version in $run (waiting up to ${timeout}s)" >&2
	while :; do
		if ! pid_alive; then
			echo "kafka.sh: the broker exited; last lines of its logs:" >&2
			tail -n 40 "$run/logs/stdout.log" "$run/logs/server.log" >&2 2>/dev/null || true
			exit 1
		fi
		if port_open "$port" && port_open "$tls_port" &&
			grep -q "Kafka Server started\|\[KafkaRaftServer nodeId=1\] Kafka Server started" \
				"$run/logs/server.log" "$run/logs/stdout.log" 2>/dev/null; then
			break
		fi
		if [ "$waited" -ge "$((timeout * 2))" ]; then
			echo "kafka.sh: the broker did not answer within ${timeout}s; last lines of its logs:" >&2
			tail -n 40 "$run/logs/stdout.log" "$run/logs/server.log" >&2 2>/dev/null || true
			stop
			exit 1
		fi
		sleep 0.5
		waited=$((waited + 1))
	done
	echo "kafka.sh: Kafka $version up after $((waited / 2))s: plaintext 127.0.0.1:$port, mTLS 127.0.0.1:$tls_port" >&2
}

stop() {
	if ! [ -f "$run/kafka.pid" ]; then
		return 0
	fi
	local pid
	pid=$(cat "$run/kafka.pid")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 60); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$run/kafka.pid" "$run/java"
	echo "kafka.sh: stopped" >&2
}

print_env() {
	# The java the running broker was started with, else the one start
	# would take now.
	java=$(cat "$run/java" 2>/dev/null) ||
		java=$(pick_java 2>/dev/null && echo "$java") || java=
	cat <<EOF
DECONF_KRAFT_JAVA=$java
DECONF_KRAFT_BOOTSTRAP=127.0.0.1:$port
DECONF_KRAFT_BOOTSTRAP_TLS=127.0.0.1:$tls_port
DECONF_KRAFT_TLS_DIR=$run/tls
DECONF_KRAFT_LOG=$run/logs/server.log
DECONF_KRAFT_PIDFILE=$run/kafka.pid
EOF
}

case "${1:-}" in
fetch) fetch ;;
start) start ;;
stop) stop ;;
env) print_env ;;
status)
	if pid_alive && port_open "$port"; then
		echo "running (pid $(cat "$run/kafka.pid")), plaintext 127.0.0.1:$port, mTLS 127.0.0.1:$tls_port"
	else
		echo "not running"
		exit 1
	fi
	;;
-h | --help | help)
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	;;
*)
	echo "usage: kafka.sh fetch|start|stop|env|status (kafka.sh --help)" >&2
	exit 2
	;;
esac
