# What the bench/*.sh scripts share; sourced after scripts/env.sh.

# A free TCP port on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Waits up to a minute for URL to answer at all (any status).
wait_answer() {
  for _ in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.2; done
  echo "no answer from $1" >&2
  return 1
}

# Waits up to a minute for URL to answer 2xx.
wait_http() {
  for _ in $(seq 1 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done
  echo "no answer from $1" >&2
  return 1
}

# Migrates the run's database and creates its topics (the broker may still be starting).
migrate_and_ensure_topics() { # fitexctl
  "$1" migrate >&2
  for attempt in 1 2 3 4 5; do
    "$1" topics ensure >/dev/null && return 0
    [[ $attempt == 5 ]] && return 1
    sleep 1
  done
}

# 1,000 Fitbit notifications for distinct users, each with its X-Fitbit-Signature under SECRET,
# as "signature<TAB>body" lines for bench/signed-notifications.lua (BENCH_BODIES).
signed_notifications() { # secret
  python3 - "$1" <<'PY'
import base64, hashlib, hmac, sys
secret = sys.argv[1]
for i in range(1000):
    user = f"BENCH{i:04d}"
    body = ('[{"collectionType":"activities","date":"2026-11-24","ownerId":"%s",'
            '"ownerType":"user","subscriptionId":"%s-activities"}]' % (user, user))
    sig = base64.b64encode(hmac.new((secret + "&").encode(), body.encode(), hashlib.sha1).digest()).decode()
    print(f"{sig}\t{body}")
PY
}

# A run's exit: stops the processes in `pids`; on success (`ok` = 1, no KEEP_LOGS) removes `work`
# and drops the run's database, otherwise says where both were kept.
cleanup_run() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ $ok == 1 && -z ${KEEP_LOGS:-} ]]; then
    rm -rf "$work"
    dropdb -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" --if-exists --force "$FITEX__DATABASE__DATABASE_NAME" 2>/dev/null || true
  else
    echo "logs kept in $work (database $FITEX__DATABASE__DATABASE_NAME kept)" >&2
  fi
}
