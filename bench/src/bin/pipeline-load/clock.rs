//! The wall clock the driver and the reader time changes and events by.

use chrono::Utc;

/// Milliseconds since the epoch, to the microsecond.
pub fn now_ms() -> f64 {
    Utc::now().timestamp_micros() as f64 / 1000.0
}
