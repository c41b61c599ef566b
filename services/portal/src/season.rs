//! What the "My season" and "My team" pages show, read for the signed-in participant only: their
//! program and team come from their own enrolments, never from the request. Everything is read
//! through `fitex-goals-store` and computed with the goal engine's own rules (`fitex-goals`), so
//! the pages agree with the goals API and the status page.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use fitex_goals::{
    day_progress, member_week_across, my_week, program_week, required_met_days, season_days,
    streaks, DayProgress, Goal, MemberWeek, MyWeek, SeasonDay, Streaks, TeamWeek, Unit,
};
use fitex_goals_store::store::{self, Enrolment, Standing};
use fitex_goals_store::{programs, season_close};
use sqlx::PgPool;

/// The program and team a season page is about, on the participant's `today`.
#[derive(Debug, Clone)]
pub struct Header {
    pub program_name: String,
    pub team_name: String,
    pub unit: Unit,
    pub start: NaiveDate,
    pub last_day: NaiveDate,
    pub weeks: u32,
    pub today: NaiveDate,
    /// The end of the grace period after the last day: late syncs and logged activity count until
    /// then, and the season closes after it.
    pub grace_deadline: DateTime<Utc>,
    /// The season is closed: its team totals and leaderboard are frozen, its results final.
    pub is_final: bool,
}

impl Header {
    /// The season's last day has passed (its results are final once [`Header::is_final`]; until
    /// then, after [`Header::grace_deadline`]).
    pub fn ended(&self) -> bool {
        self.today > self.last_day
    }

    /// The day the pages count through: today, or the last day once the season is over.
    pub fn through(&self) -> NaiveDate {
        self.today.min(self.last_day)
    }
}

/// Where the participant stands.
#[derive(Debug, Clone)]
pub enum Season<T> {
    /// In no team of any program.
    NoTeam,
    /// The season has not started yet.
    NotStarted(Header),
    /// Running, or over ([`Header::ended`]).
    Started(Header, T),
}

/// Which of the participant's enrolments the season pages show on `today`: a program running
/// today (where they are on the team today first, then the latest to start), else the next to
/// start, else the last to end; ties go to the lower team id. `None` when in no team.
pub fn season_enrolment(enrolments: &[Enrolment], today: NaiveDate) -> Option<&Enrolment> {
    let key = |e: &&Enrolment| {
        let program = &e.program.program;
        let (start, end) = (program.start_date, program.end_date());
        let on_team = e.memberships.iter().any(|m| m.is_active(today));
        let (rank, order) = if start <= today && today <= end {
            // The latest started first: negative so that the smallest key wins.
            (if on_team { 0 } else { 1 }, -start.num_days_from_ce())
        } else if today < start {
            (2, start.num_days_from_ce())
        } else {
            (3, -end.num_days_from_ce())
        };
        (rank, order, e.team_id)
    };
    enrolments.iter().min_by_key(key)
}

/// The label a team member is shown by: their display name, or a neutral "Team mate N" (their
/// place in the team's list) — never a provider user id or an email address.
pub fn member_label(display_name: Option<&str>, position: usize) -> String {
    match display_name.map(str::trim).filter(|name| !name.is_empty()) {
        Some(name) => name.to_string(),
        None => format!("Team mate {position}"),
    }
}

/// The participant's enrolment for the season pages, with its header.
async fn enrolment(
    pool: &PgPool,
    participant_id: i64,
    today: NaiveDate,
) -> Result<Option<(Enrolment, Header)>, sqlx::Error> {
    let enrolments = store::enrolments(pool, participant_id).await?;
    let Some(chosen) = season_enrolment(&enrolments, today).cloned() else { return Ok(None) };
    let mut names = programs::team_names(pool, chosen.program.id).await?;
    let program = &chosen.program.program;
    let header = Header {
        program_name: chosen.program.name.clone(),
        team_name: names.remove(&chosen.team_id).unwrap_or_default(),
        unit: program.unit,
        start: program.start_date,
        last_day: program.end_date(),
        weeks: program.weeks,
        today,
        grace_deadline: program.grace_deadline(),
        is_final: season_close::closure(pool, chosen.program.id).await?.is_some(),
    };
    Ok(Some((chosen, header)))
}

