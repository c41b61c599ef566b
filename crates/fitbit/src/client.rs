//! The Fitbit Web API over HTTP, behind the provider seam.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use fitex_provider::{
    status_class, ActivityProvider, DayActivity, Fetched, ProviderError, ProviderId, TokenGrant,
};
use secrecy::{ExposeSecret, SecretString};

use crate::api::{self, RateLimitHeaders, RANGE_RESOURCES};
use crate::notification::ACTIVITIES;
use crate::oauth;

/// Where the API lives and who we are to it.
#[derive(Clone, Debug)]
pub struct FitbitApiSettings {
    /// `https://api.fitbit.com` (or the simulator's base URL).
    pub api_base_url: String,
    /// `https://api.fitbit.com/oauth2/token`.
    pub token_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub request_timeout: Duration,
}

#[derive(Clone)]
pub struct FitbitApi {
    http: reqwest::Client,
    settings: FitbitApiSettings,
}

impl FitbitApi {
    pub fn new(settings: FitbitApiSettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .user_agent("fitex-sync")
            .build()?;
        Ok(Self { http, settings })
    }

    fn transient(error: reqwest::Error) -> ProviderError {
        ProviderError::Transient(error.without_url().to_string())
    }

    /// A request to `path` of the API, authenticated with `access_token`.
    fn request(
        &self,
        method: reqwest::Method,
        access_token: &SecretString,
        path: &str,
    ) -> reqwest::RequestBuilder {
        let url = format!("{}{}", self.settings.api_base_url.trim_end_matches('/'), path);
        self.http.request(method, &url).bearer_auth(access_token.expose_secret())
    }

    /// One authenticated GET; returns the body of a 2xx answer with the rate-limit headers.
    async fn get(
        &self,
        access_token: &SecretString,
        path: &str,
    ) -> Result<(Vec<u8>, RateLimitHeaders), ProviderError> {
        let response = self
            .request(reqwest::Method::GET, access_token, path)
            .send()
            .await
            .map_err(Self::transient)?;
        let status = response.status().as_u16();
        let rate = RateLimitHeaders::from_pairs(
            response.headers().iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))),
        );
        let body = response.bytes().await.map_err(Self::transient)?;
        metrics::counter!("fitex_provider_requests_total", "provider" => ProviderId::Fitbit.as_str(), "status" => status_class(status))
            .increment(1);
        if (200..300).contains(&status) {
            Ok((body.to_vec(), rate))
        } else {
            Err(api::classify_error(status, &body, Some(&rate), Utc::now()))
        }
    }

    async fn fetch_per_day(
        &self,
        token: &SecretString,
        user: &str,
        dates: &[NaiveDate],
    ) -> Result<(Vec<DayActivity>, RateLimitHeaders, u32), ProviderError> {
        let mut days = Vec::with_capacity(dates.len());
        let mut rate = RateLimitHeaders::default();
        for date in dates {
            let (body, headers) =
                self.get(token, &format!("/1/user/{user}/activities/date/{date}.json")).await?;
            days.push(api::parse_daily_summary(*date, &body)?);
            rate = headers;
        }
        Ok((days, rate, dates.len() as u32))
    }

    async fn fetch_range(
        &self,
        token: &SecretString,
        user: &str,
        dates: &[NaiveDate],
    ) -> Result<(Vec<DayActivity>, RateLimitHeaders, u32), ProviderError> {
        let (start, end) = (dates[0], dates[dates.len() - 1]);
        let mut series = BTreeMap::new();
        for resource in RANGE_RESOURCES {
            // The last request's headers (the heart range, below) carry the freshest budget.
            let (body, _) = self
                .get(
                    token,
                    &format!("/1/user/{user}/activities/{resource}/date/{start}/{end}.json"),
                )
                .await?;
            series.insert(resource, api::parse_time_series(resource, &body)?);
        }
        let (body, headers) = self
            .get(token, &format!("/1/user/{user}/activities/heart/date/{start}/{end}.json"))
            .await?;
        let worn = api::parse_heart_range(&body)?;
        Ok((
            api::days_from_ranges(dates, &series, &worn),
            headers,
            RANGE_RESOURCES.len() as u32 + 1,
        ))
    }
}

/// Longest span fetched with one set of range requests (the heart-rate range allows a year).
const MAX_RANGE_DAYS: i64 = 365;

#[async_trait::async_trait]
impl ActivityProvider for FitbitApi {
    fn name(&self) -> ProviderId {
        ProviderId::Fitbit
    }

