//! The [`Store`] methods over the Google side of the world
//! ([`GoogleWorld`](crate::google::world::GoogleWorld)): consents and their tokens, authorization
//! codes, per-user quotas, subscribers and subscriptions, signing keys, and the project's service
//! account.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, MutexGuard};

use chrono::{DateTime, TimeDelta, Utc};
use p256::ecdsa::SigningKey;

use crate::error::ApiError;
use crate::google::endpoints::GoogleEndpoint;
use crate::google::error::{GoogleApiError, OAuthError};
use crate::google::model::{GoogleKeys, GoogleUserTokens, ProjectRefusal};
use crate::google::scope::{self, GoogleScope};
use crate::google::service_account::{KeyGenerationError, ServiceAccount};
use crate::google::world::{
    new_code, new_refresh_token, Code, CreatePolicy, GoogleCaller, GoogleProfile, Grant,
    IssuedTokens, NotificationTarget, Owner, QuotaWindow, Subscriber, Subscription,
};
use crate::state::{unknown_user, Store, User, World};

/// How long an authorization code can be exchanged.
pub const GOOGLE_CODE_TTL: TimeDelta = TimeDelta::minutes(10);

/// The simulator id of the user whose Google `healthUserId` this is.
fn find_user_by_health_id<'a>(
    users: &'a BTreeMap<String, User>,
    health_user_id: &str,
) -> Option<&'a String> {
    users.iter().find(|(_, user)| user.health_user_id == health_user_id).map(|(id, _)| id)
}

impl Store {
    fn google_ttl(&self) -> TimeDelta {
        TimeDelta::from_std(self.config.google_access_token_ttl).unwrap_or(TimeDelta::hours(1))
    }

    fn google_expires_in(&self) -> u64 {
        self.config.google_access_token_ttl.as_secs().saturating_sub(1)
    }

    // ---- users -------------------------------------------------------------------------------

    pub fn google_profile(&self, user_id: &str) -> Result<GoogleProfile, ApiError> {
        let world = self.world();
        let user = world.users.get(user_id).ok_or_else(|| unknown_user(user_id))?;
        Ok(GoogleProfile {
            health_user_id: user.health_user_id.clone(),
            timezone: user.timezone.clone(),
            legacy_user_id: (!user.google_only).then(|| user_id.to_string()),
        })
    }

    /// The simulator id of the user with this id or Google `healthUserId`.
    pub fn google_resolve_user(&self, id: &str) -> Option<String> {
        let world = self.world();
        if world.users.contains_key(id) {
            return Some(id.to_string());
        }
        find_user_by_health_id(&world.users, id).cloned()
    }

    // ---- OAuth -------------------------------------------------------------------------------

    pub fn google_create_code(
        &self,
        user_id: &str,
        redirect_uri: &str,
        scopes: BTreeSet<GoogleScope>,
        code_challenge: Option<String>,
        offline: bool,
        now: DateTime<Utc>,
    ) -> String {
        let code = new_code();
        self.world().google.codes.insert(
            code.clone(),
            Code {
                user_id: user_id.to_string(),
                redirect_uri: redirect_uri.to_string(),
                scopes,
                code_challenge,
                offline,
                expires_at: now + GOOGLE_CODE_TTL,
            },
        );
        code
    }

