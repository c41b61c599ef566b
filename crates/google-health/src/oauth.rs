//! Google OAuth 2.0 for participants, through the `oauth2` crate: the authorization code flow
//! with PKCE and offline access (so a refresh token keeps the connection alive), the code
//! exchange, refresh and revocation. Google's refresh tokens do not rotate: a refresh answer
//! usually carries no new one, and the old one keeps working until consent is withdrawn.

use std::time::Duration;

use chrono::{DateTime, Utc};
use fitex_provider::{ProviderError, TokenGrant};
use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenResponse};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RevocationUrl, Scope,
    StandardRevocableToken, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};

/// The scope that reads steps, activity and heart-rate data.
pub const ACTIVITY_SCOPE: &str =
    "https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly";
/// The scope that reads the user's settings (their time zone).
pub const SETTINGS_SCOPE: &str = "https://www.googleapis.com/auth/googlehealth.settings.readonly";
/// The scope that reads the profile.
pub const PROFILE_SCOPE: &str = "https://www.googleapis.com/auth/googlehealth.profile.readonly";

/// Where Google's OAuth endpoints are and who we are to them.
#[derive(Clone, Debug)]
pub struct GoogleOAuthSettings {
    /// `https://accounts.google.com/o/oauth2/v2/auth`.
    pub authorize_url: String,
    /// `https://oauth2.googleapis.com/token`.
    pub token_url: String,
    /// `https://oauth2.googleapis.com/revoke`.
    pub revoke_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub scopes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum OAuthSetupError {
    #[error("invalid OAuth URL {url}: {reason}")]
    Url { url: String, reason: String },
}

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointSet, EndpointSet>;

/// A consent request to send the participant to; keep `state` and `pkce_verifier` (in the
/// session) until Google redirects back.
#[derive(Debug)]
pub struct ConsentRequest {
    pub url: String,
    pub state: String,
    pub pkce_verifier: SecretString,
}

#[derive(Clone)]
pub struct GoogleOAuth {
    client: Client,
    scopes: Vec<String>,
    http: reqwest::Client,
}

fn url_error(url: &str, error: impl std::fmt::Display) -> OAuthSetupError {
    OAuthSetupError::Url { url: url.to_owned(), reason: error.to_string() }
}

impl GoogleOAuth {
    pub fn new(settings: &GoogleOAuthSettings, timeout: Duration) -> Result<Self, OAuthSetupError> {
        let auth = AuthUrl::new(settings.authorize_url.clone())
            .map_err(|e| url_error(&settings.authorize_url, e))?;
        let token = TokenUrl::new(settings.token_url.clone())
            .map_err(|e| url_error(&settings.token_url, e))?;
        let revoke = RevocationUrl::new(settings.revoke_url.clone())
            .map_err(|e| url_error(&settings.revoke_url, e))?;
        let client = BasicClient::new(ClientId::new(settings.client_id.clone()))
            .set_client_secret(ClientSecret::new(settings.client_secret.expose_secret().to_owned()))
            .set_auth_uri(auth)
            .set_token_uri(token)
            .set_revocation_url(revoke);
        // The oauth2 crate asks for no redirects: a token endpoint that redirects is misconfigured.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent("fitex-sync")
            .build()
            .map_err(|e| url_error(&settings.token_url, e))?;
        Ok(GoogleOAuth { client, scopes: settings.scopes.clone(), http })
    }

    /// The consent URL: authorization code with an S256 PKCE challenge, offline access (a refresh
    /// token) and `prompt=consent`, so reconnecting always yields a refresh token again.
    pub fn consent_request(&self, redirect_uri: &str) -> Result<ConsentRequest, OAuthSetupError> {
        let redirect =
            RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| url_error(redirect_uri, e))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .set_redirect_uri(std::borrow::Cow::Owned(redirect))
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .add_extra_param("access_type", "offline")
            .add_extra_param("prompt", "consent")
            .add_extra_param("include_granted_scopes", "true")
            .set_pkce_challenge(challenge)
            .url();
        Ok(ConsentRequest {
            url: url.to_string(),
            state: state.secret().clone(),
            pkce_verifier: SecretString::from(verifier.secret().clone()),
        })
    }

