//! The Google Health API over HTTP, behind the provider seam: daily rollups and the steps
//! data-point list (see [`crate::api`]), settings, identity, OAuth refresh, and the per-user
//! request budget. Also the HTTP source of Google's public keyset for the webhook.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use fitex_provider::{
    status_class, ActivityProvider, Fetched, ProviderError, ProviderId, ProviderIdentity,
    RateBudget, TokenGrant,
};
use secrecy::{ExposeSecret, SecretString};

use crate::api::{self, ROLLUP_TYPES, STEPS};
use crate::oauth::{GoogleOAuth, GoogleOAuthSettings, OAuthSetupError};
use crate::rate::UserBudgets;
use crate::webhook::{KeysetSource, PROVIDER};

/// The platform the Google Health API replaced: its user ids are the `legacyUserId`s.
pub const LEGACY_PROVIDER: ProviderId = ProviderId::Fitbit;

/// Where the API lives, who we are to it, and how hard we may use it.
#[derive(Clone, Debug)]
pub struct GoogleHealthApiSettings {
    /// `https://health.googleapis.com` (or the simulator's base URL).
    pub api_base_url: String,
    pub oauth: GoogleOAuthSettings,
    pub request_timeout: Duration,
    /// Google allows 300 requests per minute per user.
    pub requests_per_minute: u32,
}

#[derive(Clone)]
pub struct GoogleHealthApi {
    http: reqwest::Client,
    base_url: String,
    oauth: GoogleOAuth,
    budgets: Arc<Mutex<UserBudgets>>,
}

/// `Retry-After` in seconds, believed up to a day (the quota is per minute; a larger value would
/// be a bug or hostile, and `now + it` could overflow the calendar).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(|s| Duration::from_secs(s.min(86_400)))
}

impl GoogleHealthApi {
    pub fn new(settings: GoogleHealthApiSettings) -> Result<Self, OAuthSetupError> {
        let oauth = GoogleOAuth::new(&settings.oauth, settings.request_timeout)?;
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .user_agent("fitex-sync")
            .build()
            .map_err(|e| OAuthSetupError::Url {
                url: settings.api_base_url.clone(),
                reason: e.to_string(),
            })?;
        Ok(GoogleHealthApi {
            http,
            base_url: settings.api_base_url.trim_end_matches('/').to_owned(),
            oauth,
            budgets: Arc::new(Mutex::new(UserBudgets::new(
                settings.requests_per_minute,
                chrono::Duration::minutes(1),
            ))),
        })
    }

    /// The participant-facing OAuth flow (consent URL, code exchange).
    pub fn oauth(&self) -> &GoogleOAuth {
        &self.oauth
    }

    fn budgets(&self) -> std::sync::MutexGuard<'_, UserBudgets> {
        self.budgets.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One request for `user`, inside their budget; the body of a 2xx answer and the budget left.
    async fn call(
        &self,
        access_token: &SecretString,
        user: &str,
        request: reqwest::RequestBuilder,
        endpoint: &'static str,
    ) -> Result<(Vec<u8>, RateBudget), ProviderError> {
        let now = Utc::now();
        let budget = {
            let mut budgets = self.budgets();
            budgets.forget_idle(now);
            budgets.take(user, now)
        };
        let budget = budget.map_err(|spent| {
            metrics::counter!("fitex_provider_requests_withheld_total", "provider" => PROVIDER.as_str())
                .increment(1);
            ProviderError::RateLimited {
                retry_after: (spent.resets_at - now).to_std().unwrap_or(Duration::from_secs(1)),
            }
        })?;
        let transient = |e: reqwest::Error| ProviderError::Transient(e.without_url().to_string());
        let response =
            request.bearer_auth(access_token.expose_secret()).send().await.map_err(transient)?;
        let status = response.status().as_u16();
        let wait = retry_after(response.headers());
        let body = response.bytes().await.map_err(transient)?;
        metrics::counter!("fitex_provider_requests_total", "provider" => PROVIDER.as_str(),
            "endpoint" => endpoint, "status" => status_class(status))
        .increment(1);
        if (200..300).contains(&status) {
            return Ok((body.to_vec(), budget));
        }
        let error = api::classify_error(status, &body, wait);
        if let ProviderError::RateLimited { retry_after } = &error {
            let until = Utc::now()
                + chrono::Duration::from_std(*retry_after).unwrap_or(chrono::Duration::minutes(1));
            self.budgets().block(user, until, Utc::now());
        }
        Err(error)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    async fn rollup(
        &self,
        token: &SecretString,
        user: &str,
        data_type: &str,
        (start, end): (NaiveDate, NaiveDate),
        totals: &mut BTreeMap<NaiveDate, api::DayTotals>,
    ) -> Result<RateBudget, ProviderError> {
        let url = self.url(&format!("/v4/users/me/dataTypes/{data_type}/dataPoints:dailyRollUp"));
        let request = self.http.post(url).json(&api::daily_rollup_request(start, end));
        let (body, budget) = self.call(token, user, request, "daily_rollup").await?;
        api::merge_daily_rollup(&body, totals)?;
        Ok(budget)
    }

    async fn manual_steps(
        &self,
        token: &SecretString,
        user: &str,
        (start, end): (NaiveDate, NaiveDate),
        manual: &mut BTreeMap<NaiveDate, i64>,
    ) -> Result<(RateBudget, u32), ProviderError> {
        let url = self.url(&format!("/v4/users/me/dataTypes/{STEPS}/dataPoints"));
        let filter = api::steps_filter(start, end);
        let page_size = api::MAX_PAGE_SIZE.to_string();
        let mut page_token: Option<String> = None;
        let mut requests = 0;
        loop {
            let mut query = vec![("filter", filter.as_str()), ("pageSize", page_size.as_str())];
            if let Some(token) = &page_token {
                query.push(("pageToken", token.as_str()));
            }
            let request = self.http.get(&url).query(&query);
            let (body, budget) = self.call(token, user, request, "data_points").await?;
            requests += 1;
            page_token = api::merge_manual_steps(&body, manual)?;
            if page_token.is_none() {
                return Ok((budget, requests));
            }
        }
    }

    async fn get_json(
        &self,
        token: &SecretString,
        user: &str,
        path: &str,
        endpoint: &'static str,
    ) -> Result<Vec<u8>, ProviderError> {
        let request = self.http.get(self.url(path));
        Ok(self.call(token, user, request, endpoint).await?.0)
    }
}

#[async_trait::async_trait]
impl ActivityProvider for GoogleHealthApi {
    fn name(&self) -> ProviderId {
        PROVIDER
    }

