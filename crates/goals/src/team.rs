//! Team weeks and the leaderboard.

use serde::{Deserialize, Serialize};

/// One member's week, pro rata to the days they belonged to the team.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MemberWeek {
    pub participant_id: i64,
    /// Days of the week the member belonged to the team, 0..=7.
    pub active_days: u32,
    /// Sum of daily goals over the active days, in the program unit.
    pub goal_total: f64,
    /// Counted miles or steps over the active days.
    pub progress_total: f64,
    /// Active valid days on which the member reached that day's goal.
    pub days_goal_met: u32,
}

/// A team's week.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TeamWeek {
    pub team_id: i64,
    pub week: u32,
    /// Sum of the members' goal totals.
    pub goal: f64,
    /// Sum of the members' progress totals.
    pub progress: f64,
    /// `100 · progress / goal` (0 when the goal is 0).
    pub percent_of_goal: f64,
    /// Members with at least one active day.
    pub members: u32,
    /// Members who met their own goal on enough days (pro rata for partial weeks).
    pub members_meeting_goal: u32,
    /// `members_meeting_goal / members` (0 for no members).
    pub share_meeting_goal: f64,
}

/// Days a member active on `active_days` of 7 must meet their goal:
/// `ceil(met_days_per_week · active_days / 7)`.
pub fn required_met_days(met_days_per_week: u32, active_days: u32) -> u32 {
    (met_days_per_week * active_days.min(7)).div_ceil(7)
}

/// Aggregates the members' weeks. Members with no active day are ignored.
pub fn team_week(
    team_id: i64,
    week: u32,
    members: &[MemberWeek],
    met_days_per_week: u32,
) -> TeamWeek {
    let mut t = TeamWeek {
        team_id,
        week,
        goal: 0.0,
        progress: 0.0,
        percent_of_goal: 0.0,
        members: 0,
        members_meeting_goal: 0,
        share_meeting_goal: 0.0,
    };
    for m in members.iter().filter(|m| m.active_days > 0) {
        t.members += 1;
        t.goal += m.goal_total;
        t.progress += m.progress_total;
        if m.days_goal_met >= required_met_days(met_days_per_week, m.active_days) {
            t.members_meeting_goal += 1;
        }
    }
    if t.goal > 0.0 {
        t.percent_of_goal = 100.0 * t.progress / t.goal;
    }
    if t.members > 0 {
        t.share_meeting_goal = f64::from(t.members_meeting_goal) / f64::from(t.members);
    }
    t
}

/// A team's place on one week's leaderboard.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LeaderboardEntry {
    pub team_id: i64,
    /// 1-based; equal percentages share a rank ("1, 2, 2, 4").
    pub rank: u32,
    pub percent_of_goal: f64,
    /// `percent_of_goal` minus the median team's (the mean of the middle two for an even count).
    pub versus_median: f64,
    /// Consecutive weeks ending at this week with `percent_of_goal >= 100`.
    pub streak_weeks: u32,
}

/// Percentages closer than this are a tie (floating-point noise, not a real difference).
const TIE: f64 = 1e-9;

/// Ranks the teams that have a [`TeamWeek`] for `week` by percent of goal (highest first; ties
/// share a rank and are listed by team id), each compared with the median team.
pub fn leaderboard(weeks_by_team: &[(i64, Vec<TeamWeek>)], week: u32) -> Vec<LeaderboardEntry> {
    let find = |weeks: &[TeamWeek], w: u32| weeks.iter().rev().find(|t| t.week == w).copied();
    let mut rows: Vec<(i64, f64, u32)> = weeks_by_team
        .iter()
        .filter_map(|(team, weeks)| {
            let this = find(weeks, week)?;
            let mut streak = 0;
            let mut w = week;
            while w > 0 && find(weeks, w).is_some_and(|t| t.percent_of_goal >= 100.0) {
                streak += 1;
                w -= 1;
            }
            Some((*team, finite(this.percent_of_goal), streak))
        })
        .collect();
    if rows.is_empty() {
        return Vec::new();
    }
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut percents: Vec<f64> = rows.iter().map(|r| r.1).collect();
    percents.sort_by(f64::total_cmp);
    let median = crate::stats::percentile_of_sorted(&percents, 50.0).unwrap_or(0.0);
    let mut out: Vec<LeaderboardEntry> = Vec::with_capacity(rows.len());
    for (i, (team_id, percent, streak)) in rows.into_iter().enumerate() {
        let rank = match out.last() {
            Some(prev) if (prev.percent_of_goal - percent).abs() < TIE => prev.rank,
            _ => i as u32 + 1,
        };
        out.push(LeaderboardEntry {
            team_id,
            rank,
            percent_of_goal: percent,
            versus_median: percent - median,
            streak_weeks: streak,
        });
    }
    // Ties within TIE may have been ordered by the tiny difference: list them by team id.
    out.sort_by(|a, b| a.rank.cmp(&b.rank).then(a.team_id.cmp(&b.team_id)));
    out
}

