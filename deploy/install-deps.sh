#!/usr/bin/env bash
# deploy/install-deps.sh — install the Debian 12 packages deconf builds,
# tests and runs with. Does nothing when they are all present; otherwise
# runs apt-get update and apt-get install -y (as root, or through sudo).
# Used by tests/run.sh and deploy/quickstart.sh.
#
#   install-deps.sh [--with-kafka]   --with-kafka adds Java 17 and Maven
set -euo pipefail

packages=(
	# build
	cmake ninja-build pkg-config gcc g++ clang libclang-rt-14-dev
	protobuf-c-compiler
	# libraries (see README, "Dependencies")
	librdkafka-dev libprotobuf-c-dev libssl-dev libinih-dev
	liblmdb-dev libjansson-dev libmicrohttpd-dev libgnutls28-dev libcurl4-openssl-dev
	libutf8proc-dev libidn2-dev liburiparser-dev libphonenumber-dev libcsv-dev libs2-dev
	# Debian packages (cpack -G DEB: dpkg-shlibdeps finds their Depends,
	# and CPack needs `file` for it)
	dpkg-dev file
	# tests (tests/package.sh tries the completions and renders the man pages)
	libcmocka-dev openssl bash-completion man-db
	# the browser test of the analyst's console (tests/browser/console.py)
	chromium chromium-driver python3-selenium
)
if [ "${1:-}" = "--with-kafka" ]; then
	packages+=(openjdk-17-jre-headless maven)
fi

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
	echo "install-deps.sh: missing packages (${missing[*]}) and no apt-get: install them by hand" >&2
	exit 1
fi
sudo=
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || {
		echo "install-deps.sh: need root to install: ${missing[*]}" >&2
		exit 1
	}
	sudo=sudo
fi
echo "install-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >&2
$sudo apt-get install -y -q "${missing[@]}" >&2
