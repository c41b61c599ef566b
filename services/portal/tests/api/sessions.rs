//! Sign-ins end: a copied cookie is replayed after sign-out, after the idle time and after the
//! absolute time, and "sign out everywhere" ends a participant's other sign-ins. Each attack is
//! made through the portal and PostgreSQL, and refused with a redirect to sign in.

use std::time::Duration;

use reqwest::StatusCode;

use reqwest::cookie::CookieStore;

use crate::helpers::PortalOptions;
use crate::helpers::{browser, browser_with_jar, csrf_in, spawn_portal, spawn_portal_adjusted};
use crate::helpers::{location, TestPortal};

/// The participant's sign-ins: (not revoked, revoked).
async fn sign_ins(portal: &TestPortal, participant_id: i64) -> (i64, i64) {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE revoked_at IS NULL), count(*) FILTER (WHERE revoked_at IS NOT NULL)
         FROM portal_sessions WHERE participant_id = $1",
    )
    .bind(participant_id)
    .fetch_one(&portal.pool)
    .await
    .unwrap()
}

/// Moves the participant's sign-ins back in time: last used `idle` ago, begun `age` ago.
async fn age_sign_ins(portal: &TestPortal, participant_id: i64, idle: &str, age: &str) {
    sqlx::query(
        "UPDATE portal_sessions SET last_seen_at = now() - $2::interval,
             created_at = now() - $3::interval
         WHERE participant_id = $1",
    )
    .bind(participant_id)
    .bind(idle)
    .bind(age)
    .execute(&portal.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_cookie_replayed_after_sign_out_goes_to_sign_in() {
    let portal = spawn_portal().await;
    assert_eq!(portal.connect_with_oauth("SESS1").await.status(), StatusCode::SEE_OTHER);
    let (_, participant_id, _, _) = portal.connection("SESS1").await;
    assert_eq!(portal.get_text("/status").await.0, StatusCode::OK);

    // Someone copies the browser's cookie; while the sign-in lasts, the copy works as well.
    let copied = portal.copied_cookie();
    let thief = portal.replaying(&copied);
    let (status, _, html) = portal.get_in(&thief, "/status").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("SESS1"), "{html}");
    assert_eq!(sign_ins(&portal, participant_id).await, (1, 0));

    portal.sign_out().await;
    assert_eq!(sign_ins(&portal, participant_id).await, (0, 1));
    let (_, _, html) = portal.get_in(&portal.client, "/").await;
    assert!(html.contains("You are signed out."), "{html}");

    // The copy, replayed after the sign-out, is sent to sign in: on every page that needs one.
    let replay = portal.replaying(&copied);
    let (status, to, _) = portal.get_in(&replay, "/status").await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/"));
    let (status, _, html) = portal.get_in(&replay, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("You are signed out. Connect below to sign in again"), "{html}");
    assert!(!html.contains("SESS1"), "{html}");
    let (status, _, html) = portal.get_in(&portal.replaying(&copied), "/").await;
    assert_eq!(status, StatusCode::OK, "the start page, not the status page");
    assert!(html.contains("You are signed out"), "{html}");
    let (status, to, _) = portal.get_in(&portal.replaying(&copied), "/status").await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/"));
    assert_eq!(sign_ins(&portal, participant_id).await, (0, 1), "nothing came back to life");
}

#[tokio::test]
async fn an_idle_sign_in_ends_and_one_in_use_does_not() {
    let portal = spawn_portal().await;
    portal.connect_with_oauth("SESS2").await;
    let (_, participant_id, _, _) = portal.connection("SESS2").await;
    let copied = portal.copied_cookie();

    // Used 1 h 59 min ago (the idle time is 2 h): still signed in, and now counted as used.
    age_sign_ins(&portal, participant_id, "1 hour 59 minutes", "3 days").await;
    assert_eq!(portal.get_text("/status").await.0, StatusCode::OK);
    let idle: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM now() - last_seen_at)::float8 FROM portal_sessions
         WHERE participant_id = $1",
    )
    .bind(participant_id)
    .fetch_one(&portal.pool)
    .await
    .unwrap();
    assert!(idle < 60.0, "a request counts as use ({idle} s)");

    // Unused for 2 h 1 min: the sign-in has ended, for the browser and for any copy of its cookie.
    age_sign_ins(&portal, participant_id, "2 hours 1 minute", "3 days").await;
    let response = portal.client.get(portal.url("/status")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");
    let (_, html) = portal.get_text("/").await;
    assert!(html.contains("signed out because this page was not used for a while"), "{html}");
    assert!(html.contains("Connect your Fitbit"), "{html}");
    let (status, to, _) = portal.get_in(&portal.replaying(&copied), "/status").await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/"));
}

