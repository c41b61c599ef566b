//! The part of the services' configuration `fitexctl` reads before any command but `probe`: the
//! database, Kafka and the Fitbit client secrets (a command that needs more loads its service's
//! settings itself).

use fitex_common::database::DatabaseSettings;
use fitex_common::kafka::KafkaSettings;
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub kafka: KafkaSettings,
    pub fitbit: FitbitSettings,
}

#[derive(Deserialize)]
pub struct FitbitSettings {
    pub client_secrets: Vec<SecretString>,
}