/// Today on the season page.
#[derive(Debug, Clone)]
pub struct Today {
    pub progress: DayProgress,
    /// Today's goal in steps.
    pub goal_steps: Option<i32>,
}

/// The "My season" page.
#[derive(Debug, Clone)]
pub struct MySeason {
    /// `None` once the season is over.
    pub today: Option<Today>,
    /// Every day from the start through today (or the last day).
    pub days: Vec<SeasonDay>,
    /// The season's length in days (the chart's width).
    pub season_length: u32,
    pub streaks: Streaks,
    pub week: MyWeek,
    /// The goal in force on the last day counted: "why this goal".
    pub goal: Option<Goal>,
}

/// The participant's season.
pub async fn my_season(
    pool: &PgPool,
    participant_id: i64,
    today: NaiveDate,
) -> Result<Season<MySeason>, sqlx::Error> {
    let Some((enrolment, header)) = enrolment(pool, participant_id, today).await? else {
        return Ok(Season::NoTeam);
    };
    if today < header.start {
        return Ok(Season::NotStarted(header));
    }
    let program = &enrolment.program.program;
    let through = header.through();
    let days = store::days(pool, participant_id, header.start, through).await?;
    let goals =
        store::goals(pool, participant_id, enrolment.program.id, header.start, through).await?;
    let season = season_days(program, &days, &goals, through);
    let outcomes: Vec<_> = season.iter().map(|d| d.outcome).collect();
    let running = !header.ended();
    let week_number = program_week(program, through).unwrap_or(1);
    let week = my_week(program, participant_id, week_number, &days, &goals, &enrolment.memberships);
    let today_view = running.then(|| {
        let day = days.iter().rev().find(|d| d.date == today);
        let goal = goals.iter().rev().find(|g| g.effective_date == today);
        Today { progress: day_progress(program, day, goal), goal_steps: goal.map(|g| g.steps) }
    });
    let view = MySeason {
        today: today_view,
        season_length: program.weeks * 7,
        streaks: streaks(&outcomes, running),
        week,
        goal: goals.last().cloned(),
        days: season,
    };
    Ok(Season::Started(header, view))
}

/// One member's row on the team page.
#[derive(Debug, Clone)]
pub struct MemberRow {
    pub label: String,
    pub is_you: bool,
    /// Their week so far, in the program unit.
    pub week: MemberWeek,
    /// Days with the goal met that the week needs (pro rata to their days on the team).
    pub days_needed: u32,
}

impl MemberRow {
    /// They have met their goal for the week (as the team week counts it).
    pub fn met(&self) -> bool {
        self.week.days_goal_met >= self.days_needed
    }
}

/// The "My team" page.
#[derive(Debug, Clone)]
pub struct MyTeam {
    pub team_id: i64,
    pub week: u32,
    /// The team's stored week (as the leaderboard and the status page show it); once the season
    /// is closed, its frozen week.
    pub team_week: Option<TeamWeek>,
    /// The members on the team this week, in participant order.
    pub members: Vec<MemberRow>,
    /// The week the leaderboard ranks (the latest with progress, as the goals API's default).
    pub leaderboard_week: u32,
    /// As the goals API ranks them: once the season is closed, its frozen final leaderboard.
    pub standings: Vec<Standing>,
}

