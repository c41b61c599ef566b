//! What the "Log activity" page shows, read for the signed-in participant only: their season is
//! the one the season pages show (`season::season_enrolment`, through `season::my_season`, so the
//! three pages always agree), its entries are their own, and whether entries may still change is
//! the goal engine's rule (`fitex_goals::manual::may_change`).

use chrono::{DateTime, NaiveDate, Utc};
use fitex_common::zone::ParticipantZone;
use fitex_goals::manual::{may_change, EntryContext, EntryForm, EntryProblem, ManualEntry};
use fitex_goals_store::manual::{self, SeasonWindow, StoredEntry};
use fitex_goals_store::store;
use sqlx::PgPool;

use crate::season::{self, Header, Season};

/// The "Log activity" page of a started season.
#[derive(Debug, Clone)]
pub struct MyActivity {
    /// Where the participant lives: the grace deadline is shown in their time.
    pub zone: ParticipantZone,
    pub window: SeasonWindow,
    /// The participant's entries dated in the season, newest day first.
    pub entries: Vec<StoredEntry>,
    /// Why entries can no longer be added, changed or deleted; `None` while they can.
    pub settled: Option<EntryProblem>,
}

impl MyActivity {
    /// Entries can be added, changed and deleted.
    pub fn open(&self) -> bool {
        self.settled.is_none()
    }

    /// One of the page's entries.
    pub fn entry(&self, id: i64) -> Option<&StoredEntry> {
        self.entries.iter().find(|stored| stored.id == id)
    }
}

/// The season entries are logged for on `today`: the one the season pages show. `None` when the
/// participant is in no team.
pub async fn season_window(
    pool: &PgPool,
    participant_id: i64,
    today: NaiveDate,
) -> Result<Option<SeasonWindow>, sqlx::Error> {
    let enrolments = store::enrolments(pool, participant_id).await?;
    Ok(season::season_enrolment(&enrolments, today).map(|chosen| SeasonWindow::of(&chosen.program)))
}

/// Why entries of `window` can no longer change at `now`, if they cannot (the season's grace
/// deadline has passed).
pub fn settled(
    window: &SeasonWindow,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Option<EntryProblem> {
    let context = EntryContext {
        season_start: window.start,
        season_last_day: window.last_day,
        today,
        now,
        grace_deadline: window.grace_deadline,
        other_minutes_that_day: 0,
    };
    may_change(&context).err()
}

/// The entry a submitted form holds, for `window` at `now`: refused with the season's settlement
/// alone once entries can no longer change (the form's fields no longer matter then), else with
/// every problem of its fields. The rest (the season's days, today, the day's total) is checked
/// where it is stored.
pub fn submitted(
    window: &SeasonWindow,
    today: NaiveDate,
    now: DateTime<Utc>,
    form: &EntryForm,
) -> Result<ManualEntry, Vec<EntryProblem>> {
    match settled(window, today, now) {
        Some(settled) => Err(vec![settled]),
        None => form.parse(),
    }
}

/// The participant's "Log activity" page at `now`.
pub async fn my_activity(
    pool: &PgPool,
    participant_id: i64,
    zone: &ParticipantZone,
    now: DateTime<Utc>,
) -> Result<Season<MyActivity>, sqlx::Error> {
    let today = zone.today(now);
    let header = match season::my_season(pool, participant_id, today).await? {
        Season::NoTeam => return Ok(Season::NoTeam),
        Season::NotStarted(header) => return Ok(Season::NotStarted(header)),
        Season::Started(header, _) => header,
    };
    let Some(window) = season_window(pool, participant_id, today).await? else {
        // Left the team between the two reads.
        return Ok(Season::NoTeam);
    };
    let entries = manual::entries(pool, participant_id, &window).await?;
    let view = MyActivity { zone: *zone, settled: settled(&window, today, now), window, entries };
    Ok(Season::Started(header, view))
}

/// A new entry's form: the day the page counts through (today, or the last day once the season is
/// over), the rest to choose.
pub fn blank_form(header: &Header) -> EntryForm {
    EntryForm { day: header.through().format("%Y-%m-%d").to_string(), ..EntryForm::default() }
}

/// A stored entry as its edit form shows it.
pub fn form_of(stored: &StoredEntry) -> EntryForm {
    let entry = &stored.entry;
    EntryForm {
        day: entry.day.format("%Y-%m-%d").to_string(),
        kind: entry.kind.as_str().to_string(),
        minutes: entry.minutes.to_string(),
        intensity: entry.intensity.as_str().to_string(),
        device_worn: Some(if entry.device_worn { "yes" } else { "no" }.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use fitex_goals::manual::{ActivityKind, Intensity, ManualEntry};

    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// A season from 2 March to 26 April 2026 whose entries settle on 1 May at 12:00 UTC.
    fn spring() -> SeasonWindow {
        SeasonWindow {
            start: date("2026-03-02"),
            last_day: date("2026-04-26"),
            grace_deadline: Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap(),
        }
    }

    #[test]
    fn entries_are_settled_from_the_grace_deadline_on() {
        let (window, today) = (spring(), date("2026-04-30"));
        let deadline = window.grace_deadline;
        assert_eq!(settled(&window, today, deadline - chrono::Duration::seconds(1)), None);
        assert_eq!(
            settled(&window, today, deadline),
            Some(EntryProblem::SeasonSettled { deadline })
        );
    }

    #[test]
    fn a_settled_season_refuses_any_form_with_the_settlement_alone() {
        let (window, today) = (spring(), date("2026-04-30"));
        let deadline = window.grace_deadline;
        let bad = EntryForm { minutes: "0".into(), ..EntryForm::default() };
        let before = submitted(&window, today, deadline - chrono::Duration::minutes(1), &bad);
        assert_eq!(before.unwrap_err().len(), 5, "every field's problem");
        assert_eq!(
            submitted(&window, today, deadline, &bad),
            Err(vec![EntryProblem::SeasonSettled { deadline }])
        );
    }

    #[test]
    fn a_stored_entry_fills_its_form_and_parses_back_to_itself() {
        let entry = ManualEntry {
            day: date("2026-03-14"),
            kind: ActivityKind::YogaOrPilates,
            minutes: 45,
            intensity: Intensity::Vigorous,
            device_worn: true,
        };
        let now = Utc::now();
        let stored = StoredEntry {
            id: 7,
            entry,
            entered_by: "participant".into(),
            created_at: now,
            updated_at: now,
        };
        let form = form_of(&stored);
        assert_eq!(form.kind, "yoga_or_pilates");
        assert_eq!(form.device_worn.as_deref(), Some("yes"));
        assert_eq!(form.parse(), Ok(entry));
    }
}
