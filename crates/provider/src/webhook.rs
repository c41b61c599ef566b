//! The webhook half of the seam: a provider's verifier proves a call came from the provider, reads
//! the changes it announces and says what each one means ([`NoticeKind`]), so that nothing past
//! the verifier needs a provider's collection or data type names.

use chrono::NaiveDate;

use crate::id::ProviderId;
use crate::notice_kind::NoticeKind;

/// One change a provider's webhook announced, as the subscriber publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeNotice {
    /// What the change means to the pipeline.
    pub kind: NoticeKind,
    /// The provider's collection or data type ("activities", "userRevokedAccess", "steps", ...),
    /// kept as sent.
    pub collection_type: String,
    /// The provider's user id: the Kafka key.
    pub owner_id: String,
    pub owner_type: String,
    /// The user's civil date, when the provider names one.
    pub date: Option<NaiveDate>,
    pub subscription_id: String,
    /// "UPSERT"/"DELETE" where the provider has operations; empty otherwise.
    pub operation: String,
}

/// Why a call is not proven to come from the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Unproven {
    #[error("no signature")]
    SignatureMissing,
    #[error("a signature header that is not a signature")]
    SignatureMalformed,
    /// A shared-secret signature (HMAC) that no configured secret produces.
    #[error("the signature matches no configured secret")]
    SignatureMismatch,
    /// A public-key signature that does not verify under the key it names.
    #[error("the signature does not verify")]
    SignatureInvalid,
    /// The signature names a key the provider does not (or no longer) publish.
    #[error("the signature names an unknown key")]
    UnknownKeyId,
    /// A call that must carry the shared `Authorization` secret came without it.
    #[error("no authorization")]
    AuthorizationMissing,
    /// An `Authorization` header that is none of the configured secrets.
    #[error("the authorization matches no configured secret")]
    AuthorizationMismatch,
    /// The provider's public keys could not be fetched: the call cannot be judged now.
    #[error("the provider's signing keys are unavailable; retry later")]
    KeysUnavailable,
}

impl Unproven {
    /// A short label for metrics and logs (`fitex_subscriber_requests_rejected_total{reason}`).
    pub fn label(self) -> &'static str {
        match self {
            Unproven::SignatureMissing => "signature_missing",
            Unproven::SignatureMalformed => "signature_malformed",
            Unproven::SignatureMismatch => "signature_mismatch",
            Unproven::SignatureInvalid => "signature_invalid",
            Unproven::UnknownKeyId => "unknown_key_id",
            Unproven::AuthorizationMissing => "authorization_missing",
            Unproven::AuthorizationMismatch => "authorization_mismatch",
            Unproven::KeysUnavailable => "keyset_unavailable",
        }
    }
}

/// How a provider's webhook contract has an unproven call answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// As if nothing were there (HTTP 404), so a forger learns nothing.
    NotFound,
    /// No credentials were presented (HTTP 401).
    Unauthenticated,
    /// Credentials were presented that do not prove the sender (HTTP 403).
    Forbidden,
    /// The call cannot be judged now, through no fault of the sender (HTTP 503 with
    /// `Retry-After`): the provider delivers again later.
    RetryLater,
}

/// Why a webhook call was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum WebhookRejection {
    /// The call is not proven to come from the provider.
    #[error("not proven to come from the provider: {0}")]
    Unproven(Unproven),
    /// Proven, but not a notification body we understand.
    #[error("{0}")]
    InvalidBody(String),
}

/// The webhook half of the seam: prove a call came from the provider, over the exact bytes
/// received, and read (and classify) the changes it announces.
#[async_trait::async_trait]
pub trait WebhookVerifier: Send + Sync {
    /// Whose webhook this is.
    fn provider(&self) -> ProviderId;

    /// `header` looks a request header up by (case-insensitive) name.
    async fn verify_and_parse(
        &self,
        header: &(dyn Fn(&str) -> Option<Vec<u8>> + Send + Sync),
        body: &[u8],
    ) -> Result<Vec<ChangeNotice>, WebhookRejection>;

    /// How the provider expects a call that is not proven to come from it to be answered.
    fn refusal(&self, why: Unproven) -> Refusal;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_distinct() {
        let all = [
            Unproven::SignatureMissing,
            Unproven::SignatureMalformed,
            Unproven::SignatureMismatch,
            Unproven::SignatureInvalid,
            Unproven::UnknownKeyId,
            Unproven::AuthorizationMissing,
            Unproven::AuthorizationMismatch,
            Unproven::KeysUnavailable,
        ];
        let labels: std::collections::BTreeSet<_> = all.iter().map(|u| u.label()).collect();
        assert_eq!(labels.len(), all.len());
    }
}