/// The participant's team and their program's leaderboard.
pub async fn my_team(
    pool: &PgPool,
    participant_id: i64,
    today: NaiveDate,
) -> Result<Season<MyTeam>, sqlx::Error> {
    let Some((enrolment, header)) = enrolment(pool, participant_id, today).await? else {
        return Ok(Season::NoTeam);
    };
    if today < header.start {
        return Ok(Season::NotStarted(header));
    }
    let program = &enrolment.program.program;
    let week = program_week(program, header.through()).unwrap_or(1);
    let week_start = program.week_start(week).unwrap_or(header.start);
    let week_end = week_start + chrono::Duration::days(6);
    let team_week = season_close::team_weeks(pool, enrolment.team_id)
        .await?
        .weeks
        .into_iter()
        .find(|w| w.week == week);
    let members = store::team_members(pool, enrolment.team_id).await?;
    let ids: Vec<i64> = members.iter().map(|(id, _)| *id).collect();
    let names = store::display_names(pool, &ids).await?;
    let mut days = store::days_of(pool, &ids, week_start, week_end).await?;
    let mut goals = store::goals_of(pool, &ids, enrolment.program.id, week_start, week_end).await?;
    let mut rows = Vec::new();
    for (member, memberships) in &members {
        // A deleted participant (awaiting the purge) is hidden, as everywhere else.
        let Some(name) = names.get(member) else { continue };
        let member_days = days.remove(member).unwrap_or_default();
        let member_goals = goals.remove(member).unwrap_or_default();
        let member_week =
            member_week_across(program, *member, week, &member_days, &member_goals, memberships);
        if member_week.active_days == 0 {
            continue;
        }
        rows.push(MemberRow {
            label: member_label(name.as_deref(), rows.len() + 1),
            is_you: *member == participant_id,
            days_needed: required_met_days(program.met_days_per_week, member_week.active_days),
            week: member_week,
        });
    }
    let season_close::Leaderboard { week: leaderboard_week, standings, .. } =
        season_close::leaderboard(pool, enrolment.program.id, None).await?;
    let view = MyTeam {
        team_id: enrolment.team_id,
        week,
        team_week,
        members: rows,
        leaderboard_week,
        standings,
    };
    Ok(Season::Started(header, view))
}

#[cfg(test)]
mod tests {
    use fitex_goals::{Membership, Program};
    use fitex_goals_store::store::ProgramRow;

    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn enrolment(
        team_id: i64,
        start: &str,
        weeks: u32,
        joined: &str,
        left: Option<&str>,
    ) -> Enrolment {
        Enrolment {
            team_id,
            program: ProgramRow {
                id: team_id * 10,
                name: format!("program of team {team_id}"),
                program: Program { weeks, ..Program::new(date(start)) },
            },
            memberships: vec![Membership { joined: date(joined), left: left.map(date) }],
        }
    }

    #[test]
    fn the_running_season_comes_first_then_the_next_then_the_last() {
        let today = date("2026-03-10");
        let past = enrolment(1, "2025-09-01", 8, "2025-09-01", None);
        let future = enrolment(2, "2026-04-06", 8, "2026-04-06", None);
        let running = enrolment(3, "2026-03-02", 8, "2026-03-02", None);
        let all = [past.clone(), future.clone(), running.clone()];
        assert_eq!(season_enrolment(&all, today).map(|e| e.team_id), Some(3));
        let no_running = [past.clone(), future.clone()];
        assert_eq!(season_enrolment(&no_running, today).map(|e| e.team_id), Some(2));
        let later_past = enrolment(4, "2025-11-03", 4, "2025-11-03", None);
        assert_eq!(season_enrolment(&[past, later_past], today).map(|e| e.team_id), Some(4));
        assert!(season_enrolment(&[], today).is_none());
    }

    #[test]
    fn the_team_they_are_on_today_wins_over_one_they_left() {
        let today = date("2026-03-10");
        let left = enrolment(5, "2026-03-02", 8, "2026-03-02", Some("2026-03-05"));
        let moved_to = enrolment(6, "2026-03-02", 8, "2026-03-05", None);
        assert_eq!(season_enrolment(&[left, moved_to], today).map(|e| e.team_id), Some(6));
    }

    #[test]
    fn members_are_shown_by_display_name_or_a_neutral_label() {
        assert_eq!(member_label(Some("Ana"), 1), "Ana");
        assert_eq!(member_label(Some("  Bo "), 2), "Bo");
        assert_eq!(member_label(None, 3), "Team mate 3");
        assert_eq!(member_label(Some("   "), 4), "Team mate 4");
    }
}
