#!/usr/bin/env bash
# tests/install/run.sh: checks `make install` and `make uninstall` the way a user of liblevee meets
# them. Installs into a temporary DESTDIR (PREFIX=/usr/local), checks what was installed (files,
# soname, exported symbols, levee.pc; a man page per command, the systemd unit running the
# installed program, the example configuration), compiles every installed header alone and tests/install/
# uses_levee.c with nothing but `pkg-config --cflags --libs levee`, against the shared library and
# statically (--static, liblevee.a), runs both, then uninstalls and checks that nothing levee
# installed is left and that nothing else was removed. `make install-check` (part of make check)
# runs it.
# usage: tests/install/run.sh [--build DIR] [--keep]
# environment: MAKE (make), CC (gcc), PKG_CONFIG (pkg-config)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=build
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        *) echo "usage: $0 [--build DIR] [--keep]" >&2; exit 2 ;;
    esac
done
MAKE=${MAKE:-make}
case "$build" in /*) build_levee=$build/levee ;; *) build_levee=$root/$build/levee ;; esac
CC=${CC:-gcc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/levee-install.XXXXXX")
cleanup() { if [ "$keep" = 1 ]; then echo "install-check: kept $tmp"; else rm -rf "$tmp"; fi; }
trap cleanup EXIT

fail() { echo "install-check: FAILED: $*" >&2; exit 1; }
step() { echo "== install-check: $*"; }

dest=$tmp/dest
prefix=/usr/local
# Every directory is given, so that variables of an enclosing make (its MAKEFLAGS) cannot move them.
dirs=(BUILD="$build" DESTDIR="$dest" prefix="$prefix" PREFIX="$prefix" BINDIR="$prefix/bin"
      LIBDIR="$prefix/lib" INCLUDEDIR="$prefix/include" PKGCONFIGDIR="$prefix/lib/pkgconfig"
      MANDIR="$prefix/share/man" DOCDIR="$prefix/share/doc/levee"
      SYSTEMDUNITDIR="$prefix/lib/systemd/system" SYSCONFDIR=/etc)
bindir=$dest$prefix/bin
libdir=$dest$prefix/lib
incdir=$dest$prefix/include
pcdir=$dest$prefix/lib/pkgconfig

# A make started from a recipe inherits the enclosing make's flags and command-line variables, and
# its jobserver (which it cannot use from here): start afresh.
unset MAKEFLAGS MFLAGS

step "make install DESTDIR=$dest PREFIX=$prefix"
"$MAKE" -C "$root" --no-print-directory install "${dirs[@]}" > "$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "make install"; }

# ---- what was installed ----

version=$(sed -n 's/.*LV_VERSION "\(.*\)"/\1/p' "$root/include/levee/common.h")
expected=(bin/levee lib/liblevee.a lib/liblevee.so lib/liblevee.so.0 lib/pkgconfig/levee.pc
          lib/systemd/system/levee.service share/doc/levee/levee.conf.example share/man/man1/levee.1)
for h in "$root"/include/levee/*.h; do expected+=("include/levee/$(basename "$h")"); done
# a man page per command of `levee help` (tests/install/packaging.sh checks what they hold)
for c in $("$build_levee" help | sed -n '/^Commands:/,/^$/{/^  [a-z]/s/^  \([a-z]*\).*/\1/p}'); do
    expected+=("share/man/man1/levee-$c.1")
done
installed=$(cd "$dest$prefix" && find . ! -type d | sed 's|^\./||' | sort)
want=$(printf '%s\n' "${expected[@]}" | sort)
[ "$installed" = "$want" ] || fail "installed files differ from the expected ones:
$(diff <(echo "$want") <(echo "$installed"))"
[ -x "$bindir/levee" ] || fail "$bindir/levee is not executable"
unit_exec=$(sed -n 's/^ExecStart=//p' "$dest$prefix/lib/systemd/system/levee.service")
[ "${unit_exec%% *}" = "$prefix/bin/levee" ] || fail "the installed levee.service runs ${unit_exec%% *}, not $prefix/bin/levee"
[ "$(readlink "$libdir/liblevee.so")" = liblevee.so.0 ] || fail "lib/liblevee.so is not a link to liblevee.so.0"
soname=$(readelf -d "$libdir/liblevee.so.0" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = liblevee.so.0 ] || fail "the soname of liblevee.so.0 is '$soname'"
others=$(nm -D --defined-only "$libdir/liblevee.so.0" | awk '$3 !~ /^lv_/ {print $3}')
[ -z "$others" ] || fail "liblevee.so exports symbols outside the public API (lv_*): ${others//$'\n'/ }"
echo "installed: ${#expected[@]} files, soname $soname, $(nm -D --defined-only "$libdir/liblevee.so.0" | wc -l) symbols exported, all lv_*"

# levee.pc as installed says where levee will be once DESTDIR is copied to /
export PKG_CONFIG_PATH=$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
for v in prefix=$prefix libdir=$prefix/lib includedir=$prefix/include; do
    got=$("$PKG_CONFIG" --variable="${v%%=*}" levee) || fail "pkg-config cannot read $pcdir/levee.pc"
    [ "$got" = "${v#*=}" ] || fail "levee.pc says ${v%%=*}=$got, not ${v#*=}"
done

# ---- pkg-config, relocated into DESTDIR ----