#[tokio::test]
async fn a_sign_in_older_than_the_absolute_time_ends_however_much_it_is_used() {
    let portal = spawn_portal().await;
    portal.connect_with_oauth("SESS3").await;
    let (_, participant_id, _, _) = portal.connection("SESS3").await;
    age_sign_ins(&portal, participant_id, "1 minute", "29 days 23 hours").await;
    assert_eq!(portal.get_text("/status").await.0, StatusCode::OK);
    let copied = portal.copied_cookie();

    age_sign_ins(&portal, participant_id, "1 minute", "30 days 1 minute").await;
    let response = portal.client.get(portal.url("/status")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");
    let (status, html) = portal.get_text("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("sign-ins end after a few weeks"), "{html}");

    // Signing in again starts a new sign-in; the old one is not revived.
    portal.connect_with_oauth("SESS3").await;
    assert_eq!(portal.get_text("/status").await.0, StatusCode::OK);
    let (status, to, _) = portal.get_in(&portal.replaying(&copied), "/status").await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/"));
    assert_eq!(sign_ins(&portal, participant_id).await, (2, 0), "ended by age, not revoked");
}

#[tokio::test]
async fn the_timeouts_come_from_the_settings() {
    let portal = spawn_portal_adjusted(PortalOptions::default(), |settings| {
        settings.portal.session_idle_timeout = Duration::from_secs(1);
    })
    .await;
    portal.connect_with_oauth("SESS4").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let response = portal.client.get(portal.url("/status")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");

    let portal = spawn_portal_adjusted(PortalOptions::default(), |settings| {
        settings.portal.session_absolute_timeout = Duration::from_secs(1);
    })
    .await;
    let done = portal.connect_with_oauth("SESS4").await;
    let set_cookie = done.headers().get("set-cookie").unwrap().to_str().unwrap().to_lowercase();
    assert!(
        set_cookie.split(';').any(|attribute| attribute.trim() == "max-age=1"),
        "the cookie lasts as long as a sign-in may: {set_cookie}"
    );
    // A copy kept past the cookie's expiry (a client need not honour it) is refused all the same.
    let copied = portal.copied_cookie();
    let (_, participant_id, _, _) = portal.connection("SESS4").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (status, to, _) = portal.get_in(&portal.replaying(&copied), "/status").await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/"));
    assert_eq!(sign_ins(&portal, participant_id).await, (1, 0), "ended by age, not revoked");
}

#[tokio::test]
async fn sign_out_everywhere_ends_the_participants_other_sign_ins() {
    let portal = spawn_portal().await;
    // The participant on their phone (the test's browser) and on a shared computer.
    portal.connect_with_oauth("SESS5").await;
    let (_, participant_id, _, _) = portal.connection("SESS5").await;
    let phone_copy = portal.copied_cookie();
    let (computer, computer_jar) = browser_with_jar();
    assert_eq!(portal.connect_in(&computer, "SESS5").await.status(), StatusCode::SEE_OTHER);
    // Someone else, signed in on their own browser.
    let other = browser();
    portal.connect_in(&other, "SESS6").await;
    assert_eq!(sign_ins(&portal, participant_id).await, (2, 0));
    let (status, _, computer_page) = portal.get_in(&computer, "/status").await;
    assert_eq!(status, StatusCode::OK);
    // What someone who later sits at the shared computer could copy (its CSRF token included).
    let computer_copy = computer_jar.cookies(&portal.base.parse().unwrap()).unwrap();

    // The form needs the session's CSRF token, like every form.
    let forged = portal
        .client
        .post(portal.url("/signout"))
        .form(&[("everywhere", "1"), ("csrf", "guessed")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(sign_ins(&portal, participant_id).await, (2, 0));

    // From the phone: Sign out everywhere.
    let (_, html) = portal.get_text("/status").await;
    assert!(html.contains("Sign out everywhere"), "{html}");
    let everywhere = portal
        .client
        .post(portal.url("/signout"))
        .form(&[("everywhere", "1"), ("csrf", &csrf_in(&html))])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&everywhere), "/");
    let (_, html) = portal.get_text("/").await;
    assert!(html.contains("signed out here and on every other device"), "{html}");
    assert_eq!(sign_ins(&portal, participant_id).await, (0, 2));

    // The shared computer, and a copy of the phone's cookie, are sent to sign in.
    let (status, to, _) = portal.get_in(&computer, "/status").await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/"));
    let (status, to, _) = portal.get_in(&portal.replaying(&phone_copy), "/status").await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/"));
    // Someone else stays signed in.
    let (status, _, html) = portal.get_in(&other, "/status").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("SESS6"), "{html}");

    // An ended sign-in cannot end live ones: the participant signs in again on the phone; the
    // copy of the shared computer's cookie asks to sign out everywhere, with its CSRF token.
    portal.connect_with_oauth("SESS5").await;
    let attempt = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(portal.url("/signout"))
        .header(reqwest::header::COOKIE, computer_copy)
        .form(&[("everywhere", "1"), ("csrf", &csrf_in(&computer_page))])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&attempt), "/");
    let after = attempt.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    let (_, _, html) =
        portal.get_in(&portal.replaying(after.split(';').next().unwrap()), "/").await;
    assert!(html.contains("Your sign-in had already ended"), "{html}");
    assert_eq!(portal.get_text("/status").await.0, StatusCode::OK, "the phone stays signed in");
    assert_eq!(sign_ins(&portal, participant_id).await, (1, 2));
}

#[tokio::test]
async fn signing_in_again_in_the_same_browser_ends_its_previous_sign_in() {
    let portal = spawn_portal().await;
    portal.connect_with_oauth("SESS7").await;
    let (_, participant_id, _, _) = portal.connection("SESS7").await;
    let before = portal.copied_cookie();
    portal.connect_with_oauth("SESS7").await;
    assert_eq!(sign_ins(&portal, participant_id).await, (1, 1));
    assert_eq!(portal.get_text("/status").await.0, StatusCode::OK);
    let (status, to, _) = portal.get_in(&portal.replaying(&before), "/status").await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/"));
}
