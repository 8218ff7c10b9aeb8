#!/bin/sh
# Installs the Debian packages levee needs for a purpose (build, test, bench, run, deb) when they are
# missing.
# Usage: scripts/deps.sh build|run|test|bench|deb
# Runs apt-get only when something is missing, so it is cheap on a machine that already has everything.
set -eu

purpose=${1:-build}

# libgnutls28-dev: src/serve/tls.c includes GnuTLS's headers (libmicrohttpd's TLS is GnuTLS);
# openssl: the TLS tests and the HTTPS benchmark make their certificates with the openssl command;
# python3 and groff-base: make install makes the man pages (tools/man.py), make test lints them.
# libpq-dev: the PostgreSQL engine includes libpq's header (libpq itself is loaded when a store at a
# postgresql:// location is opened: include/levee/pq.h); postgresql: the tests and benchmarks start a
# throwaway server of their own (tests/e2e/pg.py), and psql to set it up; pgbouncer: the tests start one
# of their own in front of that server, in transaction mode (tests/e2e/test_pgbouncer.py; the package's
# own service, on 127.0.0.1:6432 when it runs, is not used).
# libexpat1-dev: the AWS credentials read STS's XML answers with Expat (libexpat is loaded when one is read).
build="gcc make pkg-config python3 curl libyajl-dev libssl-dev libsqlite3-dev libzstd-dev zlib1g-dev libmicrohttpd-dev libcurl4-openssl-dev libgnutls28-dev libpq-dev libexpat1-dev"
test="$build groff-base libcmocka-dev clang libclang-rt-14-dev jq chromium openssl postgresql postgresql-client pgbouncer"
bench="$test wrk hyperfine"
# make deb: Debian's packaging tools (dpkg-buildpackage is in dpkg-dev, dh in debhelper),
# lintian to check the package; and for make deb-test, groff-base
# and man-db to render the installed pages, mandoc to lint them, systemd for systemd-analyze, and
# adduser, which the package's postinst runs.
deb="$build dpkg-dev debhelper fakeroot lintian groff-base man-db mandoc systemd adduser"

case "$purpose" in
  build|run) want=$build ;;
  test) want=$test ;;
  bench) want=$bench ;;
  deb) want=$deb ;;
  *) echo "usage: $0 build|run|test|bench|deb" >&2; exit 2 ;;
esac

# The browser tests (tests/web) and the SQS tests' local queue (tests/sqs) need Node.js and npm. Ask Debian for them only when they are not on
# PATH: a machine may have them from elsewhere (nodesource), and Debian's npm conflicts with that nodejs.
case "$purpose" in
  test|bench)
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
      want="$want nodejs npm"
    fi ;;
esac

missing=""
for pkg in $want; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $pkg"
  fi
done
[ -z "$missing" ] && exit 0

echo "levee: installing missing Debian packages:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1; then
  sudo="sudo"
else
  echo "levee: these packages are missing and installing them needs root:$missing" >&2
  echo "levee: run 'apt-get install -y$missing' as root, then try again." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet; refresh them only when the install needs it.
if ! $sudo apt-get install -y --no-install-recommends $missing; then
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends $missing
fi
