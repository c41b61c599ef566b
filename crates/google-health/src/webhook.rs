//! The Google Health webhook behind the provider seam: the `Authorization` secret when present,
//! the ECDSA signature over the raw body against Google's (cached, refetched on rotation) keyset,
//! then the notification body.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use fitex_provider::{
    ChangeNotice, ProviderId, Refusal, Unproven, WebhookRejection, WebhookVerifier,
};
use secrecy::SecretString;

use crate::keyset::{read_keyset, Keyset, KeysetError};
use crate::notification::parse_change_notices;
use crate::signature::{verify, SignatureError};
use crate::verification::{authorization_matches, is_verification_request};

pub const PROVIDER: ProviderId = ProviderId::GoogleHealth;

/// The signature header names, in the order they are looked up (Google's documented name, which
/// the live API sends as `X-Healthapi-Signature`, then the one several SDKs read).
pub const SIGNATURE_HEADERS: [&str; 2] = ["X-HEALTHAPI-SIGNATURE", "GOOGLE-HEALTH-API-SIGNATURE"];

/// Counts keys of a fetched keyset that could not be read and were skipped, by reason.
pub const SKIPPED_KEYS_METRIC: &str = "fitex_google_keyset_keys_skipped_total";

/// Keys rotate about monthly: one refetch every few minutes at most is plenty.
pub const DEFAULT_REFETCH_INTERVAL: Duration = Duration::from_secs(300);

/// Where Google's public keyset comes from (an HTTP GET of
/// `https://www.gstatic.com/googlehealthapi/webhooks/webhooks_public_keyset.json` at the edge).
#[async_trait::async_trait]
pub trait KeysetSource: Send + Sync {
    /// The keyset's JSON text.
    async fn fetch(&self) -> Result<String, String>;
}

type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// The current keyset, refetched from a [`KeysetSource`] when a signature names an unknown key,
/// but never more than once per `refetch_interval`, however many bad signatures arrive. After a
/// failed fetch the next may come sooner (`retry_after_failure`), still bounded.
pub struct KeysetCache {
    keys: RwLock<Arc<Keyset>>,
    source: Arc<dyn KeysetSource>,
    refetch_interval: Duration,
    retry_after_failure: Duration,
    last_fetch: Mutex<Option<LastFetch>>,
    clock: Clock,
}

#[derive(Clone, Copy)]
struct LastFetch {
    at: Instant,
    succeeded: bool,
}

/// How soon a failed keyset fetch may be tried again (at most the refetch interval).
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

/// How soon a failed fetch is retried while the cache has never held a key: every notification is
/// refused until one arrives, so waiting the full [`RETRY_AFTER_FAILURE`] would only prolong that.
pub const RETRY_WHILE_EMPTY: Duration = Duration::from_secs(1);

impl KeysetCache {
    /// An empty cache: the first signature fetches the keyset.
    pub fn new(source: Arc<dyn KeysetSource>, refetch_interval: Duration) -> Self {
        KeysetCache {
            keys: RwLock::new(Arc::new(Keyset::new())),
            source,
            refetch_interval,
            retry_after_failure: RETRY_AFTER_FAILURE.min(refetch_interval),
            last_fetch: Mutex::new(None),
            clock: Arc::new(Instant::now),
        }
    }

