//! Closing a season (issue 16 §4): when a program is due to close, which week its final
//! leaderboard ranks, and an operator's correction of a frozen team total.

use chrono::{DateTime, Utc};

use crate::program::Program;
use crate::team::{latest_week, TeamWeek};

/// The season may close at `now`: its grace period is over. The same instant manual entries stop
/// being accepted ([`crate::manual::may_change`]), so nothing that still counts can arrive after
/// the snapshot is taken.
pub fn due_to_close(program: &Program, now: DateTime<Utc>) -> bool {
    now >= program.grace_deadline()
}

/// The week a closed season's final leaderboard ranks: the latest week any team has progress for
/// (as the live leaderboard's default), never past the program's last week.
pub fn final_week(program: &Program, weeks_by_team: &[(i64, Vec<TeamWeek>)]) -> u32 {
    latest_week(weeks_by_team).min(program.weeks.max(1))
}

/// Why a correction is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CorrectionProblem {
    #[error("a correction needs a reason")]
    NoReason,
    #[error("a correction needs the name of who makes it")]
    NoAuthor,
    #[error("the corrected progress must be a number of 0 or more, not {0}")]
    InvalidProgress(f64),
}

/// Who corrects a frozen total and why, both required (the audit log keeps them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectionNote {
    by: String,
    reason: String,
}

impl CorrectionNote {
    /// Both trimmed; refused when either is blank.
    pub fn new(by: &str, reason: &str) -> Result<Self, CorrectionProblem> {
        let (by, reason) = (by.trim(), reason.trim());
        if by.is_empty() {
            return Err(CorrectionProblem::NoAuthor);
        }
        if reason.is_empty() {
            return Err(CorrectionProblem::NoReason);
        }
        Ok(Self { by: by.to_string(), reason: reason.to_string() })
    }

    pub fn by(&self) -> &str {
        &self.by
    }

    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// `week` with its progress set to `progress` and its percent of goal to match (0 when the goal
/// is 0, as [`crate::team_week`] computes it). The goal and the members stay as frozen.
pub fn corrected_week(week: &TeamWeek, progress: f64) -> Result<TeamWeek, CorrectionProblem> {
    if !progress.is_finite() || progress < 0.0 {
        return Err(CorrectionProblem::InvalidProgress(progress));
    }
    let percent_of_goal = if week.goal > 0.0 { 100.0 * progress / week.goal } else { 0.0 };
    Ok(TeamWeek { progress, percent_of_goal, ..*week })
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, NaiveDate, TimeZone};

    use super::*;

    fn program() -> Program {
        // 2 weeks from Monday 2 March 2026: the last day is Sunday 15 March.
        Program { weeks: 2, ..Program::new(NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()) }
    }

    fn week(team_id: i64, week: u32, goal: f64, progress: f64) -> TeamWeek {
        TeamWeek {
            team_id,
            week,
            goal,
            progress,
            percent_of_goal: if goal > 0.0 { 100.0 * progress / goal } else { 0.0 },
            members: 3,
            members_meeting_goal: 2,
            share_meeting_goal: 2.0 / 3.0,
        }
    }

    #[test]
    fn a_season_closes_when_its_grace_period_is_over_and_not_a_second_before() {
        let p = program();
        // The last day ends everywhere at 16 March 12:00 UTC; 72 hours later is 19 March 12:00.
        let deadline = Utc.with_ymd_and_hms(2026, 3, 19, 12, 0, 0).unwrap();
        assert_eq!(p.grace_deadline(), deadline);
        assert!(!due_to_close(&p, deadline - Duration::seconds(1)));
        assert!(due_to_close(&p, deadline));
        assert!(due_to_close(&p, deadline + Duration::days(30)));
        // A program without a grace period closes once its last day has ended everywhere.
        let no_grace = Program { grace_hours: 0, ..p };
        assert!(!due_to_close(&no_grace, no_grace.last_day_ended() - Duration::seconds(1)));
        assert!(due_to_close(&no_grace, no_grace.last_day_ended()));
    }

    #[test]
    fn the_final_leaderboard_ranks_the_last_week_with_progress() {
        let p = program();
        let full = vec![(1, vec![week(1, 1, 10.0, 9.0), week(1, 2, 10.0, 11.0)])];
        assert_eq!(final_week(&p, &full), 2);
        let first_week_only = vec![(1, vec![week(1, 1, 10.0, 9.0)]), (2, vec![])];
        assert_eq!(final_week(&p, &first_week_only), 1);
        assert_eq!(final_week(&p, &[]), 1, "no progress at all: week 1");
        // Stored weeks past the program's end (it was shortened) are not ranked.
        let past_the_end = vec![(1, vec![week(1, 5, 10.0, 9.0)])];
        assert_eq!(final_week(&p, &past_the_end), 2);
    }

    #[test]
    fn a_correction_sets_the_progress_and_its_percent_and_keeps_the_rest() {
        let frozen = week(7, 2, 40.0, 30.0);
        let fixed = corrected_week(&frozen, 36.0).unwrap();
        assert_eq!((fixed.progress, fixed.percent_of_goal), (36.0, 90.0));
        assert_eq!(
            (fixed.team_id, fixed.week, fixed.goal, fixed.members, fixed.members_meeting_goal),
            (7, 2, 40.0, 3, 2)
        );
        let no_goal = corrected_week(&week(7, 2, 0.0, 0.0), 5.0).unwrap();
        assert_eq!(no_goal.percent_of_goal, 0.0);
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let refused = corrected_week(&frozen, bad).unwrap_err();
            assert!(matches!(refused, CorrectionProblem::InvalidProgress(_)), "{bad}");
        }
    }

    #[test]
    fn a_correction_needs_who_and_why() {
        let note = CorrectionNote::new(" maria ", " sync lost on day 12 ").unwrap();
        assert_eq!((note.by(), note.reason()), ("maria", "sync lost on day 12"));
        assert_eq!(CorrectionNote::new("maria", "  "), Err(CorrectionProblem::NoReason));
        assert_eq!(CorrectionNote::new("", "why"), Err(CorrectionProblem::NoAuthor));
    }
}
