//! The simulator's in-memory world: users and their days, tokens, authorization codes,
//! subscriptions, faults and statistics, and the Google side's data (`google::world`; its methods
//! are in `google::state`). Everything behind one mutex, never held across an await.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use rand::Rng;

use crate::cohort::CohortMember;
use crate::config::SimulatorConfig;
use crate::error::ApiError;
use crate::google::identity::health_user_id;
use crate::google::service_account::ServiceAccount;
use crate::google::world::GoogleWorld;
use crate::jwt::{self, AccessClaims};
use crate::model::{CohortUser, DayData, DayRecord, Fault, RateLimitOverride, Stats, UserTokens};
use crate::rate_limit::{Admission, RateStatus, RateWindow};
use crate::scope::{self, Scope};
use crate::timezone;

/// How long an authorization code can be exchanged.
pub const AUTHORIZATION_CODE_TTL: TimeDelta = TimeDelta::minutes(10);
/// The implicit grant's allowed lifetimes: a day, a week, 30 days, a year.
pub const IMPLICIT_LIFETIMES: [u64; 4] = [86_400, 604_800, 2_592_000, 31_536_000];

/// Which API endpoint a call was, for statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    ActivitiesDay,
    /// The steps time series by date range.
    StepsRange,
    /// The other activity time series by date range: distance and the four activity-level
    /// minutes (`minutesSedentary` … `minutesVeryActive`).
    ActivityRange,
    /// The heart-rate time series by date range.
    HeartRange,
    HeartIntraday,
    Profile,
    Subscriptions,
}

impl EndpointKind {
    pub fn label(self) -> &'static str {
        match self {
            EndpointKind::ActivitiesDay => "activities_day",
            EndpointKind::StepsRange => "steps_range",
            EndpointKind::ActivityRange => "activity_range",
            EndpointKind::HeartRange => "heart_range",
            EndpointKind::HeartIntraday => "heart_intraday",
            EndpointKind::Profile => "profile",
            EndpointKind::Subscriptions => "subscriptions",
        }
    }
}

pub(crate) struct User {
    pub timezone: String,
    pub scopes: BTreeSet<Scope>,
    pub days: BTreeMap<NaiveDate, DayRecord>,
    /// The user's Google Health id (`users/{healthUserId}`), derived from the simulator id.
    pub health_user_id: String,
    /// Never used the Fitbit API: no Fitbit tokens, no `legacyUserId`.
    pub google_only: bool,
    rate: Option<RateWindow>,
    /// The last pair issued, so `cohort()` hands out tokens that still work after rotations.
    latest_tokens: Option<UserTokens>,
}

struct AccessRecord {
    user_id: String,
    scopes: BTreeSet<Scope>,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked: bool,
}

struct RefreshRecord {
    user_id: String,
    scopes: BTreeSet<Scope>,
}

struct AuthorizationCode {
    user_id: String,
    redirect_uri: String,
    scopes: BTreeSet<Scope>,
    code_challenge: Option<String>,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subscription {
    pub subscriber_id: String,
    pub owner_id: String,
    /// None: every collection.
    pub collection: Option<String>,
    pub subscription_id: String,
}

impl Subscription {
    pub fn collection_type(&self) -> &str {
        self.collection.as_deref().unwrap_or("user")
    }

    pub fn covers(&self, collection: &str) -> bool {
        self.collection.as_deref().is_none_or(|c| c == collection)
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "collectionType": self.collection_type(),
            "ownerId": self.owner_id,
            "ownerType": "user",
            "subscriberId": self.subscriber_id,
            "subscriptionId": self.subscription_id,
        })
    }
}

/// The result of creating a subscription.
pub(crate) enum Created {
    New(Subscription),
    AlreadyExists(Subscription),
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub user_id: String,
    pub scopes: BTreeSet<Scope>,
}

/// An access token's state for introspection.
pub(crate) struct Introspection {
    pub user_id: String,
    pub scopes: BTreeSet<Scope>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Default)]
