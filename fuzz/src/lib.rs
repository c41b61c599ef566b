//! Helpers shared by the fuzz targets in `fuzz_targets/` (one libFuzzer binary each).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

/// Splits an input into a header value and a body: the header is everything before the first
/// `\n` (an HTTP header value cannot hold one), the body everything after it.
pub fn split_header(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Copies of `body`, each with one bit flipped: in the first byte, the middle one and the last
/// (fewer for shorter bodies; none for an empty one).
pub fn flipped_variants(body: &[u8]) -> Vec<Vec<u8>> {
    let mut positions = vec![0, body.len() / 2, body.len().saturating_sub(1)];
    positions.dedup();
    positions
        .into_iter()
        .filter(|&i| i < body.len())
        .map(|i| {
            let mut flipped = body.to_vec();
            flipped[i] ^= 0x01;
            flipped
        })
        .collect()
}

/// Runs a future that never waits on anything (the webhook checks are pure) to completion.
pub fn now_or_never<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a pure check waited on something"),
    }
}

/// The fixed "now" of the token-response targets.
pub fn fixed_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

/// A date travels as `yyyy-MM-dd` text (Kafka) and the fetcher parses it back: it must survive.
pub fn assert_date_round_trips(date: NaiveDate) {
    let text = date.format("%Y-%m-%d").to_string();
    assert_eq!(text.parse::<NaiveDate>().ok(), Some(date), "{text:?} does not read back");
}

/// A time is stored as PostgreSQL `timestamptz`, which sqlx sends as microseconds since 2000.
pub fn assert_storable(at: DateTime<Utc>) {
    let epoch = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap();
    assert!(
        at.signed_duration_since(epoch).num_microseconds().is_some(),
        "{at:?} cannot be stored"
    );
}

/// What the Google Health signature targets share: Google's keyset from the committed fixture,
/// a key of our own made from fixed bytes (so any body can be signed for real), and a webhook
/// that trusts both.
pub mod google {
    use std::sync::{Arc, OnceLock};
    use std::time::Duration;

    use fitex_google_health::{
        keyset_json, parse_keyset, GoogleHealthWebhook, Keyset, KeysetCache, KeysetSource,
    };
    use p256::ecdsa::SigningKey;
    use secrecy::SecretString;

    const FIXTURE: &str =
        include_str!("../../crates/google-health/tests/fixtures/signed-notification.json");
    pub const OUR_KEY_ID: u32 = 7;
    /// The webhook's `Authorization` secret.
    pub const SECRET: &str = "Bearer fuzz-secret";

    pub struct Fixed {
        /// Google's keyset from crates/google-health/tests/fixtures/signed-notification.json.
        pub google: Keyset,
        /// Our key alone, under [`OUR_KEY_ID`].
        pub ours: Keyset,
        pub key: SigningKey,
        /// Trusts both keysets from the start, so that no input depends on a refetch (nor on the
        /// clock that rate-limits refetches): one that names another key is refused either way.
        pub webhook: GoogleHealthWebhook,
    }

    pub fn fixed() -> &'static Fixed {
        static FIXED: OnceLock<Fixed> = OnceLock::new();
        FIXED.get_or_init(|| {
            let fixture: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
            let google = parse_keyset(&fixture["keyset"].to_string()).unwrap();
            let key = SigningKey::from_bytes(&[7u8; 32].into()).unwrap();
            let ours = parse_keyset(&keyset_json(&[(OUR_KEY_ID, *key.verifying_key())])).unwrap();
            let both: Vec<_> = google.iter().chain(&ours).map(|(id, k)| (*id, *k)).collect();
            let keyset = KeysetCache::new(
                Arc::new(FixedSource(keyset_json(&both))),
                Duration::from_secs(300),
            );
            keyset.set_keys(both.into_iter().collect());
            let webhook = GoogleHealthWebhook { keyset, secrets: vec![SecretString::from(SECRET)] };
            Fixed { google, ours, key, webhook }
        })
    }

    /// Serves the keys the cache already trusts.
    struct FixedSource(String);

    #[async_trait::async_trait]
    impl KeysetSource for FixedSource {
        async fn fetch(&self) -> Result<String, String> {
            Ok(self.0.clone())
        }
    }

    /// Request headers from `(name, value)` pairs, looked up without regard to case.
    pub fn headers(
        pairs: Vec<(&'static str, Vec<u8>)>,
    ) -> impl Fn(&str) -> Option<Vec<u8>> + Send + Sync {
        move |name: &str| {
            pairs.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
        }
    }
}
