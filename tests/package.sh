#!/usr/bin/env bash
# tests/package.sh — the Debian packages, as a machine installing them sees
# them. tests/run.sh runs each step as one check:
#
#   package.sh build BUILD_DIR OUT    cpack -G DEB in BUILD_DIR, packages into OUT
#   package.sh contents OUT           every program, man page, completion,
#                                     example config and unit, and nothing
#                                     else; control fields; maintainer
#                                     scripts 0755; units name /usr/bin;
#                                     --version of the packaged programs; the
#                                     completions complete
#   package.sh scripts OUT            postinst and postrm, run for real but
#                                     into a scratch root (DPKG_ROOT)
#   package.sh quickstart OUT         both packages unpacked into a scratch
#                                     root (dpkg-deb -x), and the quick start
#                                     (mock Kafka) run on those programs
#
# Nothing here installs a package on this machine or runs a maintainer
# script on it. The scripts step runs postinst and postrm as root (useradd
# needs it) with DPKG_ROOT set to a scratch directory, inside a mount
# namespace (unshare) where this machine's /etc and /var are read-only: a
# script that forgot DPKG_ROOT anywhere fails there instead of changing the
# machine.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(sed -n 's/^project(deconf VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
arch=$(dpkg --print-architecture)

fail() { echo "package.sh: $*" >&2; exit 1; }
deb() { echo "$1/deconf-$2_${version}_$arch.deb"; }

# What each package holds: every file (directories left out), exactly.
expected_files() {
	case $1 in
	adapter)
		printf '%s\n' ./usr/bin/deconf-adapter \
			./usr/lib/systemd/system/deconf-adapter.service \
			./usr/share/bash-completion/completions/deconf-adapter \
			./usr/share/doc/deconf/examples/agency.conf.example \
			./usr/share/man/man1/deconf-adapter.1
		;;
	broker)
		printf '%s\n' ./usr/bin/deconf-broker ./usr/bin/deconfctl \
			./usr/lib/systemd/system/deconf-broker.service \
			./usr/share/bash-completion/completions/deconf-broker \
			./usr/share/bash-completion/completions/deconfctl \
			./usr/share/doc/deconf/examples/broker.conf.example \
			./usr/share/man/man8/deconf-broker.8 ./usr/share/man/man8/deconfctl.8
		;;
	esac
}

# One completion: COMPLETION_FILE FUNCTION WORDS... (the last is being
# completed); prints the candidates on one line.
complete_words() {
	bash -c 'source /usr/share/bash-completion/bash_completion
		source "$1"; fn=$2; shift 2
		COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
		"$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}" 2>/dev/null
		echo "${COMPREPLY[*]}"' complete "$@"
}