pub(crate) struct World {
    pub users: BTreeMap<String, User>,
    access_tokens: HashMap<String, AccessRecord>,
    refresh_tokens: HashMap<String, RefreshRecord>,
    codes: HashMap<String, AuthorizationCode>,
    subscriptions: Vec<Subscription>,
    faults: Vec<Fault>,
    pub stats: Stats,
    pub cohort_ids: Vec<String>,
    /// The Google Health side: grants, tokens, subscribers, signing keys, quotas.
    pub google: GoogleWorld,
}

pub(crate) struct Store {
    pub config: SimulatorConfig,
    jwt_key: [u8; 32],
    world: Mutex<World>,
    subscriber_url: Mutex<Option<String>>,
    /// The Google project's service account, made on first use (see
    /// [`Store::google_service_account`]).
    pub service_account: tokio::sync::OnceCell<Arc<ServiceAccount>>,
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes).map(|_| format!("{:02x}", rng.random::<u8>())).collect()
}

/// Six upper-case letters and digits, like Fitbit's encoded ids.
fn random_user_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..6).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

impl Store {
    pub fn new(config: SimulatorConfig) -> Self {
        let subscriber_url = config.subscriber_url.clone();
        Store {
            jwt_key: rand::rng().random(),
            config,
            world: Mutex::new(World::default()),
            subscriber_url: Mutex::new(subscriber_url),
            service_account: tokio::sync::OnceCell::new(),
        }
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.world.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn subscriber_url(&self) -> Option<String> {
        self.subscriber_url.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_subscriber_url(&self, url: Option<String>) {
        *self.subscriber_url.lock().unwrap_or_else(|p| p.into_inner()) = url;
    }

    fn access_ttl(&self) -> TimeDelta {
        TimeDelta::from_std(self.config.access_token_ttl).unwrap_or(TimeDelta::hours(8))
    }

    pub fn access_ttl_secs(&self) -> u64 {
        self.config.access_token_ttl.as_secs()
    }

    // ---- users -------------------------------------------------------------------------------

    /// Creates a user (or fails when the id is taken) and returns a fresh token pair.
    pub fn create_user(
        &self,
        user_id: Option<String>,
        timezone_name: &str,
        scopes: BTreeSet<Scope>,
        now: DateTime<Utc>,
    ) -> Result<UserTokens, ApiError> {
        let mut world = self.world();
        let user_id = insert_user(&mut world, user_id, timezone_name, scopes.clone(), false)?;
        Ok(self.issue_pair(&mut world, &user_id, scopes, now))
    }

    /// Creates a person who never used the Fitbit API (no Fitbit tokens) and returns their id.
    pub fn create_google_only_user(
        &self,
        user_id: Option<String>,
        timezone_name: &str,
        scopes: BTreeSet<Scope>,
    ) -> Result<String, ApiError> {
        insert_user(&mut self.world(), user_id, timezone_name, scopes, true)
    }

    /// Loads generated cohort members as users with tokens.
    pub fn load_cohort(
        &self,
        members: Vec<CohortMember>,
        scopes: &BTreeSet<Scope>,
        now: DateTime<Utc>,
    ) {
        for member in members {
            let id = member.user_id.clone();
            self.create_user(Some(id.clone()), &member.timezone, scopes.clone(), now)
                .expect("cohort ids are unique and zones supported");
            let mut world = self.world();
            world.users.get_mut(&id).expect("just created").days =
                member.days.into_iter().map(|(date, day)| (date, DayRecord::from(day))).collect();
            world.cohort_ids.push(id);
        }
    }

    pub fn cohort(&self) -> Vec<CohortUser> {
        let world = self.world();
        world
            .cohort_ids
            .iter()
            .filter_map(|id| {
                let user = world.users.get(id)?;
                let tokens = user.latest_tokens.clone()?;
                Some(CohortUser {
                    user_id: id.clone(),
                    timezone: user.timezone.clone(),
                    access_token: tokens.access_token,
                    refresh_token: tokens.refresh_token,
                    expires_in: tokens.expires_in,
                    scope: tokens.scope,
                })
            })
            .collect()
    }

    pub fn user_exists(&self, user_id: &str) -> bool {
        self.world().users.contains_key(user_id)
    }

    /// Whether the user exists and never used the Fitbit API.
    pub fn is_google_only(&self, user_id: &str) -> bool {
        self.world().users.get(user_id).is_some_and(|u| u.google_only)
    }

    /// One day as the tracker recorded it (None: no data that day).
    pub fn day(&self, user_id: &str, date: NaiveDate) -> Result<Option<DayData>, ApiError> {
        Ok(self.day_record(user_id, date)?.map(|record| record.day))
    }

    /// One day with its hand-entered steps (None: no data that day).
    pub fn day_record(
        &self,
        user_id: &str,
        date: NaiveDate,
    ) -> Result<Option<DayRecord>, ApiError> {
        let world = self.world();
        let user = world.users.get(user_id).ok_or_else(|| unknown_user(user_id))?;
        Ok(user.days.get(&date).copied())
    }

    pub fn timezone(&self, user_id: &str) -> Result<String, ApiError> {
        let world = self.world();
        Ok(world.users.get(user_id).ok_or_else(|| unknown_user(user_id))?.timezone.clone())
    }

    pub fn days(
        &self,
        user_id: &str,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<BTreeMap<NaiveDate, DayData>, ApiError> {
        let records = self.day_records(user_id, first, last)?;
        Ok(records.into_iter().map(|(d, record)| (d, record.day)).collect())
    }

    /// The days with data from `first` to `last` inclusive, with their hand-entered steps.
    pub fn day_records(
        &self,
        user_id: &str,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<BTreeMap<NaiveDate, DayRecord>, ApiError> {
        let world = self.world();
        let user = world.users.get(user_id).ok_or_else(|| unknown_user(user_id))?;
        Ok(user.days.range(first..=last).map(|(d, record)| (*d, *record)).collect())
    }

    pub fn set_day(&self, user_id: &str, date: NaiveDate, day: DayRecord) -> Result<(), ApiError> {
        let mut world = self.world();
        let user = world.users.get_mut(user_id).ok_or_else(|| unknown_user(user_id))?;
        user.days.insert(date, day);
        Ok(())
    }

    // ---- tokens ------------------------------------------------------------------------------

    fn mint_access_token(
        &self,
        world: &mut World,
        user_id: &str,
        scopes: &BTreeSet<Scope>,
        lifetime: TimeDelta,
        now: DateTime<Utc>,
    ) -> String {
        let claims = AccessClaims::new(
            &self.config.client_id,
            user_id,
            scope::scope_codes(scopes),
            now.timestamp(),
            lifetime.num_seconds(),
        );
        world.access_tokens.insert(
            claims.jti.clone(),
            AccessRecord {
                user_id: user_id.to_string(),
                scopes: scopes.clone(),
                issued_at: now,
                expires_at: now + lifetime,
                revoked: false,
            },
        );
        jwt::encode(&self.jwt_key, &claims)
    }

    fn issue_pair(
        &self,
        world: &mut World,
        user_id: &str,
        scopes: BTreeSet<Scope>,
        now: DateTime<Utc>,
    ) -> UserTokens {
        let access_token = self.mint_access_token(world, user_id, &scopes, self.access_ttl(), now);
        let refresh_token = random_hex(32);
        world.refresh_tokens.insert(
            refresh_token.clone(),
            RefreshRecord { user_id: user_id.to_string(), scopes: scopes.clone() },
        );
        let tokens = UserTokens {
            user_id: user_id.to_string(),
            access_token,
            refresh_token,
            expires_in: self.access_ttl_secs(),
            scope: scope::scope_names(&scopes),
        };
        if let Some(user) = world.users.get_mut(user_id) {
            user.latest_tokens = Some(tokens.clone());
        }
        tokens
    }

    /// An implicit-grant token: access only, no refresh token.
    pub fn issue_implicit_token(
        &self,
        user_id: &str,
        scopes: Option<BTreeSet<Scope>>,
        lifetime_secs: u64,
        now: DateTime<Utc>,
    ) -> Result<(String, BTreeSet<Scope>), ApiError> {
        let mut world = self.world();
        let user = world.users.get(user_id).ok_or_else(|| unknown_user(user_id))?;
        if user.google_only {
            return Err(no_fitbit_account(user_id));
        }
        let scopes = scopes.unwrap_or_else(|| user.scopes.clone());
        let lifetime = TimeDelta::seconds(lifetime_secs as i64);
        let token = self.mint_access_token(&mut world, user_id, &scopes, lifetime, now);
        Ok((token, scopes))
    }

    /// Validates a bearer token: unknown, tampered or revoked → `invalid_token`; past its expiry →
    /// `expired_token`.
    pub fn authenticate(&self, token: &str, now: DateTime<Utc>) -> Result<Caller, ApiError> {
        let claims = jwt::decode(&self.jwt_key, &self.config.client_id, token)
            .map_err(|_| ApiError::InvalidToken(token.to_string()))?;
        let world = self.world();
        let record = world
            .access_tokens
            .get(&claims.jti)
            .filter(|r| !r.revoked)
            .ok_or_else(|| ApiError::InvalidToken(token.to_string()))?;
        if now >= record.expires_at {
            return Err(ApiError::ExpiredToken(token.to_string()));
        }
        Ok(Caller { user_id: record.user_id.clone(), scopes: record.scopes.clone() })
    }

    pub fn introspect(&self, token: &str, now: DateTime<Utc>) -> Option<Introspection> {
        let claims = jwt::decode(&self.jwt_key, &self.config.client_id, token).ok()?;
        let world = self.world();
        let record = world.access_tokens.get(&claims.jti)?;
        (!record.revoked && now < record.expires_at).then(|| Introspection {
            user_id: record.user_id.clone(),
            scopes: record.scopes.clone(),
            issued_at: record.issued_at,
            expires_at: record.expires_at,
        })
    }

    /// Rotates a refresh token: the old one stops working, the old access token stays valid.
    pub fn refresh(&self, refresh_token: &str, now: DateTime<Utc>) -> Result<UserTokens, ApiError> {
        let mut world = self.world();
        let Some(record) = world.refresh_tokens.remove(refresh_token) else {
            world.stats.refresh_failures += 1;
            return Err(ApiError::InvalidGrant(format!("Refresh token invalid: {refresh_token}")));
        };
        world.stats.token_refreshes += 1;
        Ok(self.issue_pair(&mut world, &record.user_id, record.scopes, now))
    }

    /// Makes every current access token of the user expired (its refresh token still works).
    pub fn expire_tokens(&self, user_id: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
        let mut world = self.world();
        if !world.users.contains_key(user_id) {
            return Err(unknown_user(user_id));
        }
        for record in world.access_tokens.values_mut().filter(|r| r.user_id == user_id) {
            record.expires_at = record.expires_at.min(now);
        }
        Ok(())
    }

    /// Revokes every token of the user; true when the user exists.
    pub fn revoke_user(&self, user_id: &str) -> bool {
        let mut world = self.world();
        for record in world.access_tokens.values_mut().filter(|r| r.user_id == user_id) {
            record.revoked = true;
        }
        world.refresh_tokens.retain(|_, r| r.user_id != user_id);
        if let Some(user) = world.users.get_mut(user_id) {
            user.latest_tokens = None;
            true
        } else {
            false
        }
    }

    /// The user a token (access or refresh) belongs to, if it is one of ours.
    pub fn token_owner(&self, token: &str) -> Option<String> {
        if let Ok(claims) = jwt::decode(&self.jwt_key, &self.config.client_id, token) {
            return Some(claims.sub);
        }
        self.world().refresh_tokens.get(token).map(|r| r.user_id.clone())
    }

    // ---- authorization codes -----------------------------------------------------------------

    pub fn create_code(
        &self,
        user_id: &str,
        redirect_uri: &str,
        scopes: BTreeSet<Scope>,
        code_challenge: Option<String>,
        now: DateTime<Utc>,
    ) -> String {
        let code = random_hex(20);
        self.world().codes.insert(
            code.clone(),
            AuthorizationCode {
                user_id: user_id.to_string(),
                redirect_uri: redirect_uri.to_string(),
                scopes,
                code_challenge,
                expires_at: now + AUTHORIZATION_CODE_TTL,
            },
        );
        code
    }

    /// Exchanges a code (single use: any attempt consumes it) for a token pair.
    pub fn exchange_code(
        &self,
        code: &str,
        code_verifier: Option<&str>,
        redirect_uri: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<UserTokens, ApiError> {
        let mut world = self.world();
        let invalid =
            |why: &str| ApiError::InvalidGrant(format!("Authorization code invalid: {why}"));
        let grant = world.codes.remove(code).ok_or_else(|| invalid("unknown or already used"))?;
        if now >= grant.expires_at {
            return Err(invalid("expired"));
        }
        if redirect_uri != Some(grant.redirect_uri.as_str()) {
            return Err(ApiError::InvalidGrant("Invalid redirect_uri parameter value".to_string()));
        }
        if let Some(challenge) = &grant.code_challenge {
            let verified =
                code_verifier.is_some_and(|v| crate::pkce::verifier_matches(v, challenge));
            if !verified {
                return Err(ApiError::InvalidGrant(
                    "Invalid code_verifier parameter value".to_string(),
                ));
            }
        }
        world.stats.authorization_code_exchanges += 1;
        Ok(self.issue_pair(&mut world, &grant.user_id, grant.scopes, now))
    }

    // ---- rate limits, faults, statistics -----------------------------------------------------

    /// Spends one call of the user's hourly budget.
    pub fn admit(&self, user_id: &str, now: DateTime<Utc>) -> Admission {
        let limit = self.config.rate_limit_per_hour;
        let mut world = self.world();
        let admission = match world.users.get_mut(user_id) {
            Some(user) => {
                user.rate.get_or_insert_with(|| RateWindow::new(now, limit)).admit(now, limit)
            }
            // The token outlived its user: nothing to count against.
            None => Admission::Allowed(RateStatus { limit, remaining: limit, reset_seconds: 0 }),
        };
        if matches!(admission, Admission::Limited(_)) {
            world.stats.rate_limited += 1;
        }
        admission
    }

    pub fn override_rate_limit(
        &self,
        user_id: &str,
        setting: RateLimitOverride,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let mut world = self.world();
        let user = world.users.get_mut(user_id).ok_or_else(|| unknown_user(user_id))?;
        user.rate = Some(RateWindow::overridden(now, setting.remaining, setting.reset_seconds));
        Ok(())
    }

    pub fn record_call(&self, user_id: &str, kind: EndpointKind) {
        let mut world = self.world();
        world.stats.api_calls += 1;
        *world.stats.api_calls_by_user.entry(user_id.to_string()).or_default() += 1;
        *world.stats.api_calls_by_endpoint.entry(kind.label().to_string()).or_default() += 1;
    }

    /// Counts a provider call in the all-in statistics once it was answered with `status`.
    pub fn record_answered_call(&self, kind: &str, status: u16) {
        let mut world = self.world();
        let stats = &mut world.stats;
        *stats.all_in_calls_by_kind.entry(kind.to_string()).or_default() += 1;
        *stats.all_in_calls_by_status.entry(status.to_string()).or_default() += 1;
    }

    pub fn add_fault(&self, fault: Fault) {
        self.world().faults.push(fault);
    }

    pub fn clear_faults(&self) {
        self.world().faults.clear();
    }

    /// Takes one use of the first fault that applies to this user's call.
    pub fn take_fault(&self, user_id: &str) -> Option<Fault> {
        let mut world = self.world();
        let index = world
            .faults
            .iter()
            .position(|f| f.count > 0 && f.user_id.as_deref().is_none_or(|only| only == user_id))?;
        let fault = &mut world.faults[index];
        fault.count -= 1;
        let taken = fault.clone();
        if fault.count == 0 {
            world.faults.remove(index);
        }
        if taken.status.is_some() {
            world.stats.faults_served += 1;
        }
        Some(taken)
    }

    pub fn stats(&self) -> Stats {
        self.world().stats.clone()
    }

    pub fn reset_stats(&self) {
        self.world().stats = Stats::default();
    }

    pub fn count_notification_post(&self) {
        self.world().stats.notification_posts += 1;
    }

    // ---- subscriptions -----------------------------------------------------------------------

    pub fn create_subscription(&self, wanted: Subscription) -> Result<Created, ApiError> {
        let mut world = self.world();
        let same_slot = world.subscriptions.iter().find(|s| {
            s.subscriber_id == wanted.subscriber_id
                && s.owner_id == wanted.owner_id
                && s.collection == wanted.collection
        });
        match same_slot {
            Some(existing) if existing.subscription_id == wanted.subscription_id => {
                Ok(Created::AlreadyExists(existing.clone()))
            }
            Some(existing) => Err(ApiError::Conflict(format!(
                "This user's {} collection is already subscribed with id {}",
                existing.collection_type(),
                existing.subscription_id
            ))),
            None => {
                world.subscriptions.push(wanted.clone());
                Ok(Created::New(wanted))
            }
        }
    }

    pub fn list_subscriptions(
        &self,
        owner_id: &str,
        collection: Option<&str>,
    ) -> Vec<Subscription> {
        self.world()
            .subscriptions
            .iter()
            .filter(|s| {
                s.owner_id == owner_id
                    && (collection.is_none() || s.collection.as_deref() == collection)
            })
            .cloned()
            .collect()
    }

    /// True when a subscription was deleted.
    pub fn delete_subscription(
        &self,
        owner_id: &str,
        collection: Option<&str>,
        subscription_id: &str,
    ) -> bool {
        let mut world = self.world();
        let before = world.subscriptions.len();
        world.subscriptions.retain(|s| {
            !(s.owner_id == owner_id
                && s.subscription_id == subscription_id
                && s.collection.as_deref() == collection)
        });
        world.subscriptions.len() < before
    }

    /// Subscriptions that cover `collection` for this user (an all-collections one and a specific
    /// one both match, which is why Fitbit warns that they duplicate notifications).
    pub fn subscriptions_covering(&self, owner_id: &str, collection: &str) -> Vec<Subscription> {
        self.world()
            .subscriptions
            .iter()
            .filter(|s| s.owner_id == owner_id && s.covers(collection))
            .cloned()
            .collect()
    }

    pub fn remove_subscriptions_of(&self, owner_id: &str) {
        self.world().subscriptions.retain(|s| s.owner_id != owner_id);
    }
}

/// Adds a user to the world (validating the zone and the id) and returns the id.
fn insert_user(
    world: &mut World,
    user_id: Option<String>,
    timezone_name: &str,
    scopes: BTreeSet<Scope>,
    google_only: bool,
) -> Result<String, ApiError> {
    if !timezone::is_supported(timezone_name) {
        return Err(ApiError::Validation {
            field: "timezone",
            message: format!("unsupported time zone {timezone_name}"),
        });
    }
    let user_id = match user_id {
        Some(id) if world.users.contains_key(&id) => {
            return Err(ApiError::Conflict(format!("user {id} already exists")))
        }
        Some(id) if id.is_empty() || id == "-" || id.contains('/') => {
            return Err(ApiError::Validation {
                field: "user_id",
                message: format!("unusable user id {id:?}"),
            })
        }
        Some(id) => id,
        None => loop {
            let id = random_user_id();
            if !world.users.contains_key(&id) {
                break id;
            }
        },
    };
    world.users.insert(
        user_id.clone(),
        User {
            timezone: timezone_name.to_string(),
            scopes,
            days: BTreeMap::new(),
            health_user_id: health_user_id(&user_id),
            google_only,
            rate: None,
            latest_tokens: None,
        },
    );
    Ok(user_id)
}

pub(crate) fn unknown_user(user_id: &str) -> ApiError {
    ApiError::NotFound(format!("unknown user {user_id}"))
}

pub(crate) fn no_fitbit_account(user_id: &str) -> ApiError {
    ApiError::Conflict(format!("user {user_id} has no Fitbit account (created google_only)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Fault;

    fn store() -> Store {
        Store::new(SimulatorConfig::default())
    }

    fn scopes(names: &str) -> BTreeSet<Scope> {
        scope::parse_scope_names(names).unwrap()
    }

    #[test]
    fn refresh_rotates_and_keeps_the_old_access_token() {
        let store = store();
        let now = Utc::now();
        let first = store.create_user(Some("U1".into()), "UTC", scopes("activity"), now).unwrap();
        let second = store.refresh(&first.refresh_token, now).unwrap();
        assert_ne!(first.refresh_token, second.refresh_token);
        assert!(matches!(store.refresh(&first.refresh_token, now), Err(ApiError::InvalidGrant(_))));
        assert_eq!(store.authenticate(&first.access_token, now).unwrap().user_id, "U1");
        assert_eq!(store.authenticate(&second.access_token, now).unwrap().user_id, "U1");
        let stats = store.stats();
        assert_eq!((stats.token_refreshes, stats.refresh_failures), (1, 1));
    }

    #[test]
    fn tokens_expire_at_their_lifetime_and_revocation_invalidates_them() {
        let store = store();
        let now = Utc::now();
        let tokens = store.create_user(Some("U1".into()), "UTC", scopes("activity"), now).unwrap();
        let later = now + TimeDelta::hours(8);
        assert!(matches!(
            store.authenticate(&tokens.access_token, later),
            Err(ApiError::ExpiredToken(_))
        ));
        assert!(store.revoke_user("U1"));
        assert!(matches!(
            store.authenticate(&tokens.access_token, now),
            Err(ApiError::InvalidToken(_))
        ));
        assert!(store.refresh(&tokens.refresh_token, now).is_err());
    }

    #[test]
    fn codes_are_single_use_and_expire_after_ten_minutes() {
        let store = store();
        let now = Utc::now();
        store.create_user(Some("U1".into()), "UTC", scopes("activity"), now).unwrap();
        let code = store.create_code("U1", "http://app/cb", scopes("activity"), None, now);
        assert!(store.exchange_code(&code, None, Some("http://app/cb"), now).is_ok());
        assert!(store.exchange_code(&code, None, Some("http://app/cb"), now).is_err());
        let late = store.create_code("U1", "http://app/cb", scopes("activity"), None, now);
        let eleven_minutes = now + TimeDelta::minutes(11);
        assert!(store.exchange_code(&late, None, Some("http://app/cb"), eleven_minutes).is_err());
        let other_redirect =
            store.create_code("U1", "http://app/cb", scopes("activity"), None, now);
        assert!(store.exchange_code(&other_redirect, None, Some("http://evil/cb"), now).is_err());
    }

    #[test]
    fn faults_are_used_up_in_order_and_may_target_one_user() {
        let store = store();
        store.add_fault(Fault::status(503, 1).for_user("B"));
        store.add_fault(Fault::status(500, 1));
        assert_eq!(store.take_fault("A").and_then(|f| f.status), Some(500));
        assert!(store.take_fault("A").is_none());
        assert_eq!(store.take_fault("B").and_then(|f| f.status), Some(503));
        assert!(store.take_fault("B").is_none());
    }

    #[test]
    fn one_subscription_per_user_and_collection() {
        let store = store();
        let sub = |id: &str, collection: Option<&str>| Subscription {
            subscriber_id: "1".into(),
            owner_id: "U1".into(),
            collection: collection.map(str::to_string),
            subscription_id: id.into(),
        };
        assert!(matches!(
            store.create_subscription(sub("a", Some("activities"))),
            Ok(Created::New(_))
        ));
        assert!(matches!(
            store.create_subscription(sub("a", Some("activities"))),
            Ok(Created::AlreadyExists(_))
        ));
        assert!(matches!(
            store.create_subscription(sub("b", Some("activities"))),
            Err(ApiError::Conflict(_))
        ));
        assert!(matches!(store.create_subscription(sub("all", None)), Ok(Created::New(_))));
        assert_eq!(store.subscriptions_covering("U1", "activities").len(), 2);
        assert_eq!(store.subscriptions_covering("U1", "sleep").len(), 1);
        assert!(store.delete_subscription("U1", Some("activities"), "a"));
        assert!(!store.delete_subscription("U1", Some("activities"), "a"));
    }
}
