//! The participant routes. Who the participant is comes only from the session: the encrypted
//! cookie names a server-side sign-in (`sessions`), checked on every request that needs one.

use actix_session::Session;
use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};
use chrono::Utc;
use fitex_common::log_safe;
use fitex_common::trace_context::TraceParent;
use fitex_common::zone::ParticipantZone;
use fitex_connections::settings::FitbitApiConfig;
use fitex_connections::store::{self, SyncStatus, TokenKind};
use fitex_connections::Connections;
use fitex_fitbit::oauth::{read_access_token_claims, ClaimsError};
use fitex_fitbit::{CodeExchangeError, FitbitApi, TokenCheck};
use fitex_goals::manual::{EntryForm, EntryProblem};
use fitex_goals_store::manual::{self as entries, ActivityOutbox, EnteredBy, ManualError};
use fitex_google_health::GoogleHealthApi;
use fitex_provider::{ProviderId, TokenGrant};
use maud::Markup;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::activity_pages::Done;
use crate::pkce::{code_challenge, code_verifier, random_token, same_secret};
use crate::sessions::{self, Ended};
use crate::settings::PortalSettings;
use crate::{activity, activity_pages, data, pages, season, season_pages};

/// The secret of the browser's sign-in (its row in `portal_sessions`).
const SIGN_IN: &str = "sign_in";
/// Why the last sign-in ended, shown once on the start page.
const SIGNED_OUT: &str = "signed_out";
/// A pasted token waiting for the participant to choose (see `paste_token`).
const PENDING_TOKEN: &str = "pending_token";
const CSRF: &str = "csrf";
const OAUTH_STATE: &str = "oauth_state";
const PKCE_VERIFIER: &str = "pkce_verifier";
// Google's round trip keeps its own, so one started in another tab does not spoil the other.
const GOOGLE_OAUTH_STATE: &str = "google_oauth_state";
const GOOGLE_PKCE_VERIFIER: &str = "google_pkce_verifier";
const NOTE: &str = "note";
/// What was just done on the "Log activity" page, shown there once.
const ACTIVITY_NOTE: &str = "activity_note";

/// Shared by every request.
pub struct Portal {
    /// Connecting participants: tokens stored encrypted, time zone, backfill.
    pub connections: Connections,
    /// The Fitbit Web API: the code exchange, subscribing, checking a pasted token.
    pub fitbit: FitbitApi,
    pub api: FitbitApiConfig,
    /// Google OAuth for participants; `None` without a `[google_health_api]` section.
    pub google: Option<GoogleHealthApi>,
    pub settings: PortalSettings,
    /// Where activity logged by hand is announced (`[kafka.topics] activity_days`), through the
    /// outbox the fetcher's relay publishes.
    pub activity_topic: String,
}

/// The two ways to connect, each with its own session keys, connect route and words.
#[derive(Debug, Clone, Copy)]
enum Via {
    Fitbit,
    Google,
}

impl Via {
    fn connect_path(self) -> &'static str {
        match self {
            Via::Fitbit => "/connect/fitbit",
            Via::Google => "/connect/google",
        }
    }

    /// The session keys of the round trip's `state` and PKCE verifier.
    fn session_keys(self) -> (&'static str, &'static str) {
        match self {
            Via::Fitbit => (OAUTH_STATE, PKCE_VERIFIER),
            Via::Google => (GOOGLE_OAUTH_STATE, GOOGLE_PKCE_VERIFIER),
        }
    }

    /// Who runs the consent page.
    fn name(self) -> &'static str {
        match self {
            Via::Fitbit => "Fitbit",
            Via::Google => "Google",
        }
    }

    /// Whose data FitEx asks to read.
    fn data(self) -> &'static str {
        self.provider().display_name()
    }

    /// The provider a connection made this way is with.
    fn provider(self) -> ProviderId {
        match self {
            Via::Fitbit => ProviderId::Fitbit,
            Via::Google => ProviderId::GoogleHealth,
        }
    }

    /// The title of a page after which nothing was connected.
    fn not_connected(self) -> &'static str {
        match self {
            Via::Fitbit => "Fitbit was not connected",
            Via::Google => "Your Google account was not connected",
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/connect/fitbit", web::get().to(connect_fitbit))
        .route("/connect/fitbit/callback", web::get().to(callback))
        .route("/connect/google", web::get().to(connect_google))
        .route("/connect/google/callback", web::get().to(google_callback))
        .route("/token", web::post().to(paste_token))
        .route("/status", web::get().to(status))
        .route("/season", web::get().to(my_season))
        .route("/team", web::get().to(my_team))
        .route("/activity", web::get().to(log_activity))
        .route("/activity", web::post().to(add_activity))
        .route("/activity/{id}/edit", web::get().to(edit_activity))
        .route("/activity/{id}", web::post().to(change_activity))
        .route("/activity/{id}/delete", web::post().to(delete_activity))
        .route("/signout", web::post().to(signout));
}

/// An error page; the details go to the log, never to the participant.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("internal: {0}")]
    Internal(String),
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    fn error_response(&self) -> HttpResponse {
        tracing::error!(error = %self, "portal request failed");
        page(
            StatusCode::INTERNAL_SERVER_ERROR,
            pages::message(
                "Something went wrong",
                "Something went wrong on our side. Please try again in a few minutes.",
                None,
            ),
        )
    }
}

