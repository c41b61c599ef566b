//! Outside tools a test needs (a browser, Node.js, an npm package), found one way everywhere — on
//! `PATH`, or where an environment variable says — and never a silent pass when one is missing.
//!
//! A test calls [`require`] first. When every tool is there it gets their paths. When one is
//! missing, under CI (`CI` set to anything but empty, `0`, `false` or `no`) or in `scripts/test.sh`
//! (`FITEX_REQUIRE_TOOLS=1`) the test fails, naming the tool and how to install it: those runs
//! install every tool, so a missing one is a broken run, not a reason to pass. Elsewhere the test
//! prints a warning past the test harness's output capture and returns early; that is still not a
//! pass worth anything, and the warning says so. An override variable set to something that is not
//! there fails the test everywhere: whoever set it meant that tool.

use std::ffi::{OsStr, OsString};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// An outside tool, and how to find and install it.
#[derive(Debug)]
pub struct Tool {
    /// What it is, for messages.
    pub name: &'static str,
    /// The environment variable that names it explicitly: a path, or a command looked up on `PATH`.
    pub env: &'static str,
    /// Commands to look for on `PATH`, in order.
    pub commands: &'static [&'static str],
    /// Where it is when it is not a command (an npm package in the project's cache, say).
    pub default_path: Option<fn() -> PathBuf>,
    /// How to install it.
    pub install: &'static str,
}

/// Chromium (or Chrome), for headless rendering and for playwright-core.
pub const CHROMIUM: Tool = Tool {
    name: "Chromium",
    env: "CHROMIUM",
    commands: &["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"],
    default_path: None,
    install: "apt-get install -y chromium (scripts/test.sh installs it)",
};

/// Node.js, which runs the playwright-core scripts.
pub const NODE: Tool = Tool {
    name: "Node.js",
    env: "NODE",
    commands: &["node", "nodejs"],
    default_path: None,
    install: "apt-get install -y nodejs npm (scripts/test.sh installs it)",
};

/// playwright-core from npm (it drives the Chromium above; no browser download).
pub const PLAYWRIGHT_CORE: Tool = Tool {
    name: "playwright-core (npm)",
    env: "PLAYWRIGHT_CORE",
    commands: &[],
    default_path: Some(playwright_core_default),
    install: "npm install --prefix ~/.cache/fitex-sync/node playwright-core@1.64.1 \
              (scripts/test.sh installs it)",
};

fn playwright_core_default() -> PathBuf {
    fitex_cache().join("node/node_modules/playwright-core")
}

/// axe-core from npm: the accessibility rules the browser tests inject into each page.
pub const AXE_CORE: Tool = Tool {
    name: "axe-core (npm)",
    env: "AXE_CORE",
    commands: &[],
    default_path: Some(axe_core_default),
    install: "npm install --prefix ~/.cache/fitex-sync/node axe-core@4.14.1 \
              (scripts/test.sh installs it)",
};

fn axe_core_default() -> PathBuf {
    fitex_cache().join("node/node_modules/axe-core")
}

/// The project's cache (`FITEX_CACHE`, as `scripts/env.sh` sets it, else `~/.cache/fitex-sync`).
pub fn fitex_cache() -> PathBuf {
    if let Some(cache) = std::env::var_os("FITEX_CACHE").filter(|c| !c.is_empty()) {
        return PathBuf::from(cache);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/fitex-sync")
}

/// Where a tool was looked for, and what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(PathBuf),
    /// Not found; the text says where it was looked for and how to install it.
    Missing(String),
    /// The override variable names something that is not there.
    BadOverride(String),
}

impl Tool {
    /// Looks the tool up with this process's environment.
    pub fn locate(&self) -> Lookup {
        self.locate_with(std::env::var_os(self.env), std::env::var_os("PATH"))
    }

    /// Looks the tool up with the given override value and `PATH`.
    pub fn locate_with(&self, overridden: Option<OsString>, path: Option<OsString>) -> Lookup {
        if let Some(value) = overridden.filter(|v| !v.is_empty()) {
            let named = Path::new(&value);
            let found = if named.components().count() > 1 || named.is_absolute() {
                // A path: a command must be executable; a package directory must exist.
                let ok =
                    if self.commands.is_empty() { named.exists() } else { is_executable(named) };
                ok.then(|| named.to_path_buf())
            } else {
                find_command(&value, path.as_deref())
            };
            return match found {
                Some(path) => Lookup::Found(path),
                None => Lookup::BadOverride(format!(
                    "{} is set to {:?}, which is not {} (unset it to look on PATH; install: {})",
                    self.env,
                    named.display().to_string(),
                    if self.commands.is_empty() { "there" } else { "an executable" },
                    self.install
                )),
            };
        }
        for command in self.commands {
            if let Some(found) = find_command(OsStr::new(command), path.as_deref()) {
                return Lookup::Found(found);
            }
        }
        if let Some(default) = self.default_path {
            let default = default();
            if default.exists() {
                return Lookup::Found(default);
            }
            return Lookup::Missing(format!(
                "{} not found at {} (or set {}); install: {}",
                self.name,
                default.display(),
                self.env,
                self.install
            ));
        }
        Lookup::Missing(format!(
            "{} not found: looked for {} on PATH (or set {} to its path); install: {}",
            self.name,
            self.commands.join(", "),
            self.env,
            self.install
        ))
    }
}