    /// Replaces the clock (for tests).
    pub fn with_clock(mut self, clock: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The keys currently trusted.
    pub fn keys(&self) -> Arc<Keyset> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Trusts exactly `keys` from now on (e.g. a keyset fetched at start-up).
    pub fn set_keys(&self, keys: Keyset) {
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
    }

    /// Fetches the keyset unless a fetch was attempted less than `refetch_interval` ago (or
    /// `retry_after_failure`, when that attempt failed). `Ok(true)` when new keys were installed,
    /// `Ok(false)` when it was not due. A fetch that fails, or yields no usable key, leaves the
    /// current keys in place and still counts.
    pub async fn refresh_if_due(&self) -> Result<bool, KeysetError> {
        let now = (self.clock)();
        {
            let mut last = self.last_fetch.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(previous) = *last {
                let wait = if previous.succeeded {
                    self.refetch_interval
                } else if self.keys().is_empty() {
                    RETRY_WHILE_EMPTY.min(self.retry_after_failure)
                } else {
                    self.retry_after_failure
                };
                if now.saturating_duration_since(previous.at) < wait {
                    return Ok(false);
                }
            }
            *last = Some(LastFetch { at: now, succeeded: false });
        }
        let fetched = self.fetch().await;
        if fetched.is_ok() {
            let mut last = self.last_fetch.lock().unwrap_or_else(|e| e.into_inner());
            *last = Some(LastFetch { at: now, succeeded: true });
        }
        fetched.map(|()| true)
    }

    /// Fetches until the cache holds keys (start-up: the keyset host may not be reachable yet),
    /// one attempt per [`RETRY_WHILE_EMPTY`], logging the first failure and then one a minute.
    pub async fn warm(&self) {
        let mut failures = 0u64;
        while self.keys().is_empty() {
            if let Err(error) = self.refresh_if_due().await {
                if failures.is_multiple_of(60) {
                    tracing::warn!(%error, failures, "could not fetch Google's webhook keyset yet");
                }
                failures += 1;
            }
            if self.keys().is_empty() {
                tokio::time::sleep(RETRY_WHILE_EMPTY).await;
            }
        }
        if failures > 0 {
            tracing::info!(failures, "fetched Google's webhook keyset");
        }
    }

    /// Fetches and installs the keyset. A key that cannot be read is skipped — logged and
    /// counted in `fitex_google_keyset_keys_skipped_total{reason}` — and the others are used; only
    /// a keyset without any usable key leaves the current keys in place.
    async fn fetch(&self) -> Result<(), KeysetError> {
        let json = self.source.fetch().await.map_err(KeysetError::Fetch)?;
        let read = read_keyset(&json)?;
        for error in &read.skipped {
            metrics::counter!(SKIPPED_KEYS_METRIC, "reason" => error.reason()).increment(1);
            tracing::warn!(
                key_id = error.key_id(),
                %error,
                usable = read.keys.len(),
                "skipped a key of Google's webhook keyset that could not be read; the other keys are used"
            );
        }
        if read.keys.is_empty() {
            return Err(KeysetError::Json(format!(
                "the keyset has no usable key ({} skipped)",
                read.skipped.len()
            )));
        }
        self.set_keys(read.keys);
        Ok(())
    }

    /// Verifies against the cached keys, refetching once (if due) on an unknown key id.
    pub async fn verify(&self, body: &[u8], header: Option<&str>) -> Result<(), CacheRejection> {
        match verify(&self.keys(), body, header) {
            Err(SignatureError::UnknownKeyId(id)) => match self.refresh_if_due().await {
                Ok(true) => verify(&self.keys(), body, header).map_err(CacheRejection::Signature),
                // Never had keys: we cannot judge the signature (the sender will retry).
                Ok(false) if self.keys().is_empty() => Err(CacheRejection::Keyset(
                    KeysetError::Fetch("no keyset fetched yet".to_owned()),
                )),
                Ok(false) => Err(CacheRejection::Signature(SignatureError::UnknownKeyId(id))),
                Err(e) => Err(CacheRejection::Keyset(e)),
            },
            other => other.map_err(CacheRejection::Signature),
        }
    }
}

/// Why [`KeysetCache::verify`] refused a body.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CacheRejection {
    #[error(transparent)]
    Signature(SignatureError),
    /// The signature names an unknown key and the keyset could not be refetched.
    #[error("the keyset could not be refreshed: {0}")]
    Keyset(KeysetError),
}

impl CacheRejection {
    /// A short metric label.
    pub fn reason(&self) -> &'static str {
        self.unproven().label()
    }

    /// Why the body is not proven to come from Google.
    pub fn unproven(&self) -> Unproven {
        match self {
            CacheRejection::Signature(e) => e.unproven(),
            CacheRejection::Keyset(_) => Unproven::KeysUnavailable,
        }
    }
}

