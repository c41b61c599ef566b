#!/usr/bin/env bash
# Secrets never appear in output. Runs the demo (small, on ports of its own) with either provider,
# every secret set through the environment to a distinctive random value, then scans everything the
# system printed or served: the demo's own output, every service log, /metrics of every service,
# error answers (bad goals API token, bad webhook signatures, bad verification code, portal form
# without CSRF token, …) and fitexctl's `users list/show`, `tokens list/keys`, `outbox status` and
# `google subscriber list`. It looks for each secret, each participant access/refresh token the
# simulator issued (polled from /_sim/cohort and /_sim/google/cohort while the demo runs) and the
# staff token issued here — as plain text, URL-encoded and base64 (standard or URL-safe, at any
# alignment, so one inside a larger base64 blob is found too). A leak fails the run, naming the secret and the
# file and line, never the secret itself. Part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

# No working secret in config/base.toml, a deployment layer or the production overlay (and the
# check shown able to fail on a planted one first).
python3 scripts/check-config-secrets.py --self-test

# The broker and PostgreSQL first, with the shared run directory (stack-down.sh finds the broker
# there); the demos below keep their logs in a directory of this run's own.
bash scripts/stack-up.sh
SCAN_DIR="$FITEX_CACHE/run/secrets-scan"
rm -rf "$SCAN_DIR"
mkdir -p "$SCAN_DIR"
# Only the scanner reads these: they hold the secrets (and are not scanned).
private="$SCAN_DIR/private"
mkdir -p "$private"

