//! Activity logged by hand (`manual_activities`): adding, changing and deleting a participant's
//! entries, each checked by the goal engine's rules ([`fitex_goals::manual`]) inside the
//! transaction that writes it, and each announced like a device change: an `ActivityDayChanged`
//! for every day it touches (source `MANUAL`, with who entered it) goes into the activity topic's
//! outbox in the same transaction, so the goals service recomputes goals and team progress exactly
//! as it does after a sync.

use chrono::{DateTime, NaiveDate, Utc};
use fitex_common::outbox::{self, OutgoingRecord};
use fitex_common::trace_context::TraceParent;
use fitex_common::zone::ParticipantZone;
use fitex_goals::manual::{may_change, EntryContext, EntryProblem, ManualEntry};
use fitex_goals::{ActivityKind, Intensity};
use fitex_proto::{content_type, ActivityDayChanged, DataSource, ManualActivity, Message};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::store::ProgramRow;

/// The season an entry belongs to: its days, and until when its entries may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeasonWindow {
    pub start: NaiveDate,
    pub last_day: NaiveDate,
    pub grace_deadline: DateTime<Utc>,
}

impl SeasonWindow {
    pub fn of(program: &ProgramRow) -> Self {
        let program = &program.program;
        SeasonWindow {
            start: program.start_date,
            last_day: program.end_date(),
            grace_deadline: program.grace_deadline(),
        }
    }

    fn contains(&self, day: NaiveDate) -> bool {
        self.start <= day && day <= self.last_day
    }
}

/// Who entered an entry, as stored in `entered_by`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnteredBy {
    /// The participant, on the portal.
    Participant,
    /// An operator, through `fitexctl`, by the name they gave.
    Operator(String),
}

