//! Which trace each fetched day continues, so that an activity event — and the goal events that
//! follow it — can be traced back to the notification that asked for its day.
//!
//! A day named by notifications continues the trace of the earliest of them in the batch; a day
//! deferred to `pending_fetches` keeps the trace it was deferred with (its `traceparent` column)
//! and continues it when the pending loop fetches it. Days that no notification named (a change on
//! an unnamed date, a backfill, a catch-up) continue the fetch's own trace: the user's earliest
//! notification of the batch, or a new root when there is none.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use fitex_common::trace_context::TraceParent;
use fitex_connections::pending::WaitingTraces;

/// The trace of the earliest notification offered so far (see [`EarliestTrace::offer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EarliestTrace {
    /// When the subscriber accepted that notification (Unix ms; 0 if unknown).
    pub received_ms: i64,
    pub trace: TraceParent,
}

impl EarliestTrace {
    /// Keeps in `slot` whichever notification was accepted first: this one (accepted at
    /// `received_ms`, carrying `trace`) or the one kept. An unknown acceptance time counts as
    /// later than any known one, and of two equal times the one offered first is kept (the batch
    /// is in the partition's order).
    pub fn offer(slot: &mut Option<EarliestTrace>, received_ms: i64, trace: Option<TraceParent>) {
        let Some(trace) = trace else { return };
        let rank = |ms: i64| if ms > 0 { ms } else { i64::MAX };
        if slot.is_none_or(|kept| rank(received_ms) < rank(kept.received_ms)) {
            *slot = Some(EarliestTrace { received_ms, trace });
        }
    }
}

/// Per day, the span a fetch works in: a child of the trace that day continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayTraces {
    fetch: TraceParent,
    days: BTreeMap<NaiveDate, TraceParent>,
}

impl DayTraces {
    /// Every day in `fetch` (already the fetch's own span).
    pub fn new(fetch: TraceParent) -> Self {
        Self { fetch, days: BTreeMap::new() }
    }

    /// The fetch continues `parent` (a child span of it), or starts a new trace without one.
    pub fn continuing(parent: Option<&TraceParent>) -> Self {
        Self::new(parent.map_or_else(TraceParent::new_root, TraceParent::child))
    }

    /// `date` continues `parent` (a child span of it).
    pub fn continue_day(&mut self, date: NaiveDate, parent: &TraceParent) {
        self.days.insert(date, parent.child());
    }

    /// The fetch's own span, for the days no notification named.
    pub fn fetch(&self) -> &TraceParent {
        &self.fetch
    }

    /// The span `date` is fetched in.
    pub fn of(&self, date: NaiveDate) -> &TraceParent {
        self.days.get(&date).unwrap_or(&self.fetch)
    }
}

impl From<TraceParent> for DayTraces {
    fn from(fetch: TraceParent) -> Self {
        Self::new(fetch)
    }
}

/// A deferred day waits in `pending_fetches` with the span it was being fetched in.
impl WaitingTraces for DayTraces {
    fn traceparent(&self, day: NaiveDate) -> String {
        self.of(day).header_value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(n: u8) -> TraceParent {
        TraceParent { trace_id: [n; 16], span_id: [n; 8], sampled: true }
    }

    #[test]
    fn the_earliest_accepted_notification_is_kept_and_unknown_times_count_last() {
        let mut slot = None;
        EarliestTrace::offer(&mut slot, 0, Some(trace(1)));
        EarliestTrace::offer(&mut slot, 900, Some(trace(2)));
        EarliestTrace::offer(&mut slot, 500, Some(trace(3)));
        EarliestTrace::offer(&mut slot, 500, Some(trace(4)));
        EarliestTrace::offer(&mut slot, 100, None);
        assert_eq!(slot, Some(EarliestTrace { received_ms: 500, trace: trace(3) }));
    }

    #[test]
    fn a_day_continues_its_own_trace_and_other_days_the_fetchs() {
        let mut traces = DayTraces::continuing(Some(&trace(1)));
        let named = NaiveDate::from_ymd_opt(2026, 12, 9).unwrap();
        traces.continue_day(named, &trace(2));
        assert_eq!(traces.fetch().trace_id, trace(1).trace_id);
        assert_ne!(traces.fetch().span_id, trace(1).span_id, "a child span");
        assert_eq!(traces.of(named).trace_id, trace(2).trace_id);
        assert_ne!(traces.of(named).span_id, trace(2).span_id);
        assert_eq!(traces.of(named.pred_opt().unwrap()), traces.fetch());
        let fresh = DayTraces::continuing(None);
        assert_ne!(fresh.fetch().trace_id, trace(1).trace_id);
    }
}
