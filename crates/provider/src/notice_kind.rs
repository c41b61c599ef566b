//! What a change notice announces, as a provider's verifier classified it: below both the provider
//! ids (which classify legacy records) and the webhook verifiers (which classify live notices).

/// What a change notice announces, as the provider's verifier classified it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    /// The user's activity changed on the notice's date. A notice of this kind without a readable
    /// date is malformed: it cannot be acted on.
    ActivityDayChanged,
    /// The user's activity changed on days the provider did not name: their latest days.
    RecentActivityChanged,
    /// The user revoked our access at the provider.
    AccessRevoked,
    /// The user deleted their account at the provider.
    UserDeleted,
    /// A collection or data type the pipeline does not use (sleep, food, weight, ...).
    Other,
}

/// An event's `change_kind` value this build does not know (written by a newer subscriber).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a notification of a kind this version does not know (change_kind {0})")]
pub struct UnknownNoticeKind(pub i32);

impl NoticeKind {
    /// The value events carry (`fitex.v1.ChangeKind`).
    pub fn to_proto(self) -> fitex_proto::ChangeKind {
        match self {
            NoticeKind::ActivityDayChanged => fitex_proto::ChangeKind::ActivityDayChanged,
            NoticeKind::RecentActivityChanged => fitex_proto::ChangeKind::RecentActivityChanged,
            NoticeKind::AccessRevoked => fitex_proto::ChangeKind::AccessRevoked,
            NoticeKind::UserDeleted => fitex_proto::ChangeKind::UserDeleted,
            NoticeKind::Other => fitex_proto::ChangeKind::Other,
        }
    }

    /// The kind an event's `change_kind` names; `Ok(None)` for a record written before notices
    /// carried one (see [`crate::ProviderId::classify_legacy`]).
    pub fn from_proto(value: i32) -> Result<Option<Self>, UnknownNoticeKind> {
        let kind = match fitex_proto::ChangeKind::try_from(value) {
            Ok(fitex_proto::ChangeKind::Unspecified) => return Ok(None),
            Ok(fitex_proto::ChangeKind::ActivityDayChanged) => NoticeKind::ActivityDayChanged,
            Ok(fitex_proto::ChangeKind::RecentActivityChanged) => NoticeKind::RecentActivityChanged,
            Ok(fitex_proto::ChangeKind::AccessRevoked) => NoticeKind::AccessRevoked,
            Ok(fitex_proto::ChangeKind::UserDeleted) => NoticeKind::UserDeleted,
            Ok(fitex_proto::ChangeKind::Other) => NoticeKind::Other,
            Err(_) => return Err(UnknownNoticeKind(value)),
        };
        Ok(Some(kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [NoticeKind; 5] = [
        NoticeKind::ActivityDayChanged,
        NoticeKind::RecentActivityChanged,
        NoticeKind::AccessRevoked,
        NoticeKind::UserDeleted,
        NoticeKind::Other,
    ];

    #[test]
    fn notice_kinds_round_trip_through_events() {
        for kind in ALL {
            assert_eq!(NoticeKind::from_proto(kind.to_proto() as i32), Ok(Some(kind)));
        }
    }

    #[test]
    fn a_record_without_a_kind_is_legacy_and_an_unknown_kind_is_an_error() {
        assert_eq!(NoticeKind::from_proto(0), Ok(None));
        assert_eq!(NoticeKind::from_proto(99), Err(UnknownNoticeKind(99)));
    }
}
