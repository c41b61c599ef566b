//! No development secret runs in production: each service, started with `FITEX_ENV=production`
//! and one of its secrets set to a value published in the repository (or missing, or too short),
//! refuses to start with a plain message naming the setting — and starts with real ones. A
//! setting a service cannot run with (a zero count, keys that disagree) is refused the same way.

use std::process::{Command, Stdio};
use std::time::Duration;

use fitex_e2e::{config_dir, infrastructure_env, service_binary, ServiceProcess};

/// Distinct, valid-looking secrets for every setting (none of them published).
fn real_secrets() -> Vec<(&'static str, String, &'static str)> {
    // (environment variable, real value, the published development value)
    vec![
        ("FITEX__FITBIT__CLIENT_SECRETS", "fbs-7c1e0d5b9a4f4e2f8b3d6a0c".into(), "dev-client-secret-change-me"),
        ("FITEX__FITBIT__VERIFICATION_CODE", "verify-5e2a9c7d1b3f".into(), "dev-verification-code"),
        (
            "FITEX__GOOGLE_HEALTH__ENDPOINT_SECRETS",
            "Bearer ghe-3b8f1a6c2d9e4f70".into(),
            "Bearer dev-google-health-endpoint-secret",
        ),
        ("FITEX__FITBIT_API__CLIENT_SECRET", "fbs-7c1e0d5b9a4f4e2f8b3d6a0c".into(), "dev-client-secret-change-me"),
        ("FITEX__GOOGLE_HEALTH_API__CLIENT_SECRET", "GOCSPX-real-looking-secret-1".into(), "dev-google-client-secret-change-me"),
        (
            "FITEX__TOKENS__ENCRYPTION_KEYS",
            "prod1:cHJvZHVjdGlvbi1rZXktMzItYnl0ZXMtbG9uZy0wMTI=".into(),
            "dev1:ZGV2LW9ubHktdG9rZW4ta2V5LWRvLW5vdC11c2UtISE=",
        ),
        ("FITEX__GOALS__API_TOKEN", "goals-api-token-9d3c5a1e7b2f4d68".into(), "dev-goals-api-token"),
        (
            "FITEX__PORTAL__SESSION_KEY",
            "cmVhbC1sb29raW5nLXNlc3Npb24ta2V5LTY0LWJ5dGVzLWxvbmctZm9yLXRoZS1wb3J0YWwtdGVzdC0wMTIzNDU2Nzg5YWJjZA==".into(),
            "Zml0ZXgtZGV2LW9ubHktcG9ydGFsLXNlc3Npb24ta2V5LW5vdC1mb3ItcHJvZHVjdGlvbi0wMTIzNDU2Nzg5YWI=",
        ),
    ]
}

/// The setting an environment variable sets, as the message names it (`goals.api_token`).
fn setting_of(variable: &str) -> String {
    variable.trim_start_matches("FITEX__").replacen("__", ".", 1).to_lowercase()
}

/// Runs `binary` in production with the real secrets, `variable` set to `value`; returns its exit
/// code and what it printed (it must end by itself).
fn run_with(binary: &str, variable: &str, value: &str) -> (Option<i32>, String) {
    let mut command = Command::new(service_binary(binary));
    command
        .env("FITEX_CONFIG_DIR", config_dir())
        .env("FITEX_ENV", "production")
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, real, _) in real_secrets() {
        command.env(name, real);
    }
    command.env(variable, value);
    let mut child = command.spawn().expect("start the service");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "{binary} with a published {variable} kept running:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code(), text)
}

