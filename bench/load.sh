#!/usr/bin/env bash
# Side-by-side load: lokid against the Python peer (../shared/peers), same run,
# alternating. usage: bench/load.sh [sqlite|postgres] [secs=10] [conns="8 16 32 64"]
#   sqlite    embedded SQLite, in-process kv (the default daemon)
#   postgres  PostgreSQL + Redis (BENCH_DATABASE_URL, default
#             postgres://postgres@127.0.0.1:5432/loki_bench, recreated; BENCH_REDIS_URL,
#             default redis://127.0.0.1:6379/)
# Needs ../shared/peers (PEERS=path to override) after its setup.sh. Prints the peak of each
# sweep, the ratio, and the GET p99 during a 100-sign-in flood. Writes under BENCH_HOME
# (default /tmp/loki-bench). Budgets are raised by bench/lokid-bench.toml only.
set -euo pipefail
BACKEND=${1:-sqlite}
SECS=${2:-10}
CONNS=${3:-8 16 32 64}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/peers}
H=${BENCH_HOME:-/tmp/loki-bench}
LOAD=$PEERS/load
mkdir -p "$H"
[ -x "$PEERS/setup.sh" ] || { echo "no peers at $PEERS (set PEERS=)" >&2; exit 1; }
"$PEERS/setup.sh" >/dev/null

cargo build --release --locked -q -p loki-daemon --bin lokid
LOKID=${CARGO_TARGET_DIR:-$ROOT/target}/release/lokid

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# Up when it answers anything (the peer has no /healthz).
wait_up() {
  for _ in $(seq 1 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/healthz")" != 000 ] && return 0
    sleep 0.1
  done
  echo "$1 did not start" >&2; exit 1
}

# The peer: 2 workers, as measured in the issue.
"$PEERS/fastapi_peer/run.sh" 2 18000 >"$H/peer.log" 2>&1 &
pids+=($!)
PEER=http://127.0.0.1:18000

rm -rf "$H/data"
export LOKI_DATA_DIR=$H/data
case $BACKEND in
  sqlite) unset LOKI_DATABASE_URL LOKI_REDIS_URL ;;
  postgres)
    DB=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/loki_bench}
    ADMIN=${DB%/*}/postgres
    psql -q "$ADMIN" -c "DROP DATABASE IF EXISTS ${DB##*/} WITH (FORCE)" -c "CREATE DATABASE ${DB##*/}"
    export LOKI_DATABASE_URL=$DB LOKI_REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/}
    export LOKI_REDIS_KEY_PREFIX="loki-bench-$$:"
    "$LOKID" migrate --config "$ROOT/bench/lokid-bench.toml" >/dev/null
    ;;
  *) echo "backend: sqlite or postgres" >&2; exit 1 ;;
esac
"$LOKID" serve --config "$ROOT/bench/lokid-bench.toml" >"$H/lokid.log" 2>&1 &
pids+=($!)
LOKI=http://127.0.0.1:18080
wait_up "$PEER"; wait_up "$LOKI"

read -r PEER_TOKEN PEER_ORG < <(PEERS_HOME=${PEERS_HOME:-/tmp/loki-peers} "$PEERS/fastapi_peer/token.sh" "$PEER")
read -r LOKI_TOKEN LOKI_ORG < <(python3 "$ROOT/bench/seed.py" "$LOKI" --members 100)

peak() { sort -t' ' -k3 -g | tail -1; }
echo "== authenticated GET sweep (${SECS}s per point, alternating)"
: >"$H/peer.sweep"; : >"$H/lokid.sweep"
for c in $CONNS; do
  p=$("$LOAD/run_load.sh" "$PEER" "$PEER_TOKEN" "$PEER_ORG" "$c" "$SECS")
  l=$("$LOAD/run_load.sh" "$LOKI" "$LOKI_TOKEN" "$LOKI_ORG" "$c" "$SECS")
  printf 'c=%-3s peer  %s\nc=%-3s lokid %s\n' "$c" "$p" "$c" "$l"
  echo "c=$c $p" >>"$H/peer.sweep"; echo "c=$c $l" >>"$H/lokid.sweep"
done
pp=$(awk '{print $3, $0}' "$H/peer.sweep" | sort -g | tail -1 | cut -d' ' -f2-)
lp=$(awk '{print $3, $0}' "$H/lokid.sweep" | sort -g | tail -1 | cut -d' ' -f2-)
pr=$(awk '{print $3}' <<<"$pp"); lr=$(awk '{print $3}' <<<"$lp")
echo "peak peer:  $pp"
echo "peak lokid: $lp"
awk -v l="$lr" -v p="$pr" -v b="$BACKEND" 'BEGIN { printf "ratio lokid/peer (%s): %.2fx\n", b, l / p }'

echo "== GET during 100 concurrent sign-ins (16 connections, ${SECS}s)"
echo "-- lokid"
LOGIN_EMAIL_PATTERN='user{i}@example.com' "$LOAD/login_flood.sh" "$LOKI" "$LOKI_TOKEN" "$LOKI_ORG" 16 "$SECS" || true
echo "-- peer"
"$LOAD/login_flood.sh" "$PEER" "$PEER_TOKEN" "$PEER_ORG" 16 "$SECS" || true