pub struct GoogleHealthWebhook {
    pub keyset: KeysetCache,
    /// The subscriber's `endpointAuthorization.secret`, exactly as configured ("Bearer …"),
    /// newest first: the old one stays listed while the subscriber is patched to the new one.
    pub secrets: Vec<SecretString>,
}

#[async_trait::async_trait]
impl WebhookVerifier for GoogleHealthWebhook {
    fn provider(&self) -> ProviderId {
        PROVIDER
    }

    /// The verification request (`{"type":"verification"}`) with the right `Authorization`
    /// yields no notices; without one it is rejected (`authorization_missing`). The edge must
    /// answer 201 / 401 to those (see [`crate::verification_status`]), not the usual 204.
    async fn verify_and_parse(
        &self,
        header: &(dyn Fn(&str) -> Option<Vec<u8>> + Send + Sync),
        body: &[u8],
    ) -> Result<Vec<ChangeNotice>, WebhookRejection> {
        let authorization = header("Authorization");
        if let Some(authorization) = &authorization {
            if !authorization_matches(authorization, &self.secrets) {
                return Err(WebhookRejection::Unproven(Unproven::AuthorizationMismatch));
            }
        }
        if is_verification_request(body) {
            return match authorization {
                Some(_) => Ok(Vec::new()),
                None => Err(WebhookRejection::Unproven(Unproven::AuthorizationMissing)),
            };
        }
        let signature = SIGNATURE_HEADERS.iter().find_map(|name| header(name));
        let signature = match signature.map(String::from_utf8) {
            None => None,
            Some(Ok(s)) => Some(s),
            Some(Err(_)) => return Err(WebhookRejection::Unproven(Unproven::SignatureMalformed)),
        };
        self.keyset
            .verify(body, signature.as_deref())
            .await
            .map_err(|e| WebhookRejection::Unproven(e.unproven()))?;
        parse_change_notices(body).map_err(|e| WebhookRejection::InvalidBody(e.to_string()))
    }