fn internal(error: impl std::fmt::Display) -> PageError {
    PageError::Internal(error.to_string())
}

type PageResult = Result<HttpResponse, PageError>;

fn page(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(markup.into_string())
}

fn redirect(status: StatusCode, to: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((LOCATION, to))
        .insert_header((CACHE_CONTROL, "no-store"))
        .finish()
}

/// Who the request comes from.
enum Visitor {
    /// A live sign-in (now counted as used).
    Participant(i64),
    /// Never signed in here, or signed out.
    Nobody,
    /// The cookie named a sign-in that has ended (signed out, idle, too old): the copy of a
    /// cookie is worth nothing once its sign-in has ended.
    Ended(Ended),
}

/// Checks the sign-in the cookie names against `portal_sessions`, on every request that needs a
/// participant.
async fn visitor(portal: &Portal, session: &Session) -> Result<Visitor, PageError> {
    let Some(secret) = session.get::<String>(SIGN_IN).ok().flatten() else {
        return Ok(Visitor::Nobody);
    };
    let timeouts = portal.settings.session_timeouts();
    match sessions::touch(&portal.connections.pool, &secret, timeouts).await.map_err(internal)? {
        Ok(participant_id) => Ok(Visitor::Participant(participant_id)),
        Err(ended) => {
            tracing::info!(?ended, "a browser came back with a sign-in that has ended");
            session.remove(SIGN_IN);
            Ok(Visitor::Ended(ended))
        }
    }
}

/// What the start page says when a sign-in has ended.
fn ended_message(ended: Ended) -> &'static str {
    match ended {
        Ended::Idle => {
            "You were signed out because this page was not used for a while. Connect below to \
             sign in again; your synced days and goals are kept."
        }
        Ended::TooOld => {
            "You were signed out because sign-ins end after a few weeks. Connect below to sign \
             in again; your synced days and goals are kept."
        }
        Ended::SignedOut | Ended::Unknown => {
            "You are signed out. Connect below to sign in again; your synced days and goals are \
             kept."
        }
    }
}

/// To the start page, which says why the sign-in ended.
fn back_to_sign_in(session: &Session, ended: Ended) -> PageResult {
    session.insert(SIGNED_OUT, ended_message(ended)).map_err(internal)?;
    Ok(redirect(StatusCode::SEE_OTHER, "/"))
}

/// Leaves this browser signed out with `message` for the start page: nothing of the old
/// session's state is kept (a new CSRF token comes with the next page).
fn start_over(session: &Session, message: &str) -> Result<(), PageError> {
    session.clear();
    session.renew();
    session.insert(SIGNED_OUT, message).map_err(internal)
}

/// The session's CSRF token, made on first use.
fn csrf_token(session: &Session) -> Result<String, PageError> {
    if let Some(token) = session.get::<String>(CSRF).map_err(internal)? {
        return Ok(token);
    }
    let token = random_token(32);
    session.insert(CSRF, &token).map_err(internal)?;
    Ok(token)
}

fn csrf_ok(session: &Session, submitted: Option<&str>) -> bool {
    match (session.get::<String>(CSRF).ok().flatten(), submitted) {
        (Some(expected), Some(given)) => same_secret(&expected, given),
        _ => false,
    }
}

fn forbidden() -> HttpResponse {
    page(
        StatusCode::FORBIDDEN,
        pages::message(
            "Please try that again",
            "This form had expired or did not come from FitEx. Go back, reload the page and try again.",
            None,
        ),
    )
}

fn not_found() -> HttpResponse {
    page(
        StatusCode::NOT_FOUND,
        pages::message("Page not found", "There is no page at this address.", None),
    )
}

async fn home(portal: web::Data<Portal>, session: Session) -> PageResult {
    let notice = match visitor(&portal, &session).await? {
        Visitor::Participant(_) => return Ok(redirect(StatusCode::SEE_OTHER, "/status")),
        Visitor::Ended(ended) => Some(ended_message(ended).to_string()),
        Visitor::Nobody => match session.get::<String>(SIGNED_OUT).ok().flatten() {
            Some(message) => {
                session.remove(SIGNED_OUT);
                Some(message)
            }
            None => None,
        },
    };
    let csrf = csrf_token(&session)?;
    let google = portal.google.is_some();
    Ok(page(StatusCode::OK, pages::home(&csrf, None, notice.as_deref(), google)))
}

/// Fitbit's consent page URL, with a fresh `state` and PKCE verifier kept in the session.
async fn connect_fitbit(portal: web::Data<Portal>, session: Session) -> PageResult {
    let state = random_token(32);
    let verifier = code_verifier();
    session.insert(OAUTH_STATE, &state).map_err(internal)?;
    session.insert(PKCE_VERIFIER, &verifier).map_err(internal)?;
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", portal.api.client_id.as_str()),
        ("redirect_uri", portal.settings.redirect_uri().as_str()),
        ("scope", portal.settings.scopes.as_str()),
        ("state", state.as_str()),
        ("code_challenge", code_challenge(&verifier).as_str()),
        ("code_challenge_method", "S256"),
    ])
    .map_err(internal)?
    // Spaces as %20 (a literal '+' is already %2B).
    .replace('+', "%20");
    let url = format!("{}?{query}", portal.settings.authorize_url);
    Ok(redirect(StatusCode::FOUND, &url))
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Why a callback brings no code to exchange.
enum NoCode {
    /// The provider's `error` (the participant cancelled, or the provider could not ask them).
    Declined(String),
    /// A missing, expired, reused or foreign `state`, or no code.
    BadState,
}

