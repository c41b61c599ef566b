//! [`SimulatorClient`]'s methods for the Google mode's admin endpoints (`/_sim/google/…`).

use crate::client::{checked, json, SimulatorClient};
use crate::error::ClientError;
use crate::google::endpoints::KEYSET_PATH;
use crate::google::model::{
    EndpointCheck, GoogleDeliveries, GoogleDelivery, GoogleGrantRequest, GoogleKeys,
    GoogleProjectToken, GooglePush, GoogleUserTokens, ProjectRefusal, ProjectRefusalRequest,
    RawNotification, VerifyEndpoint,
};
use crate::model::Delivery;

impl SimulatorClient {
    fn google_url(&self, path: &str) -> String {
        self.url(&format!("/google{path}"))
    }

    /// Cohort users with their latest Google tokens (every cohort user consents at start-up).
    pub async fn google_cohort(&self) -> Result<Vec<GoogleUserTokens>, ClientError> {
        json(self.http.get(self.google_url("/cohort")).send().await?).await
    }

    /// A new offline Google consent for the user (activity, settings and profile) with tokens.
    pub async fn google_grant(&self, user_id: &str) -> Result<GoogleUserTokens, ClientError> {
        self.google_grant_scopes(user_id, &[]).await
    }

    /// A new offline Google consent for these scope URLs (empty: the default three).
    pub async fn google_grant_scopes(
        &self,
        user_id: &str,
        scopes: &[&str],
    ) -> Result<GoogleUserTokens, ClientError> {
        let url = self.google_url(&format!("/users/{user_id}/grant"));
        let body = GoogleGrantRequest { scopes: scopes.iter().map(|s| s.to_string()).collect() };
        json(self.http.post(url).json(&body).send().await?).await
    }

    /// The user withdraws their Google consent: refresh → `invalid_grant`, API calls → 401.
    pub async fn google_revoke(&self, user_id: &str) -> Result<(), ClientError> {
        let url = self.google_url(&format!("/users/{user_id}/revoke"));
        checked(self.http.post(url).send().await?).await.map(drop)
    }

    /// The user's Google access tokens expire now; the refresh token keeps working.
    pub async fn google_expire_tokens(&self, user_id: &str) -> Result<(), ClientError> {
        let url = self.google_url(&format!("/users/{user_id}/expire-tokens"));
        checked(self.http.post(url).send().await?).await.map(drop)
    }

    /// A project token with the `cloud-platform` scope (what the `jwt-bearer` grant gives).
    pub async fn google_project_token(&self) -> Result<GoogleProjectToken, ClientError> {
        json(self.http.post(self.google_url("/project-token")).send().await?).await
    }

    /// The service account's key file as JSON text (e.g. for
    /// `gcp_auth::CustomServiceAccount::from_json`); its `token_uri` points at this simulator.
    pub async fn google_service_account_json(&self) -> Result<String, ClientError> {
        let response = self.http.get(self.google_url("/service-account.json")).send().await?;
        Ok(checked(response).await?.text().await?)
    }

    /// The public keyset notifications are signed under (Tink JSON, primary first).
    pub async fn google_keyset_json(&self) -> Result<String, ClientError> {
        let url = format!("{}{KEYSET_PATH}", self.base_url);
        Ok(checked(self.http.get(url).send().await?).await?.text().await?)
    }

    pub async fn google_keys(&self) -> Result<GoogleKeys, ClientError> {
        json(self.http.get(self.google_url("/keys")).send().await?).await
    }

    /// Adds a signing key, which signs from now on; the old keys stay published.
    pub async fn google_rotate_keys(&self) -> Result<GoogleKeys, ClientError> {
        json(self.http.post(self.google_url("/keys/rotate")).send().await?).await
    }

    /// Unpublishes every key but the primary.
    pub async fn google_retire_keys(&self) -> Result<GoogleKeys, ClientError> {
        json(self.http.post(self.google_url("/keys/retire")).send().await?).await
    }

    /// Refuses every user data call for the whole project with `reason` (a 403 with Google's
    /// ErrorInfo reason), or with `None` answers normally again.
    pub async fn google_refuse_project(
        &self,
        reason: Option<ProjectRefusal>,
    ) -> Result<(), ClientError> {
        let url = self.google_url("/project-refusal");
        let body = ProjectRefusalRequest { reason };
        checked(self.http.post(url).json(&body).send().await?).await.map(drop)
    }

    /// Signs and sends a change notification to every subscriber that would get it.
    pub async fn google_push(&self, push: GooglePush) -> Result<Vec<GoogleDelivery>, ClientError> {
        let url = self.google_url("/notifications");
        let answer: GoogleDeliveries = json(self.http.post(url).json(&push).send().await?).await?;
        Ok(answer.deliveries)
    }

    /// POSTs an arbitrary body, signed as asked, to any URL.
    pub async fn google_raw_notification(
        &self,
        raw: RawNotification,
    ) -> Result<Delivery, ClientError> {
        json(self.http.post(self.google_url("/raw-notification")).json(&raw).send().await?).await
    }

    /// Runs Google's two-call endpoint verification against `url`.
    pub async fn google_verify_endpoint(
        &self,
        url: &str,
        secret: &str,
    ) -> Result<EndpointCheck, ClientError> {
        let body = VerifyEndpoint { url: url.to_string(), secret: secret.to_string() };
        json(self.http.post(self.google_url("/verify-endpoint")).json(&body).send().await?).await
    }
}
