//! How syncing fails: below both the provider registry (`providers`) and syncing (`sync`), so
//! that each can name it without importing the other.

#[derive(Debug, thiserror::Error)]
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
