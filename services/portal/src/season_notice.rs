//! What a participant's pages say when there is no season to show yet: not in a team, or the
//! season has not started. Shared by the season pages and the "Log activity" page, so they all say
//! it in the same words.

use chrono::NaiveDate;
use maud::{html, Markup};

use crate::season::Season;

/// "3 March 2026".
pub fn long_date(date: NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

/// What the pages say instead, when there is no season to show.
pub fn no_season<T>(season: &Season<T>) -> Option<Markup> {
    match season {
        Season::NoTeam => Some(html! {
            div.notice.info role="status" {
                p { "You are not in a team yet." }
                p {
                    "When your coordinator adds you to a team, your season — your steps against your "
                    "goal, your streaks, your team's progress and the leaderboard — appears here. "
                    "Your synced days are kept meanwhile."
                }
            }
        }),
        Season::NotStarted(header) => Some(html! {
            div.notice.info role="status" {
                p {
                    (header.program_name) " starts on " strong { (long_date(header.start)) } ". "
                    "You are in team " (header.team_name) "."
                }
                p {
                    "Your daily goal, your chart and your team's standing appear from the first day. "
                    "Keep wearing your tracker: the days before the start help set your first goal."
                }
            }
        }),
        Season::Started(..) => None,
    }
}