# --define-prefix makes levee.pc's prefix the directory it was installed under ($dest$prefix: the .pc
# is in PREFIX/lib/pkgconfig and says libdir and includedir relative to ${prefix}). pkg-config
# redefines the prefix of the packages levee.pc requires too (those in /usr/lib/<triplet>/pkgconfig
# get -I/usr/lib/include... and -L/usr/lib/lib/...): directories that do not exist, searched before
# the compiler's own, which still find those packages. PKG_CONFIG_SYSROOT_DIR would instead move
# every package into DESTDIR.
pc() { "$PKG_CONFIG" --define-prefix "$@"; }
[ "$(pc --modversion levee)" = "$version" ] || fail "pkg-config --modversion levee is not $version"
cflags=$(pc --cflags levee) || fail "pkg-config --cflags levee"
libs=$(pc --libs levee) || fail "pkg-config --libs levee"
static_libs=$(pc --libs --static levee) || fail "pkg-config --libs --static levee"
case " $cflags " in *" -I$incdir "*) ;; *) fail "pkg-config --cflags levee ($cflags) does not point into $incdir" ;; esac
case " $libs " in *" -L$libdir "*) ;; *) fail "pkg-config --libs levee ($libs) does not point into $libdir" ;; esac
echo "pkg-config --cflags levee: $cflags"
echo "pkg-config --libs levee: $libs"
echo "pkg-config --libs --static levee: $static_libs"

CFLAGS_CHECK=(-Wall -Wextra -Werror)

step "every installed header compiles alone with pkg-config --cflags levee"
n=0
for h in "$incdir"/levee/*.h; do
    n=$((n + 1))
    name=levee/$(basename "$h")
    printf '#include <%s>\n' "$name" > "$tmp/header.c"
    # shellcheck disable=SC2086
    "$CC" "${CFLAGS_CHECK[@]}" $cflags -fsyntax-only "$tmp/header.c" 2> "$tmp/header.log" ||
        { cat "$tmp/header.log" >&2; fail "#include <$name> does not compile with: $cflags"; }
done
echo "$n headers"

step "uses_levee.c against liblevee.so: \$CC uses_levee.c \$(pkg-config --cflags --libs levee)"
# shellcheck disable=SC2086
"$CC" "${CFLAGS_CHECK[@]}" -o "$tmp/uses_levee_shared" "$here/uses_levee.c" $cflags $libs ||
    fail "uses_levee.c does not build against liblevee.so"
readelf -d "$tmp/uses_levee_shared" | grep -q 'NEEDED.*\[liblevee\.so\.0\]' ||
    fail "uses_levee_shared does not load liblevee.so.0"
resolved=$(LD_LIBRARY_PATH=$libdir ldd "$tmp/uses_levee_shared" | awk '$1 == "liblevee.so.0" {print $3}')
[ "$resolved" = "$libdir/liblevee.so.0" ] || fail "uses_levee_shared loads liblevee.so.0 from '$resolved', not $libdir"

step "uses_levee.c against liblevee.a: \$CC uses_levee.c \$(pkg-config --cflags --libs --static levee)"
# The same flags with -llevee asking for the archive (libdir has both, and -l prefers the .so).
static_args=()
for f in $static_libs; do
    if [ "$f" = -llevee ]; then static_args+=(-l:liblevee.a); else static_args+=("$f"); fi
done
# shellcheck disable=SC2086
"$CC" "${CFLAGS_CHECK[@]}" -o "$tmp/uses_levee_static" "$here/uses_levee.c" $cflags "${static_args[@]}" ||
    fail "uses_levee.c does not build statically with: ${static_args[*]}"
if readelf -d "$tmp/uses_levee_static" | grep -q 'NEEDED.*liblevee'; then
    fail "uses_levee_static loads liblevee.so"
fi

# ---- running them ----

event=$("$tmp/uses_levee_static" --event)
caliper_id=$(printf '%s\n' "$event" | "$bindir/levee" convert --to caliper 2> "$tmp/convert.log" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["data"][0]["id"])') ||
    { cat "$tmp/convert.log" >&2; fail "the installed levee did not convert the event"; }
expect="event: discussion_entry_created (canvas)
caliper id: $caliper_id
store: opened DIR/uses_levee.db
store: closed"
for kind in shared static; do
    mkdir "$tmp/run_$kind"
    out=$(LD_LIBRARY_PATH=$libdir "$tmp/uses_levee_$kind" "$tmp/run_$kind") || fail "uses_levee_$kind exited with $?"
    [ "$out" = "$expect" ] || fail "uses_levee_$kind printed:
$out
instead of:
$expect"
    [ -s "$tmp/run_$kind/uses_levee.db" ] || fail "uses_levee_$kind made no store"
    echo "uses_levee_$kind: $(echo "$out" | tr '\n' ';' | sed 's/;$//; s/;/; /g')"
done

# ---- uninstall ----

# something that is not levee's, which uninstall must leave
echo other > "$libdir/not_levee.txt"
step "make uninstall DESTDIR=$dest PREFIX=$prefix"
"$MAKE" -C "$root" --no-print-directory uninstall "${dirs[@]}" > "$tmp/uninstall.log" 2>&1 ||
    { cat "$tmp/uninstall.log" >&2; fail "make uninstall"; }
left=$(cd "$dest$prefix" && find . ! -type d | sed 's|^\./||' | sort)
[ "$left" = lib/not_levee.txt ] || fail "after make uninstall, left in $dest$prefix (only lib/not_levee.txt should be):
$left"
[ ! -e "$incdir/levee" ] || fail "after make uninstall, $incdir/levee is still there"
echo "uninstalled: nothing of levee's is left, lib/not_levee.txt is still there"
echo "install-check: passed"
