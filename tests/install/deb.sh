#!/usr/bin/env bash
# tests/install/deb.sh: installs the Debian packages make deb built and checks them as an operator
# would: dpkg -i; levee --version is the changelog's version; the levee user, /var/lib/levee, the
# conffile, the unit (systemd-analyze verify: not a complaint), the man pages (man levee-serve);
# the service started from its unit by systemctl (the machine's systemd, or in a container a systemd
# the test boots in private namespaces; where neither can run, the unit's ExecStart by hand as its
# user, in its working directory, with its umask, by setpriv), an event posted and acknowledged,
# systemctl reload (SIGHUP) reloading, systemctl stop (SIGTERM) with status 0 and the event in the store; a program
# built with pkg-config against liblevee-dev; then dpkg -r (program, unit and pages gone, conffile
# and store kept) and dpkg -P (configuration gone, a store that holds events kept). `make
# deb-test` runs it after make deb. It changes the machine: root only, and only where no levee
# package or levee user exists yet; what it made (the user, /var/lib/levee) it removes at the end.
# usage: tests/install/deb.sh --debs DIR
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
debs=
while [ $# -gt 0 ]; do
    case "$1" in
        --debs) debs=$2; shift 2 ;;
        *) echo "usage: $0 --debs DIR" >&2; exit 2 ;;
    esac
done
[ -n "$debs" ] || { echo "usage: $0 --debs DIR" >&2; exit 2; }

fail() { echo "deb-test: FAILED: $*" >&2; exit 1; }
step() { echo "== deb-test: $*"; }

[ "$(id -u)" = 0 ] || fail "installing packages needs root (run make deb-test as root)"
version=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)
pkgs=(levee liblevee0 liblevee-dev)
files=()
for p in "${pkgs[@]}"; do
    f=$debs/${p}_${version}_$(dpkg --print-architecture).deb
    [ -f "$f" ] || fail "$f is missing (make deb)"
    files+=("$f")
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed\|config-files'; then
        fail "$p is already installed on this machine: this test installs and purges it, so it stops here"
    fi
