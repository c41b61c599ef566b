//! End-to-end tests live beside this file, one per scenario; they start the services' real
//! binaries as processes (built by `cargo build --workspace`, found in the target directory).

use std::path::PathBuf;

/// Path of a workspace binary in the same target directory as the running test.
pub fn service_binary(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().expect("test executable path");
    dir.pop(); // deps/
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not built: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}
