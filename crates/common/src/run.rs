//! Running a service: its HTTP server (health, metrics, API) and its consumers, if any, until a
//! termination signal or a consumer failure, then an orderly stop.

use std::time::Duration;

use actix_web::dev::Server;
use rdkafka::producer::Producer;
use tokio::task::JoinHandle;

use crate::kafka::RecoveringProducer;
use crate::shutdown::Shutdown;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the HTTP server failed: {0}")]
    Server(#[from] std::io::Error),
    #[error("a consumer stopped: {0}")]
    ConsumerStopped(Box<dyn std::error::Error + Send + Sync>),
    #[error("a task panicked: {0}")]
    Panicked(#[from] tokio::task::JoinError),
}

/// Serves until SIGTERM/SIGINT (or the server's handle stops it) or until any consumer returns
/// (a service may have none); then triggers `shutdown`, waits for the `background` tasks (relays,
/// loops), and flushes the producer. Requests in flight finish first (within the server's
/// shutdown timeout). A consumer's error is returned so the process exits and its uncommitted
/// records are delivered again.
pub async fn until_stopped<E>(
    service: &'static str,
    server: Server,
    consumers: Vec<JoinHandle<Result<(), E>>>,
    background: Vec<JoinHandle<()>>,
    producer: RecoveringProducer,
    shutdown: Shutdown,
) -> Result<(), RunError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let handle = server.handle();
    let server_task = tokio::spawn(server);
    let result = tokio::select! {
        served = server_task => served.map_err(RunError::from).and_then(|r| r.map_err(RunError::from)),
        finished = first_to_return(consumers) => {
            handle.stop(true).await;
            match finished {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(RunError::ConsumerStopped(Box::new(error))),
                Err(join) => Err(RunError::Panicked(join)),
            }
        }
    };
    tracing::info!(service, "{service} stopped accepting; draining");
    shutdown.trigger();
    for task in background {
        let _ = task.await;
    }
    let producer = producer.get();
    let flushed =
        tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(10))).await;
    if let Ok(Err(error)) = flushed {
        tracing::warn!(service, %error, "producer did not flush every record before exit");
    }
    tracing::info!(service, "{service} stopped");
    result
}

/// The first of `tasks` to return; never, when there are none (a service without consumers).
async fn first_to_return<T>(tasks: Vec<JoinHandle<T>>) -> Result<T, tokio::task::JoinError> {
    if tasks.is_empty() {
        return std::future::pending().await;
    }
    futures::future::select_all(tasks).await.0
}