    /// Google's contract: no credentials at all is 401, credentials that do not check out 403.
    /// Keys we could not fetch are our problem: 503, and Google delivers again later.
    fn refusal(&self, why: Unproven) -> Refusal {
        match why {
            Unproven::AuthorizationMissing | Unproven::SignatureMissing => Refusal::Unauthenticated,
            Unproven::KeysUnavailable => Refusal::RetryLater,
            Unproven::AuthorizationMismatch
            | Unproven::SignatureMalformed
            | Unproven::SignatureMismatch
            | Unproven::SignatureInvalid
            | Unproven::UnknownKeyId => Refusal::Forbidden,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use p256::ecdsa::SigningKey;

    use super::*;
    use crate::keyset::keyset_json;
    use crate::signature::sign;

    const SECRET: &str = "Bearer 0123456789abcdef";
    const BODY: &str = r#"{"data":{"version":"1","clientProvidedSubscriptionName":"my-sub","healthUserId":"user-1","operation":"DELETE","dataType":"steps","intervals":[{"civilDateTimeInterval":{"startDateTime":{"date":{"year":2026,"month":3,"day":7},"time":{"hours":23,"minutes":58}},"endDateTime":{"date":{"year":2026,"month":3,"day":8},"time":{"hours":0,"minutes":3}}}}]}}"#;

    /// Serves whatever keyset JSON it currently holds, counting fetches.
    struct FakeSource {
        json: Mutex<String>,
        fetches: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl KeysetSource for FakeSource {
        async fn fetch(&self) -> Result<String, String> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            Ok(self.json.lock().unwrap().clone())
        }
    }

    struct Fixture {
        webhook: GoogleHealthWebhook,
        source: Arc<FakeSource>,
        now: Arc<Mutex<Instant>>,
    }

    fn key() -> SigningKey {
        SigningKey::random(&mut rand_core::OsRng)
    }

    fn fixture(keys: &[(u32, &SigningKey)]) -> Fixture {
        let keys: Vec<_> = keys.iter().map(|(id, k)| (*id, *k.verifying_key())).collect();
        let source = Arc::new(FakeSource {
            json: Mutex::new(keyset_json(&keys)),
            fetches: AtomicUsize::new(0),
        });
        let now = Arc::new(Mutex::new(Instant::now()));
        let clock = now.clone();
        let cache = KeysetCache::new(source.clone(), Duration::from_secs(60))
            .with_clock(move || *clock.lock().unwrap());
        Fixture {
            webhook: GoogleHealthWebhook {
                keyset: cache,
                secrets: vec![SecretString::from(SECRET)],
            },
            source,
            now,
        }
    }

    fn headers(
        pairs: Vec<(&'static str, String)>,
    ) -> impl Fn(&str) -> Option<Vec<u8>> + Send + Sync {
        move |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone().into_bytes())
        }
    }

    #[tokio::test]
    async fn a_signed_body_becomes_change_notices_under_either_header_name() {
        let k = key();
        let f = fixture(&[(9, &k)]);
        let signature = sign(&k, 9, BODY.as_bytes());
        for name in ["X-Healthapi-Signature", "GOOGLE-HEALTH-API-SIGNATURE"] {
            let h = headers(vec![(name, signature.clone())]);
            let notices = f.webhook.verify_and_parse(&h, BODY.as_bytes()).await.unwrap();
            let dates: Vec<_> = notices.iter().map(|n| n.date.unwrap().to_string()).collect();
            assert_eq!(dates, ["2026-03-07", "2026-03-08"]);
            assert!(notices.iter().all(|n| n.operation == "DELETE" && n.owner_id == "user-1"));
        }
        assert_eq!(f.webhook.provider().as_str(), "google_health");
        assert_eq!(f.source.fetches.load(Ordering::SeqCst), 1, "the cold cache fetched once");
    }

    #[tokio::test]
    async fn activity_notices_are_classified_and_others_are_not_acted_on() {
        use fitex_provider::NoticeKind;
        let k = key();
        let f = fixture(&[(9, &k)]);
        let signed =
            |body: &str| headers(vec![("X-HEALTHAPI-SIGNATURE", sign(&k, 9, body.as_bytes()))]);
        let notices = f.webhook.verify_and_parse(&signed(BODY), BODY.as_bytes()).await.unwrap();
        assert!(notices.iter().all(|n| n.kind == NoticeKind::ActivityDayChanged), "{notices:?}");
        let undated = r#"{"data":{"healthUserId":"user-1","operation":"UPSERT","dataType":"steps","intervals":[]}}"#;
        let notices =
            f.webhook.verify_and_parse(&signed(undated), undated.as_bytes()).await.unwrap();
        assert_eq!(notices[0].kind, NoticeKind::RecentActivityChanged);
        let sleep = BODY.replace(r#""dataType":"steps""#, r#""dataType":"sleep""#);
        let notices = f.webhook.verify_and_parse(&signed(&sleep), sleep.as_bytes()).await.unwrap();
        assert!(notices.iter().all(|n| n.kind == NoticeKind::Other), "{notices:?}");
    }

    #[test]
    fn refusals_follow_googles_contract() {
        let f = fixture(&[]);
        let refusal = |why| f.webhook.refusal(why);
        assert_eq!(refusal(Unproven::AuthorizationMissing), Refusal::Unauthenticated);
        assert_eq!(refusal(Unproven::SignatureMissing), Refusal::Unauthenticated);
        assert_eq!(refusal(Unproven::KeysUnavailable), Refusal::RetryLater);
        for forbidden in [
            Unproven::AuthorizationMismatch,
            Unproven::SignatureMalformed,
            Unproven::SignatureInvalid,
            Unproven::UnknownKeyId,
        ] {
            assert_eq!(refusal(forbidden), Refusal::Forbidden, "{forbidden:?}");
        }
    }

    #[tokio::test]
    async fn authorization_when_present_must_match() {
        let k = key();
        let f = fixture(&[(9, &k)]);
        let signature = sign(&k, 9, BODY.as_bytes());
        let good = headers(vec![
            ("Authorization", SECRET.to_owned()),
            ("X-HEALTHAPI-SIGNATURE", signature.clone()),
        ]);
        assert!(f.webhook.verify_and_parse(&good, BODY.as_bytes()).await.is_ok());
        let bad = headers(vec![
            ("Authorization", "Bearer wrong".to_owned()),
            ("X-HEALTHAPI-SIGNATURE", signature),
        ]);
        assert_eq!(
            f.webhook.verify_and_parse(&bad, BODY.as_bytes()).await,
            Err(WebhookRejection::Unproven(Unproven::AuthorizationMismatch))
        );
    }

    #[tokio::test]
    async fn missing_bad_and_unreadable_are_told_apart() {
        let k = key();
        let f = fixture(&[(9, &k)]);
        let none = headers(vec![("Authorization", SECRET.to_owned())]);
        assert_eq!(
            f.webhook.verify_and_parse(&none, BODY.as_bytes()).await,
            Err(WebhookRejection::Unproven(Unproven::SignatureMissing))
        );
        let wrong_key = headers(vec![("X-HEALTHAPI-SIGNATURE", sign(&key(), 9, BODY.as_bytes()))]);
        assert_eq!(
            f.webhook.verify_and_parse(&wrong_key, BODY.as_bytes()).await,
            Err(WebhookRejection::Unproven(Unproven::SignatureInvalid))
        );
        let signed_junk = headers(vec![("X-HEALTHAPI-SIGNATURE", sign(&k, 9, b"{}"))]);
        assert!(matches!(
            f.webhook.verify_and_parse(&signed_junk, b"{}").await,
            Err(WebhookRejection::InvalidBody(_))
        ));
    }

    #[tokio::test]
    async fn the_verification_handshake() {
        let f = fixture(&[(9, &key())]);
        let body = br#"{"type": "verification"}"#;
        let with = headers(vec![("Authorization", SECRET.to_owned())]);
        assert_eq!(f.webhook.verify_and_parse(&with, body).await, Ok(vec![]));
        let without = headers(vec![]);
        assert_eq!(
            f.webhook.verify_and_parse(&without, body).await,
            Err(WebhookRejection::Unproven(Unproven::AuthorizationMissing))
        );
    }

    #[tokio::test]
    async fn rotation_refetches_the_keyset_on_an_unknown_key() {
        let (old, new) = (key(), key());
        let f = fixture(&[(1, &old)]);
        let old_sig = headers(vec![("X-HEALTHAPI-SIGNATURE", sign(&old, 1, BODY.as_bytes()))]);
        let new_sig = headers(vec![("X-HEALTHAPI-SIGNATURE", sign(&new, 2, BODY.as_bytes()))]);
        assert!(f.webhook.verify_and_parse(&old_sig, BODY.as_bytes()).await.is_ok());

        // Google publishes the new key next to the old one.
        *f.source.json.lock().unwrap() =
            keyset_json(&[(2, *new.verifying_key()), (1, *old.verifying_key())]);
        *f.now.lock().unwrap() += Duration::from_secs(61);
        assert!(f.webhook.verify_and_parse(&new_sig, BODY.as_bytes()).await.is_ok());
        assert!(f.webhook.verify_and_parse(&old_sig, BODY.as_bytes()).await.is_ok());
        assert_eq!(f.source.fetches.load(Ordering::SeqCst), 2);

        // Then drops the old one.
        *f.source.json.lock().unwrap() = keyset_json(&[(2, *new.verifying_key())]);
        *f.now.lock().unwrap() += Duration::from_secs(61);
        f.webhook.keyset.refresh_if_due().await.unwrap();
        assert!(f.webhook.verify_and_parse(&new_sig, BODY.as_bytes()).await.is_ok());
        assert_eq!(
            f.webhook.verify_and_parse(&old_sig, BODY.as_bytes()).await,
            Err(WebhookRejection::Unproven(Unproven::UnknownKeyId))
        );
    }

    #[tokio::test]
    async fn a_flood_of_unknown_key_ids_refetches_at_most_once_per_interval() {
        let k = key();
        let f = fixture(&[(1, &k)]);
        let stranger = key();
        let bad = headers(vec![("X-HEALTHAPI-SIGNATURE", sign(&stranger, 666, BODY.as_bytes()))]);
        for _ in 0..100 {
            assert_eq!(
                f.webhook.verify_and_parse(&bad, BODY.as_bytes()).await,
                Err(WebhookRejection::Unproven(Unproven::UnknownKeyId))
            );
        }
        assert_eq!(f.source.fetches.load(Ordering::SeqCst), 1);

        *f.now.lock().unwrap() += Duration::from_secs(59);
        for _ in 0..100 {
            let _ = f.webhook.verify_and_parse(&bad, BODY.as_bytes()).await;
        }
        assert_eq!(f.source.fetches.load(Ordering::SeqCst), 1, "not yet due");

        *f.now.lock().unwrap() += Duration::from_secs(2);
        for _ in 0..100 {
            let _ = f.webhook.verify_and_parse(&bad, BODY.as_bytes()).await;
        }
        assert_eq!(f.source.fetches.load(Ordering::SeqCst), 2);

        // Good signatures never trigger a fetch.
        let good = headers(vec![("X-HEALTHAPI-SIGNATURE", sign(&k, 1, BODY.as_bytes()))]);
        assert!(f.webhook.verify_and_parse(&good, BODY.as_bytes()).await.is_ok());
        assert_eq!(f.source.fetches.load(Ordering::SeqCst), 2);
    }

    /// Fails every fetch until `healthy` is set.
    struct FlakySource {
        inner: Arc<FakeSource>,
        healthy: std::sync::atomic::AtomicBool,
    }

    #[async_trait::async_trait]
    impl KeysetSource for FlakySource {
        async fn fetch(&self) -> Result<String, String> {
            if self.healthy.load(Ordering::SeqCst) {
                self.inner.fetch().await
            } else {
                self.inner.fetches.fetch_add(1, Ordering::SeqCst);
                Err("connection refused".into())
            }
        }
    }

    #[tokio::test]
    async fn a_failed_first_fetch_is_retried_soon_and_answers_unavailable_meanwhile() {
        let k = key();
        let inner = Arc::new(FakeSource {
            json: Mutex::new(keyset_json(&[(1, *k.verifying_key())])),
            fetches: AtomicUsize::new(0),
        });
        let source = Arc::new(FlakySource { inner: inner.clone(), healthy: false.into() });
        let now = Arc::new(Mutex::new(Instant::now()));
        let clock = now.clone();
        let webhook = GoogleHealthWebhook {
            keyset: KeysetCache::new(source.clone(), Duration::from_secs(300))
                .with_clock(move || *clock.lock().unwrap()),
            secrets: vec![SecretString::from(SECRET)],
        };
        let good = headers(vec![("X-HEALTHAPI-SIGNATURE", sign(&k, 1, BODY.as_bytes()))]);
        for _ in 0..50 {
            assert_eq!(
                webhook.verify_and_parse(&good, BODY.as_bytes()).await,
                Err(WebhookRejection::Unproven(Unproven::KeysUnavailable))
            );
        }
        assert_eq!(inner.fetches.load(Ordering::SeqCst), 1, "one attempt per retry interval");
        // With no key at all, the retry comes after a second, not the full failure interval.
        *now.lock().unwrap() += RETRY_WHILE_EMPTY;
        assert!(webhook.verify_and_parse(&good, BODY.as_bytes()).await.is_err());
        assert_eq!(inner.fetches.load(Ordering::SeqCst), 2);
        source.healthy.store(true, Ordering::SeqCst);
        *now.lock().unwrap() += RETRY_WHILE_EMPTY;
        assert!(webhook.verify_and_parse(&good, BODY.as_bytes()).await.is_ok());
        assert_eq!(inner.fetches.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn with_keys_in_hand_a_failed_refetch_waits_the_full_retry_interval() {
        let k = key();
        let inner = Arc::new(FakeSource {
            json: Mutex::new(keyset_json(&[(1, *k.verifying_key())])),
            fetches: AtomicUsize::new(0),
        });
        let source = Arc::new(FlakySource { inner: inner.clone(), healthy: true.into() });
        let now = Arc::new(Mutex::new(Instant::now()));
        let clock = now.clone();
        let cache = KeysetCache::new(source.clone(), Duration::from_secs(300))
            .with_clock(move || *clock.lock().unwrap());
        assert_eq!(cache.refresh_if_due().await, Ok(true));
        source.healthy.store(false, Ordering::SeqCst);
        *now.lock().unwrap() += Duration::from_secs(300);
        assert!(cache.refresh_if_due().await.is_err());
        *now.lock().unwrap() += RETRY_WHILE_EMPTY;
        assert_eq!(cache.refresh_if_due().await, Ok(false), "keys in hand: no hurry");
        *now.lock().unwrap() += RETRY_AFTER_FAILURE;
        assert!(cache.refresh_if_due().await.is_err());
        assert_eq!(inner.fetches.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn warming_retries_until_the_keyset_host_answers() {
        let k = key();
        let inner = Arc::new(FakeSource {
            json: Mutex::new(keyset_json(&[(1, *k.verifying_key())])),
            fetches: AtomicUsize::new(0),
        });
        let source = Arc::new(FlakySource { inner: inner.clone(), healthy: false.into() });
        // Paused tokio time: the cache reads the same clock the sleeps advance.
        let cache = Arc::new(
            KeysetCache::new(source.clone(), Duration::from_secs(300))
                .with_clock(|| tokio::time::Instant::now().into_std()),
        );
        let warming = tokio::spawn({
            let cache = cache.clone();
            async move { cache.warm().await }
        });
        tokio::time::sleep(RETRY_WHILE_EMPTY * 3 + Duration::from_millis(500)).await;
        assert!(cache.keys().is_empty());
        source.healthy.store(true, Ordering::SeqCst);
        tokio::time::timeout(RETRY_WHILE_EMPTY * 3, warming).await.unwrap().unwrap();
        assert!(!cache.keys().is_empty());
    }

    #[tokio::test]
    async fn one_unreadable_key_does_not_cost_the_others() {
        use base64::engine::general_purpose::STANDARD;
        use base64::Engine;
        let (k, next) = (key(), key());
        let f = fixture(&[(1, &k)]);
        // Google's keyset with a key we cannot read beside the good one (here: P-384 params).
        let json = keyset_json(&[(2, *next.verifying_key()), (1, *k.verifying_key())]);
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let mut bytes =
            STANDARD.decode(value["key"][0]["keyData"]["value"].as_str().unwrap()).unwrap();
        bytes[5] = 0x03;
        value["key"][0]["keyData"]["value"] = STANDARD.encode(bytes).into();
        *f.source.json.lock().unwrap() = value.to_string();
        let good = headers(vec![("X-HEALTHAPI-SIGNATURE", sign(&k, 1, BODY.as_bytes()))]);
        assert!(f.webhook.verify_and_parse(&good, BODY.as_bytes()).await.is_ok());
        let keys = f.webhook.keyset.keys();
        assert_eq!(keys.keys().copied().collect::<Vec<_>>(), [1], "key 2 skipped, key 1 kept");
    }

    #[tokio::test]
    async fn a_failed_or_empty_fetch_keeps_the_current_keys() {
        let k = key();
        let f = fixture(&[(1, &k)]);
        f.webhook.keyset.refresh_if_due().await.unwrap();
        *f.source.json.lock().unwrap() = r#"{"key":[]}"#.to_owned();
        *f.now.lock().unwrap() += Duration::from_secs(61);
        let stranger = headers(vec![("X-HEALTHAPI-SIGNATURE", sign(&key(), 5, BODY.as_bytes()))]);
        assert_eq!(
            f.webhook.verify_and_parse(&stranger, BODY.as_bytes()).await,
            Err(WebhookRejection::Unproven(Unproven::KeysUnavailable))
        );
        let good = headers(vec![("X-HEALTHAPI-SIGNATURE", sign(&k, 1, BODY.as_bytes()))]);
        assert!(f.webhook.verify_and_parse(&good, BODY.as_bytes()).await.is_ok());
    }
}
