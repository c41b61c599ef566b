#!/usr/bin/env bash
# Brings the local stack up, idempotently, on a fresh machine: installs tansu if missing, starts it,
# starts PostgreSQL if it is down, creates the database, runs migrations and creates the topics.
# Needs nothing but the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
mkdir -p "$FITEX_RUN_DIR"

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
wait_port() {
  local host=$1 port=$2 what=$3
  for _ in $(seq 1 100); do port_open "$host" "$port" && return 0; sleep 0.2; done
  echo "$what did not open $host:$port" >&2; return 1
}

# --- PostgreSQL -----------------------------------------------------------------------------
if ! port_open "$PGHOST" "$PGPORT"; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "installing PostgreSQL from Debian's packages…" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  echo "starting PostgreSQL…" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start
  wait_port "$PGHOST" "$PGPORT" PostgreSQL
fi

# --- the broker and the services' binaries, built side by side -----------------------------
# On a fresh machine both are built from source. Each build has stretches where one core idles
# (build scripts, linking, the last large crate), so the two together finish sooner than one
# after the other. Only the binaries the demo and the stack need are built here.
tansu_install_log="$FITEX_RUN_DIR/install-tansu.log"
# The shared broker keeps nothing between runs (memory storage), so the smaller memory-only build
# serves it, unless the full one is already there or wanted (scripts/test.sh: FITEX_BROKER_BUILD=full).
broker_build="${FITEX_BROKER_BUILD:-memory}"
[[ -x $TANSU_BIN || ${FITEX_BROKER_STORAGE:-} == sqlite* ]] && broker_build=full
case "$broker_build" in full) broker_bin=$TANSU_BIN ;; *) broker_bin=$TANSU_MEMORY_BIN ;; esac
[[ -x $broker_bin ]] || echo "first run: building the tansu broker (log: $tansu_install_log)" \
  "and the services; about 12 minutes on 2 cores…" >&2
bash scripts/install-tansu.sh "$broker_build" >"$tansu_install_log" 2>&1 &
tansu_install=$!
if ! cargo build --quiet -p fitex-subscriber -p fitex-fetcher -p fitex-goals-service \
  -p fitexctl -p fitex-portal -p fitex-provider-simulator --bins; then
  wait "$tansu_install" || true
  exit 1
fi
if ! wait "$tansu_install"; then
  cat "$tansu_install_log" >&2
  echo "stack-up: installing the tansu broker failed (log above)" >&2
  exit 1
fi

# --- tansu (Kafka-compatible broker) ---------------------------------------------------------
broker_host=${KAFKA_BROKERS%%:*}
broker_port=${KAFKA_BROKERS##*:}
if ! port_open "$broker_host" "$broker_port"; then
  # Memory storage: the shared development broker keeps nothing between runs; tests that restart
  # a broker start a private one with sqlite storage.
  storage="${FITEX_BROKER_STORAGE:-memory://tansu/}"
  echo "starting tansu on $KAFKA_BROKERS ($storage)…" >&2
  nohup "$broker_bin" broker \
    --listener-url "tcp://$KAFKA_BROKERS" --advertised-listener-url "tcp://$KAFKA_BROKERS" \
    --storage-engine "$storage" >"$FITEX_RUN_DIR/tansu.log" 2>&1 &
  echo $! >"$FITEX_RUN_DIR/tansu.pid"
  wait_port "$broker_host" "$broker_port" tansu
fi

# --- database, migrations, topics ------------------------------------------------------------
"$CARGO_TARGET_DIR/debug/fitexctl" migrate
for attempt in 1 2 3 4 5; do
  "$CARGO_TARGET_DIR/debug/fitexctl" topics ensure && break
  [[ $attempt == 5 ]] && exit 1
  sleep 1
done
echo "stack up: PostgreSQL $PGHOST:$PGPORT, Kafka (tansu) $KAFKA_BROKERS" >&2