#[test]
fn every_service_refuses_each_published_development_secret_in_production() {
    let needs: [(&str, &[&str]); 4] = [
        (
            "fitex-subscriber",
            &[
                "FITEX__FITBIT__CLIENT_SECRETS",
                "FITEX__FITBIT__VERIFICATION_CODE",
                "FITEX__GOOGLE_HEALTH__ENDPOINT_SECRETS",
            ],
        ),
        (
            "fitex-fetcher",
            &[
                "FITEX__FITBIT_API__CLIENT_SECRET",
                "FITEX__GOOGLE_HEALTH_API__CLIENT_SECRET",
                "FITEX__TOKENS__ENCRYPTION_KEYS",
            ],
        ),
        ("fitex-goals", &["FITEX__GOALS__API_TOKEN"]),
        (
            "fitex-portal",
            &[
                "FITEX__PORTAL__SESSION_KEY",
                "FITEX__FITBIT_API__CLIENT_SECRET",
                "FITEX__TOKENS__ENCRYPTION_KEYS",
            ],
        ),
    ];
    let secrets = real_secrets();
    for (binary, variables) in needs {
        for variable in variables {
            let published = secrets.iter().find(|(name, ..)| name == variable).unwrap().2;
            let (code, text) = run_with(binary, variable, published);
            let expected = format!("{} is a development value", setting_of(variable));
            assert_eq!(code, Some(78), "{binary} with a published {variable}:\n{text}");
            assert!(text.contains(&expected), "{binary} names {expected}:\n{text}");
            assert!(!text.contains(published), "{binary} never prints the value:\n{text}");
        }
    }
}

#[test]
fn a_missing_or_short_secret_is_refused_too() {
    let (code, text) = run_with("fitex-goals", "FITEX__GOALS__API_TOKEN", "");
    assert_eq!(code, Some(78), "{text}");
    assert!(text.contains("goals.api_token is not set"), "{text}");
    let (code, text) = run_with("fitex-subscriber", "FITEX__FITBIT__CLIENT_SECRETS", "abc");
    assert_eq!(code, Some(78), "{text}");
    assert!(text.contains("fitbit.client_secrets is too short"), "{text}");
}

#[test]
fn a_setting_a_service_cannot_run_with_is_refused_naming_its_key() {
    // (binary, variable, value, what the message must say)
    let cases = [
        ("fitex-fetcher", "FITEX__FETCHER__CONCURRENCY", "0", "fetcher.concurrency"),
        ("fitex-goals", "FITEX__GOALS__BATCH_MAX", "0", "goals.batch_max"),
        ("fitex-subscriber", "FITEX__SUBSCRIBER__WORKERS", "0", "subscriber.workers"),
        ("fitex-portal", "FITEX__PORTAL__WORKERS", "0", "portal.workers"),
        // base.toml: retry_max_ms = 300000.
        (
            "fitex-fetcher",
            "FITEX__FETCHER__RETRY_BASE_MS",
            "300001",
            "fetcher.retry_base_ms must not exceed fetcher.retry_max_ms",
        ),
        (
            "fitex-subscriber",
            "FITEX__SUBSCRIBER__PUBLISH_DEADLINE_MS",
            "4001",
            "subscriber.publish_deadline_ms must be between 1 and 4000",
        ),
    ];
    for (binary, variable, value, expected) in cases {
        let (code, text) = run_with(binary, variable, value);
        assert_eq!(code, Some(78), "{binary} with {variable}={value}:\n{text}");
        assert!(text.contains("refusing to start"), "{binary} with {variable}={value}:\n{text}");
        assert!(text.contains(expected), "{binary} names {expected}:\n{text}");
    }
}

#[tokio::test]
async fn with_real_secrets_a_service_starts_in_production() {
    let kafka = fitex_testkit::test_kafka().await;
    let (database, _) = fitex_testkit::test_database().await;
    let port = fitex_testkit::free_port();
    let mut env = infrastructure_env(&kafka, &database);
    env.push(("FITEX_ENV", "production".into()));
    env.push(("FITEX__GOALS__PORT", port.to_string()));
    env.push(("FITEX__GOALS__HOST", "127.0.0.1".into()));
    for (name, real, _) in real_secrets() {
        env.push((name, real));
    }
    let goals = ServiceProcess::start("fitex-goals", &env);
    goals.wait_healthy(&format!("http://127.0.0.1:{port}/readyz")).await;
}