    fn request_cost(&self, dates: usize) -> u32 {
        api::request_cost(dates)
    }

    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenGrant, ProviderError> {
        self.oauth.refresh(refresh_token).await
    }

    async fn fetch_days(
        &self,
        access_token: &SecretString,
        user_id: &str,
        dates: &[NaiveDate],
    ) -> Result<Fetched, ProviderError> {
        let mut totals = BTreeMap::new();
        let mut manual = BTreeMap::new();
        let mut requests = 0;
        let mut budget = None;
        for data_type in ROLLUP_TYPES {
            for range in api::ranges(dates, api::max_range_days(data_type)) {
                budget =
                    Some(self.rollup(access_token, user_id, data_type, range, &mut totals).await?);
                requests += 1;
            }
        }
        for range in api::ranges(dates, api::LIST_RANGE_DAYS) {
            let (left, pages) =
                self.manual_steps(access_token, user_id, range, &mut manual).await?;
            budget = Some(left);
            requests += pages;
        }
        Ok(Fetched { days: api::assemble_days(dates, &totals, &manual), requests, budget })
    }

    async fn time_zone(
        &self,
        access_token: &SecretString,
        user_id: &str,
    ) -> Result<String, ProviderError> {
        let body =
            self.get_json(access_token, user_id, "/v4/users/me/settings", "settings").await?;
        api::parse_time_zone(&body)
    }

    /// `users/me/identity`: the Google Health user id, and the Fitbit id of a former Fitbit Web
    /// API user (so the participant's Fitbit-era history continues).
    async fn identity(
        &self,
        access_token: &SecretString,
        user_id: &str,
    ) -> Result<ProviderIdentity, ProviderError> {
        // Before the identity is known the budget is kept under a provisional key.
        let key = if user_id.is_empty() { "unidentified" } else { user_id };
        let body = self.get_json(access_token, key, "/v4/users/me/identity", "identity").await?;
        let identity = api::parse_identity(&body)?;
        Ok(ProviderIdentity {
            user_id: identity.health_user_id,
            legacy: identity.legacy_user_id.map(|id| (LEGACY_PROVIDER, id)),
        })
    }
}

/// Fetches Google's public webhook keyset over HTTP(S).
pub struct HttpKeysetSource {
    http: reqwest::Client,
    url: String,
}

impl HttpKeysetSource {
    pub fn new(url: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(timeout).user_agent("fitex-sync").build()?;
        Ok(HttpKeysetSource { http, url: url.to_owned() })
    }
}

#[async_trait::async_trait]
impl KeysetSource for HttpKeysetSource {
    async fn fetch(&self) -> Result<String, String> {
        let response =
            self.http.get(&self.url).send().await.map_err(|e| e.without_url().to_string())?;
        let status = response.status();
        metrics::counter!("fitex_google_keyset_fetches_total", "status" => status_class(status.as_u16()))
            .increment(1);
        if !status.is_success() {
            return Err(format!("keyset URL answered {status}"));
        }
        response.text().await.map_err(|e| e.without_url().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> GoogleHealthApi {
        GoogleHealthApi::new(GoogleHealthApiSettings {
            api_base_url: "https://127.0.0.1:9".into(),
            oauth: GoogleOAuthSettings {
                authorize_url: "https://127.0.0.1:9/auth".into(),
                token_url: "https://127.0.0.1:9/token".into(),
                revoke_url: "https://127.0.0.1:9/revoke".into(),
                client_id: "c".into(),
                client_secret: SecretString::from("s"),
                scopes: vec![],
            },
            request_timeout: Duration::from_secs(2),
            requests_per_minute: 2,
        })
        .unwrap()
    }

    /// The real API is HTTPS: the client must speak TLS (a build without it fails before
    /// connecting with "scheme is not http").
    #[tokio::test]
    async fn speaks_https_and_stops_at_the_users_budget() {
        let api = api();
        let token = SecretString::from("t");
        for _ in 0..2 {
            let error = api.time_zone(&token, "u1").await.unwrap_err();
            let ProviderError::Transient(message) = error else { panic!("unexpected {error:?}") };
            assert!(!message.contains("scheme"), "no TLS support: {message}");
        }
        // Two requests a minute: the third is withheld without being sent.
        assert!(matches!(
            api.time_zone(&token, "u1").await,
            Err(ProviderError::RateLimited { .. })
        ));
        assert!(matches!(api.time_zone(&token, "u2").await, Err(ProviderError::Transient(_))));
    }
}
