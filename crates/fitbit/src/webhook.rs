//! Fitbit's webhook behind the provider seam: `X-Fitbit-Signature` over the raw body against every
//! configured client secret, then the JSON array of notifications.

use fitex_provider::{ChangeNotice, WebhookRejection, WebhookVerifier};
use secrecy::SecretString;

use crate::notification::parse_notifications;
use crate::signature::verify_signature;

pub struct FitbitWebhook {
    /// Newest first; every one is accepted (rotation without downtime).
    pub client_secrets: Vec<SecretString>,
}

#[async_trait::async_trait]
impl WebhookVerifier for FitbitWebhook {
    fn provider(&self) -> &'static str {
        "fitbit"
    }

    async fn verify_and_parse(
        &self,
        header: &(dyn Fn(&str) -> Option<Vec<u8>> + Send + Sync),
        body: &[u8],
    ) -> Result<Vec<ChangeNotice>, WebhookRejection> {
        let signature = header("X-Fitbit-Signature");
        let check = verify_signature(&self.client_secrets, body, signature.as_deref());
        if !check.is_valid() {
            return Err(WebhookRejection::Signature(check.reason()));
        }
        let notifications =
            parse_notifications(body).map_err(|e| WebhookRejection::InvalidBody(e.to_string()))?;
        Ok(notifications
            .into_iter()
            .map(|n| ChangeNotice {
                collection_type: n.collection_type,
                owner_id: n.owner_id,
                owner_type: n.owner_type.unwrap_or_default(),
                date: n.date,
                subscription_id: n.subscription_id.unwrap_or_default(),
                operation: String::new(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
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
    }

    #[tokio::test]
    async fn unsigned_and_unreadable_bodies_are_told_apart() {
        let none = |_: &str| None;
        assert_eq!(
            verifier().verify_and_parse(&none, BODY.as_bytes()).await,
            Err(WebhookRejection::Signature("signature_missing"))
        );
        let signature = crate::sign(SECRET, b"{}");
        let signed = move |_: &str| Some(signature.clone().into_bytes());
        assert!(matches!(
            verifier().verify_and_parse(&signed, b"{}").await,
            Err(WebhookRejection::InvalidBody(_))
        ));
    }
}
