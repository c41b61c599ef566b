#!/usr/bin/env bash
# The event contract (docs/events.md), checked: `buf lint` on proto/, then `buf breaking` against
# the previous commit (HEAD~1), so a field renumbered or retyped fails the build. Rules and why:
# proto/buf.yaml.
#
#   scripts/check-events.sh              the self-test, then the real checks
#   scripts/check-events.sh --self-test  only the self-test: a field renumbered and another
#                                        retyped must fail `buf breaking`, a lint violation
#                                        `buf lint`
#
# EVENTS_AGAINST=<git ref> compares with another commit instead of HEAD~1 (a branch's merge base,
# say). Schema changes not committed yet are also compared with HEAD. buf comes from npm
# (@bufbuild/buf, pinned below) into $FITEX_CACHE/node, installed when missing; a tool that is
# missing and cannot be installed fails the script — nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

BUF_VERSION=1.75.0
BUF="$FITEX_CACHE/node/node_modules/.bin/buf"
export BUF_CACHE_DIR="${BUF_CACHE_DIR:-$FITEX_CACHE/buf}"
AGAINST="${EVENTS_AGAINST:-HEAD~1}"

fail() {
  echo "check-events: $*" >&2
  exit 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

install_buf() {
  if [[ -x $BUF ]] && [[ $("$BUF" --version 2>/dev/null) == "$BUF_VERSION" ]]; then
    return
  fi
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    command -v apt-get >/dev/null ||
      fail "buf needs Node.js and npm, which are not installed (and there is no apt-get)"
    apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
  npm install --silent --no-audit --no-fund --prefix "$FITEX_CACHE/node" \
    "@bufbuild/buf@$BUF_VERSION" || fail "could not install @bufbuild/buf@$BUF_VERSION from npm"
  [[ $("$BUF" --version 2>/dev/null) == "$BUF_VERSION" ]] ||
    fail "$BUF is not buf $BUF_VERSION after npm install"
}

# Runs buf with the arguments given; stores its output in $out and its exit status in $rc.
run_buf() {
  rc=0
  out=$("$BUF" "$@" 2>&1) || rc=$?
}

# Replaces the text $2 with $3 in file $1; fails when $2 is not there exactly once.
edit() {
  local file=$1 from=$2 to=$3
  [[ $(grep -cF -- "$from" "$file") == 1 ]] ||
    fail "self-test: expected exactly one '$from' in ${file#"$work"/}"
  FROM=$from TO=$to perl -pi -e 's/\Q$ENV{FROM}\E/$ENV{TO}/' "$file"
}

# Fails unless the last run_buf found violations (buf exits 100 for them; any other failure is
# an error, not a finding) of type $1 with a message matching $2.
expect_violation() {
  local type=$1 pattern=$2
  [[ $rc == 100 ]] || fail "self-test: buf exited with $rc, not 100 (violations found):
$out"
  grep -F "\"type\":\"$type\"" <<<"$out" | grep -qE -- "$pattern" ||
    fail "self-test: no $type matching '$pattern' in:
$out"
  echo "  detected $type: $(grep -F "\"type\":\"$type\"" <<<"$out" | grep -E -- "$pattern" |
    sed -E 's/.*"message":"(.*)"\}$/\1/; s/\\"/"/g' | head -1)"
}

