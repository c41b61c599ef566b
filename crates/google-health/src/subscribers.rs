//! Managing the project's webhook subscriber (`v4/projects/{project}/subscribers`) and, for the
//! `MANUAL` policy, per-user subscriptions. These calls carry a developer-project access token
//! (a service account with the `cloud-platform` scope); getting that token is the caller's job.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The scope a project credential needs to manage subscribers.
pub const PROJECT_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Whether every consenting user is subscribed without a call per user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CreatePolicy {
    Automatic,
    Manual,
}

impl std::fmt::Display for CreatePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CreatePolicy::Automatic => "AUTOMATIC",
            CreatePolicy::Manual => "MANUAL",
        })
    }
}

impl std::str::FromStr for CreatePolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_uppercase().as_str() {
            "AUTOMATIC" => Ok(CreatePolicy::Automatic),
            "MANUAL" => Ok(CreatePolicy::Manual),
            _ => Err(format!("unknown subscription policy {text:?} (AUTOMATIC or MANUAL)")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriberConfig {
    pub data_types: Vec<String>,
    pub subscription_create_policy: CreatePolicy,
}

/// A subscriber as Google lists it (the secret is never returned, only whether one is set).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscriber {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub endpoint_uri: String,
    #[serde(default)]
    pub subscriber_configs: Vec<SubscriberConfig>,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub create_time: Option<String>,
    #[serde(default)]
    pub update_time: Option<String>,
}

impl Subscriber {
    /// The last part of `name` (`projects/p/subscribers/{id}`).
    pub fn id(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or_default()
    }
}

/// A per-user subscription (`MANUAL` policy).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub data_types: Vec<String>,
}

/// What a subscriber change did: Google answers with a long-running operation, done once the
/// endpoint verification passed (or failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperationOutcome {
    Done(Option<Subscriber>),
    /// Not finished when Google answered; it shows up in `list` once verified.
    Pending(String),
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SubscriberError {
    #[error("could not reach the Google Health API: {0}")]
    Unreachable(String),
    /// An error Google answered (with its status name, e.g. ALREADY_EXISTS, FAILED_PRECONDITION).
    #[error("Google Health API refused ({status}): {message}")]
    Refused { http_status: u16, status: String, message: String },
    #[error("unreadable answer from the Google Health API: {0}")]
    Unreadable(String),
    #[error("invalid subscriber request: {0}")]
    Invalid(String),
}

/// The subscriber id Google accepts: 4–36 characters, `[a-z]([a-z0-9-]{2,34}[a-z0-9])`.
pub fn validate_id(id: &str) -> Result<(), SubscriberError> {
    let bytes = id.as_bytes();
    let ok = (4..=36).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[bytes.len() - 1] != b'-';
    if ok {
        Ok(())
    } else {
        Err(SubscriberError::Invalid(format!(
            "{id:?} is not a valid id: 4-36 lower-case letters, digits and '-', starting with a \
             letter and not ending with '-'"
        )))
    }
}

/// The `CreateSubscriberPayload` body.
pub fn create_payload(
    endpoint_uri: &str,
    secret: &SecretString,
    configs: &[SubscriberConfig],
) -> serde_json::Value {
    serde_json::json!({
        "endpointUri": endpoint_uri,
        "subscriberConfigs": configs,
        "endpointAuthorization": {"secret": secret.expose_secret()},
    })
}

/// Reads an `Operation` answer: its error, or the subscriber it produced.
pub fn parse_operation(body: &[u8]) -> Result<OperationOutcome, SubscriberError> {
    #[derive(Deserialize)]
    struct Operation {
        #[serde(default)]
        name: String,
        #[serde(default)]
        done: bool,
        error: Option<Status>,
        response: Option<serde_json::Value>,
    }
    #[derive(Deserialize)]
    struct Status {
        #[serde(default)]
        code: i32,
        #[serde(default)]
        message: String,
        #[serde(default)]
        status: String,
    }
    let operation: Operation =
        serde_json::from_slice(body).map_err(|e| SubscriberError::Unreadable(e.to_string()))?;
    if let Some(error) = operation.error {
        let status =
            if error.status.is_empty() { format!("code {}", error.code) } else { error.status };
        return Err(SubscriberError::Refused { http_status: 200, status, message: error.message });
    }
    if !operation.done {
        return Ok(OperationOutcome::Pending(operation.name));
    }
    let subscriber = operation
        .response
        .filter(|r| r.get("name").is_some())
        .map(serde_json::from_value::<Subscriber>)
        .transpose()
        .map_err(|e| SubscriberError::Unreadable(e.to_string()))?;
    Ok(OperationOutcome::Done(subscriber))
}

fn refused(http_status: u16, body: &[u8]) -> SubscriberError {
    let error = crate::api::parse_error_body(body);
    SubscriberError::Refused {
        http_status,
        status: if error.status.is_empty() { format!("HTTP {http_status}") } else { error.status },
        message: error.message,
    }
}

