//! The participant pages: connect through Google (the Google Health API, where Fitbit accounts
//! now live) or Fitbit (authorization code + PKCE, both doubling as sign-in), or paste a Fitbit
//! long-lived token, and see in plain language whether data is flowing, with today's goal and
//! the team's week when enrolled in a program; "My season" (today, a chart of the season, the
//! week in FitEx miles, streaks, why this goal), "My team" (each member's part, the
//! leaderboard) and "Log activity" (activity a wearable does not count, added, changed and
//! deleted until the season's grace deadline). Everything shown comes from the session: no page
//! takes a participant, team or program id from the URL or a form, and an entry id in a URL is
//! looked for among the signed-in participant's own entries only.

pub mod activity;
pub mod activity_pages;
pub mod chart;
pub mod data;
pub mod pages;
pub mod pkce;
pub mod routes;
pub mod season;
pub mod season_notice;
pub mod season_pages;
pub mod sessions;
pub mod settings;
pub mod startup;

pub use settings::{PortalSettings, Settings};
pub use startup::Application;
