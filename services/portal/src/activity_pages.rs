//! The "Log activity" page and an entry's edit page (maud escapes every interpolated value). The
//! form works without JavaScript and the server alone judges it (`novalidate`): a refused entry
//! comes back with its values kept, the problems listed at the top (each a link to its field) and
//! each told beside its field (`aria-describedby`, `aria-invalid`). Plain words, as on the status
//! page; readable at 360 px.

use fitex_goals::manual::{ActivityKind, EntryForm, EntryProblem, Intensity, ManualEntry};
use fitex_goals::{thousands, Unit};
use maud::{html, Markup};

use crate::activity::MyActivity;
use crate::chart::short_date;
use crate::pages::{signed_in_layout, Nav};
use crate::season::{Header, Season};
use crate::season_notice::{long_date, no_season};

const CSS: &str = "
.field{margin:1.2rem 0}
.field.invalid{border-left:.3rem solid #b91c1c;padding-left:.8rem}
label,legend{display:block;font-weight:600}
fieldset{border:0;padding:0;min-width:0}
.hint{color:#5b6472;font-size:.9rem;margin:.1rem 0 .4rem}
.field-error{color:#b91c1c;font-weight:600;margin:.2rem 0 .4rem}
input[type=text],input[type=date],select{font:inherit;padding:.45rem .5rem;border:2px solid #1d2430;border-radius:.2rem;max-width:100%;box-sizing:border-box;background:#fff;color:#1d2430}
input#minutes{width:6rem}
.invalid input[type=text],.invalid input[type=date],.invalid select{border-color:#b91c1c}
.choice{display:flex;gap:.6rem;align-items:flex-start;margin:.5rem 0}
.choice input{width:1.3rem;height:1.3rem;margin:.2rem 0 0;flex:none}
.choice label{font-weight:400}
.choice .hint{margin:0}
.error-summary{border:.25rem solid #b91c1c;padding:.6rem 1.2rem;margin:1rem 0}
.error-summary h2{margin-top:.4rem}
.error-summary a{color:#b91c1c;font-weight:600}
ul.entries{list-style:none;padding:0;margin:.6rem 0}
ul.entries li{border-bottom:1px solid #d8dde6;padding:.6rem 0}
ul.entries p{margin:.1rem 0}
.actions{display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center;margin-top:.3rem}
.actions form{margin:0}
.actions a{color:#00707a}
.actions a,button.link{font-size:1rem}
legend{padding:0}
.visually-hidden{position:absolute!important;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
";

/// What was done to an entry, for the note shown once after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    Added,
    Changed,
    Deleted,
}

/// The note shown once after a change, e.g. "Saved: 45 minutes of swimming on 14 March."
pub fn note(done: Done, entry: &ManualEntry) -> String {
    let what = match done {
        Done::Added => "Saved",
        Done::Changed => "Changed",
        Done::Deleted => "Deleted",
    };
    format!("{what}: {}.", describe(entry))
}

/// "45 minutes of swimming on 14 March".
fn describe(entry: &ManualEntry) -> String {
    format!(
        "{} of {} on {}",
        minutes(entry.minutes),
        in_sentence(entry.kind.label()),
        entry.day.format("%-d %B")
    )
}

fn minutes(n: i32) -> String {
    if n == 1 {
        "1 minute".to_string()
    } else {
        format!("{} minutes", thousands(n))
    }
}

/// A kind's label inside a sentence: "Yoga or Pilates" becomes "yoga or Pilates".
fn in_sentence(label: &str) -> String {
    let mut chars = label.chars();
    chars.next().map(|first| first.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

/// How an intensity feels, in one line.
fn feels(intensity: Intensity) -> &'static str {
    match intensity {
        Intensity::Moderate => "You breathe faster but can still talk.",
        Intensity::Vigorous => "You breathe hard and can say only a few words at a time.",
    }
}

/// Where a problem's link in the summary goes: its field's first control (none for the form as a
/// whole).
fn target(field: &str) -> Option<String> {
    match field {
        "day" | "kind" | "minutes" => Some(field.to_string()),
        "intensity" => Some(format!("intensity-{}", Intensity::ALL[0].as_str())),
        "device_worn" => Some("device_worn-yes".to_string()),
        _ => None,
    }
}

/// The problems about `field`.
fn about<'a>(problems: &'a [EntryProblem], field: &str) -> Vec<&'a EntryProblem> {
    problems.iter().filter(|problem| problem.field() == field).collect()
}

/// The ids a field's control is described by: its hint, and its error when it has one.
fn described_by(field: &str, hint: bool, invalid: bool) -> Option<String> {
    let ids: Vec<String> = [(hint, "hint"), (invalid, "error")]
        .into_iter()
        .filter(|(present, _)| *present)
        .map(|(_, what)| format!("{field}-{what}"))
        .collect();
    (!ids.is_empty()).then(|| ids.join(" "))
}

/// The list of problems at the top of the page, each a link to its field.
fn error_summary(problems: &[EntryProblem]) -> Markup {
    html! {
        @if !problems.is_empty() {
            div.error-summary role="alert" aria-labelledby="error-summary-title" {
                h2 id="error-summary-title" { "There is a problem" }
                ul {
                    @for problem in problems {
                        li {
                            @match target(problem.field()) {
                                Some(id) => a href=(format!("#{id}")) { (problem) },
                                None => (problem),
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A field's messages, by the field.
fn field_error(field: &str, problems: &[&EntryProblem]) -> Markup {
    html! {
        @if !problems.is_empty() {
            p.field-error id=(format!("{field}-error")) {
                span.visually-hidden { "Error: " }
                @for (index, problem) in problems.iter().enumerate() {
                    @if index > 0 { " " }
                    (problem)
                }
            }
        }
    }
}

/// A group of radio buttons: `choices` are (value, label, one-line explanation).
fn radios(
    field: &str,
    legend: &str,
    hint: Option<&str>,
    choices: &[(&str, &str, Option<&str>)],
    chosen: &str,
    problems: &[EntryProblem],
) -> Markup {
    let mine = about(problems, field);
    let invalid = !mine.is_empty();
    html! {
        fieldset.field.invalid[invalid] aria-describedby=[described_by(field, hint.is_some(), invalid)] {
            legend { (legend) }
            @if let Some(hint) = hint { p.hint id=(format!("{field}-hint")) { (hint) } }
            (field_error(field, &mine))
            @for (value, label, explanation) in choices {
                @let id = format!("{field}-{value}");
                @let explained = explanation.map(|_| format!("{id}-hint"));
                div.choice {
                    input type="radio" id=(id) name=(field) value=(value) checked[chosen == *value]
                        aria-describedby=[explained.clone()] aria-invalid=[invalid.then_some("true")];
                    div {
                        label for=(id) { (label) }
                        @if let (Some(explanation), Some(hint_id)) = (explanation, &explained) {
                            p.hint id=(hint_id) { (explanation) }
                        }
                    }
                }
            }
        }
    }
}

/// The entry form, posting to `action`.
fn entry_form(
    csrf: &str,
    action: &str,
    submit: &str,
    view: &MyActivity,
    header: &Header,
    values: &EntryForm,
    problems: &[EntryProblem],
) -> Markup {
    let (first, last) = (view.window.start, header.through());
    let field = |name: &str| {
        let mine = about(problems, name);
        let invalid = !mine.is_empty();
        (mine, invalid, described_by(name, true, invalid), invalid.then_some("true"))
    };
    let (day_errors, day_invalid, day_described, day_aria) = field("day");
    let (kind_errors, kind_invalid, kind_described, kind_aria) = field("kind");
    let (minutes_errors, minutes_invalid, minutes_described, minutes_aria) = field("minutes");
    let intensities: Vec<(&str, &str, Option<&str>)> =
        Intensity::ALL.iter().map(|i| (i.as_str(), i.label(), Some(feels(*i)))).collect();
    let worn = values.device_worn.as_deref().unwrap_or_default();
    html! {
        form.entry method="post" action=(action) novalidate {
            input type="hidden" name="csrf" value=(csrf);
            div.field.invalid[day_invalid] {
                label for="day" { "Date" }
                p.hint id="day-hint" { "A day from " (long_date(first)) " to " (long_date(last)) "." }
                (field_error("day", &day_errors))
                input id="day" type="date" name="day" value=(values.day) min=(first) max=(last)
                    aria-describedby=[day_described] aria-invalid=[day_aria];
            }
            div.field.invalid[kind_invalid] {
                label for="kind" { "Activity" }
                p.hint id="kind-hint" { "Walking and running are not on the list: your tracker counts them as steps." }
                (field_error("kind", &kind_errors))
                select id="kind" name="kind" aria-describedby=[kind_described] aria-invalid=[kind_aria] {
                    option value="" selected[!ActivityKind::ALL.iter().any(|k| k.as_str() == values.kind)] { "Choose an activity" }
                    @for kind in ActivityKind::ALL {
                        option value=(kind.as_str()) selected[values.kind == kind.as_str()] { (kind.label()) }
                    }
                }
            }
            div.field.invalid[minutes_invalid] {
                label for="minutes" { "Minutes" }
                p.hint id="minutes-hint" { "How long it lasted, in whole minutes, for example 45." }
                (field_error("minutes", &minutes_errors))
                input id="minutes" type="text" inputmode="numeric" name="minutes" value=(values.minutes)
                    autocomplete="off" aria-describedby=[minutes_described] aria-invalid=[minutes_aria];
            }
            (radios("intensity", "How hard was it?", None, &intensities, &values.intensity, problems))
            (radios(
                "device_worn",
                "Were you wearing your tracker during it?",
                Some("If you were, it may already count some of these minutes. FitEx never counts a minute twice."),
                &[("yes", "Yes", None), ("no", "No", None)],
                worn,
                problems,
            ))
            p { button type="submit" { (submit) } }
        }
    }
}

/// "1 May 2026 at 14:00", in the participant's time.
fn deadline(view: &MyActivity) -> String {
    view.zone.local(view.window.grace_deadline).format("%-d %B %Y at %H:%M").to_string()
}

/// Who and where: the season and the team.
fn heading(header: &Header) -> Markup {
    html! { p.muted { (header.program_name) " · team " (header.team_name) } }
}

/// The entries can no longer change: said once (the summary says it when a change was refused).
fn settled_notice(view: &MyActivity, problems: &[EntryProblem]) -> Markup {
    html! {
        @if let Some(settled) = view.settled.as_ref().filter(|s| !problems.contains(s)) {
            div.notice.info role="status" {
                p { (settled) }
                p { "Your entries are shown below as they were counted." }
            }
        }
    }
}

fn entries(csrf: &str, view: &MyActivity) -> Markup {
    html! {
        section aria-labelledby="entries" {
            h2 id="entries" { "Your entries this season" }
            @if view.entries.is_empty() {
                p { "Nothing logged yet." }
            } @else {
                ul.entries {
                    @for stored in &view.entries {
                        @let entry = &stored.entry;
                        li data-entry=(stored.id) data-day=(entry.day) data-kind=(entry.kind.as_str())
                            data-minutes=(entry.minutes) data-intensity=(entry.intensity.as_str())
                            data-device-worn=(entry.device_worn) {
                            p { strong { (short_date(entry.day)) } " · " (entry.kind.label()) ", " (minutes(entry.minutes)) }
                            p.muted {
                                (entry.intensity.label())
                                @if entry.device_worn { " · tracker worn" } @else { " · tracker not worn" }
                                @if stored.entered_by.starts_with("operator:") { " · entered by your coordinator" }
                            }
                            @if view.open() {
                                div.actions {
                                    a href=(format!("/activity/{}/edit", stored.id)) {
                                        "Edit" span.visually-hidden { " " (describe(entry)) }
                                    }
                                    form method="post" action=(format!("/activity/{}/delete", stored.id)) {
                                        input type="hidden" name="csrf" value=(csrf);
                                        button.link type="submit" {
                                            "Delete" span.visually-hidden { " " (describe(entry)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The page title, marked when the form came back with problems.
fn title(name: &str, problems: &[EntryProblem]) -> String {
    if problems.is_empty() {
        name.to_string()
    } else {
        format!("Error: {name}")
    }
}

/// "Log activity": the form (with `values`, and the `problems` a refused entry had), the season's
/// entries and until when they can change; `note` says what was just done.
pub fn activity(
    csrf: &str,
    season: &Season<MyActivity>,
    values: &EntryForm,
    problems: &[EntryProblem],
    note: Option<&str>,
) -> Markup {
    signed_in_layout(
        &title("Log activity", problems),
        csrf,
        Nav::Activity,
        CSS,
        html! {
            h1 { "Log activity" }
            @if let Some(note) = note { div.notice.info role="status" { p { (note) } } }
            @if let Some(message) = no_season(season) { (message) }
            @if let Season::Started(header, view) = season {
                (heading(header))
                p {
                    "FitEx counts 15 minutes of moderate activity as one FitEx mile, the same as "
                    "2,000 steps. Log what your tracker does not count, such as swimming, cycling, a "
                    "fitness class or yard work."
                }
                @if header.unit == Unit::Steps {
                    div.notice.info role="note" {
                        p {
                            "Your season counts steps. Activity you log is kept, but it adds to your "
                            "progress only in seasons that count FitEx miles."
                        }
                    }
                }
                (error_summary(problems))
                (settled_notice(view, problems))
                @if view.open() {
                    p { "You can add, change or delete entries until " strong { (deadline(view)) } " (your time)." }
                    section aria-labelledby="add" {
                        h2 id="add" { "Add an activity" }
                        (entry_form(csrf, "/activity", "Log this activity", view, header, values, problems))
                    }
                }
                (entries(csrf, view))
            }
        },
    )
}

/// An entry's edit page: its form (with `values` and `problems`), and deleting it.
pub fn edit(
    csrf: &str,
    header: &Header,
    view: &MyActivity,
    id: i64,
    values: &EntryForm,
    problems: &[EntryProblem],
) -> Markup {
    signed_in_layout(
        &title("Change an entry", problems),
        csrf,
        Nav::Activity,
        CSS,
        html! {
            h1 { "Change an entry" }
            (heading(header))
            (error_summary(problems))
            (settled_notice(view, problems))
            @if view.open() {
                p { "You can change or delete it until " strong { (deadline(view)) } " (your time)." }
                (entry_form(csrf, &format!("/activity/{id}"), "Save changes", view, header, values, problems))
                form method="post" action=(format!("/activity/{id}/delete")) {
                    input type="hidden" name="csrf" value=(csrf);
                    p { button.button.secondary type="submit" { "Delete this entry" } }
                }
            }
            p { a href="/activity" { "Back to your entries" } }
        },
    )
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};
    use fitex_common::zone::ParticipantZone;
    use fitex_goals_store::manual::{SeasonWindow, StoredEntry};

    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn swim(minutes: i32) -> ManualEntry {
        ManualEntry {
            day: date("2026-03-14"),
            kind: ActivityKind::Swimming,
            minutes,
            intensity: Intensity::Moderate,
            device_worn: false,
        }
    }

    fn header() -> Header {
        Header {
            program_name: "Spring <season>".into(),
            team_name: "Paddlers".into(),
            unit: Unit::FitexMiles,
            start: date("2026-03-02"),
            last_day: date("2026-04-26"),
            weeks: 8,
            today: date("2026-03-20"),
            grace_deadline: Utc.with_ymd_and_hms(2026, 4, 30, 12, 0, 0).unwrap(),
            is_final: false,
        }
    }

    fn view(settled: bool) -> MyActivity {
        let deadline = Utc.with_ymd_and_hms(2026, 4, 30, 12, 0, 0).unwrap();
        let now = Utc::now();
        MyActivity {
            zone: "Europe/Berlin".parse::<ParticipantZone>().unwrap(),
            window: SeasonWindow {
                start: date("2026-03-02"),
                last_day: date("2026-04-26"),
                grace_deadline: deadline,
            },
            entries: vec![StoredEntry {
                id: 41,
                entry: swim(45),
                entered_by: "participant".into(),
                created_at: now,
                updated_at: now,
            }],
            settled: settled.then_some(EntryProblem::SeasonSettled { deadline }),
        }
    }

    fn page(view: MyActivity, values: &EntryForm, problems: &[EntryProblem]) -> String {
        activity("CSRF", &Season::Started(header(), view), values, problems, None).into_string()
    }

    #[test]
    fn notes_say_what_was_done_in_plain_words() {
        assert_eq!(note(Done::Added, &swim(45)), "Saved: 45 minutes of swimming on 14 March.");
        let yoga = ManualEntry { kind: ActivityKind::YogaOrPilates, ..swim(1) };
        assert_eq!(note(Done::Changed, &yoga), "Changed: 1 minute of yoga or Pilates on 14 March.");
        assert_eq!(
            note(Done::Deleted, &swim(1440)),
            "Deleted: 1,440 minutes of swimming on 14 March."
        );
    }

    #[test]
    fn every_problem_links_to_its_field_which_is_marked_and_described_by_it() {
        let values = EntryForm {
            day: "2026-03-14".into(),
            kind: "skydiving".into(),
            minutes: "0".into(),
            intensity: "gentle".into(),
            device_worn: None,
        };
        let problems = values.parse().unwrap_err();
        let html = page(view(false), &values, &problems);
        assert!(html.contains("<title>Error: Log activity · FitEx</title>"), "{html}");
        assert!(html.contains(r#"<div class="error-summary" role="alert""#), "{html}");
        for (link, control) in [
            (
                "kind",
                r#"<select id="kind" name="kind" aria-describedby="kind-hint kind-error" aria-invalid="true">"#,
            ),
            (
                "minutes",
                r#"name="minutes" value="0" autocomplete="off" aria-describedby="minutes-hint minutes-error" aria-invalid="true">"#,
            ),
            (
                "intensity-moderate",
                r#"<fieldset class="field invalid" aria-describedby="intensity-error">"#,
            ),
            (
                "device_worn-yes",
                r#"<fieldset class="field invalid" aria-describedby="device_worn-hint device_worn-error">"#,
            ),
        ] {
            assert!(html.contains(&format!(r##"<a href="#{link}">"##)), "{link}: {html}");
            assert!(html.contains(control), "{control}: {html}");
        }
        for problem in &problems {
            let by_field = format!(
                r#"id="{}-error"><span class="visually-hidden">Error: </span>{problem}"#,
                problem.field()
            );
            assert!(html.contains(&by_field), "{by_field}: {html}");
        }
        assert!(html.contains(r#"aria-describedby="day-hint">"#), "the day is fine: {html}");
        assert!(!html.contains(r#"value="skydiving""#), "an unknown kind is not offered");
        // Nothing on the list was chosen: the list asks for a choice again.
        assert!(html.contains(r#"<option value="" selected>Choose an activity"#), "{html}");
    }

    #[test]
    fn submitted_values_are_kept_and_escaped() {
        let values = EntryForm {
            day: "2026-03-14".into(),
            kind: "cycling".into(),
            minutes: "\"><b>".into(),
            intensity: "vigorous".into(),
            device_worn: Some("no".into()),
        };
        let html = page(view(false), &values, &values.parse().unwrap_err());
        assert!(html.contains(r#"value="&quot;&gt;&lt;b&gt;""#), "{html}");
        assert!(html.contains(r#"<option value="cycling" selected>Cycling"#), "{html}");
        assert!(html.contains(r#"value="vigorous" checked"#), "{html}");
        assert!(html.contains(r#"value="no" checked"#), "{html}");
        assert!(html.contains("Spring &lt;season&gt; · team Paddlers"), "{html}");
    }

    #[test]
    fn the_deadline_is_in_the_participants_time_and_after_it_nothing_can_change() {
        let open = page(view(false), &EntryForm::default(), &[]);
        assert!(
            open.contains("until <strong>30 April 2026 at 14:00</strong> (your time)"),
            "{open}"
        );
        assert!(
            open.contains(r#"action="/activity/41/delete""#) && open.contains("/activity/41/edit")
        );
        assert!(!open.contains(r#"class="error-summary""#), "{open}");

        let closed = page(view(true), &EntryForm::default(), &[]);
        assert!(closed.contains("Entries can no longer be added, changed or deleted."), "{closed}");
        assert!(!closed.contains("<form class=\"entry\"") && !closed.contains("/activity/41/edit"));
        assert!(closed.contains(r#"data-entry="41""#), "the entries stay, read-only: {closed}");
    }

    #[test]
    fn a_steps_season_says_logged_activity_counts_only_in_fitex_miles() {
        let steps = Header { unit: Unit::Steps, ..header() };
        let html = activity(
            "CSRF",
            &Season::Started(steps, view(false)),
            &EntryForm::default(),
            &[],
            None,
        )
        .into_string();
        assert!(html.contains("adds to your progress only in seasons that count FitEx miles"));
        assert!(!page(view(false), &EntryForm::default(), &[]).contains("only in seasons"));
    }
}