    fn request_cost(&self, dates: usize) -> u32 {
        api::request_cost(dates)
    }

    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenGrant, ProviderError> {
        let response = self
            .http
            .post(&self.settings.token_url)
            .basic_auth(&self.settings.client_id, Some(self.settings.client_secret.expose_secret()))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose_secret()),
            ])
            .send()
            .await
            .map_err(Self::transient)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(Self::transient)?;
        metrics::counter!("fitex_provider_token_refreshes_total", "provider" => ProviderId::Fitbit.as_str(), "status" => status_class(status))
            .increment(1);
        match status {
            200..=299 => oauth::parse_token_response(&body, Utc::now()),
            400 | 401 => {
                let (kind, message) = api::error_type(&body);
                if kind == "invalid_grant" || kind == "invalid_token" || kind == "expired_token" {
                    Err(ProviderError::InvalidGrant(message))
                } else {
                    Err(ProviderError::Permanent(format!(
                        "token endpoint HTTP {status}: {kind} {message}"
                    )))
                }
            }
            _ => Err(api::classify_error(status, &body, None, Utc::now())),
        }
    }

    async fn fetch_days(
        &self,
        access_token: &SecretString,
        user_id: &str,
        dates: &[NaiveDate],
    ) -> Result<Fetched, ProviderError> {
        let mut dates = dates.to_vec();
        dates.sort();
        dates.dedup();
        let mut fetched = Fetched { days: Vec::new(), requests: 0, budget: None };
        // Contiguous chunks no longer than a range request allows.
        let mut chunks: Vec<Vec<NaiveDate>> = Vec::new();
        for date in dates {
            match chunks.last_mut() {
                Some(chunk) if (date - chunk[0]).num_days() < MAX_RANGE_DAYS => chunk.push(date),
                _ => chunks.push(vec![date]),
            }
        }
        for chunk in chunks {
            let (days, rate, requests) = if api::use_range_requests(&chunk) {
                self.fetch_range(access_token, user_id, &chunk).await?
            } else {
                self.fetch_per_day(access_token, user_id, &chunk).await?
            };
            fetched.days.extend(days);
            fetched.requests += requests;
            fetched.budget = rate.budget(Utc::now()).or(fetched.budget);
        }
        Ok(fetched)
    }

    async fn time_zone(
        &self,
        access_token: &SecretString,
        user_id: &str,
    ) -> Result<String, ProviderError> {
        #[derive(serde::Deserialize)]
        struct Profile {
            user: ProfileUser,
        }
        #[derive(serde::Deserialize)]
        struct ProfileUser {
            timezone: String,
        }
        let (body, _) = self.get(access_token, &format!("/1/user/{user_id}/profile.json")).await?;
        let profile: Profile = serde_json::from_slice(&body)
            .map_err(|e| ProviderError::Permanent(format!("unreadable profile: {e}")))?;
        Ok(profile.user.timezone)
    }
}

/// Why an authorization code brought no grant.
#[derive(Debug, thiserror::Error)]
pub enum CodeExchangeError {
    /// Fitbit could not be reached.
    #[error("the token endpoint could not be reached: {0}")]
    Unreachable(String),
    /// Fitbit refused the code (expired, used, another verifier or redirect URI).
    #[error("the token endpoint refused the code (HTTP {status})")]
    Refused { status: u16 },
    /// Fitbit accepted the code but its answer is no usable grant.
    #[error("the token endpoint's answer is unusable: {0}")]
    UnusableAnswer(ProviderError),
}

/// What Fitbit says of an access token when asked for its owner's profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCheck {
    /// Accepted; the profile's user id (`encodedId`) when the answer names one.
    Accepted { user_id: Option<String> },
    /// Accepted, but the token does not allow reading the profile (403).
    AcceptedWithoutProfile,
    /// Refused: expired or revoked (401).
    Refused,
    /// Over the user's request budget (429).
    RateLimited,
    /// Any other answer, by its HTTP status.
    Unexpected(u16),
}

impl FitbitApi {
    /// Exchanges an authorization code and its PKCE verifier for a grant (the authorization code
    /// flow's last step; `redirect_uri` as sent to the consent page).
    pub async fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
    ) -> Result<TokenGrant, CodeExchangeError> {
        let unreachable =
            |e: reqwest::Error| CodeExchangeError::Unreachable(e.without_url().to_string());
        let response = self
            .http
            .post(&self.settings.token_url)
            .basic_auth(&self.settings.client_id, Some(self.settings.client_secret.expose_secret()))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", self.settings.client_id.as_str()),
                ("code", code),
                ("code_verifier", code_verifier),
                ("redirect_uri", redirect_uri),
            ])
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(CodeExchangeError::Refused { status });
        }
        let body = response.bytes().await.map_err(|e| {
            CodeExchangeError::UnusableAnswer(ProviderError::Transient(e.without_url().to_string()))
        })?;
        oauth::parse_token_response(&body, Utc::now()).map_err(CodeExchangeError::UnusableAnswer)
    }

    /// Asks Fitbit whose `access_token` is (`GET /1/user/-/profile.json`): a token pasted by a
    /// participant is checked this way before it is stored. `Err` only when Fitbit could not be
    /// reached.
    pub async fn check_token(
        &self,
        access_token: &SecretString,
    ) -> Result<TokenCheck, ProviderError> {
        #[derive(serde::Deserialize)]
        struct Profile {
            user: ProfileUser,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct ProfileUser {
            encoded_id: Option<String>,
        }
        let response = self
            .request(reqwest::Method::GET, access_token, "/1/user/-/profile.json")
            .send()
            .await
            .map_err(Self::transient)?;
        Ok(match response.status().as_u16() {
            200..=299 => {
                let body = response.bytes().await.unwrap_or_default();
                let profile = serde_json::from_slice::<Profile>(&body).ok();
                TokenCheck::Accepted { user_id: profile.and_then(|p| p.user.encoded_id) }
            }
            403 => TokenCheck::AcceptedWithoutProfile,
            401 => TokenCheck::Refused,
            429 => TokenCheck::RateLimited,
            status => TokenCheck::Unexpected(status),
        })
    }

    /// Asks Fitbit to notify us of the token's user's activity changes, under the subscription
    /// id `id`.
    pub async fn subscribe_to_activities(
        &self,
        access_token: &SecretString,
        id: &str,
    ) -> Result<SubscriptionCreated, ProviderError> {
        self.create_subscription(access_token, Some(ACTIVITIES), id).await
    }
}