impl NoCode {
    fn page(self, via: Via) -> HttpResponse {
        match self {
            NoCode::Declined(error) => declined(via, &error),
            NoCode::BadState => bad_state(via),
        }
    }
}

/// The code of a callback whose `state` is this session's, with the session's PKCE verifier.
/// The round trip is single use: its `state` and verifier leave the session whatever happens.
fn take_code(
    session: &Session,
    query: &CallbackQuery,
    via: Via,
) -> Result<(String, String), NoCode> {
    let (state_key, verifier_key) = via.session_keys();
    let expected_state = session.get::<String>(state_key).ok().flatten();
    let verifier = session.get::<String>(verifier_key).ok().flatten();
    session.remove(state_key);
    session.remove(verifier_key);
    if let Some(error) = &query.error {
        // The provider's word, but it arrives in the URL: anyone can write anything there.
        tracing::info!(
            error = %log_safe::untrusted(error),
            via = via.name(),
            "the participant did not complete the consent"
        );
        return Err(NoCode::Declined(error.clone()));
    }
    let (Some(expected), Some(verifier)) = (expected_state, verifier) else {
        return Err(NoCode::BadState);
    };
    if !same_secret(&expected, query.state.as_deref().unwrap_or("")) {
        return Err(NoCode::BadState);
    }
    let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
        return Err(NoCode::BadState);
    };
    Ok((code.to_string(), verifier))
}

async fn callback(
    portal: web::Data<Portal>,
    session: Session,
    query: web::Query<CallbackQuery>,
) -> PageResult {
    let (code, verifier) = match take_code(&session, &query, Via::Fitbit) {
        Ok(found) => found,
        Err(no_code) => return Ok(no_code.page(Via::Fitbit)),
    };
    let redirect_uri = portal.settings.redirect_uri();
    let grant = match portal.fitbit.exchange_code(&code, &verifier, &redirect_uri).await {
        Ok(grant) => grant,
        Err(CodeExchangeError::Refused { status }) => {
            tracing::warn!(status, "the provider refused the code exchange");
            return Ok(provider_trouble(Via::Fitbit));
        }
        Err(error @ CodeExchangeError::Unreachable(_)) => {
            tracing::warn!(%error, "code exchange failed");
            return Ok(provider_trouble(Via::Fitbit));
        }
        Err(error @ CodeExchangeError::UnusableAnswer(_)) => return Err(internal(error)),
    };
    let participant_id =
        connect_fitbit_grant(&portal, &session, TokenKind::AuthorizationCode, &grant).await?;
    tracing::info!(participant = participant_id, "participant connected with authorization code");
    Ok(redirect(StatusCode::SEE_OTHER, "/status"))
}

/// Google's consent page (code + S256 PKCE, offline access), with a fresh `state` and verifier
/// kept in the session.
async fn connect_google(portal: web::Data<Portal>, session: Session) -> PageResult {
    let Some(google) = &portal.google else { return Ok(not_found()) };
    let request =
        google.oauth().consent_request(&portal.settings.google_redirect_uri()).map_err(internal)?;
    session.insert(GOOGLE_OAUTH_STATE, &request.state).map_err(internal)?;
    session
        .insert(GOOGLE_PKCE_VERIFIER, request.pkce_verifier.expose_secret())
        .map_err(internal)?;
    Ok(redirect(StatusCode::FOUND, &request.url))
}

async fn google_callback(
    portal: web::Data<Portal>,
    session: Session,
    query: web::Query<CallbackQuery>,
) -> PageResult {
    let Some(google) = &portal.google else { return Ok(not_found()) };
    let (code, verifier) = match take_code(&session, &query, Via::Google) {
        Ok(found) => found,
        Err(no_code) => return Ok(no_code.page(Via::Google)),
    };
    let verifier = SecretString::from(verifier);
    let redirect_uri = portal.settings.google_redirect_uri();
    let grant = match google.oauth().exchange_code(&code, &verifier, &redirect_uri).await {
        Ok(grant) => grant,
        Err(error) => {
            tracing::warn!(%error, "Google refused the code exchange");
            return Ok(provider_trouble(Via::Google));
        }
    };
    // Connecting reads who connected (`users/me/identity`): a former Fitbit user continues as
    // the same participant. What fails here is mostly that call (refused or unreachable), and
    // "try again in a few minutes" also fits a database that is briefly away.
    let connection_id = match portal
        .connections
        .connect(Via::Google.provider(), TokenKind::AuthorizationCode, &grant)
        .await
    {
        Ok(id) => id,
        Err(error) => {
            tracing::warn!(%error, "could not connect the Google Health account");
            return Ok(provider_trouble(Via::Google));
        }
    };
    // No per-user subscription: the project's Google subscriber covers every consenting user.
    let participant_id = participant_of(&portal, connection_id).await?;
    sign_in(&portal, &session, participant_id).await?;
    tracing::info!(participant = participant_id, "participant connected through Google");
    Ok(redirect(StatusCode::SEE_OTHER, "/status"))
}