done
getent passwd levee > /dev/null && fail "a user levee exists already: this test would remove it, so it stops here"
[ -e /var/lib/levee ] && fail "/var/lib/levee exists already: this test would remove it, so it stops here"
[ -e /etc/levee ] && fail "/etc/levee exists already: this test would remove it, so it stops here"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/levee-deb.XXXXXX")
server_pid=
sd_pid=
sd_holder=
in_sd=()
net=()
stop_private_systemd() {
    [ -n "$sd_pid" ] || return 0
    timeout 20 nsenter -t "$sd_pid" -a systemctl poweroff > /dev/null 2>&1 || true
    for _ in $(seq 1 100); do kill -0 "$sd_pid" 2> /dev/null || break; sleep 0.1; done
    kill -0 "$sd_pid" 2> /dev/null && kill -KILL "$sd_pid" 2> /dev/null
    wait "$sd_holder" 2> /dev/null || true
    sd_pid=
}
boot_private_systemd() {
    [ -x /lib/systemd/systemd ] && command -v unshare > /dev/null && command -v nsenter > /dev/null || return 1
    unshare --pid --fork --mount --mount-proc --net --uts --ipc --propagation private sh -c '
        mount -t tmpfs -o mode=1777 tmpfs /tmp && mount -t tmpfs -o mode=755 tmpfs /run &&
        mount -t tmpfs -o mode=1777 tmpfs /var/tmp &&
        { [ ! -d /var/log/journal ] || mount -t tmpfs -o mode=2755 tmpfs /var/log/journal; } &&
        exec /lib/systemd/systemd --system --unit=basic.target' > "$tmp/systemd.log" 2>&1 &
    sd_holder=$!
    for _ in $(seq 1 50); do
        sd_pid=$(pgrep -P "$sd_holder" -x systemd || true)
        [ -n "$sd_pid" ] && break
        kill -0 "$sd_holder" 2> /dev/null || break
        sleep 0.1
    done
    [ -n "$sd_pid" ] || { wait "$sd_holder" 2> /dev/null || true; return 1; }
    local state=
    for _ in $(seq 1 100); do # its control socket appears a moment after it starts
        nsenter -t "$sd_pid" -m test -S /run/systemd/private && break
        kill -0 "$sd_pid" 2> /dev/null || break
        sleep 0.1
    done
    state=$(timeout 60 nsenter -t "$sd_pid" -a systemctl is-system-running --wait 2>&1) || true
    case "$state" in
        running|degraded) ;;
        *) echo "(the private systemd did not come up: '$state')"; stop_private_systemd; return 1 ;;
    esac
    [ "$state" = degraded ] && echo "(the private systemd is degraded: $(nsenter -t "$sd_pid" -a systemctl list-units \
        --failed --plain --no-legend --no-pager | awk '{print $1}' | tr '\n' ' '))"
    in_sd=(nsenter -t "$sd_pid" -a)
    net=(nsenter -t "$sd_pid" -n)
}
cleanup() {
    stop_private_systemd
    if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    local known=()
    for p in "${pkgs[@]}"; do
        if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed\|config-files'; then known+=("$p"); fi
    done
    # all in one dpkg: it orders them (liblevee-dev before the liblevee0 it depends on)
    if [ ${#known[@]} -gt 0 ]; then dpkg -P "${known[@]}" > /dev/null 2>&1 || true; fi
    rm -rf /var/lib/levee /etc/levee
    if getent passwd levee > /dev/null; then deluser --system --quiet levee > /dev/null 2>&1 || true; fi
    if getent group levee > /dev/null; then delgroup --system --quiet levee > /dev/null 2>&1 || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

step "dpkg -i ${files[*]##*/}"
dpkg -i "${files[@]}" > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "dpkg -i"; }
for p in "${pkgs[@]}"; do
    [ "$(dpkg-query -W -f='${Status} ${Version}' "$p")" = "install ok installed $version" ] ||
        fail "$p is not installed at $version: $(dpkg-query -W -f='${Status} ${Version}' "$p")"
done

got=$(levee --version) || fail "levee --version failed"
[ "$got" = "levee $version" ] || fail "levee --version says '$got', not 'levee $version'"
[ "$(command -v levee)" = /usr/bin/levee ] || fail "levee on PATH is $(command -v levee), not /usr/bin/levee"
echo "levee --version: $got"

step "the levee user, its state directory and the configuration"
uid=$(id -u levee) || fail "postinst made no levee user"
[ "$uid" -lt 1000 ] || fail "the levee user (uid $uid) is not a system user"
[ "$(id -gn levee)" = levee ] || fail "the levee user's group is $(id -gn levee), not levee"
[ "$(stat -c '%U:%G %a' /var/lib/levee)" = "levee:levee 750" ] ||
    fail "/var/lib/levee is $(stat -c '%U:%G %a' /var/lib/levee), not levee:levee 750"
dpkg-query -W -f='${Conffiles}\n' levee | grep -q '^ /etc/levee/levee.conf ' || fail "/etc/levee/levee.conf is not a conffile of levee"
cmp -s /etc/levee/levee.conf "$root/packaging/levee.conf.example" || fail "/etc/levee/levee.conf is not packaging/levee.conf.example"
[ -f /usr/share/doc/levee/levee.conf.example ] || fail "no /usr/share/doc/levee/levee.conf.example"
echo "user levee (uid $uid), /var/lib/levee levee:levee 750, conffile /etc/levee/levee.conf"

step "the unit and the man pages"
unit=/lib/systemd/system/levee.service
[ -f "$unit" ] || fail "no $unit"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[ "$exec_start" = "/usr/bin/levee serve --config /etc/levee/levee.conf" ] || fail "the unit's ExecStart is '$exec_start'"
out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify $unit failed: $out"
[ -z "$out" ] || fail "systemd-analyze verify complains about $unit:
$out"
page=$(man -w levee-serve) || fail "man -w levee-serve finds nothing"
[ "$page" = /usr/share/man/man1/levee-serve.1.gz ] || fail "man -w levee-serve gives $page"
err=$(MANWIDTH=80 man levee-serve 2>&1 > /dev/null) || fail "man levee-serve failed: $err"
[ -z "$err" ] || fail "man levee-serve warns: $err"
for c in $(levee help | sed -n '/^Commands:/,/^$/{/^  [a-z]/s/^  \([a-z]*\).*/\1/p}'); do
    man -w "levee-$c" > /dev/null 2>&1 || fail "man levee-$c finds no page"
done
echo "$unit verifies; man levee-serve: $page"
security=$(systemd-analyze security --offline=yes "$unit" 2>&1 | grep -o 'Overall exposure level.*' || true)
[ -n "$security" ] && echo "systemd-analyze security: $security"

step "the service"
# Where the unit runs. systemd as PID 1: the machine's own systemctl. Otherwise (a container) a
# systemd of the test's own, booted as PID 1 of new PID, mount, network, UTS and IPC namespaces,
# with its own /tmp, /run, /var/tmp and /var/log/journal (its boot cleans /tmp: the machine's must
# not be touched; its journal goes with it) and its own loopback, to basic.target only (no other
# service of the machine starts), then powered off. Where namespaces cannot be made either, the
# unit's ExecStart by hand, as the unit has it.
mode=hand
if [ -d /run/systemd/system ]; then
    mode=systemd
elif boot_private_systemd; then
    mode=private
fi
url=http://127.0.0.1:8080
service_log() {
    if [ "$mode" = hand ]; then cat "$tmp/serve.log"; else "${in_sd[@]}" journalctl -u levee --no-pager -o cat; fi
}
if [ "$mode" != hand ]; then
    [ "$mode" = private ] && echo "(systemd is not PID 1 here: a private systemd, pid $sd_pid, runs the unit)"
    # dh_installsystemd enabled the unit; postinst started it only where systemd ran already
    "${in_sd[@]}" systemctl is-enabled levee > /dev/null || fail "levee.service is not enabled after the install"
    "${in_sd[@]}" systemctl restart levee || fail "systemctl restart levee failed: $(service_log | tail -5)"
    for _ in $(seq 1 100); do
        service_log | grep -q 'msg=listening' && break
        "${in_sd[@]}" systemctl is-active --quiet levee || break
        sleep 0.1
    done
    "${in_sd[@]}" systemctl is-active --quiet levee ||
        fail "levee.service is not active: $("${in_sd[@]}" systemctl status levee --no-pager 2>&1 | tail -8)"
    service_log | grep -q 'msg=listening' || fail "levee.service did not start listening: $(service_log | tail -5)"
    main_pid=$("${in_sd[@]}" systemctl show -P MainPID levee)
    [ "$("${in_sd[@]}" ps -o user= -p "$main_pid" | tr -d ' ')" = levee ] ||
        fail "levee.service's main process $main_pid does not run as the levee user"
    how="systemctl start levee"
else
    # No systemd as PID 1 and no namespaces: the unit's ExecStart by hand, as the unit has it: as
    # User= and Group=, in WorkingDirectory=, with UMask=, and the environment an EnvironmentFile
    # would give (the port moved to a free one: another server may have 8080 on this machine), and
    # NoNewPrivileges=. setpriv execs levee itself, so the pid is levee's, as systemd's MAINPID.
    echo "(systemd is not PID 1 here and cannot run privately: running the unit's ExecStart by hand as its user)"
    workdir=$(sed -n 's/^WorkingDirectory=//p' "$unit")
    umask_value=$(sed -n 's/^UMask=//p' "$unit")
    user=$(sed -n 's/^User=//p' "$unit")
    # shellcheck disable=SC2086
    (cd "$workdir" && umask "$umask_value" && exec setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs \
        env LEVEE_LISTEN=127.0.0.1:0 $exec_start) \
        2> "$tmp/serve.log" &
    server_pid=$!
    for _ in $(seq 1 100); do
        grep -q 'msg=listening' "$tmp/serve.log" && break
        kill -0 "$server_pid" 2> /dev/null || break
        sleep 0.1
    done
    grep -q 'msg=listening' "$tmp/serve.log" || fail "the unit's ExecStart did not start:
$(cat "$tmp/serve.log")"
    url=$(sed -n 's/.*msg=listening url=\([^ ]*\)\/ .*/\1/p' "$tmp/serve.log")
    how="setpriv --reuid=$user --regid=$user $exec_start (in $workdir, umask $umask_value)"
fi
"${net[@]}" curl -fsS "$url/healthz" > /dev/null || fail "$url/healthz did not answer"
levee simulate --days 1 --courses 1 --users 4 -q > "$tmp/simulated.ndjson" 2> /dev/null || fail "levee simulate failed"
head -n 3 "$tmp/simulated.ndjson" > "$tmp/events.ndjson"
[ "$(wc -l < "$tmp/events.ndjson")" = 3 ] || fail "levee simulate gave no events"
code=$("${net[@]}" curl -sS -o "$tmp/post.json" -w '%{http_code}' -H 'Content-Type: application/x-ndjson' \
    --data-binary @"$tmp/events.ndjson" "$url/events") || fail "POST $url/events failed"
case "$code" in 2??) ;; *) fail "POST $url/events answered $code: $(cat "$tmp/post.json")" ;; esac
echo "$how: $url/healthz answers, 3 events posted ($code)"