/// The week a leaderboard shows when none is asked for: the latest week any team has a
/// [`TeamWeek`] for (1 when none has).
pub fn latest_week(weeks_by_team: &[(i64, Vec<TeamWeek>)]) -> u32 {
    weeks_by_team.iter().flat_map(|(_, weeks)| weeks.iter().map(|w| w.week)).max().unwrap_or(1)
}

fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: i64, active: u32, goal: f64, progress: f64, met: u32) -> MemberWeek {
        MemberWeek {
            participant_id: id,
            active_days: active,
            goal_total: goal,
            progress_total: progress,
            days_goal_met: met,
        }
    }

    fn tw(team_id: i64, week: u32, percent: f64) -> TeamWeek {
        TeamWeek {
            team_id,
            week,
            goal: 100.0,
            progress: percent,
            percent_of_goal: percent,
            members: 1,
            members_meeting_goal: 0,
            share_meeting_goal: 0.0,
        }
    }

    #[test]
    fn pro_rata_requirement() {
        assert_eq!(required_met_days(4, 7), 4);
        assert_eq!(required_met_days(4, 3), 2); // ceil(12/7)
        assert_eq!(required_met_days(4, 1), 1);
        assert_eq!(required_met_days(4, 0), 0);
        assert_eq!(required_met_days(4, 9), 4);
    }

    #[test]
    fn team_week_sums_and_shares() {
        let members = [
            member(1, 7, 28.0, 30.0, 5),
            member(2, 7, 21.0, 14.0, 3),
            member(3, 3, 12.0, 10.0, 2), // joined mid-week: needs 2 of 3
            member(4, 0, 0.0, 0.0, 0),   // not on the team this week
        ];
        let t = team_week(7, 2, &members, 4);
        assert_eq!(t.members, 3);
        assert_eq!(t.goal, 61.0);
        assert_eq!(t.progress, 54.0);
        assert!((t.percent_of_goal - 100.0 * 54.0 / 61.0).abs() < 1e-12);
        assert_eq!(t.members_meeting_goal, 2);
        assert!((t.share_meeting_goal - 2.0 / 3.0).abs() < 1e-12);
        let empty = team_week(8, 2, &[], 4);
        assert_eq!((empty.percent_of_goal, empty.share_meeting_goal), (0.0, 0.0));
    }

    #[test]
    fn ranks_ties_median_and_streaks() {
        let data = vec![
            (30, vec![tw(30, 1, 120.0), tw(30, 2, 90.0)]),
            (10, vec![tw(10, 1, 100.0), tw(10, 2, 105.0)]),
            (20, vec![tw(20, 1, 80.0), tw(20, 2, 105.0)]),
            (40, vec![tw(40, 1, 101.0), tw(40, 2, 70.0)]),
            (50, vec![tw(50, 1, 101.0)]), // no week 2: not listed
        ];
        let b = leaderboard(&data, 2);
        let summary: Vec<(i64, u32, u32)> =
            b.iter().map(|e| (e.team_id, e.rank, e.streak_weeks)).collect();
        assert_eq!(summary, vec![(10, 1, 2), (20, 1, 1), (30, 3, 0), (40, 4, 0)]);
        // median of 70, 90, 105, 105 = 97.5
        assert!((b[0].versus_median - 7.5).abs() < 1e-12);
        assert!((b[3].versus_median + 27.5).abs() < 1e-12);
        assert!(leaderboard(&data, 9).is_empty());
        // odd count: the middle team
        let b1 = leaderboard(&data, 1);
        assert_eq!(b1.iter().map(|e| e.rank).collect::<Vec<_>>(), vec![1, 2, 2, 4, 5]);
        let median_team = b1.iter().find(|e| e.team_id == 40).unwrap();
        assert_eq!(median_team.versus_median, 0.0);
    }

    #[test]
    fn the_default_week_is_the_latest_with_progress() {
        let data = vec![(1, vec![tw(1, 1, 50.0), tw(1, 3, 70.0)]), (2, vec![tw(2, 2, 90.0)])];
        assert_eq!(latest_week(&data), 3);
        assert_eq!(latest_week(&[(1, vec![])]), 1);
        assert_eq!(latest_week(&[]), 1);
    }
}