/// The participant cancelled at the consent page (or the provider could not ask them).
fn declined(via: Via, error: &str) -> HttpResponse {
    let text = if error == "access_denied" {
        format!(
            "You chose not to let FitEx read your {} data, so nothing was connected. \
             FitEx needs access to your activity to count your steps toward your goals; \
             you can connect whenever you are ready.",
            via.data()
        )
    } else {
        format!("{} did not complete the connection. Please try again.", via.name())
    };
    page(StatusCode::OK, pages::message(via.not_connected(), &text, Some(via.connect_path())))
}

fn bad_state(via: Via) -> HttpResponse {
    page(
        StatusCode::BAD_REQUEST,
        pages::message(
            "This sign-in link has expired",
            "This sign-in link has expired or was already used. Please start again.",
            Some(via.connect_path()),
        ),
    )
}

fn provider_trouble(via: Via) -> HttpResponse {
    let text = format!(
        "{} did not complete the connection. Please try again in a few minutes.",
        via.name()
    );
    page(
        StatusCode::BAD_GATEWAY,
        pages::message(via.not_connected(), &text, Some(via.connect_path())),
    )
}

/// The participant a stored connection belongs to.
async fn participant_of(portal: &Portal, connection_id: i64) -> Result<i64, PageError> {
    let connection = store::connection_by_id(&portal.connections.pool, connection_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| internal(format!("connection {connection_id} vanished")))?;
    Ok(connection.participant_id)
}

/// Signs the participant in: a new row in `portal_sessions`, whose secret the cookie carries
/// (a sign-in this browser already had ends; no fixation across the sign-in).
async fn sign_in(portal: &Portal, session: &Session, participant_id: i64) -> Result<(), PageError> {
    let pool = &portal.connections.pool;
    if let Some(previous) = session.get::<String>(SIGN_IN).ok().flatten() {
        sessions::revoke(pool, &previous).await.map_err(internal)?;
    }
    let timeouts = portal.settings.session_timeouts();
    let secret = sessions::create(pool, participant_id, timeouts).await.map_err(internal)?;
    session.renew();
    session.remove(SIGNED_OUT);
    session.insert(SIGN_IN, secret).map_err(internal)
}

/// Stores a Fitbit grant through the connection core (encrypted tokens, time zone, backfill), asks Fitbit
/// to notify us of changes, and signs the participant in.
async fn connect_fitbit_grant(
    portal: &Portal,
    session: &Session,
    kind: TokenKind,
    grant: &TokenGrant,
) -> Result<i64, PageError> {
    let connection_id =
        portal.connections.connect(Via::Fitbit.provider(), kind, grant).await.map_err(internal)?;
    let participant_id = participant_of(portal, connection_id).await?;
    if let Err(error) = subscribe(portal, &grant.access_token, participant_id).await {
        tracing::warn!(participant = participant_id, %error, "could not create the provider subscription");
        let note = "Your Fitbit is connected, but Fitbit did not yet agree to tell FitEx about \
                    new activity, so new days may arrive late. Reconnecting later tries again.";
        session.insert(NOTE, note).map_err(internal)?;
    }
    sign_in(portal, session, participant_id).await?;
    Ok(participant_id)
}

/// Subscribes the participant's activity, under their participant id: created, already there or
/// subscribed under another id are all fine.
async fn subscribe(
    portal: &Portal,
    access_token: &SecretString,
    participant_id: i64,
) -> Result<(), fitex_provider::ProviderError> {
    let id = participant_id.to_string();
    portal.fitbit.subscribe_to_activities(access_token, &id).await.map(|_| ())
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: Option<String>,
    /// The answer on the confirmation page: `keep` or `replace` (see [`paste_token`]).
    #[serde(default)]
    choice: Option<String>,
}

/// A pasted token kept (in the encrypted cookie) while the participant chooses whether it may
/// replace their renewing connection.
#[derive(Serialize, Deserialize)]
struct PendingToken {
    token: String,
    pasted_at: i64,
}

/// How long the choice stays open.
const PENDING_TOKEN_SECONDS: i64 = 15 * 60;

/// Fitbit's short scope codes as the scope names the token endpoint uses.
fn scope_name(code: &str) -> &str {
    match code {
        "wact" => "activity",
        "whr" => "heartrate",
        "wpro" => "profile",
        "wset" => "settings",
        "wloc" => "location",
        "wnut" => "nutrition",
        "wsle" => "sleep",
        "wwei" => "weight",
        "wsoc" => "social",
        "wtem" => "temperature",
        "wecg" => "electrocardiogram",
        "wres" => "respiratory_rate",
        "wcf" => "cardio_fitness",
        "woxy" => "oxygen_saturation",
        other => other,
    }
}

const NOT_A_TOKEN: &str = "This doesn't look like a Fitbit access token. A token is one long \
    line of letters and numbers with two dots in it; copy all of it from the Fitbit page and \
    paste it again.";