# ExecReload= sends SIGHUP: levee reloads (here there is no JWKS or certificate to reload, so it
# keeps running); KillSignal= is SIGTERM: a clean stop, status 0, the journal applied
if [ "$mode" = hand ]; then
    kill -HUP "$server_pid"
    sleep 0.5
    kill -0 "$server_pid" || fail "levee serve did not survive SIGHUP (the unit's ExecReload):
$(cat "$tmp/serve.log")"
else
    "${in_sd[@]}" systemctl reload levee || fail "systemctl reload levee failed: $(service_log | tail -5)"
    for _ in $(seq 1 50); do service_log | grep -q 'SIGHUP' && break; sleep 0.1; done
    service_log | grep -q 'SIGHUP' || fail "levee serve did not log the SIGHUP of systemctl reload: $(service_log | tail -5)"
    "${in_sd[@]}" systemctl is-active --quiet levee || fail "levee.service is not active after systemctl reload"
    [ "$("${in_sd[@]}" systemctl show -P MainPID levee)" = "$main_pid" ] || fail "systemctl reload restarted levee"
fi
"${net[@]}" curl -fsS "$url/healthz" > /dev/null || fail "$url/healthz did not answer after SIGHUP"
if [ "$mode" = hand ]; then
    kill -TERM "$server_pid"
    rc=0; wait "$server_pid" || rc=$?
    server_pid=
    [ "$rc" = 0 ] || fail "levee serve exited with $rc after SIGTERM:
