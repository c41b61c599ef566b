#!/usr/bin/env bash
# Checks what a finished run of scripts/demo.sh produced — from its database and fitexctl's
# output, not from what the demo printed about itself:
#   1. every participant who has not revoked access has a goal for today (their own date);
#   2. the leaderboard (`fitexctl leaderboard`) lists all 8 teams, each with non-zero progress;
#   3. exactly the participants who revoked access are `reconnect_required`;
#   4. the summer season is closed: its final leaderboard frozen with all 8 teams, the demo's
#      correction in the audit log, and `fitexctl leaderboard` saying "final".
# Who revoked access is read from the demo's output: "revoked at Fitbit: …" with the Fitbit
# provider; with Google, "consent withdrawn at Google: …" (those revoked at Fitbit reconnected
# through Google and are syncing again). Every outcome is checked, and each wrong one is named.
#
#   scripts/demo-check.sh --provider fitbit|google --log DEMO_OUTPUT [--db DATABASE]
#
# DATABASE defaults to the demo's own (fitex_demo, or fitex_<DEMO_NAME>). Part of
# scripts/demo-smoke.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# One collation for every sorted list compared here (sort, comm).
export LC_ALL=C

provider= log= db=fitex_${DEMO_NAME:-demo}
db=${db//-/_}
while [[ $# -gt 0 ]]; do
  case $1 in
    --provider) provider=${2:-}; shift 2 ;;
    --log) log=${2:-}; shift 2 ;;
    --db) db=${2:-}; shift 2 ;;
    *) echo "usage: $0 --provider fitbit|google --log DEMO_OUTPUT [--db DATABASE]" >&2; exit 2 ;;
  esac
done
[[ $provider == fitbit || $provider == google ]] ||
  { echo "demo check: --provider must be fitbit or google" >&2; exit 2; }
[[ -f $log ]] || { echo "demo check: no demo output at '$log' (--log)" >&2; exit 2; }
name="demo check ($provider, database $db)"

