#!/usr/bin/env bash
# The main job, end to end on this machine: the local stack (tansu + PostgreSQL), the subscriber,
# Fitbit's verification handshake, a sample of signed notifications (and a forged one), and the
# events that arrive on Kafka, decoded.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Local stack"
bash scripts/stack-up.sh
cargo build --quiet --workspace --bins
bin="$CARGO_TARGET_DIR/debug"

# Each demo run publishes to a topic of its own, so what is printed below is this run's events only.
export FITEX__KAFKA__TOPICS__NOTIFICATIONS="fitex.provider-notifications.v1.demo-$(date +%Y%m%d%H%M%S)"
export FITEX__SUBSCRIBER__PORT="${FITEX__SUBSCRIBER__PORT:-8080}"
"$bin/fitexctl" topics ensure

step "Subscriber on 127.0.0.1:$FITEX__SUBSCRIBER__PORT"
"$bin/fitex-subscriber" >"$FITEX_RUN_DIR/subscriber.log" 2>&1 &
subscriber_pid=$!
trap 'kill $subscriber_pid 2>/dev/null || true' EXIT
base="http://127.0.0.1:$FITEX__SUBSCRIBER__PORT"
for _ in $(seq 1 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
curl -fsS "$base/readyz"; echo

step "Fitbit's verification handshake"
echo "GET ?verify=<right code> → $(curl -s -o /dev/null -w '%{http_code}' "$base/webhooks/fitbit?verify=dev-verification-code") (expected 204)"
echo "GET ?verify=<wrong code> → $(curl -s -o /dev/null -w '%{http_code}' "$base/webhooks/fitbit?verify=wrong") (expected 404)"

step "Signed notifications"
"$bin/fitexctl" send-sample --url "$base/webhooks/fitbit" --users 5

step "Events on Kafka ($FITEX__KAFKA__TOPICS__NOTIFICATIONS)"
"$bin/fitexctl" events tail --count 8 --timeout-s 15

step "Metrics"
curl -fsS "$base/metrics" | grep -E '^fitex_subscriber_(notifications_accepted|requests_rejected)_total' || true

step "Graceful stop"
kill -TERM "$subscriber_pid"
wait "$subscriber_pid" || true
trap - EXIT
tail -n 3 "$FITEX_RUN_DIR/subscriber.log"
echo
echo "The stack stays up (scripts/stack-down.sh stops it). Subscriber log: $FITEX_RUN_DIR/subscriber.log"
