//! The Google side of the simulator's world, as data: consents (grants) and their tokens,
//! authorization codes, per-user quotas, subscribers and subscriptions, signing keys. It lives
//! inside the one world mutex ([`crate::state::World`]), next to the users it refers to; the
//! [`Store`](crate::state::Store) methods over it are in [`super::state`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use serde_json::{json, Value};

use crate::google::keys::SigningKeys;
use crate::google::model::{GoogleUserTokens, ProjectRefusal};
use crate::google::scope::GoogleScope;
use crate::google::wire;

/// One consent: a user allowed the client these scopes. Its tokens die with it.
pub(super) struct Grant {
    pub(super) user_id: String,
    pub(super) scopes: BTreeSet<GoogleScope>,
    pub(super) revoked: bool,
}

/// Whose access token it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    /// A user's, through grant `id`.
    Grant(u64),
    /// The project's service account.
    Project,
}

pub(super) struct AccessToken {
    pub(super) owner: Owner,
    pub(super) scopes: BTreeSet<GoogleScope>,
    pub(super) expires_at: DateTime<Utc>,
}

pub(super) struct Code {
    pub(super) user_id: String,
    pub(super) redirect_uri: String,
    pub(super) scopes: BTreeSet<GoogleScope>,
    pub(super) code_challenge: Option<String>,
    /// `access_type=offline` was asked: the exchange also gives a refresh token.
    pub(super) offline: bool,
    pub(super) expires_at: DateTime<Utc>,
}

/// A per-user fixed window: `used` calls since `started`.
pub(super) struct QuotaWindow {
    pub(super) started: DateTime<Utc>,
    pub(super) used: u32,
}

/// A subscriber as stored (the secret is kept, never answered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subscriber {
    pub id: String,
    pub endpoint_uri: String,
    pub secret: String,
    pub configs: Vec<SubscriberConfig>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CreatePolicy {
    Automatic,
    Manual,
}

impl CreatePolicy {
    pub fn parse(text: &str) -> Option<CreatePolicy> {
        match text {
            "AUTOMATIC" => Some(CreatePolicy::Automatic),
            "MANUAL" => Some(CreatePolicy::Manual),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CreatePolicy::Automatic => "AUTOMATIC",
            CreatePolicy::Manual => "MANUAL",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubscriberConfig {
    pub data_types: Vec<String>,
    pub policy: CreatePolicy,
}

impl Subscriber {
    /// The policy under which `data_type` is notified, if any configuration names it.
    pub fn policy_for(&self, data_type: &str) -> Option<CreatePolicy> {
        self.configs
            .iter()
            .find(|config| config.data_types.iter().any(|t| t == data_type))
            .map(|config| config.policy)
    }

    /// Google's `Subscriber` JSON (the secret only as `secretSet`).
    pub fn to_json(&self, project: &str) -> Value {
        let configs: Vec<Value> = self
            .configs
            .iter()
            .map(|config| {
                json!({"dataTypes": config.data_types,
                    "subscriptionCreatePolicy": config.policy.name()})
            })
            .collect();
        json!({
            "name": format!("projects/{project}/subscribers/{}", self.id),
            "endpointUri": self.endpoint_uri,
            "subscriberConfigs": configs,
            "endpointAuthorization": {"secretSet": true},
            "state": "ACTIVE",
            "createTime": wire::timestamp(self.create_time),
            "updateTime": wire::timestamp(self.update_time),
        })
    }
}

/// A MANUAL per-user subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subscription {
    pub subscriber_id: String,
    pub id: String,
    pub health_user_id: String,
    pub data_types: Vec<String>,
}

impl Subscription {
    pub fn to_json(&self, project: &str) -> Value {
        json!({
            "name": format!("projects/{project}/subscribers/{}/subscriptions/{}",
                self.subscriber_id, self.id),
            "user": format!("users/{}", self.health_user_id),
            "dataTypes": self.data_types,
        })
    }
}

/// Where one notification goes.
#[derive(Debug, Clone)]
pub(crate) struct NotificationTarget {
    pub subscriber_id: String,
    pub endpoint_uri: String,
    pub secret: String,
}

/// An authenticated caller of the Google API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GoogleCaller {
    User { user_id: String, health_user_id: String, scopes: BTreeSet<GoogleScope> },
    Project { scopes: BTreeSet<GoogleScope> },
}

/// What the token endpoint answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IssuedTokens {
    pub access_token: String,
    /// Seconds as reported: one less than the real lifetime, as Google does.
    pub expires_in: u64,
    pub scopes: BTreeSet<GoogleScope>,
    pub refresh_token: Option<String>,
}