    /// Exchanges the code Google redirected back with. The grant's `user_id` is empty: Google's
    /// token answer does not name the user; ask `users/me/identity`.
    pub async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &SecretString,
        redirect_uri: &str,
    ) -> Result<TokenGrant, ProviderError> {
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| ProviderError::Permanent(format!("bad redirect URI: {e}")))?;
        let answer = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.expose_secret().to_owned()))
            .set_redirect_uri(std::borrow::Cow::Owned(redirect))
            .request_async(&self.http)
            .await;
        count("authorization_code", &answer);
        grant(answer.map_err(token_error)?, None, Utc::now())
    }

    /// A new access token for `refresh_token`; the grant keeps the same refresh token when Google
    /// sends none back.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenGrant, ProviderError> {
        let token = RefreshToken::new(refresh_token.expose_secret().to_owned());
        let answer = self.client.exchange_refresh_token(&token).request_async(&self.http).await;
        count("refresh_token", &answer);
        grant(answer.map_err(token_error)?, Some(refresh_token), Utc::now())
    }

    /// Withdraws the grant at Google (the participant disconnects).
    pub async fn revoke(&self, refresh_token: &SecretString) -> Result<(), ProviderError> {
        let token = StandardRevocableToken::RefreshToken(RefreshToken::new(
            refresh_token.expose_secret().to_owned(),
        ));
        self.client
            .revoke_token(token)
            .map_err(|e| ProviderError::Permanent(e.to_string()))?
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                oauth2::RequestTokenError::Request(e) => ProviderError::Transient(e.to_string()),
                other => ProviderError::Permanent(other.to_string()),
            })
    }
}

type TokenAnswer = Result<
    BasicTokenResponse,
    oauth2::RequestTokenError<
        oauth2::HttpClientError<reqwest::Error>,
        oauth2::StandardErrorResponse<BasicErrorResponseType>,
    >,
>;

fn count(grant_type: &'static str, answer: &TokenAnswer) {
    let outcome = match answer {
        Ok(_) => "ok",
        Err(oauth2::RequestTokenError::ServerResponse(_)) => "refused",
        Err(_) => "failed",
    };
    metrics::counter!("fitex_provider_token_requests_total", "provider" => crate::webhook::PROVIDER.as_str(),
        "grant_type" => grant_type, "outcome" => outcome)
    .increment(1);
}

fn token_error(
    error: oauth2::RequestTokenError<
        oauth2::HttpClientError<reqwest::Error>,
        oauth2::StandardErrorResponse<BasicErrorResponseType>,
    >,
) -> ProviderError {
    use oauth2::RequestTokenError;
    match error {
        RequestTokenError::ServerResponse(response) => {
            let description = response.error_description().cloned().unwrap_or_default();
            match response.error() {
                // Revoked, expired (unused for months, or a 7-day "Testing" app), or a bad code.
                BasicErrorResponseType::InvalidGrant => ProviderError::InvalidGrant(description),
                other => ProviderError::Permanent(format!(
                    "token endpoint refused: {other} {description}"
                )),
            }
        }
        RequestTokenError::Request(e) => ProviderError::Transient(format!("token endpoint: {e}")),
        // An answer that is not Google's JSON (an HTML 5xx page, a proxy error): try again later.
        RequestTokenError::Parse(e, _) => {
            ProviderError::Transient(format!("unreadable token endpoint answer: {e}"))
        }
        RequestTokenError::Other(e) => ProviderError::Transient(format!("token endpoint: {e}")),
    }
}

