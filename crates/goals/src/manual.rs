//! Activity a wearable does not count, logged by hand: the kinds a participant can choose, the
//! checks an entry must pass, and a day's entries as they count in FitEx miles
//! ([`crate::fitex_miles`]; the rule and its sources are in docs/goals.md, "Manual activity").
//!
//! Entries are kept apart from what a provider reports. They never feed a step baseline or an
//! adaptive step goal: the goal engine reads only a day's measured steps.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The most minutes a day holds, and so the most one entry, or a day's entries together, can log.
pub const MINUTES_PER_DAY: i32 = 1440;

/// What kind of activity an entry is. The list is what FitEx counts beside walking (UW Extension
/// 2020: "any 15-minute bout of moderate physical activity"); walking and running are left out on
/// purpose, since the tracker counts them as steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    Swimming,
    Cycling,
    FitnessClass,
    YardWork,
    Dancing,
    StrengthTraining,
    YogaOrPilates,
    TeamSports,
    Other,
}

impl ActivityKind {
    /// Every kind, in the order a form lists them.
    pub const ALL: [ActivityKind; 9] = [
        ActivityKind::Swimming,
        ActivityKind::Cycling,
        ActivityKind::FitnessClass,
        ActivityKind::YardWork,
        ActivityKind::Dancing,
        ActivityKind::StrengthTraining,
        ActivityKind::YogaOrPilates,
        ActivityKind::TeamSports,
        ActivityKind::Other,
    ];

    /// The stored and submitted name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityKind::Swimming => "swimming",
            ActivityKind::Cycling => "cycling",
            ActivityKind::FitnessClass => "fitness_class",
            ActivityKind::YardWork => "yard_work",
            ActivityKind::Dancing => "dancing",
            ActivityKind::StrengthTraining => "strength_training",
            ActivityKind::YogaOrPilates => "yoga_or_pilates",
            ActivityKind::TeamSports => "team_sports",
            ActivityKind::Other => "other",
        }
    }

    /// What a person reads.
    pub fn label(self) -> &'static str {
        match self {
            ActivityKind::Swimming => "Swimming",
            ActivityKind::Cycling => "Cycling",
            ActivityKind::FitnessClass => "Fitness class",
            ActivityKind::YardWork => "Yard work or gardening",
            ActivityKind::Dancing => "Dancing",
            ActivityKind::StrengthTraining => "Strength training",
            ActivityKind::YogaOrPilates => "Yoga or Pilates",
            ActivityKind::TeamSports => "Team sports",
            ActivityKind::Other => "Other moderate activity",
        }
    }
}

impl FromStr for ActivityKind {
    type Err = EntryProblem;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == s).ok_or(EntryProblem::UnknownKind)
    }
}

impl fmt::Display for ActivityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How hard the activity was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intensity {
    /// Breathing faster, still able to talk.
    Moderate,
    /// Breathing hard, only a few words at a time.
    Vigorous,
}

impl Intensity {
    pub const ALL: [Intensity; 2] = [Intensity::Moderate, Intensity::Vigorous];

    pub fn as_str(self) -> &'static str {
        match self {
            Intensity::Moderate => "moderate",
            Intensity::Vigorous => "vigorous",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Intensity::Moderate => "Moderate",
            Intensity::Vigorous => "Vigorous",
        }
    }
}

impl FromStr for Intensity {
    type Err = EntryProblem;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|i| i.as_str() == s).ok_or(EntryProblem::UnknownIntensity)
    }
}

/// One logged activity, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualEntry {
    pub day: NaiveDate,
    pub kind: ActivityKind,
    pub minutes: i32,
    pub intensity: Intensity,
    /// Their tracker was worn during it (so it may already count some of these minutes).
    pub device_worn: bool,
}

/// An entry as a form submits it: text, not yet trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct EntryForm {
    #[serde(default)]
    pub day: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub minutes: String,
    #[serde(default)]
    pub intensity: String,
    /// "yes" or "no"; absent when neither was chosen.
    #[serde(default)]
    pub device_worn: Option<String>,
}