self_test() {
  echo "check-events: self-test (the checks must fail on a broken contract)"
  local base="$work/self-test/base" changed="$work/self-test/changed" linted="$work/self-test/lint"
  mkdir -p "$work/self-test"
  cp -R proto "$base"
  cp -R proto "$changed"
  cp -R proto "$linted"

  # The unchanged schemas pass both checks.
  run_buf lint "$base" --error-format json
  [[ $rc == 0 ]] || fail "self-test: the unchanged schemas fail buf lint:
$out"
  run_buf breaking "$changed" --against "$base" --error-format json
  [[ $rc == 0 ]] || fail "self-test: the unchanged schemas fail buf breaking against themselves:
$out"

  # A field renumbered (ProviderNotification.collection_type 3 → 30) and another retyped
  # (ProviderNotification.owner_id string → int64).
  local notification="$changed/fitex/v1/notification.proto"
  edit "$notification" "string collection_type = 3;" "string collection_type = 30;"
  edit "$notification" "string owner_id = 4;" "int64 owner_id = 4;"
  run_buf breaking "$changed" --against "$base" --error-format json
  expect_violation FIELD_NO_DELETE 'field \\"3\\" with name \\"collection_type\\"'
  expect_violation FIELD_SAME_TYPE \
    'Field \\"4\\" with name \\"owner_id\\".*from \\"string\\" to \\"int64\\"'

  # A lint violation: a field named in camelCase.
  cat >>"$linted/fitex/v1/notification.proto" <<'PROTO'

// Not a real message: the self-test of scripts/check-events.sh.
message LintSelfTest {
  string badName = 1;
}
PROTO
  run_buf lint "$linted" --error-format json
  expect_violation FIELD_LOWER_SNAKE_CASE 'badName'
  echo "check-events: self-test passed"
}

# The schemas of commit $1 in directory $2 (as $2/proto), with today's buf.yaml when that commit
# had none (the commit before the one adding it).
materialise() {
  local ref=$1 dir=$2
  mkdir -p "$dir"
  git archive "$ref" proto | tar -x -C "$dir" || fail "could not read proto/ at $ref"
  [[ -f $dir/proto/buf.yaml ]] || cp proto/buf.yaml "$dir/proto/buf.yaml"
}

# `buf breaking` of proto/ against commit $1 (described as $2), materialised in $work/$3.
breaking_against() {
  local ref=$1 label=$2 dir="$work/$3"
  local commit
  commit=$(git rev-parse --short "$ref^{commit}")
  if ! git cat-file -e "$ref:proto" 2>/dev/null; then
    echo "check-events: $label ($commit) has no proto/: nothing to compare"
    return
  fi
  materialise "$ref" "$dir"
  echo "check-events: buf breaking against $label ($commit)"
  "$BUF" breaking proto --against "$dir/proto" ||
    fail "breaking change to the event schemas against $label ($commit) (rules: proto/buf.yaml)"
}

real_checks() {
  command -v git >/dev/null || fail "git is not installed"
  git rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
    fail "not a git checkout: buf breaking needs the previous commit"
  echo "check-events: buf lint"
  "$BUF" lint proto || fail "buf lint found problems in proto/ (rules: proto/buf.yaml)"

  if git rev-parse --verify -q "$AGAINST^{commit}" >/dev/null; then
    breaking_against "$AGAINST" "$AGAINST" against
  elif [[ -n ${EVENTS_AGAINST:-} ]]; then
    fail "EVENTS_AGAINST=$EVENTS_AGAINST is no commit here"
  elif [[ $(git rev-parse --is-shallow-repository) == true ]]; then
    fail "shallow clone: $AGAINST was not fetched, so the schemas cannot be compared" \
      "(git fetch --deepen=1)"
  else
    echo "check-events: HEAD is the first commit: no previous commit to compare with"
  fi
  # Uncommitted schema changes are also compared with HEAD, their previous commit.
  if [[ -n $(git status --porcelain -- proto) ]] && [[ $AGAINST != HEAD ]] &&
    git rev-parse --verify -q "HEAD^{commit}" >/dev/null; then
    breaking_against HEAD "HEAD, for the uncommitted changes" head
  fi
  echo "check-events: the event contract holds"
}

case "${1:-}" in
  --self-test)
    install_buf
    self_test
    ;;
  "")
    install_buf
    self_test
    real_checks
    ;;
  *)
    fail "usage: scripts/check-events.sh [--self-test]"
    ;;
esac