/// The largest page Google's list methods return (`pageSize` above it is coerced to it).
pub const MAX_LIST_PAGE_SIZE: u32 = 1_000;

/// The project's subscribers and subscriptions, with a project access token.
pub struct ProjectSubscribers {
    http: reqwest::Client,
    base_url: String,
    project: String,
    token: SecretString,
    /// `pageSize` of list calls ([`MAX_LIST_PAGE_SIZE`] unless changed).
    page_size: u32,
}

impl ProjectSubscribers {
    pub fn new(
        api_base_url: &str,
        project: &str,
        token: SecretString,
        timeout: Duration,
    ) -> Result<Self, SubscriberError> {
        if project.is_empty() || project.contains('/') {
            return Err(SubscriberError::Invalid(format!("{project:?} is not a project id")));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent("fitex-sync")
            .build()
            .map_err(|e| SubscriberError::Unreachable(e.to_string()))?;
        Ok(ProjectSubscribers {
            http,
            base_url: api_base_url.trim_end_matches('/').to_owned(),
            project: project.to_owned(),
            token,
            page_size: MAX_LIST_PAGE_SIZE,
        })
    }

    /// Asks list calls for pages of `size` (1..=[`MAX_LIST_PAGE_SIZE`]); every page is still
    /// read. Smaller pages are for tests of the paging.
    pub fn with_page_size(mut self, size: u32) -> Self {
        self.page_size = size.clamp(1, MAX_LIST_PAGE_SIZE);
        self
    }

    fn url(&self, rest: &str) -> String {
        format!("{}/v4/projects/{}/subscribers{rest}", self.base_url, self.project)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Vec<u8>, SubscriberError> {
        let response = request
            .bearer_auth(self.token.expose_secret())
            .send()
            .await
            .map_err(|e| SubscriberError::Unreachable(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| SubscriberError::Unreachable(e.without_url().to_string()))?;
        if (200..300).contains(&status) {
            Ok(body.to_vec())
        } else {
            Err(refused(status, &body))
        }
    }

    /// Creates the subscriber; Google first verifies the endpoint (our subscriber service must
    /// answer its two verification calls).
    pub async fn create(
        &self,
        id: &str,
        endpoint_uri: &str,
        secret: &SecretString,
        configs: &[SubscriberConfig],
    ) -> Result<OperationOutcome, SubscriberError> {
        validate_id(id)?;
        let request = self
            .http
            .post(self.url(""))
            .query(&[("subscriberId", id)])
            .json(&create_payload(endpoint_uri, secret, configs));
        parse_operation(&self.send(request).await?)
    }

    pub async fn list(&self) -> Result<Vec<Subscriber>, SubscriberError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            subscribers: Vec<Subscriber>,
            #[serde(default, rename = "nextPageToken")]
            next_page_token: String,
        }
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let mut request =
                self.http.get(self.url("")).query(&[("pageSize", self.page_size.to_string())]);
            if !page_token.is_empty() {
                request = request.query(&[("pageToken", page_token.as_str())]);
            }
            let page: Page = serde_json::from_slice(&self.send(request).await?)
                .map_err(|e| SubscriberError::Unreadable(e.to_string()))?;
            all.extend(page.subscribers);
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            page_token = page.next_page_token;
        }
    }

    /// Changes only the given fields (Google re-verifies the endpoint when its URI or secret
    /// changes).
    pub async fn patch(
        &self,
        id: &str,
        endpoint_uri: Option<&str>,
        secret: Option<&SecretString>,
        configs: Option<&[SubscriberConfig]>,
    ) -> Result<OperationOutcome, SubscriberError> {
        validate_id(id)?;
        let mut body = serde_json::Map::new();
        let mut mask = Vec::new();
        if let Some(uri) = endpoint_uri {
            body.insert("endpointUri".into(), uri.into());
            mask.push("endpoint_uri");
        }
        if let Some(secret) = secret {
            body.insert(
                "endpointAuthorization".into(),
                serde_json::json!({"secret": secret.expose_secret()}),
            );
            mask.push("endpoint_authorization");
        }
        if let Some(configs) = configs {
            body.insert("subscriberConfigs".into(), serde_json::json!(configs));
            mask.push("subscriber_configs");
        }
        if mask.is_empty() {
            return Err(SubscriberError::Invalid("nothing to change".into()));
        }
        let request = self
            .http
            .patch(self.url(&format!("/{id}")))
            .query(&[("updateMask", mask.join(","))])
            .json(&serde_json::Value::Object(body));
        parse_operation(&self.send(request).await?)
    }

    /// Deletes the subscriber; `force` also deletes its per-user subscriptions.
    pub async fn delete(&self, id: &str, force: bool) -> Result<(), SubscriberError> {
        validate_id(id)?;
        let request = self
            .http
            .delete(self.url(&format!("/{id}")))
            .query(&[("force", if force { "true" } else { "false" })]);
        parse_operation(&self.send(request).await?).map(|_| ())
    }

