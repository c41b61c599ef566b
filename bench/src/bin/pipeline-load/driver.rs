//! Sending the load: each planned sync at its moment, through the simulator, which POSTs the
//! signed notifications to the subscriber; what was sent and how the subscriber answered is
//! tallied.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use fitex_provider_simulator::{DayData, Delivery, Notification, SimulatorClient};
use tokio::sync::Semaphore;

use crate::clock::now_ms;
use crate::cohort::Participant;
use crate::plan::Sync;

/// A sent change: the notification for (participant, date) that carries `steps`.
#[derive(Clone)]
pub struct Change {
    pub who: usize,
    pub date: NaiveDate,
    pub steps: u32,
    pub sent_ms: f64,
    pub dates_in_sync: usize,
}

/// What the driver sent, and how the simulator and the subscriber answered.
#[derive(Default)]
pub struct Tally {
    pub changes: Vec<Change>,
    pub posts: u64,
    pub posts_ok: u64,
    pub duplicate_posts: u64,
    pub failed_requests: u64,
    /// Milliseconds from sending a notification POST to the subscriber's answer, per POST (as
    /// the simulator's admin call returns it, so the simulator's own work is included).
    pub post_ms: Vec<f64>,
    pub post_sent_ms: Vec<f64>,
    pub dispatch_lag_ms: f64,
}

impl Tally {
    /// The simulator's POSTs for one admin call, sent at `sent` and answered `took` ms later in
    /// all (each POST is counted at its share).
    fn record_posts(&mut self, deliveries: &[Delivery], sent: f64, took: f64) {
        self.posts += deliveries.len() as u64;
        self.posts_ok +=
            deliveries.iter().filter(|d| d.status.is_some_and(|s| (200..300).contains(&s))).count()
                as u64;
        for _ in deliveries {
            self.post_ms.push(took / deliveries.len() as f64);
            self.post_sent_ms.push(sent);
        }
    }
}

fn day_data(steps: u32) -> DayData {
    fitex_provider_simulator::cohort::day_from_steps(steps, 900, Some(62), 0.00075)
}

/// Sends `syncs`, each at its moment from now plus half a second, with at most `in_flight`
/// simulator requests at once; returns once every sync and its duplicates were sent.
pub async fn drive(
    sim: &SimulatorClient,
    participants: &Arc<Vec<Participant>>,
    syncs: Vec<Sync>,
    in_flight: usize,
) -> anyhow::Result<Tally> {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let permits = Arc::new(Semaphore::new(in_flight.max(1)));
    let start = tokio::time::Instant::now() + Duration::from_millis(500);
    let mut tasks = Vec::with_capacity(syncs.len());
    for sync in syncs {
        let due = start + Duration::from_millis(sync.at_ms);
        tokio::time::sleep_until(due).await;
        let permit = permits.clone().acquire_owned().await.expect("semaphore");
        let lag = tokio::time::Instant::now().saturating_duration_since(due).as_secs_f64() * 1000.0;
        let (sim, tally, participants, permits) =
            (sim.clone(), tally.clone(), participants.clone(), permits.clone());
        tasks.push(tokio::spawn(async move {
            let user = participants[sync.who].user.clone();
            let count = sync.dates.len();
            {
                let mut t = tally.lock().unwrap();
                t.dispatch_lag_ms = t.dispatch_lag_ms.max(lag);
            }
            for (date, steps) in &sync.dates {
                let sent = now_ms();
                let result = tokio::time::timeout(
                    Duration::from_secs(15),
                    sim.set_day(&user, *date, day_data(*steps)),
                )
                .await;
                let took = now_ms() - sent;
                let mut t = tally.lock().unwrap();
                match result {
                    Ok(Ok(deliveries)) => {
                        t.record_posts(&deliveries, sent, took);
                        t.changes.push(Change {
                            who: sync.who,
                            date: *date,
                            steps: *steps,
                            sent_ms: sent,
                            dates_in_sync: count,
                        });
                    }
                    Ok(Err(error)) => {
                        eprintln!("set_day {user} {date}: {error}");
                        t.failed_requests += 1;
                    }
                    Err(_) => {
                        eprintln!("set_day {user} {date}: timed out");
                        t.failed_requests += 1;
                    }
                }
            }
            drop(permit);
            if sync.duplicates > 0 {
                tokio::time::sleep(Duration::from_millis(sync.duplicate_delay_ms)).await;
                let _permit = permits.acquire().await.expect("semaphore");
                let today = sync.dates.last().expect("a sync changes today").0;
                let notification = Notification::activities(&user, today, &user);
                let sent = now_ms();
                let result = sim.push_notifications(vec![notification], sync.duplicates - 1).await;
                let took = now_ms() - sent;
                let mut t = tally.lock().unwrap();
                match result {
                    Ok(deliveries) => {
                        t.duplicate_posts += deliveries.len() as u64;
                        t.record_posts(&deliveries, sent, took);
                    }
                    Err(error) => {
                        eprintln!("duplicate for {user}: {error}");
                        t.failed_requests += 1;
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    Ok(Arc::try_unwrap(tally).ok().expect("tasks done").into_inner().unwrap())
}
