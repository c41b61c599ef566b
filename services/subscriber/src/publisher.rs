//! Making a request's records durable before the subscriber answers.

use std::time::{Duration, Instant};

use fitex_common::kafka::RecoveringProducer;
use fitex_common::outbox::{self, OutgoingRecord};
use sqlx::PgPool;

/// The outbox `source` of this service's records.
pub const OUTBOX_SOURCE: &str = "subscriber";

/// Where a request's records ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Every record acknowledged by the broker.
    Broker,
    /// Some or all committed to the outbox, to be relayed when the broker is back.
    Outbox,
}

impl Delivery {
    pub fn label(self) -> &'static str {
        match self {
            Delivery::Broker => "broker",
            Delivery::Outbox => "outbox",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("broker did not acknowledge ({broker}) and the outbox could not be written ({database})")]
pub struct Unavailable {
    pub broker: String,
    pub database: String,
}

#[derive(Clone)]
pub struct Publisher {
    producer: RecoveringProducer,
    pool: PgPool,
    deadline: Duration,
}

impl Publisher {
    pub fn new(producer: RecoveringProducer, pool: PgPool, deadline: Duration) -> Self {
        Self { producer, pool, deadline }
    }

    /// Sends `records` and waits for the broker's acknowledgements up to the deadline; commits the
    /// unacknowledged ones to the outbox. A record that times out may still reach the broker later
    /// and then be relayed too: consumers deduplicate on `event_id`.
    pub async fn publish(&self, records: &[OutgoingRecord]) -> Result<Delivery, Unavailable> {
        let started = Instant::now();
        let failures = outbox::send_all(&self.producer, records, self.deadline).await;
        let delivery = if failures.is_empty() {
            Delivery::Broker
        } else {
            let broker_error = failures[0].1.to_string();
            let pending: Vec<&OutgoingRecord> =
                failures.iter().map(|(i, _)| &records[*i]).collect();
            tracing::warn!(
                unacknowledged = pending.len(),
                error = %broker_error,
                "broker did not acknowledge in time; committing to the outbox"
            );
            outbox::insert(&self.pool, OUTBOX_SOURCE, &pending)
                .await
                .map_err(|e| Unavailable { broker: broker_error, database: e.to_string() })?;
            Delivery::Outbox
        };
        metrics::histogram!(crate::metric_names::PUBLISH_SECONDS, "delivery" => delivery.label())
            .record(started.elapsed().as_secs_f64());
        Ok(delivery)
    }
}