export DEMO_NAME=secrets-scan COHORT=12 SIM_PORT=28090 SUB_PORT=28080 FETCH_PORT=28081 GOALS_PORT=28082 PORTAL_PORT=28083
db=fitex_${DEMO_NAME//-/_}
sim="http://127.0.0.1:$SIM_PORT"

# Every secret, random and distinctive; the Fitbit OAuth client secret is also the webhook signing
# secret (Fitbit signs with it), listed first of the webhook secrets, with an old one after it.
python3 - "$private" <<'PY'
import base64, json, os, secrets, sys
out = sys.argv[1]
word = lambda tag: f"{tag}{secrets.token_hex(16)}"
b64 = lambda n: base64.b64encode(os.urandom(n)).decode()
fitbit = word("fbs")
values = {
    "FITEX__FITBIT__CLIENT_SECRETS": f"{fitbit},{word('fbold')}",
    "FITEX__FITBIT__VERIFICATION_CODE": word("fbverify"),
    "FITEX__FITBIT_API__CLIENT_SECRET": fitbit,
    "FITEX__GOOGLE_HEALTH__ENDPOINT_SECRETS": f"Bearer {word('ghend')},Bearer {word('ghendold')}",
    "FITEX__GOOGLE_HEALTH_API__CLIENT_SECRET": word("gcs"),
    "FITEX__TOKENS__ENCRYPTION_KEYS": f"scan2:{b64(32)},scan1:{b64(32)}",
    "FITEX__GOALS__API_TOKEN": word("goalsapi"),
    "FITEX__PORTAL__SESSION_KEY": b64(64),
    "FITEX__TELEMETRY__METRICS_TOKEN": word("metrics"),
}
with open(f"{out}/secrets.env", "w") as f:
    for name, value in values.items():
        f.write(f"export {name}='{value}'\n")
# What to look for: each list entry on its own; of "id:key" entries only the key (the id is shown
# on purpose by `fitexctl tokens keys`), of "Bearer x" also x; keys also as their raw bytes in hex.
needles = []
for name, value in values.items():
    for i, entry in enumerate(value.split(",")):
        label = f"{name}[{i}]" if "," in value else name
        if name == "FITEX__TOKENS__ENCRYPTION_KEYS":
            entry = entry.split(":", 1)[1]
        needles.append((label, entry))
        if entry.startswith("Bearer "):
            needles.append((label + " (without 'Bearer ')", entry[len("Bearer "):]))
        if name in ("FITEX__TOKENS__ENCRYPTION_KEYS", "FITEX__PORTAL__SESSION_KEY"):
            needles.append((label + " (raw bytes as hex)", base64.b64decode(entry).hex()))
json.dump(needles, open(f"{out}/needles.json", "w"))
PY
set -a
# shellcheck disable=SC1091
source "$private/secrets.env"
set +a

stop_demo() {
  if [[ -f "$FITEX_RUN_DIR/$DEMO_NAME.pids" ]]; then
    xargs -r kill <"$FITEX_RUN_DIR/$DEMO_NAME.pids" 2>/dev/null || true
    rm -f "$FITEX_RUN_DIR/$DEMO_NAME.pids"
  fi
}
poller=
stop_all() {
  [[ -n $poller ]] && kill "$poller" 2>/dev/null || true
  stop_demo
}
trap stop_all EXIT

# Collects every participant token the simulator hands out while the demo runs.
cat >"$private/poll-tokens.py" <<'PY'
import json, os, sys, time, urllib.request
sim, out = sys.argv[1], sys.argv[2]
seen = {}
while True:
    for path, kind in (("/_sim/cohort", "Fitbit"), ("/_sim/google/cohort", "Google")):
        try:
            users = json.load(urllib.request.urlopen(sim + path, timeout=2))
        except Exception:
            continue
        for user in users:
            for field in ("access_token", "refresh_token"):
                token = user.get(field)
                if token:
                    seen.setdefault(token, f"{kind} {field} of {user.get('user_id')}")
    with open(out + ".tmp", "w") as f:
        json.dump([[label, token] for token, label in seen.items()], f)
    os.replace(out + ".tmp", out)
    time.sleep(0.5)
PY

# `fitexctl` as an operator runs it against the demo's database.
ctl() {
  FITEX__DATABASE__DATABASE_NAME=$db FITEX__GOOGLE_HEALTH_API__API_BASE_URL=$sim \
    GOOGLE_APPLICATION_CREDENTIALS=$FITEX_RUN_DIR/service-account.json \
    "$CARGO_TARGET_DIR/debug/fitexctl" "$@"
}

# `curl -si` (status, headers and body) into a file.
fetch() { # fetch FILE CURL-ARGS...
  local file=$1; shift
  curl -si --max-time 10 "$@" >"$file" 2>&1 || true
}

for provider in fitbit google; do
  export FITEX_RUN_DIR="$SCAN_DIR/$provider"
  mkdir -p "$FITEX_RUN_DIR/http" "$FITEX_RUN_DIR/fitexctl"
  echo "secrets scan ($provider): the demo with random secrets, output in $FITEX_RUN_DIR"
  python3 "$private/poll-tokens.py" "$sim" "$private/issued-tokens-$provider.json" &
  poller=$!
  if ! bash scripts/demo.sh --provider "$provider" >"$FITEX_RUN_DIR/demo-output.log" 2>&1; then
    echo "secrets scan: the demo failed ($FITEX_RUN_DIR/demo-output.log)" >&2
    tail -n 30 "$FITEX_RUN_DIR/demo-output.log" >&2
    exit 1
  fi
  # The whole output is there (all of it is scanned), and the verification code reached the subscriber.
  for text in "== Local stack" "verification handshake: right code → 204, wrong code → 404" "== Leaderboard"; do
    grep -aqF -- "$text" "$FITEX_RUN_DIR/demo-output.log" ||
      { echo "secrets scan: '$text' missing from $FITEX_RUN_DIR/demo-output.log" >&2; exit 1; }
  done
  sleep 1
  kill "$poller" 2>/dev/null || true
  wait "$poller" 2>/dev/null || true
  poller=

  # /metrics of every service (with the token, and refused without it), /readyz.
  for service in subscriber:$SUB_PORT fetcher:$FETCH_PORT goals:$GOALS_PORT portal:$PORTAL_PORT; do
    name=${service%%:*} port=${service##*:}
    fetch "$FITEX_RUN_DIR/http/$name-metrics.txt" \
      -H "Authorization: Bearer $FITEX__TELEMETRY__METRICS_TOKEN" "http://127.0.0.1:$port/metrics"
    fetch "$FITEX_RUN_DIR/http/$name-metrics-no-token.txt" "http://127.0.0.1:$port/metrics"
    fetch "$FITEX_RUN_DIR/http/$name-metrics-bad-token.txt" \
      -H "Authorization: Bearer wrong-metrics-token" "http://127.0.0.1:$port/metrics"
    fetch "$FITEX_RUN_DIR/http/$name-readyz.txt" "http://127.0.0.1:$port/readyz"
  done
  grep -q '^fitex_' "$FITEX_RUN_DIR/http/fetcher-metrics.txt" ||
    { echo "secrets scan: the fetcher's /metrics did not answer with the token" >&2; exit 1; }

  # The goals API: no token, a wrong one, a staff read token where admin is needed, the right one.
  program=$(sed -n 's|.*/v1/programs/\([0-9]*\)/leaderboard.*|\1|p' "$FITEX_RUN_DIR/demo-output.log" | tail -n 1)
  goals="http://127.0.0.1:$GOALS_PORT/v1/programs/${program:-1}"
  ctl tokens issue --name "scan-$provider" --scope read >"$private/staff-token-$provider.txt"
  staff=$(grep -o 'fxs_[A-Za-z0-9_-]*' "$private/staff-token-$provider.txt" | head -n 1)
  fetch "$FITEX_RUN_DIR/http/goals-no-token.txt" "$goals/leaderboard"
  fetch "$FITEX_RUN_DIR/http/goals-bad-token.txt" -H "Authorization: Bearer fxs_not-a-real-token" "$goals/leaderboard"
  fetch "$FITEX_RUN_DIR/http/goals-read-token-export.txt" -H "Authorization: Bearer $staff" "$goals/export.csv"
  fetch "$FITEX_RUN_DIR/http/goals-read-token.txt" -H "Authorization: Bearer $staff" "$goals/leaderboard"
  fetch "$FITEX_RUN_DIR/http/goals-api-token-export.txt" -H "Authorization: Bearer $FITEX__GOALS__API_TOKEN" "$goals/export.csv"
  fetch "$FITEX_RUN_DIR/http/goals-openapi.txt" "http://127.0.0.1:$GOALS_PORT/v1/openapi.json"

  # The webhooks: a bad Fitbit signature, a wrong verification code, Google without or with a
  # wrong endpoint secret, and with the right one but no signature.
  sub="http://127.0.0.1:$SUB_PORT"
  body='[{"collectionType":"activities","date":"2026-11-20","ownerId":"SIM0001","ownerType":"user","subscriptionId":"SIM0001-all"}]'
  fetch "$FITEX_RUN_DIR/http/fitbit-bad-signature.txt" -X POST -H 'Content-Type: application/json' \
    -H 'X-Fitbit-Signature: e6OUUBQCnrnhuvS7PvLRUOmF0TU=' --data "$body" "$sub/webhooks/fitbit"
  fetch "$FITEX_RUN_DIR/http/fitbit-no-signature.txt" -X POST -H 'Content-Type: application/json' \
    --data "$body" "$sub/webhooks/fitbit"
  fetch "$FITEX_RUN_DIR/http/fitbit-bad-verify.txt" "$sub/webhooks/fitbit?verify=wrong-code"
  gbody='{"data":{"version":"1","clientProvidedSubscriptionName":"x","healthUserId":"1","operation":"UPSERT","dataType":"steps","intervals":[]}}'
  fetch "$FITEX_RUN_DIR/http/google-no-secret.txt" -X POST -H 'Content-Type: application/json' \
    --data "$gbody" "$sub/webhooks/google-health"
  fetch "$FITEX_RUN_DIR/http/google-bad-secret.txt" -X POST -H 'Content-Type: application/json' \
    -H 'Authorization: Bearer wrong-endpoint-secret' --data "$gbody" "$sub/webhooks/google-health"
  endpoint_secret=${FITEX__GOOGLE_HEALTH__ENDPOINT_SECRETS%%,*}
  fetch "$FITEX_RUN_DIR/http/google-unsigned.txt" -X POST -H 'Content-Type: application/json' \
    -H "Authorization: $endpoint_secret" --data "$gbody" "$sub/webhooks/google-health"

  # The participant pages: a form without its CSRF token, a forged OAuth callback, the consent
  # redirects (their Location must carry no secret).
  portal="http://127.0.0.1:$PORTAL_PORT"
  fetch "$FITEX_RUN_DIR/http/portal-home.txt" "$portal/"
  fetch "$FITEX_RUN_DIR/http/portal-token-no-csrf.txt" -X POST --data 'token=abc.def.ghi' "$portal/token"
  fetch "$FITEX_RUN_DIR/http/portal-forged-callback.txt" "$portal/connect/fitbit/callback?code=x&state=forged"
  fetch "$FITEX_RUN_DIR/http/portal-google-forged-callback.txt" "$portal/connect/google/callback?code=x&state=forged"
  fetch "$FITEX_RUN_DIR/http/portal-connect-fitbit.txt" "$portal/connect/fitbit"
  fetch "$FITEX_RUN_DIR/http/portal-connect-google.txt" "$portal/connect/google"
  fetch "$FITEX_RUN_DIR/http/portal-status-signed-out.txt" "$portal/status"

  # What operators see.
  out="$FITEX_RUN_DIR/fitexctl"
  ctl users list >"$out/users-list.txt" 2>&1 || true
  ctl users summary >"$out/users-summary.txt" 2>&1 || true
  for user in $(awk '$2 ~ /^(fitbit|google_health)$/ {print $3}' "$out/users-list.txt"); do
    ctl users show --user "$user" >>"$out/users-show.txt" 2>&1 || true
  done
  ctl tokens list >"$out/tokens-list.txt" 2>&1 || true
  ctl tokens keys >"$out/tokens-keys.txt" 2>&1 || true
  ctl outbox status >"$out/outbox-status.txt" 2>&1 || true
  if [[ $provider == google ]]; then
    ctl google subscriber list >"$out/google-subscriber-list.txt" 2>&1 || true
  fi
  grep -q 'active' "$out/users-list.txt" ||
    { echo "secrets scan: fitexctl users list showed no participant ($out/users-list.txt)" >&2; exit 1; }
  # The scan's own test of itself: the logs have been written, the staff token works.
  grep -q '^HTTP/1.1 200' "$FITEX_RUN_DIR/http/goals-read-token.txt" ||
    { echo "secrets scan: the goals API did not answer the staff token with 200 ($FITEX_RUN_DIR/http/goals-read-token.txt, goals.log)" >&2; exit 1; }
  stop_demo
  sleep 1 # the services log their shutdown
done

# The scan: every file under $SCAN_DIR except the private directory.
python3 - "$SCAN_DIR" "$private" <<'PY'
import base64, glob, json, os, sys, urllib.parse

scan_dir, private = sys.argv[1], sys.argv[2]
needles = [tuple(n) for n in json.load(open(f"{private}/needles.json"))]
for path in sorted(glob.glob(f"{private}/issued-tokens-*.json")):
    for label, token in json.load(open(path)):
        needles.append((f"participant token ({label})", token))
        parts = token.split(".")
        if len(parts) == 3 and len(parts[2]) >= 20:  # a JWT: its signature alone is a leak too
            needles.append((f"participant token ({label}), its signature", parts[2]))
for path in sorted(glob.glob(f"{private}/staff-token-*.txt")):
    for word in open(path).read().split():
        if word.startswith("fxs_"):
            needles.append((f"staff token issued by fitexctl ({os.path.basename(path)})", word))
fitbit_tokens = sum(1 for label, _ in needles if label.startswith("participant token (Fitbit"))
google_tokens = sum(1 for label, _ in needles if label.startswith("participant token (Google"))
if fitbit_tokens == 0 or google_tokens == 0:
    sys.exit(f"secrets scan: no participant tokens were collected (Fitbit {fitbit_tokens}, Google {google_tokens})")

def base64_forms(secret: bytes):
    """Every base64 rendering of `secret` that is the same wherever it sits in a larger encoded
    blob: for each of the three alignments, only the characters that depend on the secret alone."""
    forms = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret).decode().rstrip("=")
        first = -(-8 * offset // 6)
        last = 8 * (offset + len(secret)) // 6
        fragment = encoded[first:last]
        if len(fragment) >= 16:
            forms.add(fragment)
            forms.add(fragment.replace("+", "-").replace("/", "_"))
    return forms

assert any(f in base64.b64encode(b"user:" + b"fbs0123456789abcdef0123456789abcdef").decode()
           for f in base64_forms(b"fbs0123456789abcdef0123456789abcdef")), "scanner self-test"

patterns = []  # (label, form, needle text)
for label, secret in needles:
    if len(secret) < 12:
        sys.exit(f"secrets scan: {label} is too short to scan for")
    patterns.append((label, "plain", secret.encode()))
    quoted = urllib.parse.quote(secret, safe="")
    if quoted != secret:  # in a URL or a form body
        patterns.append((label, "URL-encoded", quoted.encode()))
    for form in base64_forms(secret.encode()):
        patterns.append((label, "base64", form.encode()))

leaks = []
scanned = 0
for root, dirs, files in os.walk(scan_dir):
    dirs[:] = [d for d in dirs if os.path.join(root, d) != private]
    for name in sorted(files):
        path = os.path.join(root, name)
        if name == "service-account.json":  # the credentials file itself, not output
            continue
        data = open(path, "rb").read()
        scanned += 1
        for label, form, needle in patterns:
            at = data.find(needle)
            if at >= 0:
                line = data.count(b"\n", 0, at) + 1
                leaks.append(f"{label} ({form}) in {os.path.relpath(path, scan_dir)}:{line}")
print(f"secrets scan: {len(needles)} secrets and tokens, {len(patterns)} patterns, {scanned} files")
if leaks:
    print("secrets scan: LEAKED (see the files under " + scan_dir + "):", file=sys.stderr)
    for leak in sorted(set(leaks)):
        print("  " + leak, file=sys.stderr)
    sys.exit(1)
print("secrets scan: no secret in any output of either provider's demo")
PY