    /// Subscribes one user (`MANUAL` policy) to `data_types`.
    pub async fn subscribe_user(
        &self,
        subscriber_id: &str,
        health_user_id: &str,
        data_types: &[String],
    ) -> Result<Subscription, SubscriberError> {
        validate_id(subscriber_id)?;
        let body =
            serde_json::json!({"user": format!("users/{health_user_id}"), "dataTypes": data_types});
        let request =
            self.http.post(self.url(&format!("/{subscriber_id}/subscriptions"))).json(&body);
        serde_json::from_slice(&self.send(request).await?)
            .map_err(|e| SubscriberError::Unreadable(e.to_string()))
    }

    /// Every per-user subscription of the subscriber, following `nextPageToken` page by page
    /// (Google answers 50 a page unless asked for more, at most 1,000).
    pub async fn user_subscriptions(
        &self,
        subscriber_id: &str,
    ) -> Result<Vec<Subscription>, SubscriberError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            subscriptions: Vec<Subscription>,
            #[serde(default, rename = "nextPageToken")]
            next_page_token: String,
        }
        validate_id(subscriber_id)?;
        let url = self.url(&format!("/{subscriber_id}/subscriptions"));
        let page_size = self.page_size.to_string();
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let mut request = self.http.get(&url).query(&[("pageSize", page_size.as_str())]);
            if !page_token.is_empty() {
                request = request.query(&[("pageToken", page_token.as_str())]);
            }
            let page: Page = serde_json::from_slice(&self.send(request).await?)
                .map_err(|e| SubscriberError::Unreadable(e.to_string()))?;
            all.extend(page.subscriptions);
            if page.next_page_token.is_empty() || page.next_page_token == page_token {
                return Ok(all);
            }
            page_token = page.next_page_token;
        }
    }

    /// Deletes one user subscription by its full name or its last part.
    pub async fn unsubscribe(
        &self,
        subscriber_id: &str,
        subscription: &str,
    ) -> Result<(), SubscriberError> {
        validate_id(subscriber_id)?;
        let id = subscription.rsplit('/').next().unwrap_or_default();
        let request = self.http.delete(self.url(&format!("/{subscriber_id}/subscriptions/{id}")));
        self.send(request).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriber_ids_follow_googles_pattern() {
        for good in ["fitex", "fitex-sync-1", "abcd", "a23456789012345678901234567890123456"] {
            assert!(validate_id(good).is_ok(), "{good}");
        }
        for bad in [
            "abc",
            "Fitex",
            "1fitex",
            "fitex-",
            "fit_ex",
            "a234567890123456789012345678901234567",
            "",
        ] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_create_payload_is_the_documented_shape() {
        let configs = [SubscriberConfig {
            data_types: vec!["steps".into()],
            subscription_create_policy: CreatePolicy::Automatic,
        }];
        assert_eq!(
            create_payload(
                "https://fitex.example/webhooks/google-health",
                &SecretString::from("Bearer x"),
                &configs
            ),
            serde_json::json!({"endpointUri":"https://fitex.example/webhooks/google-health",
                "subscriberConfigs":[{"dataTypes":["steps"],"subscriptionCreatePolicy":"AUTOMATIC"}],
                "endpointAuthorization":{"secret":"Bearer x"}})
        );
        assert_eq!("manual".parse::<CreatePolicy>(), Ok(CreatePolicy::Manual));
        assert!("sometimes".parse::<CreatePolicy>().is_err());
    }

    #[test]
    fn operations_are_read() {
        let done = br#"{"name":"projects/p/operations/1","done":true,"response":{"@type":"type.googleapis.com/google.devicesandservices.health.v4.Subscriber",
            "name":"projects/p/subscribers/fitex","endpointUri":"https://x","state":"ACTIVE",
            "subscriberConfigs":[{"dataTypes":["steps"],"subscriptionCreatePolicy":"MANUAL"}]}}"#;
        let OperationOutcome::Done(Some(subscriber)) = parse_operation(done).unwrap() else {
            panic!("a subscriber")
        };
        assert_eq!((subscriber.id(), subscriber.state.as_str()), ("fitex", "ACTIVE"));
        assert_eq!(
            subscriber.subscriber_configs[0].subscription_create_policy,
            CreatePolicy::Manual
        );

        let deleted = br#"{"name":"op","done":true,"response":{"@type":"type.googleapis.com/google.protobuf.Empty"}}"#;
        assert_eq!(parse_operation(deleted).unwrap(), OperationOutcome::Done(None));
        assert_eq!(
            parse_operation(br#"{"name":"op-2","done":false}"#).unwrap(),
            OperationOutcome::Pending("op-2".into())
        );
        let failed = br#"{"name":"op","done":true,"error":{"code":9,"message":"Endpoint verification failed","status":"FAILED_PRECONDITION"}}"#;
        assert!(matches!(
            parse_operation(failed),
            Err(SubscriberError::Refused { status, message, .. })
                if status == "FAILED_PRECONDITION" && message.contains("verification")
        ));
        assert!(matches!(parse_operation(b"<html>"), Err(SubscriberError::Unreadable(_))));
    }
}
