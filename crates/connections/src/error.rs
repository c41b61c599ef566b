//! How syncing fails, below the provider registry (`providers`), connecting and token upkeep
//! (`keeper`) and the fetcher's syncing, so that each can name it without importing the others.

#[derive(Debug, Clone, thiserror::Error)]
pub enum SyncError {
    /// Worth retrying later (provider 5xx or timeout, database unavailable).
    #[error("transient: {0}")]
    Transient(String),
    /// Retrying will not help; dead-letter with this reason.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl From<sqlx::Error> for SyncError {
    fn from(error: sqlx::Error) -> Self {
        SyncError::Transient(format!("database: {error}"))
    }
}

/// Why the connection core could not be built from its settings.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("token encryption: {0}")]
    Cipher(#[from] fitex_common::token_cipher::CipherError),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("Google Health API settings: {0}")]
    GoogleHealth(#[from] fitex_google_health::oauth::OAuthSetupError),
}
