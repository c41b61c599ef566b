//! Crash points for the no-loss chaos tests. `FITEX_CRASH_AT=<name>:<n>` makes the process kill
//! itself with SIGKILL — exactly `kill -9`: no shutdown, no flush, no offset commit, and no core
//! dump holding its sockets open — the n-th time it reaches `crash_point(<name>)`. Without the variable (always, outside those tests) a crash point costs
//! one atomic load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The environment variable that arms a crash point.
pub const CRASH_AT_VAR: &str = "FITEX_CRASH_AT";

struct Armed {
    name: String,
    at: u64,
    reached: AtomicU64,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED.get_or_init(|| parse(&std::env::var(CRASH_AT_VAR).ok()?)).as_ref()
}

fn parse(spec: &str) -> Option<Armed> {
    let (name, at) = spec.rsplit_once(':')?;
    let at: u64 = at.parse().ok().filter(|n| *n > 0)?;
    Some(Armed { name: name.to_owned(), at, reached: AtomicU64::new(0) })
}

/// Aborts the process here when this crash point is armed and reached its count.
#[allow(unsafe_code, reason = "kill(2) has no safe wrapper in libc; the chaos tests need SIGKILL")]
pub fn crash_point(name: &str) {
    let Some(armed) = armed() else { return };
    if armed.name != name {
        return;
    }
    if armed.reached.fetch_add(1, Ordering::SeqCst) + 1 == armed.at {
        eprintln!("crash point {name} reached: SIGKILL (chaos test)");
        // SAFETY: kill(2) on our own pid with a constant signal; nothing else is touched.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_read_strictly() {
        let armed = parse("fetcher.after_db_commit:3").unwrap();
        assert_eq!((armed.name.as_str(), armed.at), ("fetcher.after_db_commit", 3));
        assert!(parse("fetcher.after_db_commit").is_none());
        assert!(parse("fetcher.after_db_commit:0").is_none());
        assert!(parse("fetcher.after_db_commit:x").is_none());
        // Unarmed in tests: reaching a crash point does nothing.
        crash_point("fetcher.after_db_commit");
    }
}
