//! A connection's states as stored (`sync_status`, `token_kind`), and the plain words shown to a
//! participant whose access the provider refused.

use fitex_provider::{ProviderId, TokenProblem};

/// Sync status shown to participants and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStatus {
    Active,
    /// The provider refused our access (expired, revoked, missing scope): the participant must
    /// reconnect; nothing is fetched until then, and missed days are fetched afterwards.
    ReconnectRequired,
    /// The participant revoked access at the provider.
    Disconnected,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Active => "active",
            SyncStatus::ReconnectRequired => "reconnect_required",
            SyncStatus::Disconnected => "disconnected",
        }
    }

    /// The stored text's status; anything unknown counts as active (as it always has).
    pub(crate) fn parse(text: &str) -> Self {
        match text {
            "reconnect_required" => SyncStatus::ReconnectRequired,
            "disconnected" => SyncStatus::Disconnected,
            _ => SyncStatus::Active,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Authorization code + PKCE: a refresh token keeps access alive.
    AuthorizationCode,
    /// A long-lived token the participant pasted (implicit grant): it cannot be refreshed.
    Implicit,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::AuthorizationCode => "authorization_code",
            TokenKind::Implicit => "implicit",
        }
    }

    /// The stored text's kind; `None` for no token (or a kind this build does not know).
    pub(crate) fn parse(text: Option<&str>) -> Option<Self> {
        match text {
            Some("authorization_code") => Some(TokenKind::AuthorizationCode),
            Some("implicit") => Some(TokenKind::Implicit),
            _ => None,
        }
    }
}

/// The plain-language reason and remedy shown to the participant for a refused token.
/// `provider` is a [`ProviderId`] or a stored provider name (one this build does not know is
/// named as stored).
pub fn reconnect_reason(problem: TokenProblem, provider: impl AsRef<str>) -> String {
    let name = ProviderId::display_name_of(provider.as_ref());
    match problem {
        TokenProblem::Expired => format!(
            "Your {name} access has expired. Reconnect your {name} account to resume syncing; \
             the days missed meanwhile are fetched then."
        ),
        TokenProblem::Invalid => format!(
            "Your {name} access has expired or was revoked. Reconnect your {name} account to \
             resume syncing; the days missed meanwhile are fetched then."
        ),
        TokenProblem::MissingScope => format!(
            "Your {name} connection does not allow reading activity. Reconnect and allow \
             \"activity\" access."
        ),
        TokenProblem::PlatformRetired => format!(
            "Google switched off the old {name} connection on 2 November 2026. Connect your \
             {name} account again through Google to resume syncing; your history and goals \
             carry over."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_states_read_back_as_written() {
        for status in [SyncStatus::Active, SyncStatus::ReconnectRequired, SyncStatus::Disconnected]
        {
            assert_eq!(SyncStatus::parse(status.as_str()), status);
        }
        assert_eq!(SyncStatus::parse("something new"), SyncStatus::Active);
        for kind in [TokenKind::AuthorizationCode, TokenKind::Implicit] {
            assert_eq!(TokenKind::parse(Some(kind.as_str())), Some(kind));
        }
        assert_eq!(TokenKind::parse(None), None);
        assert_eq!(TokenKind::parse(Some("device_code")), None);
    }

    #[test]
    fn the_reason_names_the_provider_as_participants_know_it_and_the_remedy() {
        let reason = reconnect_reason(TokenProblem::Invalid, ProviderId::GoogleHealth);
        assert!(
            reason.contains("Your Google Health access has expired or was revoked"),
            "{reason}"
        );
        assert!(reason.contains("Reconnect"), "{reason}");
        let reason = reconnect_reason(TokenProblem::MissingScope, "fitbit");
        assert!(reason.contains("Fitbit connection does not allow reading activity"), "{reason}");
        let unknown = reconnect_reason(TokenProblem::Expired, "garmin");
        assert!(unknown.contains("Your garmin access has expired"), "{unknown}");
    }
}