    /// Exchanges a code (single use: any attempt consumes it) for a new consent's tokens.
    pub fn google_exchange_code(
        &self,
        code: &str,
        code_verifier: Option<&str>,
        redirect_uri: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<IssuedTokens, OAuthError> {
        let bad_request = || OAuthError::InvalidGrant("Bad Request".to_string());
        let mut world = self.world();
        let grant = world.google.codes.remove(code).ok_or_else(bad_request)?;
        if now >= grant.expires_at {
            return Err(bad_request());
        }
        if redirect_uri != Some(grant.redirect_uri.as_str()) {
            return Err(OAuthError::RedirectUriMismatch);
        }
        if let Some(challenge) = &grant.code_challenge {
            if !code_verifier.is_some_and(|v| crate::pkce::verifier_matches(v, challenge)) {
                return Err(OAuthError::InvalidGrant("Invalid code verifier.".to_string()));
            }
        }
        world.stats.authorization_code_exchanges += 1;
        drop(world);
        Ok(self.google_issue_grant(&grant.user_id, grant.scopes, grant.offline, now))
    }

    /// Records a consent and issues its first tokens.
    fn google_issue_grant(
        &self,
        user_id: &str,
        scopes: BTreeSet<GoogleScope>,
        offline: bool,
        now: DateTime<Utc>,
    ) -> IssuedTokens {
        let ttl = self.google_ttl();
        let mut world = self.world();
        let google = &mut world.google;
        let grant_id = google.next_grant_id;
        google.next_grant_id += 1;
        google.grants.insert(
            grant_id,
            Grant { user_id: user_id.to_string(), scopes: scopes.clone(), revoked: false },
        );
        let access_token = google.mint_access_token(Owner::Grant(grant_id), &scopes, ttl, now);
        let refresh_token = offline.then(|| {
            let token = new_refresh_token();
            google.refresh_tokens.insert(token.clone(), grant_id);
            token
        });
        IssuedTokens { access_token, expires_in: self.google_expires_in(), scopes, refresh_token }
    }

    /// A new access token for a refresh token; Google's refresh tokens do not rotate, so the
    /// answer has none and the same one keeps working.
    pub fn google_refresh(
        &self,
        refresh_token: &str,
        now: DateTime<Utc>,
    ) -> Result<IssuedTokens, OAuthError> {
        let ttl = self.google_ttl();
        let mut world = self.world();
        let grant =
            world.google.refresh_tokens.get(refresh_token).and_then(|id| {
                world.google.live_grant(*id).map(|grant| (*id, grant.scopes.clone()))
            });
        let Some((grant_id, scopes)) = grant else {
            world.stats.refresh_failures += 1;
            return Err(OAuthError::InvalidGrant("Token has been expired or revoked.".into()));
        };
        world.stats.token_refreshes += 1;
        let google = &mut world.google;
        let access_token = google.mint_access_token(Owner::Grant(grant_id), &scopes, ttl, now);
        // Keep the cohort view current: the latest access token of this consent.
        for tokens in google.latest_tokens.values_mut() {
            if tokens.refresh_token == refresh_token {
                tokens.access_token = access_token.clone();
            }
        }
        Ok(IssuedTokens {
            access_token,
            expires_in: self.google_expires_in(),
            scopes,
            refresh_token: None,
        })
    }

    /// A project (service account) access token.
    pub fn google_issue_project_token(
        &self,
        scopes: BTreeSet<GoogleScope>,
        now: DateTime<Utc>,
    ) -> IssuedTokens {
        let ttl = self.google_ttl();
        let access_token = self.world().google.mint_access_token(Owner::Project, &scopes, ttl, now);
        IssuedTokens {
            access_token,
            expires_in: self.google_expires_in(),
            scopes,
            refresh_token: None,
        }
    }

    /// `POST /google/revoke`: a refresh or access token; revoking either withdraws the whole
    /// consent (as Google does) — a project token just stops working. False when unknown.
    pub fn google_revoke_token(&self, token: &str) -> bool {
        let mut world = self.world();
        let google = &mut world.google;
        let owner = match google.refresh_tokens.get(token) {
            Some(grant_id) => Some(Owner::Grant(*grant_id)),
            None => google.access_tokens.get(token).map(|t| t.owner),
        };
        match owner {
            Some(Owner::Grant(grant_id)) => {
                google.revoke_grant(grant_id);
                true
            }
            Some(Owner::Project) => google.access_tokens.remove(token).is_some(),
            None => false,
        }
    }

    /// An admin-made consent (offline) for `scopes`; its tokens become the user's cohort entry.
    pub fn google_grant(
        &self,
        user_id: &str,
        scopes: BTreeSet<GoogleScope>,
        now: DateTime<Utc>,
    ) -> Result<GoogleUserTokens, ApiError> {
        let profile = self.google_profile(user_id)?;
        let issued = self.google_issue_grant(user_id, scopes, true, now);
        let tokens = GoogleUserTokens {
            user_id: user_id.to_string(),
            health_user_id: profile.health_user_id,
            timezone: profile.timezone,
            access_token: issued.access_token,
            refresh_token: issued.refresh_token.expect("an offline grant has a refresh token"),
            expires_in: issued.expires_in,
            scope: scope::scope_string(&issued.scopes),
        };
        self.world().google.latest_tokens.insert(user_id.to_string(), tokens.clone());
        Ok(tokens)
    }

    /// The locked world with the ids of every grant a known user gave (revoked ones too).
    fn google_grants_of(
        &self,
        user_id: &str,
    ) -> Result<(MutexGuard<'_, World>, BTreeSet<u64>), ApiError> {
        let world = self.world();
        if !world.users.contains_key(user_id) {
            return Err(unknown_user(user_id));
        }
        let grants = world
            .google
            .grants
            .iter()
            .filter(|(_, grant)| grant.user_id == user_id)
            .map(|(id, _)| *id)
            .collect();
        Ok((world, grants))
    }

    /// The user withdraws every Google consent: refresh → `invalid_grant`, API → 401.
    pub fn google_revoke_user(&self, user_id: &str) -> Result<(), ApiError> {
        let (mut world, grant_ids) = self.google_grants_of(user_id)?;
        let google = &mut world.google;
        for grant_id in grant_ids {
            google.revoke_grant(grant_id);
        }
        google.latest_tokens.remove(user_id);
        Ok(())
    }

    /// Every current access token of the user expires now; refresh tokens keep working.
    pub fn google_expire_tokens(&self, user_id: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
        let (mut world, grants) = self.google_grants_of(user_id)?;
        for token in world.google.access_tokens.values_mut() {
            if matches!(token.owner, Owner::Grant(id) if grants.contains(&id)) {
                token.expires_at = token.expires_at.min(now);
            }
        }
        Ok(())
    }

    /// Cohort users with their latest Google tokens (those whose consent is still live).
    pub fn google_cohort(&self) -> Vec<GoogleUserTokens> {
        let world = self.world();
        world
            .cohort_ids
            .iter()
            .filter_map(|id| world.google.latest_tokens.get(id).cloned())
            .collect()
    }

    /// Whether the user has a live consent that includes `needs`.
    pub fn google_has_consent(&self, user_id: &str, needs: GoogleScope) -> bool {
        self.world().google.grants.values().any(|grant| {
            !grant.revoked && grant.user_id == user_id && grant.scopes.contains(&needs)
        })
    }

    /// Checks a bearer token: unknown, revoked or expired → 401.
    pub fn google_authenticate(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<GoogleCaller, GoogleApiError> {
        let world = self.world();
        let record =
            world.google.access_tokens.get(token).ok_or(GoogleApiError::Unauthenticated)?;
        if now >= record.expires_at {
            return Err(GoogleApiError::Unauthenticated);
        }
        match record.owner {
            Owner::Project => Ok(GoogleCaller::Project { scopes: record.scopes.clone() }),
            Owner::Grant(grant_id) => {
                let grant =
                    world.google.live_grant(grant_id).ok_or(GoogleApiError::Unauthenticated)?;
                let user =
                    world.users.get(&grant.user_id).ok_or(GoogleApiError::Unauthenticated)?;
                Ok(GoogleCaller::User {
                    user_id: grant.user_id.clone(),
                    health_user_id: user.health_user_id.clone(),
                    scopes: record.scopes.clone(),
                })
            }
        }
    }

    // ---- quota and statistics ----------------------------------------------------------------

    /// Spends one call of the user's quota for the current window; false (and counted in
    /// `rate_limited`) when it is used up. A window starts with the first call after the
    /// previous one ended and lasts `google_rate_limit_window`.
    pub fn google_admit(&self, user_id: &str, now: DateTime<Utc>) -> bool {
        let limit = self.config.google_rate_limit_per_minute;
        let length = TimeDelta::from_std(self.config.google_rate_limit_window)
            .unwrap_or(TimeDelta::minutes(1));
        let mut world = self.world();
        let window = world
            .google
            .quotas
            .entry(user_id.to_string())
            .or_insert(QuotaWindow { started: now, used: 0 });
        if now >= window.started + length {
            *window = QuotaWindow { started: now, used: 0 };
        }
        if window.used >= limit {
            world.stats.rate_limited += 1;
            return false;
        }
        window.used += 1;
        true
    }

    /// Counts a Google API call (`user_id`: None for project calls).
    pub fn google_record_call(&self, user_id: Option<&str>, endpoint: GoogleEndpoint) {
        let mut world = self.world();
        let stats = &mut world.stats;
        stats.api_calls += 1;
        if let Some(user_id) = user_id {
            *stats.api_calls_by_user.entry(user_id.to_string()).or_default() += 1;
        }
        *stats.api_calls_by_endpoint.entry(endpoint.label().to_string()).or_default() += 1;
    }

    pub fn count_google_notification_post(&self) {
        self.world().stats.google_notification_posts += 1;
    }

    // ---- subscribers -------------------------------------------------------------------------

    pub fn google_subscriber(&self, id: &str) -> Option<Subscriber> {
        self.world().google.subscribers.get(id).cloned()
    }

    pub fn google_subscribers(&self) -> Vec<Subscriber> {
        self.world().google.subscribers.values().cloned().collect()
    }

    /// Stores a verified subscriber, unless its id was taken meanwhile.
    pub fn google_insert_subscriber(&self, subscriber: Subscriber) -> Result<(), GoogleApiError> {
        let mut world = self.world();
        let subscribers = &mut world.google.subscribers;
        if subscribers.contains_key(&subscriber.id) {
            return Err(subscriber_exists(&subscriber.id));
        }
        subscribers.insert(subscriber.id.clone(), subscriber);
        Ok(())
    }

    /// Replaces a subscriber (after a patch); false when it was deleted meanwhile.
    pub fn google_replace_subscriber(&self, subscriber: Subscriber) -> bool {
        let mut world = self.world();
        match world.google.subscribers.get_mut(&subscriber.id) {
            Some(slot) => {
                *slot = subscriber;
                true
            }
            None => false,
        }
    }

    /// Deletes a subscriber; with subscriptions, only when `force` (which deletes them too).
    pub fn google_delete_subscriber(&self, id: &str, force: bool) -> Result<(), GoogleApiError> {
        let mut world = self.world();
        let google = &mut world.google;
        if !google.subscribers.contains_key(id) {
            return Err(subscriber_not_found(id));
        }
        let has_children = google.subscriptions.keys().any(|(subscriber, _)| subscriber == id);
        if has_children && !force {
            return Err(GoogleApiError::FailedPrecondition(format!(
                "Subscriber {id} has subscriptions; delete them first or set force=true"
            )));
        }
        google.subscriptions.retain(|(subscriber, _), _| subscriber != id);
        google.subscribers.remove(id);
        Ok(())
    }

    /// Creates a MANUAL subscription for the user with `health_user_id`.
    pub fn google_create_subscription(
        &self,
        subscriber_id: &str,
        subscription_id: String,
        health_user_id: &str,
        data_types: Vec<String>,
    ) -> Result<Subscription, GoogleApiError> {
        let mut world = self.world();
        let subscriber = world
            .google
            .subscribers
            .get(subscriber_id)
            .ok_or_else(|| subscriber_not_found(subscriber_id))?;
        if find_user_by_health_id(&world.users, health_user_id).is_none() {
            return Err(GoogleApiError::NotFound(format!("User users/{health_user_id} not found")));
        }
        let data_types = if data_types.is_empty() {
            // Every data type the subscriber takes manual subscriptions for.
            subscriber
                .configs
                .iter()
                .filter(|config| config.policy == CreatePolicy::Manual)
                .flat_map(|config| config.data_types.clone())
                .collect()
        } else {
            data_types
        };
        if data_types.is_empty() {
            return Err(GoogleApiError::FailedPrecondition(format!(
                "Subscriber {subscriber_id} has no MANUAL subscriber config"
            )));
        }
        if let Some(data_type) =
            data_types.iter().find(|t| subscriber.policy_for(t) != Some(CreatePolicy::Manual))
        {
            return Err(GoogleApiError::FailedPrecondition(format!(
                "Data type {data_type} does not have a MANUAL subscription create policy on \
                 subscriber {subscriber_id}"
            )));
        }
        let key = (subscriber_id.to_string(), subscription_id.clone());
        if world.google.subscriptions.contains_key(&key) {
            return Err(GoogleApiError::AlreadyExists(format!(
                "Subscription {subscription_id} already exists"
            )));
        }
        let subscription = Subscription {
            subscriber_id: subscriber_id.to_string(),
            id: subscription_id,
            health_user_id: health_user_id.to_string(),
            data_types,
        };
        world.google.subscriptions.insert(key, subscription.clone());
        Ok(subscription)
    }

    pub fn google_subscriptions(
        &self,
        subscriber_id: &str,
    ) -> Result<Vec<Subscription>, GoogleApiError> {
        let world = self.world();
        if !world.google.subscribers.contains_key(subscriber_id) {
            return Err(subscriber_not_found(subscriber_id));
        }
        Ok(world
            .google
            .subscriptions
            .values()
            .filter(|s| s.subscriber_id == subscriber_id)
            .cloned()
            .collect())
    }

    pub fn google_delete_subscription(
        &self,
        subscriber_id: &str,
        subscription_id: &str,
    ) -> Result<(), GoogleApiError> {
        let mut world = self.world();
        let key = (subscriber_id.to_string(), subscription_id.to_string());
        match world.google.subscriptions.remove(&key) {
            Some(_) => Ok(()),
            None => Err(GoogleApiError::NotFound(format!(
                "Subscription {subscription_id} of subscriber {subscriber_id} not found"
            ))),
        }
    }

    /// The subscribers a change to the user's `data_type` is notified to: configured for it and
    /// either AUTOMATIC with the user's live consent to activity data, or MANUAL with a
    /// subscription of the user covering it.
    pub fn google_notification_targets(
        &self,
        user_id: &str,
        data_type: &str,
    ) -> Result<(GoogleProfile, Vec<NotificationTarget>), ApiError> {
        let profile = self.google_profile(user_id)?;
        let consented = self.google_has_consent(user_id, GoogleScope::ActivityAndFitness);
        let world = self.world();
        let targets = world
            .google
            .subscribers
            .values()
            .filter(|subscriber| match subscriber.policy_for(data_type) {
                Some(CreatePolicy::Automatic) => consented,
                Some(CreatePolicy::Manual) => world.google.subscriptions.values().any(|s| {
                    s.subscriber_id == subscriber.id
                        && s.health_user_id == profile.health_user_id
                        && s.data_types.iter().any(|t| t == data_type)
                }),
                None => false,
            })
            .map(|subscriber| NotificationTarget {
                subscriber_id: subscriber.id.clone(),
                endpoint_uri: subscriber.endpoint_uri.clone(),
                secret: subscriber.secret.clone(),
            })
            .collect();
        Ok((profile, targets))
    }

    // ---- signing keys ------------------------------------------------------------------------

    /// Refuses (or, with `None`, stops refusing) every user data call for the whole project.
    pub fn google_set_project_refusal(&self, refusal: Option<ProjectRefusal>) {
        self.world().google.project_refusal = refusal;
    }

    pub fn google_project_refusal(&self) -> Option<ProjectRefusal> {
        self.world().google.project_refusal
    }

    pub fn google_keys(&self) -> GoogleKeys {
        self.world().google.keys.summary()
    }

    pub fn google_rotate_keys(&self) -> GoogleKeys {
        let mut world = self.world();
        world.google.keys.rotate();
        world.google.keys.summary()
    }

    pub fn google_retire_keys(&self) -> GoogleKeys {
        let mut world = self.world();
        world.google.keys.retire();
        world.google.keys.summary()
    }

    pub fn google_keyset_json(&self) -> String {
        self.world().google.keys.keyset_json()
    }

    /// The primary key (copied out, so signing happens outside the lock).
    pub fn google_primary_key(&self) -> (u32, SigningKey) {
        self.world().google.keys.primary()
    }

    /// A key id that is not published.
    pub fn google_unused_key_id(&self) -> u32 {
        self.world().google.keys.unused_key_id()
    }

    // ---- service account ---------------------------------------------------------------------

    /// The project's service account, generated on first use off the async workers and kept for
    /// the simulator's life.
    pub async fn google_service_account(&self) -> Result<Arc<ServiceAccount>, KeyGenerationError> {
        self.service_account
            .get_or_try_init(|| {
                ServiceAccount::generate_off_the_workers(self.config.google_project.clone())
            })
            .await
            .cloned()
    }
}

pub(crate) fn subscriber_not_found(id: &str) -> GoogleApiError {
    GoogleApiError::NotFound(format!("Subscriber {id} not found"))
}

pub(crate) fn subscriber_exists(id: &str) -> GoogleApiError {
    GoogleApiError::AlreadyExists(format!("Subscriber {id} already exists"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SimulatorConfig;

    fn store_with(config: SimulatorConfig) -> Store {
        let store = Store::new(config);
        let scopes = crate::scope::parse_scope_names("activity").unwrap();
        store.create_user(Some("U1".into()), "UTC", scopes, Utc::now()).unwrap();
        store
    }

    fn scopes() -> BTreeSet<GoogleScope> {
        BTreeSet::from([GoogleScope::ActivityAndFitness])
    }

    #[test]
    fn refresh_tokens_do_not_rotate_and_revocation_ends_the_consent() {
        let store = store_with(SimulatorConfig::default());
        let now = Utc::now();
        let first = store.google_grant("U1", scopes(), now).unwrap();
        let again = store.google_refresh(&first.refresh_token, now).unwrap();
        assert_eq!(again.refresh_token, None);
        assert!(store.google_refresh(&first.refresh_token, now).is_ok());
        assert!(matches!(
            store.google_authenticate(&again.access_token, now),
            Ok(GoogleCaller::User { user_id, .. }) if user_id == "U1"
        ));
        assert!(store.google_has_consent("U1", GoogleScope::ActivityAndFitness));
        assert!(store.google_revoke_token(&again.access_token));
        assert!(!store.google_has_consent("U1", GoogleScope::ActivityAndFitness));
        assert_eq!(
            store.google_refresh(&first.refresh_token, now),
            Err(OAuthError::InvalidGrant("Token has been expired or revoked.".into()))
        );
        assert_eq!(
            store.google_authenticate(&first.access_token, now),
            Err(GoogleApiError::Unauthenticated)
        );
        assert!(!store.google_revoke_token(&first.refresh_token));
        assert!(store.google_cohort().is_empty());
    }

    #[test]
    fn expired_tokens_are_refused_until_refreshed() {
        let store = store_with(SimulatorConfig::default());
        let now = Utc::now();
        let tokens = store.google_grant("U1", scopes(), now).unwrap();
        store.google_expire_tokens("U1", now).unwrap();
        assert!(store.google_authenticate(&tokens.access_token, now).is_err());
        let fresh = store.google_refresh(&tokens.refresh_token, now).unwrap();
        assert!(store.google_authenticate(&fresh.access_token, now).is_ok());
        let later = now + TimeDelta::seconds(3_600);
        assert!(store.google_authenticate(&fresh.access_token, later).is_err());
    }

    #[test]
    fn the_quota_is_per_user_and_per_window() {
        let store = store_with(SimulatorConfig {
            google_rate_limit_per_minute: 2,
            ..SimulatorConfig::default()
        });
        let now = Utc::now();
        assert!(store.google_admit("U1", now));
        assert!(store.google_admit("U1", now));
        assert!(!store.google_admit("U1", now + TimeDelta::seconds(59)));
        assert!(store.google_admit("U2", now));
        assert!(store.google_admit("U1", now + TimeDelta::seconds(60)));
        assert_eq!(store.stats().rate_limited, 1);
    }

    #[test]
    fn codes_are_single_use_and_check_the_verifier_and_redirect() {
        let store = store_with(SimulatorConfig::default());
        let now = Utc::now();
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = crate::pkce::s256_challenge(verifier);
        let code = |offline| {
            store.google_create_code(
                "U1",
                "http://app/cb",
                scopes(),
                Some(challenge.clone()),
                offline,
                now,
            )
        };
        let online = code(false);
        let tokens = store
            .google_exchange_code(&online, Some(verifier), Some("http://app/cb"), now)
            .unwrap();
        assert_eq!(tokens.refresh_token, None);
        assert!(store
            .google_exchange_code(&online, Some(verifier), Some("http://app/cb"), now)
            .is_err());
        let offline = code(true);
        assert!(store
            .google_exchange_code(&offline, Some(verifier), Some("http://app/cb"), now)
            .unwrap()
            .refresh_token
            .is_some());
        let wrong_verifier = code(true);
        assert_eq!(
            store.google_exchange_code(
                &wrong_verifier,
                Some(&"x".repeat(43)),
                Some("http://app/cb"),
                now
            ),
            Err(OAuthError::InvalidGrant("Invalid code verifier.".into()))
        );
        let late = code(true);
        let eleven_minutes = now + TimeDelta::minutes(11);
        assert!(store
            .google_exchange_code(&late, Some(verifier), Some("http://app/cb"), eleven_minutes)
            .is_err());
    }
}
