//! The "My season" and "My team" pages (maud escapes every interpolated value). Plain words, as
//! on the status page; every number in the chart is also in a table; readable at 360 px.

use fitex_goals::{citations, DayOutcome, Unit};
use maud::{html, Markup};

use crate::chart::{self, short_date, thousands, PointKind};
use crate::pages::{signed_in_layout, Nav};
use crate::season::{Header, MySeason, MyTeam, Season};
use crate::season_notice::{long_date, no_season};

const CSS: &str = "
table{width:100%;border-collapse:collapse;font-size:.95rem;margin:.6rem 0}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{text-align:left;padding:.35rem .4rem;border-bottom:1px solid #d8dde6}
th[scope=row]{overflow-wrap:anywhere}
td.number{text-align:right;white-space:nowrap} th.number{text-align:right}
tr.yours{background:#eef8f8;font-weight:600;box-shadow:inset .3rem 0 #00707a}
.big{font-size:1.4rem;font-weight:600;margin:.2rem 0}
.legend{display:flex;flex-wrap:wrap;gap:.3rem 1rem;padding:0;list-style:none;font-size:.9rem}
.legend svg{width:1rem;height:1rem;vertical-align:-.15rem;margin-right:.3rem}
details{margin:.8rem 0} summary{cursor:pointer;color:#00707a}
";

fn amount(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Steps => format!("{} steps", thousands(value.round() as i32)),
        Unit::FitexMiles => format!("{value:.1} FitEx miles"),
    }
}

fn percent(share: f64) -> String {
    format!("{:.0}\u{a0}%", share * 100.0)
}

fn heading(header: &Header) -> Markup {
    html! {
        @if header.ended() {
            p.muted { (header.program_name) " ended on " (long_date(header.last_day)) ". These are your numbers for the whole season." }
            (results_status(header))
        } @else {
            p.muted {
                (header.program_name) ", week "
                (fitex_goals::program_week(&season_program(header), header.today).unwrap_or(1))
                " of " (header.weeks) " · team " (header.team_name)
            }
        }
    }
}

/// Whether a season that has ended has final results yet, in words.
fn results_status(header: &Header) -> Markup {
    html! {
        div.notice.info role="status" data-results=(if header.is_final { "final" } else { "pending" }) {
            @if header.is_final {
                p { strong { "These results are final." } " The season is closed: its team totals and leaderboard no longer change." }
            } @else {
                p {
                    "Results become final on " strong { (long_date(header.grace_deadline.date_naive())) } ". "
                    "Until then, days your tracker syncs late and activity you log for the season still count."
                }
            }
        }
    }
}

/// Enough of a program to place a date in its weeks.
fn season_program(header: &Header) -> fitex_goals::Program {
    fitex_goals::Program { weeks: header.weeks, ..fitex_goals::Program::new(header.start) }
}

/// A small legend swatch.
fn swatch(kind: PointKind) -> Markup {
    html! {
        svg aria-hidden="true" viewBox="0 0 10 10" {
            @match kind {
                PointKind::Met => rect width="10" height="10" fill="#00707a" {},
                PointKind::Missed => rect width="10" height="10" fill="#7fb8bd" {},
                PointKind::Today => rect x="1" y="1" width="8" height="8" fill="#fff" stroke="#00707a" stroke-width="1.5" {},
                PointKind::Outlier => rect width="10" height="10" fill="#b45309" {},
                _ => {
                    rect x="0.5" y="4.5" width="9" height="5" fill="#fff" stroke="#5b6472" {}
                    path d="M1 9l3-4M4 9l3-4M7 9l2-3" stroke="#5b6472" {}
                }
            }
        }
    }
}

fn chart_summary(view: &MySeason) -> String {
    let count = |wanted: DayOutcome| view.days.iter().filter(|d| d.outcome == wanted).count();
    let (first, last) = match (view.days.first(), view.days.last()) {
        (Some(first), Some(last)) => (first.date, last.date),
        _ => return "No days yet.".to_string(),
    };
    format!(
        "Your daily steps from {} to {} against your daily goal: {} days met the goal, {} were \
         below it, {} had no valid wear record.",
        short_date(first),
        short_date(last),
        count(DayOutcome::Met),
        count(DayOutcome::Missed),
        count(DayOutcome::NoValidWear),
    )
}

fn days_label(n: u32) -> String {
    if n == 1 {
        "1 day".to_string()
    } else {
        format!("{n} days")
    }
}

/// "My season".
pub fn season(csrf: &str, season: &Season<MySeason>) -> Markup {
    let css = format!("{CSS}{}", chart::CSS);
    signed_in_layout(
        "My season",
        csrf,
        Nav::Season,
        &css,
        html! {
            h1 { "My season" }
            @if let Some(message) = no_season(season) { (message) }
            @if let Season::Started(header, view) = season { (season_body(header, view)) }
        },
    )
}

fn season_body(header: &Header, view: &MySeason) -> Markup {
    let running_day = view.today.as_ref().map(|_| header.today);
    let chart = chart::chart(&view.days, view.season_length, running_day);
    let week = &view.week;
    html! {
        (heading(header))
        @if let Some(today) = &view.today {
            section aria-labelledby="today" {
                h2 id="today" { "Today" }
                @match today.goal_steps {
                    Some(goal) => {
                        p.big { (thousands(today.progress.steps)) " of " (thousands(goal)) " steps" }
                        p {
                            @match today.progress.share_of_goal {
                                Some(share) => { "You have done " strong { (percent(share)) } " of today's goal" }
                                None => "Today's goal is 0 steps",
                            }
                            @if today.progress.goal_met { " — goal met!" } @else { "." }
                        }
                        @if header.unit == Unit::FitexMiles {
                            @if let Some(goal_miles) = today.progress.goal {
                                p.muted {
                                    "In FitEx miles: " (format!("{:.1}", today.progress.progress)) " of "
                                    (format!("{goal_miles:.1}")) ". Active minutes count too: 15 minutes are one mile."
                                }
                            }
                        }
                    }
                    None => {
                        p.big { (thousands(today.progress.steps)) " steps" }
                        p { "Your goal for today appears once FitEx has your first days." }
                    }
                }
            }
        }
        section aria-labelledby="so-far" {
            h2 id="so-far" { "The season so far" }
            (chart::svg(&chart, "Daily steps against your daily goal", &chart_summary(view)))
            ul.legend {
                li { (swatch(PointKind::Met)) "Goal met" }
                li { (swatch(PointKind::Missed)) "Below goal" }
                li { (swatch(PointKind::NotWorn)) "Not worn enough to count" }
                li { svg aria-hidden="true" viewBox="0 0 10 10" { path d="M0 5h10" stroke="#1d2430" stroke-width="2.5" {} } "Your daily goal" }
                @if running_day.is_some() { li { (swatch(PointKind::Today)) "Today, so far" } }
                @if chart.points.iter().any(|p| p.kind == PointKind::Outlier) {
                    li { (swatch(PointKind::Outlier)) "Unusually high: not counted for goals" }
                }
            }
            p.muted {
                "A day counts when your tracker was worn for most of it (10 hours with a heart-rate "
                "signal, or at least 1,000 steps without one). A day without that is marked, not "
                "counted as a day without activity."
            }
            details {
                summary { "Show the days as a table" }
                table.days {
                    caption { "Your days" }
                    thead { tr { th scope="col" { "Day" } th.number scope="col" { "Steps" } th.number scope="col" { "Goal" } th scope="col" { "Result" } } }
                    tbody {
                        @for p in chart.points.iter().rev() {
                            tr data-date=(p.date) {
                                th scope="row" { (short_date(p.date)) }
                                td.number { @if let Some(steps) = p.steps { (thousands(steps)) } @else { "—" } }
                                td.number { @if let Some(goal) = p.goal_steps { (thousands(goal)) } @else { "—" } }
                                td { (p.kind.words()) }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="week" {
            h2 id="week" { @if header.ended() { "The last week" } @else { "My week" } }
            p.big { (format!("{:.1}", week.miles)) " of " (format!("{:.1}", week.goal_miles)) " FitEx miles" }
            p {
                @if week.goal_miles > 0.0 { (percent(week.miles / week.goal_miles)) " of your goal for " }
                @else { "Your goal for " }
                "the " (days_label(week.active_days.min(days_so_far(header, week.week)))) " of week " (week.week) " so far. "
                "You met your daily goal on " (days_label(week.days_goal_met)) "; the week's goal needs "
                (days_label(week.days_needed)) "."
            }
            p.muted { "A FitEx mile is 2,000 steps, or 15 minutes of moderate activity — whichever is more on a day, never both." }
        }
        section aria-labelledby="streaks" {
            h2 id="streaks" { "Streaks" }
            dl {
                dt { "Current streak" } dd data-streak="current" { (days_label(view.streaks.current)) " in a row with your goal met" }
                dt { "Longest streak" } dd data-streak="longest" { (days_label(view.streaks.longest)) }
            }
            p.muted {
                "A day that was not worn enough neither breaks nor adds to a streak. "
                @if view.today.is_some() { "Today counts once you reach your goal." }
            }
        }
        section aria-labelledby="why" {
            h2 id="why" { "Why this goal" }
            @match &view.goal {
                Some(goal) => {
                    p { (goal.explanation) }
                    @if goal.provisional { p.muted { "This goal is provisional until FitEx has enough of your days." } }
                    @if let Some(reference) = citations::reference(&goal.citation) {
                        p.muted { "Based on: " cite { (reference) } }
                    }
                }
                None => p { "Your goal appears once FitEx has your first days." }
            }
        }
    }
}

/// Days of `week` up to the day the page counts through (7 for a week that is over).
fn days_so_far(header: &Header, week: u32) -> u32 {
    let start = header.start + chrono::Duration::days(i64::from(week.saturating_sub(1)) * 7);
    let days = (header.through() - start).num_days() + 1;
    days.clamp(0, 7) as u32
}

/// "My team".
pub fn team(csrf: &str, season: &Season<MyTeam>) -> Markup {
    signed_in_layout(
        "My team",
        csrf,
        Nav::Team,
        CSS,
        html! {
            h1 { "My team" }
            @if let Some(message) = no_season(season) { (message) }
            @if let Season::Started(header, view) = season { (team_body(header, view)) }
        },
    )
}

fn team_body(header: &Header, view: &MyTeam) -> Markup {
    let unit = header.unit;
    html! {
        (heading(header))
        section aria-labelledby="team-week" {
            h2 id="team-week" { "Team " (header.team_name) ", week " (view.week) }
            @match &view.team_week {
                Some(t) => {
                    p.big { (amount(t.progress, unit)) " of " (amount(t.goal, unit)) }
                    p { (format!("{:.0}\u{a0}%", t.percent_of_goal)) " of the team goal: the sum of the members' own goals for the days so far." }
                    p { (t.members_meeting_goal) " of " (t.members) " members have met their goal this week." }
                }
                None => p { "Your team's progress for this week appears with the first synced days." }
            }
            @if !view.members.is_empty() {
                table.members {
                    caption { "What each member has done this week" }
                    thead { tr { th scope="col" { "Member" } th.number scope="col" { "Done" } th.number scope="col" { "Goal" } th scope="col" { "Week's goal met?" } } }
                    tbody {
                        @for m in &view.members {
                            tr.yours[m.is_you] data-member=(m.label) {
                                th scope="row" { (m.label) @if m.is_you { " (you)" } }
                                td.number { (short_amount(m.week.progress_total, unit)) }
                                td.number { (short_amount(m.week.goal_total, unit)) }
                                td {
                                    @if m.met() { "Yes" } @else { "Not yet" }
                                    span.muted { " (" (m.week.days_goal_met) " of " (m.days_needed) " days)" }
                                }
                            }
                        }
                    }
                }
                p.muted { @if unit == Unit::Steps { "Steps." } @else { "FitEx miles." } " A member meets the week's goal by meeting their daily goal on " "enough days." }
            }
        }
        section aria-labelledby="leaderboard" {
            h2 id="leaderboard" {
                @if header.is_final { "Final leaderboard, week " } @else { "Leaderboard, week " }
                (view.leaderboard_week)
            }
            @if view.standings.is_empty() {
                p { "The leaderboard appears once teams have synced days this week." }
            } @else {
                p.muted { "Teams are ranked by how much of their own goal they reached, so small and large teams compete fairly." }
                table.leaderboard {
                    caption { (header.program_name) }
                    thead { tr { th.number scope="col" { "Rank" } th scope="col" { "Team" } th.number scope="col" { "Of goal" } th.number scope="col" { "Weeks at 100\u{a0}%" } } }
                    tbody {
                        @for s in &view.standings {
                            @let yours = s.entry.team_id == view.team_id;
                            tr.yours[yours] aria-current=[yours.then_some("true")] data-rank=(s.entry.rank) data-team=(s.name) {
                                td.number { (s.entry.rank) }
                                th scope="row" { (s.name) @if yours { " (your team)" } }
                                td.number { (format!("{:.0}\u{a0}%", s.entry.percent_of_goal)) }
                                td.number { (s.entry.streak_weeks) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn short_amount(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Steps => thousands(value.round() as i32),
        Unit::FitexMiles => format!("{value:.1}"),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};

    use super::*;

    fn header(is_final: bool) -> Header {
        let date = |s: &str| s.parse::<NaiveDate>().unwrap();
        Header {
            program_name: "Spring".into(),
            team_name: "Walkers".into(),
            unit: Unit::Steps,
            start: date("2026-03-02"),
            last_day: date("2026-03-15"),
            weeks: 2,
            today: date("2026-03-17"),
            grace_deadline: Utc.with_ymd_and_hms(2026, 3, 19, 12, 0, 0).unwrap(),
            is_final,
        }
    }

    #[test]
    fn an_ended_season_says_when_its_results_become_final_and_then_that_they_are() {
        let pending = heading(&header(false)).into_string();
        assert!(pending.contains("Spring ended on 15 March 2026."), "{pending}");
        assert!(
            pending.contains("Results become final on <strong>19 March 2026</strong>."),
            "{pending}"
        );
        let closed = heading(&header(true)).into_string();
        assert!(closed.contains("<strong>These results are final.</strong>"), "{closed}");
        assert!(!closed.contains("become final"), "{closed}");
        // While the season runs, nothing is said about results.
        let running = heading(&Header { today: "2026-03-10".parse().unwrap(), ..header(false) });
        assert!(!running.into_string().contains("final"));
    }
}
