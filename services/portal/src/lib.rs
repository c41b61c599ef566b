//! The participant pages: connect a Fitbit account (authorization code + PKCE, or a pasted
//! long-lived token) and see, in plain language, whether data is flowing, with today's goal and
//! the team's week when enrolled in a program. Everything shown comes from the session: no page
//! takes a participant id from the URL.

pub mod data;
pub mod pages;
pub mod pkce;
pub mod routes;
pub mod settings;
pub mod startup;

pub use settings::{PortalSettings, Settings};
pub use startup::Application;