cmd_build() { # BUILD_DIR OUT
	local build=$1 out
	out=$(realpath -m "$2") # cpack runs in BUILD_DIR
	[ -f "$build/CPackConfig.cmake" ] || fail "$build: not a configured build tree"
	rm -rf "$out"
	mkdir -p "$out"
	(cd "$build" && cpack -G DEB -B "$out") >"$out/cpack.log" 2>&1 ||
		{ cat "$out/cpack.log" >&2; fail "cpack -G DEB failed"; }
	for c in adapter broker; do
		[ -f "$(deb "$out" $c)" ] || fail "cpack made no $(basename "$(deb "$out" $c)")"
	done
	ls -l "$out"/*.deb
}

cmd_contents() { # OUT
	local out=$1 c f got want tmp line
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' RETURN
	for c in adapter broker; do
		f=$(deb "$out" $c)
		[ -f "$f" ] || fail "no $f (package.sh build first)"
		echo "== deconf-$c: files"
		got=$(dpkg-deb -c "$f" | awk '$1 !~ /^d/ { print $6 }' | sort)
		want=$(expected_files $c | sort)
		if [ "$got" != "$want" ]; then
			diff <(echo "$want") <(echo "$got") >&2 || true
			fail "deconf-$c holds other files than expected (< expected, > packaged)"
		fi
		echo "$got"
		# every file root-owned; programs 0755, the rest 0644
		dpkg-deb -c "$f" | awk '$2 != "root/root" { print; bad = 1 } END { exit bad }' ||
			fail "deconf-$c: files not owned by root"
		dpkg-deb -c "$f" | awk '$1 !~ /^d/ && (($6 ~ /\/bin\// && $1 != "-rwxr-xr-x") ||
			($6 !~ /\/bin\// && $1 != "-rw-r--r--")) { print; bad = 1 } END { exit bad }' ||
			fail "deconf-$c: a file with the wrong mode"

		echo "== deconf-$c: control"
		[ "$(dpkg-deb -f "$f" Package)" = "deconf-$c" ] || fail "deconf-$c: Package field"
		[ "$(dpkg-deb -f "$f" Version)" = "$version" ] || fail "deconf-$c: Version is not $version"
		dpkg-deb -f "$f" Depends | tee "$tmp/depends"
		# dpkg-shlibdeps ran: the C library and Kafka's are there, with
		# versions; and what the maintainer scripts run
		for p in 'libc6 (>=' 'librdkafka1 (>=' 'libssl3 (>=' 'passwd'; do
			grep -qF "$p" "$tmp/depends" || fail "deconf-$c: Depends lacks '$p'"
		done
		dpkg-deb -e "$f" "$tmp/$c"
		for s in postinst postrm; do
			[ -f "$tmp/$c/$s" ] || fail "deconf-$c: no $s"
			[ "$(stat -c %a "$tmp/$c/$s")" = 755 ] ||
				fail "deconf-$c: $s has mode $(stat -c %a "$tmp/$c/$s"), not 755"
			sh -n "$tmp/$c/$s" || fail "deconf-$c: $s is not valid sh"
		done
		ls -l "$tmp/$c"

		echo "== deconf-$c: programs, units, man pages, completions"
		mkdir -p "$tmp/root"
		dpkg-deb -x "$f" "$tmp/root"
	done
	for p in deconf-adapter deconf-broker; do
		line=$("$tmp/root/usr/bin/$p" --version) || fail "$p --version failed"
		echo "$line"
		case $line in
		"$p $version ("*"wire deconf.v1, envelope "[0-9]*")") ;;
		*) fail "$p --version: '$line'" ;;
		esac
	done
	line=$("$tmp/root/usr/bin/deconfctl" --help) || fail "deconfctl --help failed"
	[[ $line == "usage: deconfctl "* ]] || fail "deconfctl --help: no usage"
	for u in adapter broker; do
		line=$(grep '^ExecStart=' "$tmp/root/usr/lib/systemd/system/deconf-$u.service")
		echo "deconf-$u.service: $line"
		[[ $line == "ExecStart=/usr/bin/deconf-$u "* ]] ||
			fail "deconf-$u.service does not run /usr/bin/deconf-$u"
	done
	for m in man1/deconf-adapter.1 man8/deconf-broker.8 man8/deconfctl.8; do
		# renders, without warnings, and names its program
		line=$(MANWIDTH=80 man --warnings -l "$tmp/root/usr/share/man/$m" 2>"$tmp/man.err" |
			sed -n '/^NAME/{n;p;q}')
		[ ! -s "$tmp/man.err" ] || { cat "$tmp/man.err" >&2; fail "$m: man warns"; }
		echo "$m: $line"
		[[ $line == *"$(basename "${m%.*}") - "* ]] || fail "$m: no NAME line"
	done
	local cdir=$tmp/root/usr/share/bash-completion/completions
	export PATH=$tmp/root/usr/bin:$PATH # --set completes from --help-config
	[ "$(complete_words "$cdir/deconf-adapter" _deconf_adapter deconf-adapter s)" = "submit serve status" ] ||
		fail "completion: deconf-adapter s"
	[[ " $(complete_words "$cdir/deconf-adapter" _deconf_adapter deconf-adapter notices --)" == \
		*" --follow "* ]] || fail "completion: deconf-adapter notices --"
	[ "$(complete_words "$cdir/deconf-broker" _deconf_broker deconf-broker --set http.p)" = \
		"http.port=" ] || fail "completion: deconf-broker --set http.p"
	[ "$(complete_words "$cdir/deconfctl" _deconfctl deconfctl -f x agency "")" = \
		"add suspend activate list" ] || fail "completion: deconfctl agency"
	[ "$(complete_words "$cdir/deconfctl" _deconfctl deconfctl offsets show --group "")" = \
		"ingest matcher" ] || fail "completion: deconfctl offsets show --group"
	[ "$(complete_words "$cdir/deconfctl" _deconfctl deconfctl audit "")" = "verify" ] ||
		fail "completion: deconfctl audit"
	[ "$(complete_words "$cdir/deconf-adapter" _deconf_adapter deconf-adapter i)" = "init" ] ||
		fail "completion: deconf-adapter i"
	echo "completions: ok"
}

# A scratch root for the maintainer scripts: the passwd files of a system
# with root alone, and a dpkg database listing the packages given.
scratch_root() { # DIR INSTALLED-PACKAGE...
	local r=$1 p
	shift
	rm -rf "$r"
	mkdir -p "$r/etc" "$r/var/lib/dpkg"
	echo 'root:x:0:0:root:/root:/bin/bash' >"$r/etc/passwd"
	echo 'root:x:0:' >"$r/etc/group"
	echo 'root:*:19000:0:99999:7:::' >"$r/etc/shadow"
	echo 'root:*::' >"$r/etc/gshadow"
	chmod 0640 "$r/etc/shadow" "$r/etc/gshadow"
	: >"$r/var/lib/dpkg/status"
	for p in "$@"; do
		printf 'Package: %s\nStatus: install ok installed\nVersion: %s\nArchitecture: %s\n\n' \
			"$p" "$version" "$arch" >>"$r/var/lib/dpkg/status"
	done
}

# Runs a maintainer script with DPKG_ROOT=DIR where this machine's /etc and
# /var cannot be written.
in_root() { # DIR SCRIPT ARGS...
	local r=$1
	shift
	DPKG_ROOT=$r unshare --mount --propagation private sh -c \
		'mount --bind -o ro /etc /etc && mount --bind -o ro /var /var && exec sh "$@"' \
		sh "$@"
}

# "mode uid gid" of a path
perm() { stat -c '%a %u %g' "$1"; }

cmd_scripts() { # OUT
	local out=$1 tmp r c uid gid line
	[ "$(id -u)" = 0 ] || fail "scripts: needs root (useradd --prefix, chown)"
	unshare --mount true 2>/dev/null || fail "scripts: unshare --mount is not allowed here"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' RETURN
	local host_sum
	host_sum=$(cat /etc/passwd /etc/group | md5sum)
	for c in adapter broker; do
		dpkg-deb -e "$(deb "$out" $c)" "$tmp/$c"
	done
	r=$tmp/root
	for c in adapter broker; do
		echo "== deconf-$c postinst configure (DPKG_ROOT=$r)"
		scratch_root "$r" "deconf-$c"
		in_root "$r" "$tmp/$c/postinst" configure || fail "deconf-$c postinst failed"
		line=$(grep '^deconf:' "$r/etc/passwd") || fail "deconf-$c: no deconf user"
		echo "$line"
		IFS=: read -r _ _ uid gid _ home shell <<<"$line"
		[ "$home" = /var/lib/deconf ] || fail "deconf user's home is $home"
		[ "$shell" = /usr/sbin/nologin ] || fail "deconf user's shell is $shell"
		[ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] || fail "deconf user is not a system user (uid $uid)"
		grep -q "^deconf:x:$gid:" "$r/etc/group" || fail "no deconf group of gid $gid"
		[ "$(perm "$r/etc/deconf")" = "750 0 $gid" ] ||
			fail "/etc/deconf: $(perm "$r/etc/deconf"), not 750 root:deconf"
		[ "$(perm "$r/var/lib/deconf")" = "750 $uid $gid" ] ||
			fail "/var/lib/deconf: $(perm "$r/var/lib/deconf"), not 750 deconf:deconf"
		if [ $c = adapter ]; then
			[ "$(perm "$r/var/spool/deconf")" = "750 $uid $gid" ] ||
				fail "/var/spool/deconf: $(perm "$r/var/spool/deconf")"
		else
			[ ! -e "$r/var/spool/deconf" ] || fail "the broker's postinst made the spool directory"
		fi

		echo "== again (reinstall): nothing twice, modes put back, contents kept"
		chmod 0777 "$r/etc/deconf"
		echo key >"$r/etc/deconf/broker.conf"
		in_root "$r" "$tmp/$c/postinst" configure || fail "deconf-$c postinst failed the second time"
		[ "$(grep -c '^deconf:' "$r/etc/passwd")" = 1 ] || fail "two deconf users"
		[ "$(grep -c '^deconf:' "$r/etc/group")" = 1 ] || fail "two deconf groups"
		grep -q "^deconf:x:$uid:$gid:" "$r/etc/passwd" || fail "the deconf user changed"
		[ "$(perm "$r/etc/deconf")" = "750 0 $gid" ] || fail "/etc/deconf's mode not put back"
		[ "$(cat "$r/etc/deconf/broker.conf")" = key ] || fail "/etc/deconf's contents touched"
		# other actions do nothing
		rm -rf "$r/var/lib/deconf"
		in_root "$r" "$tmp/$c/postinst" abort-upgrade 1 || fail "postinst abort-upgrade failed"
		[ ! -e "$r/var/lib/deconf" ] || fail "postinst abort-upgrade made directories"

		echo "== deconf-$c postrm"
		in_root "$r" "$tmp/$c/postinst" configure
		mkdir -p "$r/var/lib/deconf-$c/state" "$r/var/log/deconf"
		in_root "$r" "$tmp/$c/postrm" remove || fail "postrm remove failed"
		[ -d "$r/var/lib/deconf-$c/state" ] && [ -d "$r/var/lib/deconf" ] ||
			fail "postrm remove removed state"
		# purge while the other package is installed: its own state only
		local other=broker
		[ $c = broker ] && other=adapter
		scratch_keep_status "$r" "deconf-$other"
		in_root "$r" "$tmp/$c/postrm" purge || fail "postrm purge failed"
		[ ! -e "$r/var/lib/deconf-$c" ] || fail "purge left /var/lib/deconf-$c"
		[ -d "$r/var/lib/deconf" ] && [ -d "$r/var/log/deconf" ] ||
			fail "purge removed shared state while deconf-$other is installed"
		# the last one purged: the shared state too; /etc/deconf only if empty
		scratch_keep_status "$r"
		in_root "$r" "$tmp/$c/postrm" purge || fail "postrm purge failed"
		[ ! -e "$r/var/lib/deconf" ] && [ ! -e "$r/var/log/deconf" ] ||
			fail "purge left /var/lib/deconf or /var/log/deconf"
		[ -f "$r/etc/deconf/broker.conf" ] || fail "purge removed the administrator's files"
		rm "$r/etc/deconf/broker.conf"
		in_root "$r" "$tmp/$c/postrm" purge || fail "postrm purge failed"
		[ ! -e "$r/etc/deconf" ] || fail "purge left an empty /etc/deconf"
		grep -q '^deconf:' "$r/etc/passwd" || fail "purge removed the deconf user"
		echo "ok"
	done
	[ "$(cat /etc/passwd /etc/group | md5sum)" = "$host_sum" ] ||
		fail "this machine's /etc/passwd or /etc/group changed"
}

# the scratch root's dpkg database now lists just these packages
scratch_keep_status() { # DIR PACKAGE...
	local r=$1 p
	shift
	: >"$r/var/lib/dpkg/status"
	for p in "$@"; do
		printf 'Package: %s\nStatus: install ok installed\nVersion: %s\nArchitecture: %s\n\n' \
			"$p" "$version" "$arch" >>"$r/var/lib/dpkg/status"
	done
}

cmd_quickstart() { # OUT
	local out=$1 tmp c rc qs
	tmp=$(mktemp -d)
	for c in adapter broker; do
		dpkg-deb -x "$(deb "$out" $c)" "$tmp/root" || fail "dpkg-deb -x deconf-$c"
	done
	# in the background, so that a TERM (tests/run.sh's timeout) reaches it
	# and it stops what it started
	DECONF_BIN_DIR=$tmp/root/usr/bin DECONF_KAFKA=mock "$root/deploy/quickstart.sh" &
	qs=$!
	trap 'kill -TERM "$qs" 2>/dev/null; wait "$qs"; rm -rf "$tmp"; exit 143' TERM INT
	rc=0
	wait "$qs" || rc=$?
	trap - TERM INT
	rm -rf "$tmp"
	[ $rc -eq 0 ] || fail "the quick start on the packaged programs failed ($rc)"
}

case "${1:-}" in
build) [ $# -eq 3 ] || fail "usage: package.sh build BUILD_DIR OUT"; cmd_build "$2" "$3" ;;
contents | scripts | quickstart)
	[ $# -eq 2 ] || fail "usage: package.sh $1 OUT"
	"cmd_$1" "$2"
	;;
*) fail "usage: package.sh build|contents|scripts|quickstart ..." ;;
esac