sql() { psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$db" -v ON_ERROR_STOP=1 -Atc "$1"; }
ctl() { FITEX__DATABASE__DATABASE_NAME=$db "$CARGO_TARGET_DIR/debug/fitexctl" "$@"; }
problems=()
problem() { problems+=("$*"); echo "  FAIL: $*"; }
ok() { echo "  ok: $*"; }

# --- who revoked, per the demo's output ---------------------------------------------------------
plain=$(tr '\r' '\n' <"$log" | sed 's/\x1b\[[0-9;]*m//g')
if [[ $provider == fitbit ]]; then
  revoked=$(sed -n 's/^revoked at Fitbit: \([A-Za-z0-9_.-]*\)$/\1/p' <<<"$plain" | sort -u)
else
  revoked=$(sed -n 's/^consent withdrawn at Google: \([A-Za-z0-9_.-]*\)$/\1/p' <<<"$plain" | sort -u)
fi
cohort=$(sed -n '/simulator (/{s/.*simulator (\([0-9]*\) participants.*/\1/p;q;}' <<<"$plain")
if [[ -z $revoked || -z $cohort ]]; then
  echo "$name: the demo's output ($log) names no revoked participants or no cohort size: did the demo run?" >&2
  exit 1
fi
revoked_sql="'$(paste -sd, <<<"$revoked" | sed "s/,/','/g")'"
echo "$name: $cohort participants; revoked: $(paste -sd' ' <<<"$revoked")"

program=$(sql "SELECT id FROM programs WHERE name LIKE 'FitEx Autumn %' ORDER BY id DESC LIMIT 1") ||
  { echo "$name: cannot read the demo's database" >&2; exit 1; }
[[ -n $program ]] || { echo "$name: no program in the database: did the demo run?" >&2; exit 1; }

# Each participant by the user of their first connection (their Fitbit id, which the demo's output
# names, also after a Google connection replaced it), whether they revoked access (any of their
# connections is a revoked user's), and whether any of their connections is reconnect_required.
participants="SELECT p.id, p.time_zone,
    (SELECT c.provider_user_id FROM provider_connections c WHERE c.participant_id = p.id
      ORDER BY c.id LIMIT 1) AS user_id,
    EXISTS (SELECT 1 FROM provider_connections c WHERE c.participant_id = p.id
      AND c.provider_user_id IN ($revoked_sql)) AS revoked,
    EXISTS (SELECT 1 FROM provider_connections c WHERE c.participant_id = p.id
      AND c.sync_status = 'reconnect_required') AS must_reconnect
  FROM participants p"

count=$(sql "SELECT count(*) FROM participants")
if [[ $count == "$cohort" ]]; then ok "$count participants"; else problem "$count participants, not $cohort"; fi
found_revoked=$(sql "SELECT count(*) FROM ($participants) x WHERE x.revoked")
expected_revoked=$(grep -c . <<<"$revoked")
[[ $found_revoked == "$expected_revoked" ]] ||
  problem "$found_revoked participant(s) found for the $expected_revoked revoked users"

# --- 1. today's goal for everyone who kept their access -----------------------------------------
kept=$(sql "SELECT count(*) FROM ($participants) x WHERE NOT x.revoked")
without_goal=$(sql "SELECT x.user_id FROM ($participants) x WHERE NOT x.revoked AND NOT EXISTS (
    SELECT 1 FROM goal_history g WHERE g.participant_id = x.id AND g.program_id = $program
      AND g.effective_date = (now() AT TIME ZONE x.time_zone)::date)" | sort)
if [[ -z $without_goal && $kept -gt 0 ]]; then
  ok "all $kept participants who kept their access have today's goal"
else
  problem "$(grep -c . <<<"$without_goal") of $kept participants who kept their access have no goal for today: $(paste -sd' ' <<<"$without_goal")"
fi

# --- 2. the leaderboard: all 8 teams, each with progress ------------------------------------------
teams=$(sql "SELECT name FROM teams WHERE program_id = $program" | sort)
board=$(ctl leaderboard --program "$program" 2>&1) || problem "fitexctl leaderboard failed: $board"
# Rows: rank, team (may hold spaces), progress, goal, percent…
rows=$(python3 - "$board" <<'PY'
import re, sys
lines = sys.argv[1].splitlines()
header = next((i for i, l in enumerate(lines) if re.match(r"\s*rank\s+team\s+progress", l)), None)
for line in lines[header + 1:] if header is not None else []:
    m = re.match(r"\s*(\d+)\s+(.+?)\s+(-?\d+(?:\.\d+)?)\s+(-?\d+(?:\.\d+)?)\s+(-?\d+(?:\.\d+)?)%", line)
    if m:
        print(f"{m.group(2)}\t{m.group(3)}")
PY
)
listed=$(cut -f1 <<<"$rows" | sed '/^$/d' | sort)
zero=$(awk -F'\t' '$2 + 0 <= 0 { print $1 }' <<<"$rows" | sed '/^$/d')
if [[ $(grep -c . <<<"$teams") != 8 ]]; then
  problem "the season has $(grep -c . <<<"$teams") teams, not 8"
elif [[ $listed != "$teams" ]]; then
  problem "the leaderboard lists $(grep -c . <<<"$listed") of the 8 teams; missing: $(comm -23 <(echo "$teams") <(echo "$listed") | paste -sd, | sed 's/,/, /g')"
elif [[ -n $zero ]]; then
  problem "on the leaderboard with no progress: $(paste -sd, <<<"$zero" | sed 's/,/, /g')"
else
  ok "the leaderboard lists all 8 teams, each with progress"
fi

# --- 3. exactly the revoked participants must reconnect ------------------------------------------
must_reconnect=$(sql "SELECT x.user_id FROM ($participants) x WHERE x.must_reconnect" | sort)
if [[ $must_reconnect == "$revoked" ]]; then
  ok "reconnect_required: exactly the revoked ($(paste -sd' ' <<<"$revoked"))"
else
  extra=$(comm -13 <(echo "$revoked") <(echo "$must_reconnect") | sed '/^$/d' | paste -sd' ')
  missing=$(comm -23 <(echo "$revoked") <(echo "$must_reconnect") | sed '/^$/d' | paste -sd' ')
  detail=()
  [[ -z $missing ]] || detail+=("revoked but not reconnect_required: $missing")
  [[ -z $extra ]] || detail+=("reconnect_required without having revoked: $extra")
  problem "reconnect_required is not exactly the revoked participants: $(IFS=';'; echo "${detail[*]}" | sed 's/;/; /g')"
fi

# --- 4. the summer season is closed: 8 teams frozen, the correction audited ------------------------
summer=$(sql "SELECT id FROM programs WHERE name LIKE 'FitEx Summer %' ORDER BY id DESC LIMIT 1")
if [[ -z $summer ]]; then
  problem "no summer season in the database"
else
  closed=$(sql "SELECT count(*) FROM season_closures WHERE program_id = $summer")
  frozen=$(sql "SELECT count(*) FROM season_final_standings WHERE program_id = $summer")
  audited=$(sql "SELECT count(*) FROM audit_log WHERE program_id = $summer AND btrim(reason) <> ''")
  final=$(ctl leaderboard --program "$summer" 2>&1) || problem "fitexctl leaderboard (summer) failed: $final"
  if [[ $closed == 1 && $frozen == 8 && $audited -ge 1 && $final == *final* ]]; then
    ok "the summer season is closed: 8 teams in its frozen final leaderboard, the correction audited"
  else
    problem "the summer season: closed $closed, frozen teams $frozen of 8, audited corrections $audited, leaderboard says final: $([[ $final == *final* ]] && echo yes || echo no)"
  fi
fi

if ((${#problems[@]})); then
  echo "$name: ${#problems[@]} outcome(s) wrong:" >&2
  printf '  - %s\n' "${problems[@]}" >&2
  exit 1
fi
echo "$name: every outcome as it must be"