/// One of the user's subscriptions, as the Subscriptions API lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    #[serde(default)]
    pub collection_type: String,
    pub owner_id: String,
    #[serde(default)]
    pub subscriber_id: String,
    pub subscription_id: String,
}

/// What creating a subscription did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionCreated {
    Created,
    AlreadyExisted,
    /// The user's collection is subscribed under another id (Fitbit answers 409).
    ConflictingId,
}

impl FitbitApi {
    /// One Subscriptions API request on the subscriptions of `collection` (all collections when
    /// `None`), or on subscription `id` among them. `read` gives what an answer means by its
    /// status (and body); an answer it does not expect (`None`) is classified as an error.
    async fn subscription_request<T>(
        &self,
        method: reqwest::Method,
        access_token: &SecretString,
        collection: Option<&str>,
        id: Option<&str>,
        read: impl FnOnce(u16, &[u8]) -> Option<T>,
    ) -> Result<T, ProviderError> {
        let subscriptions = match collection {
            Some(collection) => format!("/1/user/-/{collection}/apiSubscriptions"),
            None => "/1/user/-/apiSubscriptions".to_string(),
        };
        let path = match id {
            Some(id) => format!("{subscriptions}/{id}.json"),
            None => format!("{subscriptions}.json"),
        };
        let mut request = self.request(method.clone(), access_token, &path);
        if method == reqwest::Method::POST {
            // Fitbit answers 411 to a POST without an explicit empty length.
            request = request.header(reqwest::header::CONTENT_LENGTH, "0");
        }
        let response = request.send().await.map_err(Self::transient)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(Self::transient)?;
        read(status, &body).ok_or_else(|| api::classify_error(status, &body, None, Utc::now()))
    }

    /// Subscribes the token's user to `collection` (all collections when `None`) under `id`.
    pub async fn create_subscription(
        &self,
        access_token: &SecretString,
        collection: Option<&str>,
        id: &str,
    ) -> Result<SubscriptionCreated, ProviderError> {
        let read = |status, _: &[u8]| match status {
            201 => Some(SubscriptionCreated::Created),
            200 => Some(SubscriptionCreated::AlreadyExisted),
            409 => Some(SubscriptionCreated::ConflictingId),
            _ => None,
        };
        self.subscription_request(reqwest::Method::POST, access_token, collection, Some(id), read)
            .await
    }

    pub async fn list_subscriptions(
        &self,
        access_token: &SecretString,
        collection: Option<&str>,
    ) -> Result<Vec<Subscription>, ProviderError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Listing {
            api_subscriptions: Vec<Subscription>,
        }
        let read = |status, body: &[u8]| (status == 200).then(|| body.to_vec());
        let body = self
            .subscription_request(reqwest::Method::GET, access_token, collection, None, read)
            .await?;
        serde_json::from_slice::<Listing>(&body)
            .map(|l| l.api_subscriptions)
            .map_err(|e| ProviderError::Permanent(format!("unreadable subscription list: {e}")))
    }

    /// Deletes a subscription; `Ok(false)` when it did not exist.
    pub async fn delete_subscription(
        &self,
        access_token: &SecretString,
        collection: Option<&str>,
        id: &str,
    ) -> Result<bool, ProviderError> {
        let read = |status, _: &[u8]| match status {
            204 | 200 => Some(true),
            404 => Some(false),
            _ => None,
        };
        self.subscription_request(reqwest::Method::DELETE, access_token, collection, Some(id), read)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real API is HTTPS: the client must be able to speak TLS (a build without a TLS backend
    /// fails before connecting, with "scheme is not http").
    #[tokio::test]
    async fn speaks_https() {
        let api = FitbitApi::new(FitbitApiSettings {
            api_base_url: "https://127.0.0.1:9".into(),
            token_url: "https://127.0.0.1:9/oauth2/token".into(),
            client_id: "c".into(),
            client_secret: SecretString::from("s"),
            request_timeout: Duration::from_secs(2),
        })
        .unwrap();
        let error = api.refresh(&SecretString::from("r")).await.unwrap_err();
        let ProviderError::Transient(message) = error else { panic!("unexpected {error:?}") };
        assert!(!message.contains("scheme"), "no TLS support: {message}");
    }
}