impl EnteredBy {
    pub fn as_stored(&self) -> String {
        match self {
            EnteredBy::Participant => "participant".to_string(),
            EnteredBy::Operator(name) => format!("operator:{name}"),
        }
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEntry {
    pub id: i64,
    pub entry: ManualEntry,
    /// `entered_by` as stored ([`EnteredBy::as_stored`]).
    pub entered_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManualError {
    /// The entry breaks a rule; nothing was stored. Each problem names its form field.
    #[error("the entry was refused: {0:?}")]
    Refused(Vec<EntryProblem>),
    /// No such entry of this participant (or the participant is gone).
    #[error("no such entry")]
    NotFound,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: i64,
    day: NaiveDate,
    kind: String,
    minutes: i32,
    intensity: String,
    device_worn: bool,
    entered_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl EntryRow {
    fn parse(self) -> Result<StoredEntry, sqlx::Error> {
        let unreadable =
            |what: &str| sqlx::Error::Decode(format!("manual entry {} {what}", self.id).into());
        let kind = self.kind.parse::<ActivityKind>().map_err(|_| unreadable("kind"))?;
        let intensity = self.intensity.parse::<Intensity>().map_err(|_| unreadable("intensity"))?;
        Ok(StoredEntry {
            id: self.id,
            entry: ManualEntry {
                day: self.day,
                kind,
                minutes: self.minutes,
                intensity,
                device_worn: self.device_worn,
            },
            entered_by: self.entered_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

const ENTRY_COLUMNS: &str =
    "id, day, kind, minutes, intensity, device_worn, entered_by, created_at, updated_at";

/// The participant's entries dated within `season`, newest day first.
pub async fn entries(
    pool: &PgPool,
    participant_id: i64,
    season: &SeasonWindow,
) -> Result<Vec<StoredEntry>, sqlx::Error> {
    let rows: Vec<EntryRow> = sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM manual_activities
         WHERE participant_id = $1 AND day BETWEEN $2 AND $3 ORDER BY day DESC, id DESC"
    ))
    .bind(participant_id)
    .bind(season.start)
    .bind(season.last_day)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(EntryRow::parse).collect()
}

/// One of the participant's entries; `None` when it is not theirs.
pub async fn entry(
    pool: &PgPool,
    participant_id: i64,
    id: i64,
) -> Result<Option<StoredEntry>, sqlx::Error> {
    let row: Option<EntryRow> = sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM manual_activities WHERE id = $1 AND participant_id = $2"
    ))
    .bind(id)
    .bind(participant_id)
    .fetch_optional(pool)
    .await?;
    row.map(EntryRow::parse).transpose()
}

/// Where a change's events go: the activity topic, through the outbox its relay reads.
#[derive(Debug, Clone, Copy)]
pub struct ActivityOutbox<'a> {
    /// The activity-days topic's name (`[kafka.topics] activity_days`).
    pub topic: &'a str,
    /// The trace the events continue (the request's).
    pub trace: &'a TraceParent,
}

/// Stores a new entry of the participant's for `season`; returns its id.
pub async fn add(
    pool: &PgPool,
    events_to: ActivityOutbox<'_>,
    participant_id: i64,
    season: &SeasonWindow,
    entry: &ManualEntry,
    entered_by: &EnteredBy,
    now: DateTime<Utc>,
) -> Result<i64, ManualError> {
    let mut tx = pool.begin().await?;
    let zone = lock_participant(&mut tx, participant_id).await?;
    let context = context(&mut tx, participant_id, season, &zone, entry.day, None, now).await?;
    entry.check(&context).map_err(ManualError::Refused)?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO manual_activities
             (participant_id, day, kind, minutes, intensity, device_worn, entered_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(participant_id)
    .bind(entry.day)
    .bind(entry.kind.as_str())
    .bind(entry.minutes)
    .bind(entry.intensity.as_str())
    .bind(entry.device_worn)
    .bind(entered_by.as_stored())
    .fetch_one(&mut *tx)
    .await?;
    announce(&mut tx, events_to, participant_id, &zone, &[entry.day], entered_by).await?;
    tx.commit().await?;
    metrics::counter!("fitex_manual_entries_total", "change" => "added").increment(1);
    Ok(id)
}

/// Replaces entry `id` of the participant's with `entry`.
#[allow(clippy::too_many_arguments, reason = "each is one thing the change needs")]
pub async fn change(
    pool: &PgPool,
    events_to: ActivityOutbox<'_>,
    participant_id: i64,
    id: i64,
    season: &SeasonWindow,
    entry: &ManualEntry,
    entered_by: &EnteredBy,
    now: DateTime<Utc>,
) -> Result<(), ManualError> {
    let mut tx = pool.begin().await?;
    let zone = lock_participant(&mut tx, participant_id).await?;
    let old = own_entry_in(&mut tx, participant_id, id, season).await?;
    let context = context(&mut tx, participant_id, season, &zone, entry.day, Some(id), now).await?;
    entry.check(&context).map_err(ManualError::Refused)?;
    sqlx::query(
        "UPDATE manual_activities
         SET day = $3, kind = $4, minutes = $5, intensity = $6, device_worn = $7, entered_by = $8,
             updated_at = now()
         WHERE id = $1 AND participant_id = $2",
    )
    .bind(id)
    .bind(participant_id)
    .bind(entry.day)
    .bind(entry.kind.as_str())
    .bind(entry.minutes)
    .bind(entry.intensity.as_str())
    .bind(entry.device_worn)
    .bind(entered_by.as_stored())
    .execute(&mut *tx)
    .await?;
    let mut days = vec![old, entry.day];
    days.dedup();
    announce(&mut tx, events_to, participant_id, &zone, &days, entered_by).await?;
    tx.commit().await?;
    metrics::counter!("fitex_manual_entries_total", "change" => "changed").increment(1);
    Ok(())
}

/// Deletes entry `id` of the participant's.
pub async fn delete(
    pool: &PgPool,
    events_to: ActivityOutbox<'_>,
    participant_id: i64,
    id: i64,
    season: &SeasonWindow,
    entered_by: &EnteredBy,
    now: DateTime<Utc>,
) -> Result<(), ManualError> {
    let mut tx = pool.begin().await?;
    let zone = lock_participant(&mut tx, participant_id).await?;
    let old = own_entry_in(&mut tx, participant_id, id, season).await?;
    let context = context(&mut tx, participant_id, season, &zone, old, Some(id), now).await?;
    may_change(&context).map_err(|problem| ManualError::Refused(vec![problem]))?;
    sqlx::query("DELETE FROM manual_activities WHERE id = $1 AND participant_id = $2")
        .bind(id)
        .bind(participant_id)
        .execute(&mut *tx)
        .await?;
    announce(&mut tx, events_to, participant_id, &zone, &[old], entered_by).await?;
    tx.commit().await?;
    metrics::counter!("fitex_manual_entries_total", "change" => "deleted").increment(1);
    Ok(())
}

/// Locks the participant's row for the rest of `tx` (so two entries of one day cannot both pass
/// the 24-hour check) and returns their time zone. A deleted participant has no entries to change.
async fn lock_participant(
    tx: &mut Transaction<'_, Postgres>,
    participant_id: i64,
) -> Result<ParticipantZone, ManualError> {
    let zone: Option<ParticipantZone> = sqlx::query_scalar(
        "SELECT time_zone FROM participants WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
    )
    .bind(participant_id)
    .fetch_optional(&mut **tx)
    .await?;
    zone.ok_or(ManualError::NotFound)
}

/// Entry `id`'s date, when the entry is the participant's and dated within `season`.
async fn own_entry_in(
    tx: &mut Transaction<'_, Postgres>,
    participant_id: i64,
    id: i64,
    season: &SeasonWindow,
) -> Result<NaiveDate, ManualError> {
    let day: Option<NaiveDate> = sqlx::query_scalar(
        "SELECT day FROM manual_activities WHERE id = $1 AND participant_id = $2",
    )
    .bind(id)
    .bind(participant_id)
    .fetch_optional(&mut **tx)
    .await?;
    match day {
        Some(day) if season.contains(day) => Ok(day),
        _ => Err(ManualError::NotFound),
    }
}

/// What an entry for `day` is checked against: the season, the participant's today, and the
/// minutes their other entries of that day already hold (`except` the one being changed).
async fn context(
    tx: &mut Transaction<'_, Postgres>,
    participant_id: i64,
    season: &SeasonWindow,
    zone: &ParticipantZone,
    day: NaiveDate,
    except: Option<i64>,
    now: DateTime<Utc>,
) -> Result<EntryContext, sqlx::Error> {
    let other: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(minutes), 0)::int8 FROM manual_activities
         WHERE participant_id = $1 AND day = $2 AND id IS DISTINCT FROM $3",
    )
    .bind(participant_id)
    .bind(day)
    .bind(except)
    .fetch_one(&mut **tx)
    .await?;
    Ok(EntryContext {
        season_start: season.start,
        season_last_day: season.last_day,
        today: zone.today(now),
        now,
        grace_deadline: season.grace_deadline,
        other_minutes_that_day: i32::try_from(other).unwrap_or(i32::MAX),
    })
}

/// A day as an activity event tells it: the provider's numbers (none: no data) and the minutes
/// logged by hand.
#[derive(sqlx::FromRow)]
struct AnnouncedDay {
    day: NaiveDate,
    steps: Option<i32>,
    distance_km: Option<f64>,
    sedentary_minutes: Option<i32>,
    lightly_active_minutes: Option<i32>,
    fairly_active_minutes: Option<i32>,
    very_active_minutes: Option<i32>,
    worn_minutes: Option<i32>,
    no_data: bool,
    worn_moderate: i32,
    worn_vigorous: i32,
    unworn_moderate: i32,
    unworn_vigorous: i32,
}

/// Puts an `ActivityDayChanged` for each of `days` into the activity topic's outbox, carrying the
/// day as stored now: the provider's numbers (a day without them as no data) and the logged
/// minutes.
async fn announce(
    tx: &mut Transaction<'_, Postgres>,
    events_to: ActivityOutbox<'_>,
    participant_id: i64,
    zone: &ParticipantZone,
    days: &[NaiveDate],
    entered_by: &EnteredBy,
) -> Result<(), sqlx::Error> {
    let stored: Vec<AnnouncedDay> = sqlx::query_as(
        "SELECT d.day, a.steps, a.distance_km, a.sedentary_minutes, a.lightly_active_minutes,
                a.fairly_active_minutes, a.very_active_minutes, a.worn_minutes,
                coalesce(a.no_data, true) AS no_data,
                coalesce(sum(m.minutes) FILTER (WHERE m.device_worn AND m.intensity = 'moderate'),
                         0)::int4 AS worn_moderate,
                coalesce(sum(m.minutes) FILTER (WHERE m.device_worn AND m.intensity = 'vigorous'),
                         0)::int4 AS worn_vigorous,
                coalesce(sum(m.minutes)
                         FILTER (WHERE NOT m.device_worn AND m.intensity = 'moderate'),
                         0)::int4 AS unworn_moderate,
                coalesce(sum(m.minutes)
                         FILTER (WHERE NOT m.device_worn AND m.intensity = 'vigorous'),
                         0)::int4 AS unworn_vigorous
         FROM unnest($2::date[]) AS d (day)
         LEFT JOIN activity_days a ON a.participant_id = $1 AND a.day = d.day
         LEFT JOIN manual_activities m ON m.participant_id = $1 AND m.day = d.day
         GROUP BY d.day, a.participant_id, a.day ORDER BY d.day",
    )
    .bind(participant_id)
    .bind(days)
    .fetch_all(&mut **tx)
    .await?;
    let fetched_at = Utc::now();
    let events: Vec<OutgoingRecord> = stored
        .iter()
        .map(|day| {
            let event_id = Uuid::now_v7();
            let span = events_to.trace.child();
            let event = ActivityDayChanged {
                event_id: event_id.to_string(),
                participant_id,
                date: day.day.format("%Y-%m-%d").to_string(),
                time_zone: zone.to_string(),
                steps: day.steps.unwrap_or(0),
                distance_km: day.distance_km.unwrap_or(0.0),
                sedentary_minutes: day.sedentary_minutes.unwrap_or(0),
                lightly_active_minutes: day.lightly_active_minutes.unwrap_or(0),
                fairly_active_minutes: day.fairly_active_minutes.unwrap_or(0),
                very_active_minutes: day.very_active_minutes.unwrap_or(0),
                worn_minutes: day.worn_minutes,
                no_data: day.no_data,
                fetched_at: Some(std::time::SystemTime::from(fetched_at).into()),
                trace_context: Some(span.to_proto()),
                source: DataSource::Manual as i32,
                entered_by: entered_by.as_stored(),
                manual: Some(ManualActivity {
                    worn_moderate_minutes: day.worn_moderate,
                    worn_vigorous_minutes: day.worn_vigorous,
                    unworn_moderate_minutes: day.unworn_moderate,
                    unworn_vigorous_minutes: day.unworn_vigorous,
                }),
                ..ActivityDayChanged::default()
            };
            OutgoingRecord::event(
                events_to.topic,
                participant_id.to_string(),
                event_id,
                event.encode_to_vec(),
                content_type::ACTIVITY_DAY_CHANGED,
                &span,
            )
        })
        .collect();
    let refs: Vec<&OutgoingRecord> = events.iter().collect();
    outbox::insert_in(tx, outbox::ACTIVITY_SOURCE, &refs).await
}
