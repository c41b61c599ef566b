//! What a test process logs, captured through the services' own log setup
//! (`fitex_common::telemetry::subscriber`), for tests that assert on log lines.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use fitex_common::telemetry::{self, LogFormat};
use tracing_subscriber::EnvFilter;

/// Everything logged in this test process at `info` and above, in `format` (one global subscriber
/// per process: the first call's format holds for the process).
pub fn captured_log(format: LogFormat) -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let writer = move || Sink(sink.clone());
        let subscriber = telemetry::subscriber(format, EnvFilter::new("info"), writer);
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
        log
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