/// A token answer as the seam's grant.
pub fn grant(
    answer: BasicTokenResponse,
    previous_refresh_token: Option<&SecretString>,
    now: DateTime<Utc>,
) -> Result<TokenGrant, ProviderError> {
    let access_token = answer.access_token().secret().clone();
    if access_token.is_empty() {
        return Err(ProviderError::Permanent("token answer without an access token".into()));
    }
    // Google's access tokens last an hour; assume that when the answer does not say.
    let expires_in = answer.expires_in().unwrap_or(Duration::from_secs(3600));
    let refresh_token = answer
        .refresh_token()
        .map(|t| SecretString::from(t.secret().clone()))
        .or_else(|| previous_refresh_token.cloned());
    let scopes = answer
        .scopes()
        .map(|scopes| scopes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    // A lifetime that cannot be represented, or ends past the last instant a date can hold
    // (`now + lifetime` would panic), counts as that hour too.
    let expires_at = chrono::Duration::from_std(expires_in)
        .ok()
        .and_then(|lifetime| now.checked_add_signed(lifetime))
        .unwrap_or(now + chrono::Duration::hours(1));
    Ok(TokenGrant {
        access_token: SecretString::from(access_token),
        refresh_token,
        expires_at,
        scopes,
        user_id: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth() -> GoogleOAuth {
        GoogleOAuth::new(
            &GoogleOAuthSettings {
                authorize_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
                token_url: "https://oauth2.googleapis.com/token".into(),
                revoke_url: "https://oauth2.googleapis.com/revoke".into(),
                client_id: "client-1.apps.googleusercontent.com".into(),
                client_secret: SecretString::from("s3cret"),
                scopes: vec![ACTIVITY_SCOPE.into(), SETTINGS_SCOPE.into()],
            },
            Duration::from_secs(5),
        )
        .unwrap()
    }

    #[test]
    fn the_consent_url_asks_for_offline_access_with_pkce() {
        let request =
            oauth().consent_request("https://fitex.example/connect/google/callback").unwrap();
        let url = url::Url::parse(&request.url).unwrap();
        let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(url.host_str(), Some("accounts.google.com"));
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["client_id"], "client-1.apps.googleusercontent.com");
        assert_eq!(query["redirect_uri"], "https://fitex.example/connect/google/callback");
        assert_eq!(query["access_type"], "offline");
        assert_eq!(query["prompt"], "consent");
        assert_eq!(query["code_challenge_method"], "S256");
        assert_eq!(query["state"], request.state);
        assert_eq!(query["scope"], format!("{ACTIVITY_SCOPE} {SETTINGS_SCOPE}"));
        // The challenge is the verifier's SHA-256, never the verifier itself.
        let verifier = request.pkce_verifier.expose_secret();
        assert!(verifier.len() >= 43);
        assert!(!request.url.contains(verifier));
        assert_eq!(query["code_challenge"].len(), 43);
        // Every request gets its own state and verifier.
        let other =
            oauth().consent_request("https://fitex.example/connect/google/callback").unwrap();
        assert_ne!(other.state, request.state);
    }

    #[test]
    fn a_refresh_answer_without_a_refresh_token_keeps_the_old_one() {
        let answer: BasicTokenResponse = serde_json::from_str(
            r#"{"access_token":"ya29.new","expires_in":3599,"token_type":"Bearer","scope":"a b"}"#,
        )
        .unwrap();
        let now = Utc::now();
        let old = SecretString::from("1//refresh");
        let grant = grant(answer, Some(&old), now).unwrap();
        assert_eq!(grant.access_token.expose_secret(), "ya29.new");
        assert_eq!(grant.refresh_token.unwrap().expose_secret(), "1//refresh");
        assert_eq!(grant.expires_at, now + chrono::Duration::seconds(3599));
        assert_eq!(grant.scopes, "a b");
    }

    #[test]
    fn an_absurd_lifetime_counts_as_an_hour_not_a_panic() {
        // Found by the google_token_response fuzz target (docs/fuzzing.md): `now + lifetime`
        // overflowed ("`DateTime + TimeDelta` overflowed") for this answer.
        let found = br#"{"access_token":".a","expires_in":1257438443844013,"reoken":"1//r","token_type":"Bearetps://www.googleapis.com/auth/googlehealth.activitness.read"}"#;
        let now = Utc::now();
        for body in [
            &found[..],
            br#"{"access_token":"a","expires_in":18446744073709551615,"token_type":"Bearer"}"#,
        ] {
            let answer: BasicTokenResponse = serde_json::from_slice(body).unwrap();
            let grant = grant(answer, None, now).unwrap();
            assert_eq!(grant.expires_at, now + chrono::Duration::hours(1));
        }
    }

    #[test]
    fn bad_urls_are_refused_at_setup() {
        let mut settings = GoogleOAuthSettings {
            authorize_url: "not a url".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            revoke_url: "https://oauth2.googleapis.com/revoke".into(),
            client_id: "c".into(),
            client_secret: SecretString::from("s"),
            scopes: vec![],
        };
        assert!(GoogleOAuth::new(&settings, Duration::from_secs(1)).is_err());
        settings.authorize_url = "https://accounts.google.com/o/oauth2/v2/auth".into();
        assert!(GoogleOAuth::new(&settings, Duration::from_secs(1)).is_ok());
    }
}
