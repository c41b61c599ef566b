//! The HTML (maud escapes every interpolated value).

use chrono::{DateTime, Utc};
use fitex_common::zone::ParticipantZone;
use maud::{html, Markup, PreEscaped, DOCTYPE};

use fitex_provider::ProviderId;

use crate::data::{ConnectionView, ParticipantView, ProgramView};

// `dd` wraps anywhere: a Google Health user id is one long word, wider than a 360 px screen.
const CSS: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#1d2430;line-height:1.5}
header{display:flex;justify-content:space-between;align-items:center;border-bottom:1px solid #d8dde6;margin-bottom:1.5rem}
h1{font-size:1.6rem} h2{font-size:1.2rem;margin-top:2rem}
.button,button{display:inline-block;background:#00707a;color:#fff;border:0;border-radius:.4rem;padding:.6rem 1.1rem;font-size:1rem;text-decoration:none;cursor:pointer}
.button.secondary{background:#fff;color:#00707a;border:1px solid #00707a;padding:.4rem .9rem;font-size:.95rem}
button.link{background:none;color:#00707a;padding:0;text-decoration:underline}
.notice{border-left:.4rem solid #c2410c;background:#fff4ec;padding:1rem 1.2rem;margin:1rem 0;border-radius:.3rem}
.notice.info{border-color:#00707a;background:#eef8f8}
.error{border-left:.4rem solid #b91c1c;background:#fdeeee;padding:.8rem 1.1rem;border-radius:.3rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1.2rem} dt{color:#5b6472} dd{margin:0;overflow-wrap:anywhere}
textarea{width:100%;box-sizing:border-box;font-family:monospace;font-size:.85rem}
.muted{color:#5b6472;font-size:.9rem}
nav{display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;margin:-.8rem 0 1.2rem}
nav a{color:#00707a} nav a[aria-current=page]{color:#1d2430;font-weight:600;text-decoration:none}
";

/// The page frame; `signed_in_csrf` adds the sign-out form.
pub fn layout(title: &str, signed_in_csrf: Option<&str>, content: Markup) -> Markup {
    frame(title, signed_in_csrf, None, "", content)
}

/// The signed-in participant's pages, linked from each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Status,
    Season,
    Team,
    Activity,
}

impl Nav {
    const ALL: [Nav; 4] = [Nav::Status, Nav::Season, Nav::Team, Nav::Activity];

    fn link(self) -> (&'static str, &'static str) {
        match self {
            Nav::Status => ("/status", "Sync status"),
            Nav::Season => ("/season", "My season"),
            Nav::Team => ("/team", "My team"),
            Nav::Activity => ("/activity", "Log activity"),
        }
    }
}

/// The frame of a signed-in page: the sign-out form, and links to the participant's pages with
/// `current` marked; `extra_css` goes into the page's style element.
pub fn signed_in_layout(
    title: &str,
    csrf: &str,
    current: Nav,
    extra_css: &str,
    content: Markup,
) -> Markup {
    frame(title, Some(csrf), Some(current), extra_css, content)
}

fn frame(
    title: &str,
    signed_in_csrf: Option<&str>,
    current: Option<Nav>,
    extra_css: &str,
    content: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · FitEx" }
                style { (PreEscaped(CSS)) (PreEscaped(extra_css)) }
            }
            body {
                header {
                    p { strong { "FitEx" } " — your activity sync" }
                    @if let Some(csrf) = signed_in_csrf {
                        form method="post" action="/signout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                @if let Some(current) = current {
                    nav aria-label="Your pages" {
                        @for page in Nav::ALL {
                            @let (href, label) = page.link();
                            @if page == current {
                                a href=(href) aria-current="page" { (label) }
                            } @else {
                                a href=(href) { (label) }
                            }
                        }
                    }
                }
                main { (content) }
            }
        }
    }
}

/// The start page: connect through Google (when configured; Fitbit accounts now live there) or
/// Fitbit, or paste a long-lived Fitbit token. `error` is about the pasted token; `notice` says
/// why the participant is signed out (when they just were).
pub fn home(csrf: &str, error: Option<&str>, notice: Option<&str>, google: bool) -> Markup {
    let title = if google { "Connect your activity tracker" } else { "Connect your Fitbit" };
    layout(
        title,
        None,
        html! {
            @if let Some(notice) = notice { div.notice.info role="status" { p { (notice) } } }
            h1 { (title) }
            @if google {
                p { "FitEx reads your daily steps and active minutes so your goals and your team's progress stay up to date." }
                p { a.button href="/connect/google" { "Connect with Google" } }
                p { "Fitbit accounts now connect through Google; if you used FitEx before, your history and goals carry over." }
                p.muted { "Or sign in at Fitbit directly: " a.button.secondary href="/connect/fitbit" { "Connect your Fitbit" } }
            } @else {
                p { "FitEx reads your daily steps and active minutes from Fitbit so your goals and your team's progress stay up to date." }
                p { a.button href="/connect/fitbit" { "Connect your Fitbit" } }
            }
            h2 { "Or paste a Fitbit access token" }
            p.muted { "If your coordinator asked you to create a long-lived token, paste it here. It must include the Activity permission." }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form method="post" action="/token" {
                input type="hidden" name="csrf" value=(csrf);
                label for="token" { "Access token" }
                textarea id="token" name="token" rows="4" autocomplete="off" spellcheck="false" required {}
                p { button type="submit" { "Use this token" } }
            }
        },
    )
}

/// Asked before a pasted token, which cannot be renewed, takes the place of a connection FitEx
/// renews by itself: what the participant would lose, in plain words. Keeping is the first
/// button; replacing needs the second.
pub fn replace_connection(
    csrf: &str,
    provider_user: &str,
    token_expires_at: DateTime<Utc>,
    zone: &ParticipantZone,
) -> Markup {
    layout(
        "Keep your current connection?",
        None,
        html! {
            h1 { "Your Fitbit is already connected" }
            p {
                "Your Fitbit account (" (provider_user) ") is already connected to FitEx, and FitEx "
                "renews that connection automatically, so your steps keep syncing without you doing anything."
            }
            p { "If you use the pasted token instead:" }
            ul {
                li { "FitEx can no longer renew your access automatically." }
                li {
                    "The pasted token expires on " strong { (day(token_expires_at, zone)) } ". "
                    "After that, your steps stop syncing until you reconnect."
                }
            }
            p { "Most people should keep their current connection." }
            form method="post" action="/token" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="choice" value="keep";
                p { button type="submit" { "Keep my current connection" } }
            }
            form method="post" action="/token" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="choice" value="replace";
                p { button.button.secondary type="submit" { "Use the pasted token instead" } }
            }
        },
    )
}

/// A plain page for a dead end (refused state, cancelled consent, provider trouble);
/// `try_again` is the connect route to start over at, when there is one.
pub fn message(title: &str, text: &str, try_again: Option<&str>) -> Markup {
    layout(
        title,
        None,
        html! {
            h1 { (title) }
            p { (text) }
            p {
                @if let Some(href) = try_again { a.button href=(href) { "Try again" } " " }
                a href="/" { "Back to the start" }
            }
        },
    )
}

/// A moment in the participant's zone, e.g. "25 Nov 2026, 09:30".
pub fn when(at: DateTime<Utc>, zone: &ParticipantZone) -> String {
    zone.local(at).format("%-d %b %Y, %H:%M").to_string()
}

/// The date of a moment in the participant's zone, e.g. "30 Nov 2026".
pub fn day(at: DateTime<Utc>, zone: &ParticipantZone) -> String {
    zone.local(at).format("%-d %b %Y").to_string()
}

/// Where a connection's Reconnect button goes and what it says; `None` when no route here can
/// reconnect it (a Google Health connection while Google is not configured, or a provider this
/// version does not know).
fn reconnect_link(
    provider: Option<ProviderId>,
    google: bool,
) -> Option<(&'static str, &'static str)> {
    match provider? {
        ProviderId::GoogleHealth if google => Some(("/connect/google", "Reconnect Google Health")),
        // Fitbit accounts now connect through Google, and the participant's history carries over.
        ProviderId::Fitbit if google => Some(("/connect/google", "Reconnect through Google")),
        ProviderId::Fitbit => Some(("/connect/fitbit", "Reconnect Fitbit")),
        ProviderId::GoogleHealth => None,
    }
}

fn status_label(status: &str) -> &'static str {
    match status {
        "active" => "Syncing",
        "reconnect_required" => "Reconnect needed",
        "disconnected" => "Disconnected",
        _ => "Unknown",
    }
}

fn connection(c: &ConnectionView, zone: &ParticipantZone, google: bool) -> Markup {
    let name = c.provider_name();
    let needs_reconnect = c.sync_status != "active";
    let reconnect = reconnect_link(c.provider_id(), google);
    html! {
        @if needs_reconnect {
            div.notice role="alert" {
                h2 { "Your " (name) " needs to be reconnected" }
                @match (c.sync_status.as_str(), &c.status_reason) {
                    ("disconnected", _) => p { "FitEx no longer has access to your " (name) " account, so your steps are not syncing. Reconnect to resume; the days missed meanwhile are fetched then." },
                    (_, Some(reason)) => p { (reason) },
                    (_, None) => p { "FitEx can no longer read your " (name) " data. Reconnect to resume syncing; the days missed meanwhile are fetched then." },
                }
                @if let Some((href, label)) = reconnect { p { a.button href=(href) { (label) } } }
            }
        } @else if let Some(reason) = &c.status_reason {
            div.notice.info role="status" {
                p { (reason) }
                @if let Some((href, label)) = reconnect { p { a.button href=(href) { (label) } } }
            }
        }
        dl {
            dt { (name) " user" } dd { (c.provider_user_id) }
            dt { "Status" } dd { (status_label(&c.sync_status)) }
            dt { "Last successful sync" }
            dd {
                @match (c.last_sync_at, needs_reconnect) {
                    (Some(at), _) => (when(at, zone)),
                    (None, false) => "Not yet — your first days are on their way",
                    (None, true) => "Never",
                }
            }
            dt { "Access" }
            dd {
                @match (c.token_kind.as_deref(), c.access_expires_at) {
                    _ if needs_reconnect => "Needs reconnecting",
                    (Some("implicit"), Some(at)) => { "Your pasted token expires " (when(at, zone)) }
                    (Some("authorization_code"), _) => "Renewed automatically",
                    _ => "None",
                }
            }
        }
    }
}

/// A connection another one replaced (Fitbit, continued through Google Health): nothing to do,
/// so one quiet line rather than a problem.
fn replaced(
    c: &ConnectionView,
    successor: Option<&ConnectionView>,
    zone: &ParticipantZone,
) -> Markup {
    let successor = successor.map_or("new", ConnectionView::provider_name);
    html! {
        p.muted {
            (c.provider_name()) " (before " (day(c.status_changed_at, zone)) "): replaced by your "
            (successor) " connection; your history and goals carried over."
        }
    }
}

fn amount(value: f64, unit: &str) -> String {
    match unit {
        "steps" => format!("{value:.0} steps"),
        _ => format!("{value:.1} FitEx miles"),
    }
}

fn program(p: &ProgramView) -> Markup {
    html! {
        h2 { (p.program_name) " — week " (p.week) " of " (p.weeks) }
        h3 { "Today" }
        @match p.goal_steps {
            Some(goal) => {
                p {
                    (p.steps_today.unwrap_or(0)) " of " (goal) " steps"
                    @if p.steps_today.unwrap_or(0) >= goal && goal > 0 { " — goal met!" }
                }
                @if let Some(explanation) = &p.goal_explanation { p.muted { (explanation) } }
                @if p.goal_provisional { p.muted { "This goal is provisional until FitEx has enough of your days." } }
            }
            None => p { "Your goal appears once FitEx has your first days." }
        }
        h3 { "Team " (p.team_name) " this week" }
        @match &p.team_week {
            Some(t) => {
                p { (amount(t.progress, &p.unit)) " of " (amount(t.goal, &p.unit)) " (" (format!("{:.0}", t.percent_of_goal)) " %)" }
                p.muted { (t.members_meeting_goal) " of " (t.members) " members are meeting their goal." }
            }
            None => p { "Your team's progress for this week appears with the first synced days." }
        }
    }
}

/// The signed-in participant's status; `google` when participants can connect through Google.
pub fn status(
    csrf: &str,
    participant: &ParticipantView,
    programs: &[ProgramView],
    note: Option<&str>,
    google: bool,
) -> Markup {
    let zone = &participant.time_zone;
    let (replaced_ones, current): (Vec<&ConnectionView>, Vec<&ConnectionView>) =
        participant.connections.iter().partition(|c| c.superseded());
    let successor =
        |c: &ConnectionView| participant.connections.iter().find(|s| Some(s.id) == c.superseded_by);
    signed_in_layout(
        "Your sync",
        csrf,
        Nav::Status,
        "",
        html! {
            h1 { "Your activity sync" }
            @if let Some(note) = note { div.notice.info role="status" { p { (note) } } }
            @if current.is_empty() {
                div.notice role="alert" {
                    p { "No activity tracker is connected." }
                    @if google {
                        p { a.button href="/connect/google" { "Connect with Google" } }
                    } @else {
                        p { a.button href="/connect/fitbit" { "Connect your Fitbit" } }
                    }
                }
            }
            @for c in &current { (connection(c, zone, google)) }
            @for c in &replaced_ones { (replaced(c, successor(c), zone)) }
            dl {
                dt { "Days stored" } dd { (participant.days_stored) }
                dt { "Time zone" } dd { (zone) }
            }
            @for p in programs { (program(p)) }
            @if !programs.is_empty() {
                p { a href="/season" { "See your whole season" } " · " a href="/team" { "See your team and the leaderboard" } }
            }
            h2 { "Signed in on another device?" }
            p.muted {
                "If you signed in on a shared or lost device, sign out everywhere: every browser "
                "where you are signed in, this one included, will need to connect again to sign in."
            }
            form method="post" action="/signout" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="everywhere" value="1";
                button.button.secondary type="submit" { "Sign out everywhere" }
            }
        },
    )
}