/// Checks a pasted token before storing it; the error is for the participant.
async fn check_pasted_token(portal: &Portal, token: &str) -> Result<TokenGrant, String> {
    let claims = read_access_token_claims(token).map_err(|error| match error {
        ClaimsError::NotAJwt | ClaimsError::BadPayload(_) | ClaimsError::NoExpiry => {
            NOT_A_TOKEN.to_string()
        }
    })?;
    let now = Utc::now();
    if claims.expires_at <= now {
        return Err(format!(
            "This token expired on {} (UTC). Create a new token on Fitbit and paste that one, or \
             use the Connect button above.",
            claims.expires_at.format("%-d %B %Y at %H:%M")
        ));
    }
    if !claims.has_activity_scope() {
        return Err("This token doesn't allow FitEx to read your activity; create a token with \
                    the Activity permission and paste it again."
            .to_string());
    }
    let secret = SecretString::from(token.to_string());
    let check = portal.fitbit.check_token(&secret).await.map_err(|error| {
        tracing::warn!(%error, "profile check failed");
        "FitEx couldn't reach Fitbit to check this token. Please try again in a few minutes."
            .to_string()
    })?;
    let profile_user = match check {
        TokenCheck::Accepted { user_id } => user_id,
        // Valid, but without the profile permission: the time zone falls back to UTC.
        TokenCheck::AcceptedWithoutProfile => None,
        TokenCheck::Refused => {
            return Err("Fitbit says this token has expired or was revoked. Create a new token \
                        and paste it again, or use the Connect button above."
                .to_string())
        }
        TokenCheck::RateLimited => {
            return Err("Fitbit is busy right now. Please try again in an hour.".to_string());
        }
        TokenCheck::Unexpected(status) => {
            tracing::warn!(status, "profile check answered unexpectedly");
            return Err("FitEx couldn't check this token with Fitbit. Please try again in a few \
                        minutes."
                .to_string());
        }
    };
    let user_id = match (claims.user_id.is_empty(), profile_user) {
        (false, _) => claims.user_id.clone(),
        (true, Some(user)) => user,
        (true, None) => return Err(NOT_A_TOKEN.to_string()),
    };
    Ok(TokenGrant {
        access_token: secret,
        refresh_token: None,
        expires_at: claims.expires_at,
        scopes: claims.scopes.iter().map(|s| scope_name(s)).collect::<Vec<_>>().join(" "),
        user_id,
    })
}

/// The start page again, with why the pasted token was not used (400).
fn paste_refused(portal: &Portal, session: &Session, message: &str) -> PageResult {
    let csrf = csrf_token(session)?;
    let google = portal.google.is_some();
    Ok(page(StatusCode::BAD_REQUEST, pages::home(&csrf, Some(message), None, google)))
}

/// The participant's Fitbit connection for `user_id` when FitEx renews it by itself
/// (authorization code with a refresh token, syncing): a pasted token, which cannot be renewed,
/// would be a step down from it.
async fn renewing_connection(
    portal: &Portal,
    user_id: &str,
) -> Result<Option<store::Connection>, PageError> {
    let found = store::find_connection(&portal.connections.pool, ProviderId::Fitbit, user_id)
        .await
        .map_err(internal)?;
    Ok(found.filter(|c| {
        c.token_kind == Some(TokenKind::AuthorizationCode)
            && c.refresh_token.is_some()
            && c.sync_status == SyncStatus::Active
    }))
}

/// A pasted token connects (and signs in) its Fitbit user. It never silently replaces a
/// connection FitEx renews by itself: the participant is asked first, on a page that says what
/// they would lose, and only a confirmed `choice=replace` (with the CSRF token, within
/// [`PENDING_TOKEN_SECONDS`]) replaces it.
async fn paste_token(
    portal: web::Data<Portal>,
    session: Session,
    form: web::Form<TokenForm>,
) -> PageResult {
    if !csrf_ok(&session, form.csrf.as_deref()) {
        return Ok(forbidden());
    }
    if let Some(choice) = form.choice.as_deref() {
        return pasted_token_choice(&portal, &session, choice).await;
    }
    let token: String = form.token.split_whitespace().collect();
    let grant = match check_pasted_token(&portal, &token).await {
        Ok(grant) => grant,
        Err(message) => return paste_refused(&portal, &session, &message),
    };
    if let Some(existing) = renewing_connection(&portal, &grant.user_id).await? {
        let pending = PendingToken { token, pasted_at: Utc::now().timestamp() };
        session.insert(PENDING_TOKEN, pending).map_err(internal)?;
        let csrf = csrf_token(&session)?;
        tracing::info!(
            participant = existing.participant_id,
            "a pasted token would replace a renewing connection; asking first"
        );
        return Ok(page(
            StatusCode::OK,
            pages::replace_connection(
                &csrf,
                &existing.provider_user_id,
                grant.expires_at,
                &existing.time_zone,
            ),
        ));
    }
    let participant_id =
        connect_fitbit_grant(&portal, &session, TokenKind::Implicit, &grant).await?;
    tracing::info!(participant = participant_id, "participant connected with a pasted token");
    Ok(redirect(StatusCode::SEE_OTHER, "/status"))
}

