#!/usr/bin/env bash
# tests/install/packaging.sh: checks what make install adds for running levee as a service, the way
# an operator meets it: every command `levee help` lists has a man page (levee-COMMAND.1, and
# levee.1), each page renders without a warning (groff -ww; mandoc -Tlint too when it is
# installed), has the sections a reader looks for, and holds every option its help text names;
# `man levee-serve` finds the page in an installed man tree; the systemd unit verifies
# (systemd-analyze verify, without a single complaint, when systemd-analyze is installed) and has
# the hardening it promises; packaging/levee.conf.example names only real settings and
# levee serve starts with it. `make man-check` (part of make check) runs it on $(BUILD)/man and
# $(BUILD)/levee.service.
# usage: tests/install/packaging.sh [--build DIR]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=build
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build=$2; shift 2 ;;
        *) echo "usage: $0 [--build DIR]" >&2; exit 2 ;;
    esac
done
case "$build" in /*) ;; *) build=$root/$build ;; esac
levee=$build/levee
mandir=$build/man
unit=$build/levee.service

fail() { echo "man-check: FAILED: $*" >&2; exit 1; }
step() { echo "== man-check: $*"; }

[ -x "$levee" ] || fail "$levee is not built (make all)"
[ -f "$mandir/levee.1" ] || fail "$mandir/levee.1 is not built (make man)"
[ -f "$unit" ] || fail "$unit is not built (make $build/levee.service)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/levee-man.XXXXXX")
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# ---- the pages ----

step "a page for levee and for every command of levee help"
commands=$("$levee" help | sed -n '/^Commands:/,/^$/{/^  [a-z]/s/^  \([a-z]*\).*/\1/p}')
[ -n "$commands" ] || fail "levee help lists no commands"
pages=(levee)
for c in $commands; do pages+=("levee-$c"); done
want=$(printf '%s.1\n' "${pages[@]}" | sort)
have=$(cd "$mandir" && ls -- *.1 | sort)
[ "$want" = "$have" ] || fail "the pages in $mandir are not one per command:
$(diff <(echo "$want") <(echo "$have"))"
echo "${#pages[@]} pages: ${pages[*]}"

step "each page renders without a warning: groff -ww -z -man$(command -v mandoc >/dev/null && echo ', mandoc -Tlint')"
for p in "${pages[@]}"; do
    f=$mandir/$p.1
    out=$(groff -ww -z -man "$f" 2>&1) || fail "groff -man $f failed: $out"
    [ -z "$out" ] || fail "groff -ww warns about $f:
$out"
    if command -v mandoc >/dev/null; then
        out=$(mandoc -Tlint "$f" 2>&1) || fail "mandoc -Tlint complains about $f:
$out"
        [ -z "$out" ] || fail "mandoc -Tlint complains about $f:
$out"
    fi
done
command -v mandoc >/dev/null || echo "(mandoc is not installed: only groff checked the pages)"

step "each page has its sections and every option of its help"
for p in "${pages[@]}"; do
    f=$mandir/$p.1
    if [ "$p" = levee ]; then cmd=(); else cmd=("${p#levee-}"); fi
    help=$("$levee" help "${cmd[@]}")
    # the page as a reader sees it, in plain text, lines joined
    text=$(groff -man -Tascii -P-cbou "$f" 2>/dev/null | tr -s ' \n' '  ')
    for section in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
        grep -q "^\.SH $section\$" "$f" || fail "$p.1 has no $section section"
    done
    grep -q '^Options\|^Settings' <<< "$help" && { grep -q '^\.SH OPTIONS$' "$f" || fail "$p.1 has no OPTIONS section, though its help lists options"; }
    grep -q 'Exit status:' <<< "$help" && { grep -q '^\.SH EXIT STATUS$' "$f" || fail "$p.1 has no EXIT STATUS section, though its help has one"; }
    grep -q '^Examples\?:$' <<< "$help" && { grep -q '^\.SH EXAMPLES$' "$f" || fail "$p.1 has no EXAMPLES section, though its help has examples"; }
    # NAME: the command, then its summary from levee help
    name_line=$(sed -n '/^\.SH NAME$/,/^\.SH/{/^\.SH/!p}' "$f" | tr '\n' ' ')
    case "$name_line" in "${p//-/\\-} \\- "*) ;; *) fail "$p.1's NAME is not '$p - ...': $name_line" ;; esac
    # every option the help names (--word, and -x where it stands alone), as it is typed
    opts=$( (grep -oE '(^|[^A-Za-z0-9_-])--?[A-Za-z][A-Za-z0-9-]*' <<< "$help" || true) | sed 's/^[^-]*//' | sort -u)
    n=0
    for o in $opts; do
        n=$((n + 1))
        grep -qF -- " $o" <<< " $text" || grep -qF -- "[$o" <<< "$text" || grep -qF -- "($o" <<< "$text" ||
            fail "$p.1 does not mention $o, which 'levee help ${cmd[*]}' has"
    done
    # every example, whole
    while IFS= read -r ex; do
        ex=$(tr -s ' ' <<< "$ex" | sed 's/^ //')
        grep -qF -- "$ex" <<< "$text" || fail "$p.1 lacks the example: $ex"
    done < <(sed -n '/^Examples\?:$/,/^$/{/^  /p}' <<< "$help")
    echo "$p.1: $n options, $(sed -n '/^Examples\?:$/,/^$/{/^  /p}' <<< "$help" | wc -l) example lines"
done

