//! Fitbit's webhook behind the provider seam: `X-Fitbit-Signature` over the raw body against every
//! configured client secret, then the JSON array of notifications.

use fitex_provider::{
    ChangeNotice, ProviderId, Refusal, Unproven, WebhookRejection, WebhookVerifier,
};
use secrecy::SecretString;

use crate::notification::{notice_kind, parse_notifications};
use crate::signature::verify_signature;

pub struct FitbitWebhook {
    /// Newest first; every one is accepted (rotation without downtime).
    pub client_secrets: Vec<SecretString>,
}

#[async_trait::async_trait]
impl WebhookVerifier for FitbitWebhook {
    fn provider(&self) -> ProviderId {
        ProviderId::Fitbit
    }

    async fn verify_and_parse(
        &self,
        header: &(dyn Fn(&str) -> Option<Vec<u8>> + Send + Sync),
        body: &[u8],
    ) -> Result<Vec<ChangeNotice>, WebhookRejection> {
        let signature = header("X-Fitbit-Signature");
        let check = verify_signature(&self.client_secrets, body, signature.as_deref());
        if let Some(why) = check.unproven() {
            return Err(WebhookRejection::Unproven(why));
        }
        let notifications =
            parse_notifications(body).map_err(|e| WebhookRejection::InvalidBody(e.to_string()))?;
        Ok(notifications
            .into_iter()
            .map(|n| ChangeNotice {
                kind: notice_kind(&n.collection_type),
                collection_type: n.collection_type,
                owner_id: n.owner_id,
                owner_type: n.owner_type.unwrap_or_default(),
                date: n.date,
                subscription_id: n.subscription_id.unwrap_or_default(),
                operation: String::new(),
            })
            .collect())
    }

    /// Fitbit's contract: a notification whose signature does not check out is answered 404, as
    /// if nothing were there.
    fn refusal(&self, _why: Unproven) -> Refusal {
        Refusal::NotFound
    }
}

#[cfg(test)]
mod tests {
    use fitex_provider::NoticeKind;

    use super::*;

    const SECRET: &str = "123ab4567c890d123e4567f8abcdef9a";
    const BODY: &str = r#"[{"collectionType":"activities","date":"2010-03-01","ownerId":"184X36","ownerType":"user","subscriptionId":"2345"}]"#;

    fn verifier() -> FitbitWebhook {
        FitbitWebhook { client_secrets: vec![SecretString::from(SECRET)] }
    }

    #[tokio::test]
    async fn a_signed_body_becomes_change_notices() {
        let header = |name: &str| {
            name.eq_ignore_ascii_case("x-fitbit-signature")
                .then(|| b"e6OUUBQCnrnhuvS7PvLRUOmF0TU=".to_vec())
        };
        let notices = verifier().verify_and_parse(&header, BODY.as_bytes()).await.unwrap();
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].owner_id, "184X36");
        assert_eq!(notices[0].date.unwrap().to_string(), "2010-03-01");
        assert_eq!(notices[0].subscription_id, "2345");
        assert_eq!(notices[0].kind, NoticeKind::ActivityDayChanged);
    }

    #[tokio::test]
    async fn each_notice_is_classified_by_its_collection() {
        let body = br#"[{"collectionType":"activities","date":"2026-11-20","ownerId":"A"},{"collectionType":"activities","ownerId":"B"},{"collectionType":"userRevokedAccess","ownerId":"C"},{"collectionType":"deleteUser","ownerId":"D"},{"collectionType":"sleep","date":"2026-11-20","ownerId":"E"}]"#;
        let signature = crate::sign(SECRET, body);
        let signed = move |_: &str| Some(signature.clone().into_bytes());
        let notices = verifier().verify_and_parse(&signed, body).await.unwrap();
        let kinds: Vec<_> = notices.iter().map(|n| (n.owner_id.as_str(), n.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("A", NoticeKind::ActivityDayChanged),
                // Undated: malformed, but classified as what it claims (the fetcher keeps it).
                ("B", NoticeKind::ActivityDayChanged),
                ("C", NoticeKind::AccessRevoked),
                ("D", NoticeKind::UserDeleted),
                ("E", NoticeKind::Other),
            ]
        );
        assert_eq!(notices[1].date, None);
    }

    #[test]
    fn every_unproven_call_is_answered_as_not_found() {
        for why in
            [Unproven::SignatureMissing, Unproven::SignatureMalformed, Unproven::SignatureMismatch]
        {
            assert_eq!(verifier().refusal(why), Refusal::NotFound);
        }
        assert_eq!(verifier().provider(), ProviderId::Fitbit);
    }

    #[tokio::test]
    async fn unsigned_and_unreadable_bodies_are_told_apart() {
        let none = |_: &str| None;
        assert_eq!(
            verifier().verify_and_parse(&none, BODY.as_bytes()).await,
            Err(WebhookRejection::Unproven(Unproven::SignatureMissing))
        );
        let signature = crate::sign(SECRET, b"{}");
        let signed = move |_: &str| Some(signature.clone().into_bytes());
        assert!(matches!(
            verifier().verify_and_parse(&signed, b"{}").await,
            Err(WebhookRejection::InvalidBody(_))
        ));
    }
}