$(cat "$tmp/serve.log")"
    stopped="exit $rc"
else
    "${in_sd[@]}" systemctl stop levee || fail "systemctl stop levee failed"
    result=$("${in_sd[@]}" systemctl show -P Result levee)
    status=$("${in_sd[@]}" systemctl show -P ExecMainStatus levee)
    if [ "$result" != success ] || [ "$status" != 0 ]; then
        fail "levee.service stopped with Result=$result ExecMainStatus=$status: $(service_log | tail -5)"
    fi
    stopped="Result=$result, exit $status"
fi
service_log | grep -q 'msg=stopped' || fail "levee serve did not log its stop:
$(service_log | tail -5)"
owner=$(stat -c '%U' /var/lib/levee/levee.db) || fail "no store /var/lib/levee/levee.db"
[ "$owner" = levee ] || fail "the store is owned by $owner, not levee"
mode_bits=$(stat -c '%a' /var/lib/levee/levee.db)
[ $((0$mode_bits & 07)) = 0 ] || fail "the store is mode $mode_bits: UMask=0027 should leave others no access"
echo "reload (SIGHUP): still serving, same pid; stop (SIGTERM): $stopped; store levee:levee mode $mode_bits"
stop_private_systemd
stored=$(runuser -u levee -- levee stats --db /var/lib/levee/levee.db --json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["events"])') || fail "levee stats on the store failed"
[ "$stored" = 3 ] || fail "the store holds $stored events after the stop, not the 3 posted"
echo "levee stats: $stored events stored"

step "a program built against liblevee-dev with pkg-config"
[ "$(pkg-config --modversion levee)" = "$version" ] || fail "pkg-config --modversion levee is $(pkg-config --modversion levee)"
# shellcheck disable=SC2046
gcc -Wall -Wextra -Werror -o "$tmp/uses_levee" "$here/uses_levee.c" $(pkg-config --cflags --libs levee) ||
    fail "uses_levee.c does not build against the installed liblevee-dev"
mkdir "$tmp/run"
"$tmp/uses_levee" "$tmp/run" > "$tmp/uses.out" || fail "uses_levee exited with $?"
grep -q '^store: closed$' "$tmp/uses.out" || fail "uses_levee printed: $(cat "$tmp/uses.out")"
libs=$(ldd "$tmp/uses_levee")
grep -q '/liblevee.so.0 ' <<< "$libs" || fail "uses_levee does not load the installed liblevee.so.0"
echo "uses_levee: $(tr '\n' ';' < "$tmp/uses.out")"

step "dpkg -r levee liblevee-dev liblevee0"
dpkg -r levee liblevee-dev liblevee0 > "$tmp/remove.log" 2>&1 || { cat "$tmp/remove.log" >&2; fail "dpkg -r"; }
for f in /usr/bin/levee "$unit" /usr/share/man/man1/levee-serve.1.gz /usr/include/levee /usr/lib/*/liblevee.so.0; do
    [ ! -e "$f" ] || fail "$f is still there after dpkg -r"
done
[ "$(dpkg-query -W -f='${Status}' levee)" = "deinstall ok config-files" ] || fail "after dpkg -r levee is $(dpkg-query -W -f='${Status}' levee)"
[ -f /etc/levee/levee.conf ] || fail "dpkg -r removed the conffile /etc/levee/levee.conf"
[ -f /var/lib/levee/levee.db ] || fail "dpkg -r removed the store"
echo "removed: program, unit, pages, library gone; conffile and store kept"

step "dpkg -P levee liblevee-dev liblevee0"
dpkg -P levee liblevee-dev liblevee0 > "$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log" >&2; fail "dpkg -P"; }
for p in "${pkgs[@]}"; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed\|config-files'; then fail "$p is still known to dpkg after dpkg -P"; fi
done
[ ! -e /etc/levee ] || fail "/etc/levee is still there after dpkg -P: $(ls -A /etc/levee)"
[ -f /var/lib/levee/levee.db ] || fail "dpkg -P removed a store that holds events"
grep -q 'kept /var/lib/levee' "$tmp/purge.log" || fail "dpkg -P kept the store without saying so: $(cat "$tmp/purge.log")"
echo "purged: /etc/levee gone; the store in /var/lib/levee kept, and said so"
echo "deb-test: passed"
