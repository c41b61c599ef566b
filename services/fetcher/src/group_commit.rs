//! Group commit: concurrent callers' writes go into one transaction. Each caller queues its
//! request and waits; one task takes whatever is queued (up to a bound), writes it all at once and
//! answers every caller. No request waits for company: the task takes what arrived while the
//! previous group was being written, so a lone request is written at once, and under load the
//! groups grow by themselves.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use fitex_connections::SyncError;
use tokio::sync::{mpsc, oneshot};

/// Writes a group of requests in one transaction: an answer per request, in order, or one error
/// for all (then none was written).
pub type GroupWriter<R, A> = Arc<
    dyn Fn(Vec<R>) -> Pin<Box<dyn Future<Output = Result<Vec<A>, SyncError>> + Send>> + Send + Sync,
>;

type Waiting<R, A> = (R, oneshot::Sender<Result<A, SyncError>>);

/// How many requests may wait for the writing task before callers wait to queue.
const QUEUE_CAPACITY: usize = 4096;

/// The queue of requests and its writing task (started at the first request, and again if it
/// ever ended, e.g. by a panic). The task ends when this is dropped.
pub struct GroupCommit<R, A> {
    max_group: usize,
    write: GroupWriter<R, A>,
    queue: Mutex<Option<mpsc::Sender<Waiting<R, A>>>>,
}

impl<R: Send + 'static, A: Send + 'static> GroupCommit<R, A> {
    /// Groups of at most `max_group` requests, each written by `write`.
    pub fn new(max_group: usize, write: GroupWriter<R, A>) -> Self {
        Self { max_group: max_group.max(1), write, queue: Mutex::new(None) }
    }

    /// Queues `request` and returns its answer once its group is committed, or the group's error.
    pub async fn submit(&self, request: R) -> Result<A, SyncError> {
        let (answer, answered) = oneshot::channel();
        self.queue()
            .send((request, answer))
            .await
            .map_err(|_| SyncError::Transient("the group writer stopped".into()))?;
        answered
            .await
            .map_err(|_| SyncError::Transient("the group writer ended without an answer".into()))?
    }

    /// The queue into the writing task, started if it is not running.
    fn queue(&self) -> mpsc::Sender<Waiting<R, A>> {
        let mut slot = self.queue.lock().expect("group commit queue lock");
        if let Some(queue) = slot.as_ref().filter(|queue| !queue.is_closed()) {
            return queue.clone();
        }
        let (queue, requests) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(write_groups(requests, self.max_group, self.write.clone()));
        *slot = Some(queue.clone());
        queue
    }
}

/// Writes the queued requests a group at a time until the queue closes.
async fn write_groups<R, A>(
    mut requests: mpsc::Receiver<Waiting<R, A>>,
    max_group: usize,
    write: GroupWriter<R, A>,
) {
    let mut waiting = Vec::with_capacity(max_group);
    while requests.recv_many(&mut waiting, max_group).await > 0 {
        let (group, answers): (Vec<R>, Vec<_>) = waiting.drain(..).unzip();
        metrics::histogram!("fitex_fetcher_store_group_syncs").record(group.len() as f64);
        let expected = group.len();
        match write(group).await {
            Ok(results) if results.len() == expected => {
                for (answer, result) in answers.into_iter().zip(results) {
                    // A caller that stopped waiting needs no answer.
                    let _ = answer.send(Ok(result));
                }
            }
            Ok(results) => {
                let error = SyncError::Transient(format!(
                    "the group writer answered {} of {expected} requests",
                    results.len()
                ));
                tracing::error!(%error, "group write answered the wrong number of requests");
                for answer in answers {
                    let _ = answer.send(Err(error.clone()));
                }
            }
            Err(error) => {
                tracing::warn!(%error, syncs = expected, "group write failed; every sync in it is retried");
                for answer in answers {
                    let _ = answer.send(Err(error.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::Notify;

    /// A writer that answers each request with itself doubled and records each group's requests;
    /// its first group tells `entered` and is held until `release` is notified.
    fn doubling(
        groups: Arc<Mutex<Vec<Vec<u32>>>>,
        entered: Arc<Notify>,
        release: Arc<Notify>,
        fail: bool,
    ) -> GroupWriter<u32, u32> {
        let calls = Arc::new(AtomicUsize::new(0));
        Arc::new(move |group: Vec<u32>| {
            let (groups, entered, release) = (groups.clone(), entered.clone(), release.clone());
            let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
            Box::pin(async move {
                if first {
                    entered.notify_one();
                    release.notified().await;
                }
                groups.lock().unwrap().push(group.clone());
                if fail {
                    return Err(SyncError::Transient("database: the group failed".into()));
                }
                Ok(group.into_iter().map(|n| n * 2).collect())
            })
        })
    }

    /// Submits 1, then 2..=5 while 1's group is being written; returns each answer and the groups.
    async fn five_requests(fail: bool) -> (Vec<Result<u32, SyncError>>, Vec<Vec<u32>>) {
        let groups = Arc::new(Mutex::new(Vec::new()));
        let (entered, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let writer = doubling(groups.clone(), entered.clone(), release.clone(), fail);
        let commit = Arc::new(GroupCommit::new(3, writer));
        let submit = |n: u32| {
            let commit = commit.clone();
            tokio::spawn(async move { commit.submit(n).await })
        };
        let first = submit(1);
        entered.notified().await;
        // 1 is being written (held); these queue meanwhile.
        let others: Vec<_> = (2..=5).map(submit).collect();
        while commit.queue().capacity() > QUEUE_CAPACITY - 4 {
            tokio::task::yield_now().await;
        }
        release.notify_one();
        let mut answers = vec![first.await.unwrap()];
        for other in others {
            answers.push(other.await.unwrap());
        }
        let groups = groups.lock().unwrap().clone();
        (answers, groups)
    }

    #[tokio::test]
    async fn what_queues_while_a_group_is_written_goes_in_the_next_groups_each_answered() {
        let (answers, groups) = five_requests(false).await;
        let answers: Vec<u32> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(answers, vec![2, 4, 6, 8, 10]);
        assert_eq!(groups, vec![vec![1], vec![2, 3, 4], vec![5]], "at most 3 a group");
    }

    #[tokio::test]
    async fn a_failed_group_reports_its_error_to_every_waiter() {
        let (answers, groups) = five_requests(true).await;
        assert_eq!(groups, vec![vec![1], vec![2, 3, 4], vec![5]]);
        let failed = SyncError::Transient("database: the group failed".into());
        assert!(
            answers.iter().all(|a| matches!(a, Err(e) if e.to_string() == failed.to_string())),
            "{answers:?}"
        );
    }

    #[tokio::test]
    async fn the_writer_is_started_again_if_it_ended() {
        let (groups, release) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Notify::new()));
        release.notify_one();
        let commit = GroupCommit::new(8, doubling(groups, Arc::new(Notify::new()), release, false));
        assert_eq!(commit.submit(1).await.unwrap(), 2);
        // As if the task had died: its receiver is gone.
        *commit.queue.lock().unwrap() = Some(mpsc::channel(1).0);
        assert_eq!(commit.submit(2).await.unwrap(), 4);
    }
}
