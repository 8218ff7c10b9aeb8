#!/bin/sh
# demo.sh: `make demo`: starts levee serve on a fresh demo store, feeds it a simulated term over HTTP
# (as Canvas would deliver it), keeps a trickle of live events coming for the live tail, and says
# where to look. Ctrl-C stops everything it started.
set -eu
levee=${1:-build/levee}
listen=${LEVEE_DEMO_LISTEN:-127.0.0.1:8080}
db=${LEVEE_DEMO_DB:-build/demo/levee.db}
url="http://$listen"

mkdir -p "$(dirname "$db")"
rm -rf "$db" "$db-wal" "$db-shm" "$db.journal"

"$levee" serve --db "$db" --listen "$listen" --access-log false &
serve=$!
trickle=""
cleanup() {
    [ -n "$trickle" ] && kill "$trickle" 2>/dev/null || true
    kill -TERM "$serve" 2>/dev/null || true
    wait "$serve" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

i=0
until curl -fsS "$url/healthz" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 100 ]; then
        echo "levee demo: the server did not start on $url" >&2
        exit 1
    fi
    sleep 0.1
done

echo "levee demo: posting a simulated two-week term to $url/events ..." >&2
"$levee" simulate --seed 42 --courses 6 --users 240 --days 14 --to "$url/events"
# from now on, live: an institution large enough to send about one event a second, each when its
# event_time comes, so the live tail shows events dated as they arrive
"$levee" simulate --seed 43 --courses 300 --users 30000 --days 30 --live --to "$url/events" -q &
trickle=$!

cat >&2 <<MSG

levee demo is running.
  web page:     $url/
  live tail:    $url/#/live
  JSON API:     $url/api/courses   $url/api/stats
  metrics:      $url/metrics
  the store:    $db  (try: $levee query courses --db $db)
Press Ctrl-C to stop.
MSG
wait "$serve"