/// Why an entry cannot be stored, in words for the person who typed it. Each names the form
/// field it is about ([`EntryProblem::field`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryProblem {
    #[error("Enter the date as a calendar day, for example 2026-03-14.")]
    UnreadableDay,
    #[error("Choose a kind of activity from the list.")]
    UnknownKind,
    #[error("Enter the minutes as a whole number, for example 30.")]
    UnreadableMinutes,
    #[error("Enter more than 0 minutes.")]
    NoMinutes,
    #[error("One entry can be at most 1,440 minutes: the whole of a day.")]
    MoreThanADay,
    #[error("Choose moderate or vigorous.")]
    UnknownIntensity,
    #[error("Tell us whether you wore your tracker during it.")]
    DeviceWornUnanswered,
    #[error("Choose a day of the season: from {} to {}.", long(.start), long(.last_day))]
    OutsideSeason { start: NaiveDate, last_day: NaiveDate },
    #[error("{} has not happened yet. Choose today or an earlier day.", long(.day))]
    InTheFuture { day: NaiveDate },
    #[error(
        "{} already has {already} minutes logged. With these {minutes} it would pass 24 hours \
         (1,440 minutes).",
        long(.day)
    )]
    DayOverfull { day: NaiveDate, already: i32, minutes: i32 },
    #[error(
        "The season's results were settled on {}. Entries can no longer be added, changed or \
         deleted.",
        .deadline.format("%-d %B %Y")
    )]
    SeasonSettled { deadline: DateTime<Utc> },
}

/// "14 March 2026".
fn long(day: &NaiveDate) -> String {
    day.format("%-d %B %Y").to_string()
}

impl EntryProblem {
    /// The form field the problem is about (the whole form for the season's deadline).
    pub fn field(&self) -> &'static str {
        match self {
            EntryProblem::UnreadableDay
            | EntryProblem::OutsideSeason { .. }
            | EntryProblem::InTheFuture { .. } => "day",
            EntryProblem::UnknownKind => "kind",
            EntryProblem::UnreadableMinutes
            | EntryProblem::NoMinutes
            | EntryProblem::MoreThanADay
            | EntryProblem::DayOverfull { .. } => "minutes",
            EntryProblem::UnknownIntensity => "intensity",
            EntryProblem::DeviceWornUnanswered => "device_worn",
            EntryProblem::SeasonSettled { .. } => "form",
        }
    }
}

impl EntryForm {
    /// Parses every field, reporting every field's problem at once (a form shows them all).
    pub fn parse(&self) -> Result<ManualEntry, Vec<EntryProblem>> {
        let mut problems = Vec::new();
        let day = NaiveDate::parse_from_str(self.day.trim(), "%Y-%m-%d")
            .map_err(|_| problems.push(EntryProblem::UnreadableDay))
            .ok();
        let kind = self.kind.trim().parse::<ActivityKind>().map_err(|p| problems.push(p)).ok();
        let minutes = match self.minutes.trim().parse::<i64>() {
            Ok(m) if m <= 0 => Err(EntryProblem::NoMinutes),
            Ok(m) if m > i64::from(MINUTES_PER_DAY) => Err(EntryProblem::MoreThanADay),
            Ok(m) => Ok(m as i32),
            Err(_) => Err(EntryProblem::UnreadableMinutes),
        }
        .map_err(|p| problems.push(p))
        .ok();
        let intensity =
            self.intensity.trim().parse::<Intensity>().map_err(|p| problems.push(p)).ok();
        let device_worn = match self.device_worn.as_deref().map(str::trim) {
            Some("yes") => Some(true),
            Some("no") => Some(false),
            _ => {
                problems.push(EntryProblem::DeviceWornUnanswered);
                None
            }
        };
        match (day, kind, minutes, intensity, device_worn) {
            (Some(day), Some(kind), Some(minutes), Some(intensity), Some(device_worn))
                if problems.is_empty() =>
            {
                Ok(ManualEntry { day, kind, minutes, intensity, device_worn })
            }
            _ => Err(problems),
        }
    }
}

/// What an entry is checked against when it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryContext {
    /// The season's first and last day.
    pub season_start: NaiveDate,
    pub season_last_day: NaiveDate,
    /// The participant's today, in their time zone.
    pub today: NaiveDate,
    pub now: DateTime<Utc>,
    /// The end of the season's grace period ([`crate::Program::grace_deadline`]).
    pub grace_deadline: DateTime<Utc>,
    /// Minutes already logged on the entry's day, apart from the entry itself when it is edited.
    pub other_minutes_that_day: i32,
}

