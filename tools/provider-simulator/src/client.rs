//! A typed client over the simulator's `/_sim` admin endpoints.

use chrono::NaiveDate;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ClientError;
use crate::google::model::GoogleUserTokens;
use crate::model::{
    AccessTokenOnly, CohortUser, CreateUser, DayData, DayRecord, Deliveries, Delivery, Fault,
    ImplicitTokenRequest, Notification, PushRequest, RateLimitOverride, Stats, SubscriberTarget,
    UserTokens,
};

#[derive(Debug, Clone)]
pub struct SimulatorClient {
    pub(crate) base_url: String,
    pub(crate) http: reqwest::Client,
}

pub(crate) async fn checked(response: reqwest::Response) -> Result<reqwest::Response, ClientError> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    Err(ClientError::Status { status, body })
}

pub(crate) async fn json<T: DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, ClientError> {
    Ok(checked(response).await?.json().await?)
}

pub(crate) fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

impl SimulatorClient {
    /// A client for a simulator at `base_url` (e.g. one started by the `provider-simulator` binary).
    pub fn new(base_url: &str) -> Self {
        SimulatorClient {
            base_url: base_url.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// An admin URL: `{base}/_sim{path}`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/_sim{path}", self.base_url)
    }

    pub async fn create_user(&self, request: CreateUser) -> Result<UserTokens, ClientError> {
        json(self.http.post(self.url("/users")).json(&request).send().await?).await
    }

    /// Creates a person who never used the Fitbit API (`google_only`, whatever `request` says):
    /// no Fitbit tokens, a Google consent for the Google equivalents of `request.scopes`.
    pub async fn create_google_only_user(
        &self,
        request: CreateUser,
    ) -> Result<GoogleUserTokens, ClientError> {
        let request = CreateUser { google_only: true, ..request };
        json(self.http.post(self.url("/users")).json(&request).send().await?).await
    }

    /// A long-lived implicit-grant access token (no refresh token) with the user's scopes.
    pub async fn issue_implicit_token(
        &self,
        user_id: &str,
        expires_in_secs: u64,
    ) -> Result<String, ClientError> {
        let request = ImplicitTokenRequest { expires_in: expires_in_secs };
        let url = self.url(&format!("/users/{user_id}/implicit-token"));
        let token: AccessTokenOnly = json(self.http.post(url).json(&request).send().await?).await?;
        Ok(token.access_token)
    }

    /// Sets a day's data; when a subscriber URL is set, the signed Fitbit notification's
    /// deliveries (Google subscribers are notified too: see [`Self::set_day_record`]).
    pub async fn set_day(
        &self,
        user_id: &str,
        date: NaiveDate,
        day: DayData,
    ) -> Result<Vec<Delivery>, ClientError> {
        let url = self.url(&format!("/users/{user_id}/days/{}", date_text(date)));
        let deliveries: Deliveries = json(self.http.put(url).json(&day).send().await?).await?;
        Ok(deliveries.deliveries)
    }

    pub async fn day(
        &self,
        user_id: &str,
        date: NaiveDate,
    ) -> Result<Option<DayData>, ClientError> {
        Ok(self.day_record(user_id, date).await?.map(|record| record.day))
    }

    /// Sets a day with its hand-entered steps; the Fitbit deliveries and the Google ones.
    pub async fn set_day_record(
        &self,
        user_id: &str,
        date: NaiveDate,
        record: DayRecord,
    ) -> Result<Deliveries, ClientError> {
        let url = self.url(&format!("/users/{user_id}/days/{}", date_text(date)));
        json(self.http.put(url).json(&record).send().await?).await
    }

    /// A day with its hand-entered steps (None: no data that day).
    pub async fn day_record(
        &self,
        user_id: &str,
        date: NaiveDate,
    ) -> Result<Option<DayRecord>, ClientError> {
        let url = self.url(&format!("/users/{user_id}/days/{}", date_text(date)));
        let response = self.http.get(url).send().await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        json(response).await.map(Some)
    }

    /// Posts the batch once and then `duplicates` more times; one delivery per POST.
    pub async fn push_notifications(
        &self,
        notifications: Vec<Notification>,
        duplicates: usize,
    ) -> Result<Vec<Delivery>, ClientError> {
        let request = PushRequest { notifications, duplicates };
        let deliveries: Deliveries =
            json(self.http.post(self.url("/notifications")).json(&request).send().await?).await?;
        Ok(deliveries.deliveries)
    }

    /// Makes the user's current access tokens expired; the refresh token keeps working.
    pub async fn expire_tokens(&self, user_id: &str) -> Result<(), ClientError> {
        let url = self.url(&format!("/users/{user_id}/expire-tokens"));
        checked(self.http.post(url).send().await?).await.map(drop)
    }

    /// The user revokes access: every token stops working, `userRevokedAccess` subscribers are
    /// notified (their deliveries are returned) and the user's subscriptions are removed.
    pub async fn revoke(&self, user_id: &str) -> Result<Vec<Delivery>, ClientError> {
        let url = self.url(&format!("/users/{user_id}/revoke"));
        let deliveries: Deliveries = json(self.http.post(url).send().await?).await?;
        Ok(deliveries.deliveries)
    }

    /// Sets the user's remaining budget and when the window resets.
    pub async fn set_rate_limit(
        &self,
        user_id: &str,
        remaining: u32,
        reset_seconds: u64,
    ) -> Result<(), ClientError> {
        let url = self.url(&format!("/users/{user_id}/rate-limit"));
        let body = RateLimitOverride { remaining, reset_seconds };
        checked(self.http.post(url).json(&body).send().await?).await.map(drop)
    }

    pub async fn set_fault(&self, fault: Fault) -> Result<(), ClientError> {
        checked(self.http.post(self.url("/faults")).json(&fault).send().await?).await.map(drop)
    }

    pub async fn clear_faults(&self) -> Result<(), ClientError> {
        checked(self.http.delete(self.url("/faults")).send().await?).await.map(drop)
    }

    pub async fn stats(&self) -> Result<Stats, ClientError> {
        json(self.http.get(self.url("/stats")).send().await?).await
    }

    pub async fn reset_stats(&self) -> Result<(), ClientError> {
        checked(self.http.delete(self.url("/stats")).send().await?).await.map(drop)
    }

    /// Pre-made cohort users with their latest tokens.
    pub async fn cohort(&self) -> Result<Vec<CohortUser>, ClientError> {
        json(self.http.get(self.url("/cohort")).send().await?).await
    }

    /// Changes (or with None, stops) where notifications are pushed.
    pub async fn set_subscriber_url(&self, url: Option<String>) -> Result<(), ClientError> {
        let body = SubscriberTarget { url };
        checked(self.http.put(self.url("/subscriber")).json(&body).send().await?).await.map(drop)
    }
}