/// The first executable `name` on `path` (a `PATH`-style list).
pub fn find_command(name: &OsStr, path: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether a missing tool fails the test: under CI (`CI` set to anything but empty, `0`, `false`
/// or `no`), or when `FITEX_REQUIRE_TOOLS` is set likewise (as `scripts/test.sh` does).
pub fn tools_required() -> bool {
    ci_flag(std::env::var_os("CI").as_deref())
        || ci_flag(std::env::var_os("FITEX_REQUIRE_TOOLS").as_deref())
}

fn ci_flag(value: Option<&OsStr>) -> bool {
    value
        .map(|v| v.to_string_lossy().trim().to_ascii_lowercase())
        .is_some_and(|v| !matches!(v.as_str(), "" | "0" | "false" | "no"))
}

/// What a test does about its tools: run with their paths, skip (outside CI, with a warning), or
/// fail with a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Run(Vec<PathBuf>),
    Skip(String),
    Fail(String),
}

/// Decides from the lookups of a test's tools and whether they are required (CI).
pub fn decide(test: &str, lookups: Vec<Lookup>, ci: bool) -> Decision {
    let mut found = Vec::new();
    let (mut missing, mut bad) = (Vec::new(), Vec::new());
    for lookup in lookups {
        match lookup {
            Lookup::Found(path) => found.push(path),
            Lookup::Missing(why) => missing.push(why),
            Lookup::BadOverride(why) => bad.push(why),
        }
    }
    if missing.is_empty() && bad.is_empty() {
        return Decision::Run(found);
    }
    let list = |items: &[String]| items.iter().map(|m| format!("\n  - {m}")).collect::<String>();
    if !bad.is_empty() {
        return Decision::Fail(format!(
            "{test}: a tool's override points nowhere:{}{}",
            list(&bad),
            if missing.is_empty() {
                String::new()
            } else {
                format!("\nalso missing:{}", list(&missing))
            }
        ));
    }
    if ci {
        return Decision::Fail(format!(
            "{test}: a tool it needs is missing, and under CI (or FITEX_REQUIRE_TOOLS) a missing \
             tool fails the run instead of skipping the test:{}",
            list(&missing)
        ));
    }
    Decision::Skip(format!(
        "WARNING: {test} did NOT run (it passes without testing anything): a tool it needs is \
         missing:{}\nUnder CI=true this fails.",
        list(&missing)
    ))
}

/// The paths of the tools `test` needs, in order, or `None` when the test must return early
/// (outside CI, after a visible warning). Panics under CI (or with `FITEX_REQUIRE_TOOLS`) when a
/// tool is missing, and anywhere
/// when an override variable names something that is not there.
#[track_caller]
pub fn require(test: &str, tools: &[&Tool]) -> Option<Vec<PathBuf>> {
    match decide(test, tools.iter().map(|t| t.locate()).collect(), tools_required()) {
        Decision::Run(paths) => Some(paths),
        Decision::Fail(message) => panic!("{message}"),
        Decision::Skip(message) => {
            warn(&message);
            None
        }
    }
}

/// Prints past the test harness's capture: straight to the process's stderr (libtest captures
/// only `eprint!`), and to the terminal when stderr is not one (nextest pipes each test's output
/// and shows it only on failure).
fn warn(message: &str) {
    let text = format!("\n{message}\n");
    let mut stderr = std::io::stderr();
    let _ = stderr.write_all(text.as_bytes());
    if !stderr.is_terminal() {
        if let Ok(mut tty) = std::fs::OpenOptions::new().write(true).open("/dev/tty") {
            let _ = tty.write_all(text.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory with an executable `name` in it (and a non-executable `plain`).
    fn bin_dir(names: &[&str]) -> tempfile::TempDir {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for name in names {
            let path = dir.path().join(name);
            std::fs::write(&path, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::write(dir.path().join("plain"), "").unwrap();
        dir
    }

    fn path_of(dirs: &[&Path]) -> Option<OsString> {
        Some(std::env::join_paths(dirs).unwrap())
    }

    #[test]
    fn chromium_is_found_on_path_under_any_of_its_names() {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let (empty, dir) = (bin_dir(&[]), bin_dir(&[name]));
            let lookup = CHROMIUM.locate_with(None, path_of(&[empty.path(), dir.path()]));
            assert_eq!(lookup, Lookup::Found(dir.path().join(name)), "{name}");
        }
        // The first directory on PATH wins; a non-executable file is not a command.
        let (first, second) = (bin_dir(&["chromium-browser"]), bin_dir(&["chromium"]));
        let lookup = CHROMIUM.locate_with(None, path_of(&[first.path(), second.path()]));
        assert_eq!(lookup, Lookup::Found(second.path().join("chromium")));
        assert_eq!(find_command(OsStr::new("plain"), path_of(&[first.path()]).as_deref()), None);
    }

    #[test]
    fn a_missing_chromium_says_where_it_looked_and_how_to_install_it() {
        let empty = bin_dir(&[]);
        let Lookup::Missing(why) = CHROMIUM.locate_with(None, path_of(&[empty.path()])) else {
            panic!("expected missing")
        };
        for text in ["chromium, chromium-browser, google-chrome", "CHROMIUM", "apt-get install"] {
            assert!(why.contains(text), "{why}");
        }
        assert!(matches!(CHROMIUM.locate_with(None, None), Lookup::Missing(_)));
    }

    #[test]
    fn the_override_wins_and_must_point_at_something() {
        let dir = bin_dir(&["my-chrome"]);
        let exe = dir.path().join("my-chrome");
        let path = path_of(&[dir.path()]);
        assert_eq!(
            CHROMIUM.locate_with(Some(exe.clone().into()), None),
            Lookup::Found(exe.clone())
        );
        // A bare name is looked up on PATH.
        assert_eq!(
            CHROMIUM.locate_with(Some("my-chrome".into()), path.clone()),
            Lookup::Found(exe)
        );
        for nowhere in ["/nonexistent/chromium", "no-such-browser"] {
            let lookup = CHROMIUM.locate_with(Some(nowhere.into()), path.clone());
            assert!(
                matches!(&lookup, Lookup::BadOverride(why) if why.contains(nowhere)),
                "{lookup:?}"
            );
        }
        let lookup = CHROMIUM.locate_with(Some(dir.path().join("plain").into()), None);
        assert!(matches!(lookup, Lookup::BadOverride(_)), "not executable: {lookup:?}");
        // A package directory only has to exist.
        assert_eq!(
            PLAYWRIGHT_CORE.locate_with(Some(dir.path().into()), None),
            Lookup::Found(dir.path().to_path_buf())
        );
    }

    #[test]
    fn ci_is_any_value_but_empty_0_false_or_no() {
        for yes in ["true", "1", "yes", "TRUE", "woodpecker"] {
            assert!(ci_flag(Some(OsStr::new(yes))), "{yes}");
        }
        for no in ["", "0", "false", "False", "no"] {
            assert!(!ci_flag(Some(OsStr::new(no))), "{no:?}");
        }
        assert!(!ci_flag(None));
    }

    #[test]
    fn a_missing_tool_fails_under_ci_and_skips_loudly_elsewhere() {
        let found = Lookup::Found(PathBuf::from("/opt/tools/node"));
        let missing = Lookup::Missing("Chromium not found: install it".into());
        assert_eq!(
            decide("t", vec![found.clone()], true),
            Decision::Run(vec![PathBuf::from("/opt/tools/node")])
        );
        let Decision::Fail(message) = decide("t", vec![found.clone(), missing.clone()], true)
        else {
            panic!("a missing tool must fail under CI")
        };
        assert!(message.contains("Chromium not found: install it") && message.contains("CI"));
        let Decision::Skip(message) = decide("t", vec![found, missing], false) else {
            panic!("outside CI: a skip")
        };
        assert!(message.contains("did NOT run") && message.contains("Chromium not found"));
    }

    #[test]
    fn an_override_pointing_nowhere_fails_even_outside_ci() {
        let bad = Lookup::BadOverride("CHROMIUM is set to \"/nowhere\"".into());
        let outside_ci = decide("t", vec![bad.clone()], false);
        assert!(
            matches!(&outside_ci, Decision::Fail(m) if m.contains("/nowhere")),
            "{outside_ci:?}"
        );
        assert!(matches!(decide("t", vec![bad], true), Decision::Fail(_)));
    }

    #[test]
    #[should_panic(expected = "a tool's override points nowhere")]
    fn require_panics_on_a_bad_override() {
        // The variable is this test's own: nothing else in the process reads it.
        const NOWHERE: Tool = Tool {
            name: "nothing",
            env: "FITEX_TESTKIT_TOOL_THAT_IS_NOT_THERE",
            commands: &["fitex-testkit-tool-that-is-not-there"],
            default_path: None,
            install: "nothing to install",
        };
        std::env::set_var(NOWHERE.env, "/nonexistent/tool");
        require("require_panics_on_a_bad_override", &[&NOWHERE]);
    }
}