/// The participant's answer on the confirmation page: `keep` signs them in with the connection
/// they have, `replace` stores the pasted token in its place. The token is checked with Fitbit
/// again either way (it proves who is choosing).
async fn pasted_token_choice(portal: &Portal, session: &Session, choice: &str) -> PageResult {
    let pending = session.get::<PendingToken>(PENDING_TOKEN).ok().flatten();
    session.remove(PENDING_TOKEN);
    let fresh = |p: &PendingToken| Utc::now().timestamp() - p.pasted_at <= PENDING_TOKEN_SECONDS;
    let Some(pending) = pending.filter(fresh) else {
        return paste_refused(
            portal,
            session,
            "That choice had expired, so nothing was changed. Paste your token again.",
        );
    };
    let grant = match check_pasted_token(portal, &pending.token).await {
        Ok(grant) => grant,
        Err(message) => return paste_refused(portal, session, &message),
    };
    match choice {
        "keep" => {
            let Some(existing) = store::find_connection(
                &portal.connections.pool,
                ProviderId::Fitbit,
                &grant.user_id,
            )
            .await
            .map_err(internal)?
            else {
                return paste_refused(portal, session, "Please paste your token again.");
            };
            sign_in(portal, session, existing.participant_id).await?;
            tracing::info!(
                participant = existing.participant_id,
                "kept the renewing connection; the pasted token was not used"
            );
            Ok(redirect(StatusCode::SEE_OTHER, "/status"))
        }
        "replace" => {
            let participant_id =
                connect_fitbit_grant(portal, session, TokenKind::Implicit, &grant).await?;
            tracing::info!(
                participant = participant_id,
                "the participant confirmed: a pasted token replaced the renewing connection"
            );
            Ok(redirect(StatusCode::SEE_OTHER, "/status"))
        }
        _ => paste_refused(portal, session, "Please paste your token again."),
    }
}

async fn status(portal: web::Data<Portal>, session: Session) -> PageResult {
    let participant_id = match visitor(&portal, &session).await? {
        Visitor::Participant(id) => id,
        Visitor::Nobody => return Ok(redirect(StatusCode::SEE_OTHER, "/")),
        Visitor::Ended(ended) => return back_to_sign_in(&session, ended),
    };
    let pool = &portal.connections.pool;
    let Some(participant) = data::participant(pool, participant_id).await.map_err(internal)? else {
        // Deleted meanwhile (the provider account was deleted): start over.
        session.purge();
        return Ok(redirect(StatusCode::SEE_OTHER, "/"));
    };
    let today = participant.time_zone.today(Utc::now());
    let programs = data::programs_today(pool, participant_id, today).await.map_err(internal)?;
    let note = session.get::<String>(NOTE).ok().flatten();
    session.remove(NOTE);
    let csrf = csrf_token(&session)?;
    let google = portal.google.is_some();
    Ok(page(StatusCode::OK, pages::status(&csrf, &participant, &programs, note.as_deref(), google)))
}

/// The signed-in participant and their time zone, for a page about their own data; or where to
/// send a browser without a live sign-in.
async fn signed_in_zone(
    portal: &Portal,
    session: &Session,
) -> Result<Result<(i64, ParticipantZone), HttpResponse>, PageError> {
    let participant_id = match visitor(portal, session).await? {
        Visitor::Participant(id) => id,
        Visitor::Nobody => return Ok(Err(redirect(StatusCode::SEE_OTHER, "/"))),
        Visitor::Ended(ended) => return back_to_sign_in(session, ended).map(Err),
    };
    let pool = &portal.connections.pool;
    let Some(participant) = data::participant(pool, participant_id).await.map_err(internal)? else {
        session.purge();
        return Ok(Err(redirect(StatusCode::SEE_OTHER, "/")));
    };
    Ok(Ok((participant_id, participant.time_zone)))
}

/// The signed-in participant and their `today` (see [`signed_in_zone`]).
async fn signed_in_today(
    portal: &Portal,
    session: &Session,
) -> Result<Result<(i64, chrono::NaiveDate), HttpResponse>, PageError> {
    Ok(signed_in_zone(portal, session)
        .await?
        .map(|(participant_id, zone)| (participant_id, zone.today(Utc::now()))))
}

/// "My season": takes no id; the season is the signed-in participant's own.
async fn my_season(portal: web::Data<Portal>, session: Session) -> PageResult {
    let (participant_id, today) = match signed_in_today(&portal, &session).await? {
        Ok(found) => found,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let pool = &portal.connections.pool;
    let view = season::my_season(pool, participant_id, today).await.map_err(internal)?;
    let csrf = csrf_token(&session)?;
    Ok(page(StatusCode::OK, season_pages::season(&csrf, &view)))
}

/// "My team": takes no id; the team and program are the signed-in participant's own.
async fn my_team(portal: web::Data<Portal>, session: Session) -> PageResult {
    let (participant_id, today) = match signed_in_today(&portal, &session).await? {
        Ok(found) => found,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let pool = &portal.connections.pool;
    let view = season::my_team(pool, participant_id, today).await.map_err(internal)?;
    let csrf = csrf_token(&session)?;
    Ok(page(StatusCode::OK, season_pages::team(&csrf, &view)))
}

/// The entry form as posted.
#[derive(Deserialize)]
struct ActivityForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(flatten)]
    entry: EntryForm,
}

/// A form that carries nothing but its CSRF token (deleting an entry).
#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: Option<String>,
}

/// An entry id from the URL: a positive number, else there is no such page.
fn entry_id(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().filter(|id| *id > 0)
}

/// Where a change's events go. Each change by a participant starts its own trace.
fn activity_outbox<'a>(portal: &'a Portal, trace: &'a TraceParent) -> ActivityOutbox<'a> {
    ActivityOutbox { topic: &portal.activity_topic, trace }
}

