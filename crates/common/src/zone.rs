//! A participant's time zone: parsed once, where it enters (a provider's profile, a form), and
//! carried as a [`ParticipantZone`] from there on, so no reader re-parses a name and falls back
//! to UTC on its own. A name that is not an IANA zone is refused at the edge ([`UnknownZone`]);
//! what then happens is the caller's stated decision.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};

/// An IANA time zone, as stored in `participants.time_zone`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParticipantZone(Tz);

/// A zone name this build's IANA database does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a known IANA time zone")]
pub struct UnknownZone(pub String);

impl ParticipantZone {
    /// UTC: the zone of a participant whose provider never told us theirs.
    pub const UTC: ParticipantZone = ParticipantZone(Tz::UTC);

    /// The zone's IANA name, e.g. `America/New_York`.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    pub fn tz(&self) -> Tz {
        self.0
    }

    /// The participant's local date at `now`.
    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        self.local(now).date_naive()
    }

    /// `at` on the participant's clock.
    pub fn local(&self, at: DateTime<Utc>) -> DateTime<Tz> {
        at.with_timezone(&self.0)
    }
}

impl FromStr for ParticipantZone {
    type Err = UnknownZone;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        name.trim().parse::<Tz>().map(ParticipantZone).map_err(|_| UnknownZone(name.to_owned()))
    }
}

/// Compares the zone's IANA name, as stored and as read in tests and logs.
impl PartialEq<&str> for ParticipantZone {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

impl fmt::Display for ParticipantZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Type<Postgres> for ParticipantZone {
    fn type_info() -> PgTypeInfo {
        <String as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <String as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for ParticipantZone {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <&str as Encode<Postgres>>::encode(self.name(), buf)
    }
}

/// A stored name that is not a zone is an error to read, never taken for UTC: every write goes
/// through [`ParticipantZone`], and the migration that introduced it replaced unknown names.
impl<'r> Decode<'r, Postgres> for ParticipantZone {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let name = <&str as Decode<Postgres>>::decode(value)?;
        Ok(name.parse::<ParticipantZone>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn today_is_the_participants_local_date() {
        // 03:00 UTC on the 25th is still the 24th in New York.
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 3, 0, 0).unwrap();
        let new_york: ParticipantZone = "America/New_York".parse().unwrap();
        assert_eq!(new_york.today(now).to_string(), "2026-11-24");
        assert_eq!(ParticipantZone::UTC.today(now).to_string(), "2026-11-25");
        assert_eq!(new_york.name(), "America/New_York");
        assert_eq!(new_york.to_string(), "America/New_York");
    }

    #[test]
    fn an_unknown_name_is_refused_with_the_name() {
        let error = "Mars/Olympus_Mons".parse::<ParticipantZone>().unwrap_err();
        assert_eq!(error, UnknownZone("Mars/Olympus_Mons".into()));
        assert!(error.to_string().contains("Mars/Olympus_Mons"));
        assert!("".parse::<ParticipantZone>().is_err());
        assert_eq!(" Europe/Paris ".parse::<ParticipantZone>().unwrap().name(), "Europe/Paris");
    }
}