step "man levee-serve finds the page in an installed man tree"
mkdir -p "$tmp/man/man1"
cp "$mandir"/*.1 "$tmp/man/man1/"
if command -v man >/dev/null; then
    found=$(MANPATH=$tmp/man man -w levee-serve) || fail "man -w levee-serve found nothing in $tmp/man"
    [ "$found" = "$tmp/man/man1/levee-serve.1" ] || fail "man -w levee-serve found $found"
    out=$(MANPATH=$tmp/man MANWIDTH=80 man levee-serve 2>&1 >/dev/null) || fail "man levee-serve failed: $out"
    [ -z "$out" ] || fail "man levee-serve warns: $out"
    shown=$(MANPATH=$tmp/man MANWIDTH=80 man levee-serve 2>/dev/null | tr -s ' ')
    grep -q '^ levee-serve - receive events' <<< "$shown" || fail "man levee-serve does not show the page's NAME"
    echo "man levee-serve: $found"
else
    echo "(man is not installed: not checked)"
fi

# ---- the unit ----

step "levee.service has the hardening it promises"
for line in "User=levee" "StateDirectory=levee" "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" \
            "NoNewPrivileges=yes" "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" "KillSignal=SIGTERM" \
            'ExecReload=/bin/kill -HUP $MAINPID' "CapabilityBoundingSet="; do
    grep -qxF -- "$line" "$unit" || fail "$unit has no line '$line'"
done
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
bin=${exec_start%% *}
[ "$(basename "$bin")" = levee ] || fail "ExecStart does not run levee: $exec_start"
case "$exec_start" in *" serve --config "*/levee/levee.conf) ;; *) fail "ExecStart is not 'levee serve --config .../levee/levee.conf': $exec_start" ;; esac
grep -q '^EnvironmentFile=-.*/levee/levee.env$' "$unit" || fail "$unit has no optional EnvironmentFile=-.../levee/levee.env"
stop=$(sed -n 's/^TimeoutStopSec=//p' "$unit")
[ -n "$stop" ] && [ "$stop" -ge 60 ] || fail "TimeoutStopSec ($stop) leaves levee less than a minute to apply its journal"
echo "ExecStart=$exec_start, TimeoutStopSec=$stop"

if command -v systemd-analyze >/dev/null; then
    step "systemd-analyze verify levee.service: not one complaint"
    # the unit as installed runs $BINDIR/levee: here, the levee just built; its man: links are
    # looked up in the pages just built
    sed "s|^ExecStart=$bin |ExecStart=$levee |" "$unit" > "$tmp/levee.service"
    out=$(MANPATH=$tmp/man systemd-analyze verify "$tmp/levee.service" 2>&1) || fail "systemd-analyze verify failed:
$out"
    [ -z "$out" ] || fail "systemd-analyze verify complains about $unit:
$out"
    # the check itself can fail: a misspelt value is a complaint
    mkdir -p "$tmp/bad"
    sed 's/^ProtectSystem=strict$/ProtectSystem=strcit/' "$tmp/levee.service" > "$tmp/bad/levee.service"
    out=$(MANPATH=$tmp/man systemd-analyze verify "$tmp/bad/levee.service" 2>&1 || true)
    grep -q 'ProtectSystem\|protect system' <<< "$out" || fail "systemd-analyze verify said nothing about a misspelt ProtectSystem: $out"
    echo "verified; a misspelt ProtectSystem= is reported"
    if out=$(systemd-analyze security --offline=yes "$tmp/levee.service" 2>&1); then
        echo "systemd-analyze security: $(grep -o 'Overall exposure level.*' <<< "$out")"
    fi
else
    echo "(systemd-analyze is not installed: the unit was not verified)"
fi

# ---- the example configuration ----

step "levee.conf.example names only settings of levee serve, and levee serve reads it"
example=$root/packaging/levee.conf.example
serve_help=$("$levee" help serve)
n=0
while IFS= read -r name; do
    n=$((n + 1))
    grep -qE -- "^  --$name( |\$)" <<< "$serve_help" || fail "levee.conf.example sets '$name', which levee help serve does not list"
done < <(sed -nE 's/^#? ?([a-z][a-z-]*) = .*/\1/p' "$example")
[ "$n" -ge 10 ] || fail "levee.conf.example shows only $n settings"
grep -q '^db = /var/lib/levee/levee.db$' "$example" || fail "levee.conf.example does not put the store in the unit's StateDirectory"
# The environment wins over the file: the store and the port are moved into $tmp, the rest is the
# file's. levee serve logs where it listens once it does.
LEVEE_DB=$tmp/levee.db LEVEE_LISTEN=127.0.0.1:0 "$levee" serve --config "$example" 2> "$tmp/serve.log" &
server_pid=$!
for _ in $(seq 1 100); do
    grep -q 'msg=listening' "$tmp/serve.log" && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
grep -q 'msg=listening' "$tmp/serve.log" || fail "levee serve --config levee.conf.example did not start:
$(cat "$tmp/serve.log")"
url=$(sed -n 's/.*msg=listening url=\([^ ]*\).*/\1/p' "$tmp/serve.log")
kill -TERM "$server_pid"
rc=0; wait "$server_pid" || rc=$?
server_pid=
[ "$rc" = 0 ] || fail "levee serve --config levee.conf.example exited with $rc after SIGTERM:
$(cat "$tmp/serve.log")"
echo "$n settings named, all real; levee serve read it, listened on $url and stopped with status 0 on SIGTERM"
echo "man-check: passed"