/// A user's Google-facing facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GoogleProfile {
    pub health_user_id: String,
    pub timezone: String,
    /// The Fitbit id, unless the user never used the Fitbit API.
    pub legacy_user_id: Option<String>,
}

#[derive(Default)]
pub(crate) struct GoogleWorld {
    pub(super) grants: HashMap<u64, Grant>,
    pub(super) next_grant_id: u64,
    pub(super) access_tokens: HashMap<String, AccessToken>,
    /// Refresh token → grant id.
    pub(super) refresh_tokens: HashMap<String, u64>,
    pub(super) codes: HashMap<String, Code>,
    /// The latest tokens of each user's latest admin/cohort grant (for `GET /_sim/google/cohort`).
    pub(super) latest_tokens: HashMap<String, GoogleUserTokens>,
    pub(super) quotas: HashMap<String, QuotaWindow>,
    pub(super) subscribers: BTreeMap<String, Subscriber>,
    /// By (subscriber id, subscription id).
    pub(super) subscriptions: BTreeMap<(String, String), Subscription>,
    pub(super) keys: SigningKeys,
    /// While set, every user data call is refused for the whole project.
    pub(super) project_refusal: Option<ProjectRefusal>,
}

fn random_token(bytes: usize) -> String {
    let mut rng = rand::rng();
    let raw: Vec<u8> = (0..bytes).map(|_| rng.random()).collect();
    URL_SAFE_NO_PAD.encode(raw)
}

/// Google-looking token shapes: `ya29.…` access tokens, `1//…` refresh tokens, `4/0…` codes.
fn new_access_token() -> String {
    format!("ya29.{}", random_token(48))
}

pub(super) fn new_refresh_token() -> String {
    format!("1//{}", random_token(36))
}

pub(super) fn new_code() -> String {
    format!("4/0{}", random_token(30))
}

/// A generated subscriber or subscription id that passes Google's id pattern.
pub(crate) fn generated_id() -> String {
    format!("sim-{}", random_token(9).to_ascii_lowercase().replace(['_', '-'], "0"))
}

impl GoogleWorld {
    pub(super) fn live_grant(&self, id: u64) -> Option<&Grant> {
        self.grants.get(&id).filter(|grant| !grant.revoked)
    }

    pub(super) fn mint_access_token(
        &mut self,
        owner: Owner,
        scopes: &BTreeSet<GoogleScope>,
        ttl: TimeDelta,
        now: DateTime<Utc>,
    ) -> String {
        let token = new_access_token();
        self.access_tokens.insert(
            token.clone(),
            AccessToken { owner, scopes: scopes.clone(), expires_at: now + ttl },
        );
        token
    }

    /// Revokes a grant and forgets its tokens.
    pub(super) fn revoke_grant(&mut self, grant_id: u64) {
        if let Some(grant) = self.grants.get_mut(&grant_id) {
            grant.revoked = true;
            let user_id = grant.user_id.clone();
            self.access_tokens.retain(|_, t| t.owner != Owner::Grant(grant_id));
            self.refresh_tokens.retain(|_, g| *g != grant_id);
            // The cohort view loses this consent's tokens.
            let refresh_tokens = &self.refresh_tokens;
            self.latest_tokens.retain(|id, tokens| {
                id != &user_id || refresh_tokens.contains_key(&tokens.refresh_token)
            });
        }
    }
}