/// "Log activity": the form and the season's entries; takes no id, the season is the signed-in
/// participant's own.
async fn log_activity(portal: web::Data<Portal>, session: Session) -> PageResult {
    let (participant_id, zone) = match signed_in_zone(&portal, &session).await? {
        Ok(found) => found,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let pool = &portal.connections.pool;
    let view =
        activity::my_activity(pool, participant_id, &zone, Utc::now()).await.map_err(internal)?;
    let note = session.get::<String>(ACTIVITY_NOTE).ok().flatten();
    session.remove(ACTIVITY_NOTE);
    let values = match &view {
        season::Season::Started(header, _) => activity::blank_form(header),
        _ => EntryForm::default(),
    };
    let csrf = csrf_token(&session)?;
    let markup = activity_pages::activity(&csrf, &view, &values, &[], note.as_deref());
    Ok(page(StatusCode::OK, markup))
}

/// An entry's edit page; another participant's entry, or one outside the season, is no page.
async fn edit_activity(
    portal: web::Data<Portal>,
    session: Session,
    id: web::Path<String>,
) -> PageResult {
    let (participant_id, zone) = match signed_in_zone(&portal, &session).await? {
        Ok(found) => found,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let Some(id) = entry_id(&id) else { return Ok(not_found()) };
    let pool = &portal.connections.pool;
    let view =
        activity::my_activity(pool, participant_id, &zone, Utc::now()).await.map_err(internal)?;
    let season::Season::Started(header, mine) = &view else { return Ok(not_found()) };
    let Some(stored) = mine.entry(id) else { return Ok(not_found()) };
    let csrf = csrf_token(&session)?;
    let markup = activity_pages::edit(&csrf, header, mine, id, &activity::form_of(stored), &[]);
    Ok(page(StatusCode::OK, markup))
}

/// The page the entry was submitted on, again, with its values kept and why it was refused (422):
/// the edit page of `editing`, else "Log activity".
async fn entry_refused(
    portal: &Portal,
    session: &Session,
    (participant_id, zone): (i64, ParticipantZone),
    editing: Option<i64>,
    values: &EntryForm,
    problems: &[EntryProblem],
) -> PageResult {
    let pool = &portal.connections.pool;
    let view =
        activity::my_activity(pool, participant_id, &zone, Utc::now()).await.map_err(internal)?;
    let csrf = csrf_token(session)?;
    let markup = match (&view, editing) {
        (season::Season::Started(header, mine), Some(id)) if mine.entry(id).is_some() => {
            activity_pages::edit(&csrf, header, mine, id, values, problems)
        }
        _ => activity_pages::activity(&csrf, &view, values, problems, None),
    };
    Ok(page(StatusCode::UNPROCESSABLE_ENTITY, markup))
}

/// What the participant sees when the store did not take a change.
async fn entry_not_stored(
    portal: &Portal,
    session: &Session,
    participant: (i64, ParticipantZone),
    editing: Option<i64>,
    values: &EntryForm,
    error: ManualError,
) -> PageResult {
    match error {
        ManualError::Refused(problems) => {
            entry_refused(portal, session, participant, editing, values, &problems).await
        }
        ManualError::NotFound => Ok(not_found()),
        ManualError::Database(error) => Err(internal(error)),
    }
}

/// Back to "Log activity", which says once what was done.
fn entry_done(session: &Session, done: Done, entry: &fitex_goals::ManualEntry) -> PageResult {
    session.insert(ACTIVITY_NOTE, activity_pages::note(done, entry)).map_err(internal)?;
    Ok(redirect(StatusCode::SEE_OTHER, "/activity"))
}

/// Adds an entry to the signed-in participant's season, checked and announced where it is stored.
async fn add_activity(
    portal: web::Data<Portal>,
    session: Session,
    form: web::Form<ActivityForm>,
) -> PageResult {
    let (participant_id, zone) = match signed_in_zone(&portal, &session).await? {
        Ok(found) => found,
        Err(elsewhere) => return Ok(elsewhere),
    };
    if !csrf_ok(&session, form.csrf.as_deref()) {
        return Ok(forbidden());
    }
    let values = form.into_inner().entry;
    let me = (participant_id, zone);
    let (now, pool) = (Utc::now(), &portal.connections.pool);
    let today = zone.today(now);
    let Some(window) =
        activity::season_window(pool, participant_id, today).await.map_err(internal)?
    else {
        // In no team: the page says so, and there is nothing to add to.
        return entry_refused(&portal, &session, me, None, &values, &[]).await;
    };
    let entry = match activity::submitted(&window, today, now, &values) {
        Ok(entry) => entry,
        Err(problems) => {
            return entry_refused(&portal, &session, me, None, &values, &problems).await
        }
    };
    let trace = TraceParent::new_root();
    let (events, by) = (activity_outbox(&portal, &trace), EnteredBy::Participant);
    match entries::add(pool, events, participant_id, &window, &entry, &by, now).await {
        Ok(_) => entry_done(&session, Done::Added, &entry),
        Err(error) => entry_not_stored(&portal, &session, me, None, &values, error).await,
    }
}

/// One of the signed-in participant's entries that a request may change.
struct OwnEntry {
    participant: (i64, ParticipantZone),
    stored: entries::StoredEntry,
    window: entries::SeasonWindow,
    now: chrono::DateTime<Utc>,
}

/// The entry a POST to `/activity/{id}…` is about, when the request may change it: a live
/// sign-in, the session's CSRF token, and an id naming one of the participant's own entries with
/// their season. Otherwise the answer: to sign in, 403, or 404 (another participant's entry, or an
/// id that is not one, is no page).
async fn own_entry(
    portal: &Portal,
    session: &Session,
    id: &str,
    csrf: Option<&str>,
) -> Result<Result<OwnEntry, HttpResponse>, PageError> {
    let (participant_id, zone) = match signed_in_zone(portal, session).await? {
        Ok(found) => found,
        Err(elsewhere) => return Ok(Err(elsewhere)),
    };
    if !csrf_ok(session, csrf) {
        return Ok(Err(forbidden()));
    }
    let Some(id) = entry_id(id) else { return Ok(Err(not_found())) };
    let (now, pool) = (Utc::now(), &portal.connections.pool);
    let Some(stored) = entries::entry(pool, participant_id, id).await.map_err(internal)? else {
        return Ok(Err(not_found()));
    };
    let today = zone.today(now);
    let Some(window) =
        activity::season_window(pool, participant_id, today).await.map_err(internal)?
    else {
        return Ok(Err(not_found()));
    };
    Ok(Ok(OwnEntry { participant: (participant_id, zone), stored, window, now }))
}

/// Changes one of the signed-in participant's entries; another participant's is no page, and
/// nothing about it changes.
async fn change_activity(
    portal: web::Data<Portal>,
    session: Session,
    id: web::Path<String>,
    form: web::Form<ActivityForm>,
) -> PageResult {
    let OwnEntry { participant, stored, window, now } =
        match own_entry(&portal, &session, &id, form.csrf.as_deref()).await? {
            Ok(own) => own,
            Err(answer) => return Ok(answer),
        };
    let ((participant_id, zone), id) = (participant, stored.id);
    let values = form.into_inner().entry;
    let entry = match activity::submitted(&window, zone.today(now), now, &values) {
        Ok(entry) => entry,
        Err(problems) => {
            return entry_refused(&portal, &session, participant, Some(id), &values, &problems)
                .await
        }
    };
    let trace = TraceParent::new_root();
    let (pool, events) = (&portal.connections.pool, activity_outbox(&portal, &trace));
    let by = EnteredBy::Participant;
    match entries::change(pool, events, participant_id, id, &window, &entry, &by, now).await {
        Ok(()) => entry_done(&session, Done::Changed, &entry),
        Err(error) => {
            entry_not_stored(&portal, &session, participant, Some(id), &values, error).await
        }
    }
}

/// Deletes one of the signed-in participant's entries; another participant's is no page, and
/// stays.
async fn delete_activity(
    portal: web::Data<Portal>,
    session: Session,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> PageResult {
    let OwnEntry { participant, stored, window, now } =
        match own_entry(&portal, &session, &id, form.csrf.as_deref()).await? {
            Ok(own) => own,
            Err(answer) => return Ok(answer),
        };
    let trace = TraceParent::new_root();
    let (pool, events) = (&portal.connections.pool, activity_outbox(&portal, &trace));
    let by = EnteredBy::Participant;
    match entries::delete(pool, events, participant.0, stored.id, &window, &by, now).await {
        Ok(()) => entry_done(&session, Done::Deleted, &stored.entry),
        Err(error) => {
            entry_not_stored(&portal, &session, participant, None, &EntryForm::default(), error)
                .await
        }
    }
}

#[derive(Deserialize)]
struct SignOutForm {
    #[serde(default)]
    csrf: Option<String>,
    /// Present: end every sign-in of the participant, on every device ("Sign out everywhere").
    #[serde(default)]
    everywhere: Option<String>,
}

const SIGNED_OUT_HERE: &str = "You are signed out.";
const SIGNED_OUT_EVERYWHERE: &str = "You are signed out here and on every other device and \
    browser where you had signed in.";
const ALREADY_ENDED: &str = "Your sign-in had already ended, so other devices could not be \
    signed out from here. Connect below to sign in again, then choose Sign out everywhere.";

/// Ends this browser's sign-in in `portal_sessions` (a copy of the cookie then signs nobody in),
/// or, with `everywhere`, every sign-in of the participant — only from a live sign-in.
async fn signout(
    portal: web::Data<Portal>,
    session: Session,
    form: web::Form<SignOutForm>,
) -> PageResult {
    if !csrf_ok(&session, form.csrf.as_deref()) {
        return Ok(forbidden());
    }
    let pool = &portal.connections.pool;
    let mut message = SIGNED_OUT_HERE;
    if let Some(secret) = session.get::<String>(SIGN_IN).ok().flatten() {
        if form.everywhere.is_some() {
            let timeouts = portal.settings.session_timeouts();
            match sessions::touch(pool, &secret, timeouts).await.map_err(internal)? {
                Ok(participant_id) => {
                    let ended =
                        sessions::revoke_all(pool, participant_id).await.map_err(internal)?;
                    tracing::info!(
                        participant = participant_id,
                        sessions = ended,
                        "signed out everywhere"
                    );
                    message = SIGNED_OUT_EVERYWHERE;
                }
                Err(_) => message = ALREADY_ENDED,
            }
        }
        sessions::revoke(pool, &secret).await.map_err(internal)?;
    }
    start_over(&session, message)?;
    Ok(redirect(StatusCode::SEE_OTHER, "/"))
}
