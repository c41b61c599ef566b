//! No test passes by skipping: a test that needs an outside tool (a browser, Node.js, psql, a
//! Python module, a linter…) finds it through `fitex_testkit::tools` — on PATH or through an
//! override variable, never at a fixed path — and fails under CI when it is missing. This reads the
//! whole tree for the ways a check used to pass without running: a tool at a fixed `/usr/bin` path,
//! a Rust test printing "skipped" (and returning), a script or Python check that exits 0 or
//! returns when `command -v` / `shutil.which` finds nothing.

use std::path::{Path, PathBuf};

/// Tools a check may look for; none may be addressed by a fixed path.
const TOOLS: &[&str] = &[
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "node",
    "nodejs",
    "npm",
    "npx",
    "python",
    "python3",
    "psql",
    "pg_ctl",
    "pg_ctlcluster",
    "wrk",
    "hadolint",
    "kubectl",
    "kubernetes-validate",
    "promtool",
    "cargo-fuzz",
    "cargo-deny",
    "tansu",
];

/// The tree to read: this workspace, or another checkout (`FITEX_SOURCE_ROOT`).
fn root() -> PathBuf {
    match std::env::var_os("FITEX_SOURCE_ROOT") {
        Some(root) => PathBuf::from(root),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
    }
    .canonicalize()
    .unwrap()
}

/// Every file of the tree that is code or a script (not build output, corpora or data).
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "target" | ".git" | "node_modules" | "corpus" | "fixtures")
            {
                files(&path, out);
            }
        } else if [".rs", ".sh", ".py", ".cjs", ".js", ".mjs", ".lua"]
            .iter()
            .any(|e| name.ends_with(e))
            || path.ends_with(".ci/run")
        {
            out.push(path);
        }
    }
}

/// A fixed path to an outside tool (`/usr/bin/chromium`), in any file.
fn fixed_tool_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in ["/usr/bin/", "/usr/local/bin/", "/bin/"] {
        for (at, _) in text.match_indices(prefix) {
            // An absolute path starts here, not the tail of `$DIR/bin/…`.
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| !" \t\n\"'=(:`,[".contains(c)) {
                continue;
            }
            let rest = &text[at + prefix.len()..];
            let word: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                .collect();
            if TOOLS.contains(&word.as_str()) {
                found.push(format!("fixed path {prefix}{word}"));
            }
        }
    }
    found
}

/// A Rust test printing that it skipped: `eprintln!("skipped: …")` (the old early return).
fn printed_skips(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    // These also match `eprintln!(` and `eprint!(`, each once.
    for mac in ["println!(", "print!("] {
        for (at, _) in text.match_indices(mac) {
            let after = text[at + mac.len()..].trim_start();
            let Some(literal) = after.strip_prefix('"') else { continue };
            let literal = &literal[..literal.find('"').unwrap_or(literal.len())];
            // The words, not `{skipped}`-style placeholders.
            let mut words = String::new();
            let mut depth = 0;
            for c in literal.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth = (depth - 1).max(0),
                    c if depth == 0 => words.push(c),
                    _ => {}
                }
            }
            if words.to_ascii_lowercase().contains("skip") {
                found.push(format!("prints {literal:?}"));
            }
        }
    }
    found
}

/// Whether a shell or Python fragment ends the check successfully.
fn quiet_success(fragment: &str) -> bool {
    let s = fragment.trim().trim_start_matches('{').trim();
    matches!(s, "true" | ":" | "return" | "exit")
        || s.starts_with("true ")
        || s.starts_with("true;")
        || ["exit 0", "return 0", "sys.exit(0)", "skip("].iter().any(|p| s.contains(p))
}

/// A script or Python check that succeeds when a tool lookup finds nothing.
fn quiet_exits(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let lookup = line.contains("command -v ")
            || line.contains("which ")
            || (line.contains("which(") && line.contains("is None"));
        // On the same line after `||`, or in the few lines of the block it opens.
        let same_line =
            lookup && line.split_once("||").is_some_and(|(_, rest)| quiet_success(rest));
        let opens_block =
            lookup && (line.trim_start().starts_with("if ") || line.trim_end().ends_with(':'));
        let in_block = opens_block
            && lines[i + 1..]
                .iter()
                .take(4)
                .take_while(|l| !l.trim().starts_with("fi") && !l.trim().starts_with("else"))
                .any(|l| quiet_success(l));
        if same_line || in_block || line.contains("importorskip") {
            found.push(format!("line {}: {}", i + 1, line.trim()));
        }
    }
    found
}

#[test]
fn the_patterns_are_found_where_they_were() {
    // What tests/api/browser.rs, screenshot.rs and reconnect.cjs did before.
    assert_eq!(fixed_tool_paths(r#"const CHROMIUM: &str = "/usr/bin/chromium";"#).len(), 1);
    assert_eq!(fixed_tool_paths("executablePath: '/usr/bin/chromium',").len(), 1);
    assert!(fixed_tool_paths("COPY --from=builder /out/ /usr/local/bin/").is_empty());
    assert!(fixed_tool_paths("#!/usr/bin/env bash").is_empty());
    assert!(fixed_tool_paths(r#"exec "$TOOLS_DIR/bin/python" x; $FUZZ/bin/cargo-fuzz"#).is_empty());
    assert_eq!(fixed_tool_paths("PATH=/bin/node:$PATH").len(), 1);
    let old_browser_test = r#"
        eprintln!(
            "skipped: chromium or playwright-core is not installed (scripts/test.sh installs both)"
        );
        return;"#;
    assert_eq!(printed_skips(old_browser_test).len(), 1);
    assert!(printed_skips(r#"println!("replayed {replayed}; {skipped} already")"#).is_empty());
    for quiet in [
        "command -v chromium >/dev/null || exit 0",
        "command -v hadolint || { echo 'no hadolint'; exit 0; }",
        "if ! command -v promtool >/dev/null; then\n  echo skipping\n  exit 0\nfi",
        "    if shutil.which(tool) is None:\n        print('skipping')\n        return 0",
        "yaml = pytest.importorskip('yaml')",
    ] {
        assert_eq!(quiet_exits(quiet).len(), 1, "{quiet}");
    }
    for loud in [
        "command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }",
        "if ! command -v psql >/dev/null; then\n  echo 'psql missing' >&2\n  exit 1\nfi",
        "    if shutil.which(tool) is None:\n        print('missing')\n        return 2",
    ] {
        assert!(quiet_exits(loud).is_empty(), "{loud}");
    }
}

#[test]
fn no_check_in_the_tree_passes_by_skipping_a_missing_tool() {
    let root = root();
    let mut all = Vec::new();
    files(&root, &mut all);
    assert!(all.len() > 50, "read the tree at {}", root.display());
    let me = Path::new(file!()).file_name().unwrap();
    let mut problems = Vec::new();
    for path in &all {
        if path.file_name() == Some(me) {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let rel = path.strip_prefix(&root).unwrap().display().to_string();
        let is_rust_test = rel.ends_with(".rs")
            && (rel.split('/').any(|part| part == "tests") || rel.starts_with("crates/testkit/"));
        let mut found = fixed_tool_paths(&text);
        if is_rust_test {
            found.extend(printed_skips(&text));
        }
        if !rel.ends_with(".rs") {
            found.extend(quiet_exits(&text));
        }
        problems.extend(found.into_iter().map(|p| format!("{rel}: {p}")));
    }
    assert!(
        problems.is_empty(),
        "checks that pass without running (find tools with fitex_testkit::tools / on PATH, and \
         fail under CI when one is missing):\n  {}",
        problems.join("\n  ")
    );
}