impl ManualEntry {
    /// The entry may be stored as it is (a new one, or an edit) in `context`. An entry that is
    /// deleted is checked with [`may_change`] alone.
    pub fn check(&self, context: &EntryContext) -> Result<(), Vec<EntryProblem>> {
        may_change(context).map_err(|p| vec![p])?;
        let mut problems = Vec::new();
        if self.day < context.season_start || self.day > context.season_last_day {
            problems.push(EntryProblem::OutsideSeason {
                start: context.season_start,
                last_day: context.season_last_day,
            });
        } else if self.day > context.today {
            problems.push(EntryProblem::InTheFuture { day: self.day });
        }
        if context.other_minutes_that_day.saturating_add(self.minutes) > MINUTES_PER_DAY {
            problems.push(EntryProblem::DayOverfull {
                day: self.day,
                already: context.other_minutes_that_day,
                minutes: self.minutes,
            });
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// Entries of a season can be added, changed or deleted until its grace deadline, not after.
pub fn may_change(context: &EntryContext) -> Result<(), EntryProblem> {
    if context.now >= context.grace_deadline {
        Err(EntryProblem::SeasonSettled { deadline: context.grace_deadline })
    } else {
        Ok(())
    }
}

/// A day's logged minutes, by whether the tracker was worn and by intensity. What
/// [`crate::fitex_miles`] counts beside the device's own numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ManualMinutes {
    pub worn_moderate: i32,
    pub worn_vigorous: i32,
    pub unworn_moderate: i32,
    pub unworn_vigorous: i32,
}

impl ManualMinutes {
    /// The day's minutes with `entry` added.
    pub fn with(mut self, entry: &ManualEntry) -> Self {
        let slot = match (entry.device_worn, entry.intensity) {
            (true, Intensity::Moderate) => &mut self.worn_moderate,
            (true, Intensity::Vigorous) => &mut self.worn_vigorous,
            (false, Intensity::Moderate) => &mut self.unworn_moderate,
            (false, Intensity::Vigorous) => &mut self.unworn_vigorous,
        };
        *slot = slot.saturating_add(entry.minutes);
        self
    }

    /// Nothing was logged.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// All logged minutes, as entered.
    pub fn total(&self) -> i32 {
        self.worn_moderate
            .saturating_add(self.worn_vigorous)
            .saturating_add(self.unworn_moderate)
            .saturating_add(self.unworn_vigorous)
    }

    /// Moderate-equivalent minutes logged while the tracker was worn and while it was not: a
    /// vigorous minute counts `vigorous_weight` moderate ones.
    pub fn moderate_equivalent(&self, vigorous_weight: f64) -> (f64, f64) {
        let equivalent = |moderate: i32, vigorous: i32| {
            f64::from(moderate.max(0)) + vigorous_weight * f64::from(vigorous.max(0))
        };
        (
            equivalent(self.worn_moderate, self.worn_vigorous),
            equivalent(self.unworn_moderate, self.unworn_vigorous),
        )
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn form(
        day: &str,
        kind: &str,
        minutes: &str,
        intensity: &str,
        worn: Option<&str>,
    ) -> EntryForm {
        EntryForm {
            day: day.into(),
            kind: kind.into(),
            minutes: minutes.into(),
            intensity: intensity.into(),
            device_worn: worn.map(Into::into),
        }
    }

    fn context(other_minutes_that_day: i32) -> EntryContext {
        EntryContext {
            season_start: date("2026-03-02"),
            season_last_day: date("2026-04-26"),
            today: date("2026-03-20"),
            now: Utc.with_ymd_and_hms(2026, 3, 20, 15, 0, 0).unwrap(),
            grace_deadline: Utc.with_ymd_and_hms(2026, 4, 30, 12, 0, 0).unwrap(),
            other_minutes_that_day,
        }
    }

    fn swim(day: &str, minutes: i32) -> ManualEntry {
        ManualEntry {
            day: date(day),
            kind: ActivityKind::Swimming,
            minutes,
            intensity: Intensity::Moderate,
            device_worn: false,
        }
    }

    #[test]
    fn a_good_form_parses_and_every_bad_field_is_reported_at_once() {
        let good = form(" 2026-03-14 ", "swimming", " 45 ", "vigorous", Some("no"));
        assert_eq!(
            good.parse(),
            Ok(ManualEntry {
                day: date("2026-03-14"),
                kind: ActivityKind::Swimming,
                minutes: 45,
                intensity: Intensity::Vigorous,
                device_worn: false
            })
        );
        let bad = form("14/03/2026", "skydiving", "a lot", "gentle", None);
        let fields: Vec<&str> = bad.parse().unwrap_err().iter().map(EntryProblem::field).collect();
        assert_eq!(fields, ["day", "kind", "minutes", "intensity", "device_worn"]);
    }

    #[test]
    fn minutes_must_be_above_zero_and_at_most_a_day() {
        let minutes = |m: &str| form("2026-03-14", "cycling", m, "moderate", Some("yes")).parse();
        assert_eq!(minutes("0"), Err(vec![EntryProblem::NoMinutes]));
        assert_eq!(minutes("-5"), Err(vec![EntryProblem::NoMinutes]));
        assert_eq!(minutes("1441"), Err(vec![EntryProblem::MoreThanADay]));
        assert_eq!(minutes("99999999999999"), Err(vec![EntryProblem::MoreThanADay]));
        assert_eq!(minutes("1.5"), Err(vec![EntryProblem::UnreadableMinutes]));
        assert_eq!(minutes("1440").map(|e| e.minutes), Ok(1440));
        assert_eq!(minutes("1").map(|e| e.minutes), Ok(1));
    }

    #[test]
    fn every_kind_and_intensity_reads_back_from_its_name() {
        for kind in ActivityKind::ALL {
            assert_eq!(kind.as_str().parse::<ActivityKind>(), Ok(kind));
        }
        for intensity in Intensity::ALL {
            assert_eq!(intensity.as_str().parse::<Intensity>(), Ok(intensity));
        }
        assert_eq!("Swimming".parse::<ActivityKind>(), Err(EntryProblem::UnknownKind));
    }

    #[test]
    fn the_day_must_be_in_the_season_and_not_in_the_future() {
        let ctx = context(0);
        assert_eq!(swim("2026-03-02", 30).check(&ctx), Ok(()), "the first day");
        assert_eq!(swim("2026-03-20", 30).check(&ctx), Ok(()), "today");
        assert_eq!(
            swim("2026-03-01", 30).check(&ctx),
            Err(vec![EntryProblem::OutsideSeason {
                start: date("2026-03-02"),
                last_day: date("2026-04-26")
            }])
        );
        assert_eq!(swim("2026-04-27", 30).check(&ctx).unwrap_err()[0].field(), "day");
        assert_eq!(
            swim("2026-03-21", 30).check(&ctx),
            Err(vec![EntryProblem::InTheFuture { day: date("2026-03-21") }])
        );
    }

    #[test]
    fn a_days_entries_together_cannot_pass_24_hours() {
        assert_eq!(swim("2026-03-14", 40).check(&context(1400)), Ok(()), "exactly 1,440");
        let problems = swim("2026-03-14", 41).check(&context(1400)).unwrap_err();
        assert_eq!(
            problems,
            vec![EntryProblem::DayOverfull { day: date("2026-03-14"), already: 1400, minutes: 41 }]
        );
        assert!(problems[0].to_string().contains("already has 1400 minutes"), "{}", problems[0]);
    }

    #[test]
    fn nothing_changes_after_the_grace_deadline() {
        let mut ctx = context(0);
        ctx.now = ctx.grace_deadline - chrono::Duration::seconds(1);
        assert_eq!(swim("2026-03-14", 30).check(&ctx), Ok(()));
        assert_eq!(may_change(&ctx), Ok(()));
        ctx.now = ctx.grace_deadline;
        let settled = EntryProblem::SeasonSettled { deadline: ctx.grace_deadline };
        assert_eq!(swim("2026-03-14", 30).check(&ctx), Err(vec![settled.clone()]));
        assert_eq!(may_change(&ctx), Err(settled.clone()));
        assert_eq!(settled.field(), "form");
        assert!(settled.to_string().contains("30 April 2026"), "{settled}");
    }

    #[test]
    fn a_days_minutes_add_up_by_wear_and_intensity() {
        let worn_vigorous = ManualEntry {
            intensity: Intensity::Vigorous,
            device_worn: true,
            ..swim("2026-03-14", 20)
        };
        let day = ManualMinutes::default().with(&swim("2026-03-14", 30)).with(&worn_vigorous);
        assert_eq!(
            day,
            ManualMinutes {
                worn_moderate: 0,
                worn_vigorous: 20,
                unworn_moderate: 30,
                unworn_vigorous: 0
            }
        );
        assert_eq!(day.total(), 50);
        assert!(!day.is_empty() && ManualMinutes::default().is_empty());
        assert_eq!(day.moderate_equivalent(1.0), (20.0, 30.0));
        assert_eq!(day.moderate_equivalent(2.0), (40.0, 30.0));
    }
}
