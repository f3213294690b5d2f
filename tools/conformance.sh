#!/usr/bin/env bash
# Schema-conformance fuzz of the whole API against its own OpenAPI document
# (schemathesis): a real lokid on a free port with an empty SQLite data dir,
# a signed-in organization admin, then every operation fuzzed with
# positive and negative data. Fails on a 5xx, a status code or content type
# the document does not give, or a body that does not match its schema.
#
#   tools/conformance.sh [max examples per operation, default 25]
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-25}"
target="${CARGO_TARGET_DIR:-target}"
cargo build -q -p loki-daemon --locked
lokid="$target/debug/lokid"

data="$(mktemp -d)"
log="$data/lokid.log"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
# Generous budgets: the fuzzer sends thousands of requests from one address
# (429s would still conform, but would hide the operations behind them).
# Every request's status is logged (at debug) for the summary below.
cat >"$data/lokid.toml" <<TOML
log_level = "info,loki_daemon::http::request_id=debug"
signin_ip_limit = 1000000
[rate_limit]
per_credential_per_minute = 0
[limits.free]
requests_per_hour = 1000000
TOML
"$lokid" serve --config "$data/lokid.toml" --listen "127.0.0.1:$port" --data-dir "$data" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; [ -n "${CONFORMANCE_KEEP:-}" ] && cp "$log" "$CONFORMANCE_KEEP"; rm -rf "$data"' EXIT
for _ in $(seq 100); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$base/healthz" >/dev/null || { tail -n 20 "$log"; exit 1; }

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
pw='correct horse battery staple'
curl -fsS -X POST "$base/api/v1/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"fuzz@example.com\",\"password\":\"$pw\"}" >/dev/null
token="$(curl -fsS -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"fuzz@example.com\",\"password\":\"$pw\"}" | json '["access_token"]')"
curl -fsS -X POST "$base/api/v1/orgs" -H "authorization: Bearer $token" \
  -H 'content-type: application/json' -d '{"name":"Fuzz Org","slug":"fuzz-org"}' >/dev/null
switched="$(curl -fsS -X POST "$base/api/v1/auth/switch-org" -H "authorization: Bearer $token" \
  -H 'content-type: application/json' -d '{"org":"fuzz-org"}')"
token="$(echo "$switched" | json '["access_token"]')"
org="$(echo "$switched" | json '["org"]["id"]')"
# Paths name the fuzzing organization, so operations get past admission
# and their bodies and answers are what is checked. The operations that
# would end the fuzzer's own session or organization are left out (they
# are covered by the black-box tests).
cat >"$data/schemathesis.toml" <<TOML
[parameters]
"path.org_id" = "$org"
TOML

started=$(date +%s)
status=0
schemathesis --config-file "$data/schemathesis.toml" run "$base/api/v1/openapi.json" \
  --url "$base" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "$examples" \
  --seed 1 \
  --generation-with-security-parameters false \
  --max-time "${CONFORMANCE_SECS:-240}" \
  --request-timeout 10 \
  --no-color \
  --warnings off \
  --exclude-operation-id organizations_delete \
  --exclude-operation-id auth_revoke_session \
  --exclude-operation-id sessions_revoke \
  --exclude-operation-id auth_logout \
  --exclude-operation-id auth_switch_org || status=$?
echo "conformance fuzz: $(( $(date +%s) - started ))s, exit $status"
# What the daemon answered (the fuzz is only as good as how far it got).
grep -o 'status=[0-9]*' "$log" | sort | uniq -c | sort -rn | tr '\n' ' '; echo
if [ "$status" -ne 0 ]; then
  echo "--- lokid log (last 40 lines)"; tail -n 40 "$log"
fi
exit "$status"
