use std::time::{Duration, Instant};

use fitex_provider_simulator::Fault;

use crate::helpers::*;

const PATH: &str = "/1/user/-/activities/date/2026-11-20.json";

#[tokio::test]
async fn a_status_fault_answers_count_calls_then_normal_service_resumes() {
    let app = spawn_sim().await;
    let tokens = app.create("ALICE1").await;
    app.admin.set_fault(Fault::status(503, 2)).await.unwrap();
    for _ in 0..2 {
        let response = app.get(PATH, &tokens.access_token).await;
        assert_eq!(response.status().as_u16(), 503);
        assert_eq!(header(&response, "fitbit-rate-limit-limit"), "150");
    }
    assert_eq!(app.get(PATH, &tokens.access_token).await.status().as_u16(), 200);
    assert_eq!(app.admin.stats().await.unwrap().faults_served, 2);
}

#[tokio::test]
async fn a_fault_can_target_one_user_and_be_cleared() {
    let app = spawn_sim().await;
    let alice = app.create("ALICE1").await;
    let bob = app.create("BOB001").await;
    app.admin.set_fault(Fault::status(500, 5).for_user("BOB001")).await.unwrap();
    assert_eq!(app.get(PATH, &alice.access_token).await.status().as_u16(), 200);
    assert_eq!(app.get(PATH, &bob.access_token).await.status().as_u16(), 500);
    app.admin.clear_faults().await.unwrap();
    assert_eq!(app.get(PATH, &bob.access_token).await.status().as_u16(), 200);
}

#[tokio::test]
async fn a_delay_fault_slows_the_answer_but_keeps_it_normal() {
    let app = spawn_sim().await;
    let tokens = app.create("ALICE1").await;
    app.admin.set_fault(Fault::delay(400, 1)).await.unwrap();
    let started = Instant::now();
    assert_eq!(app.get(PATH, &tokens.access_token).await.status().as_u16(), 200);
    assert!(started.elapsed() >= Duration::from_millis(400), "{:?}", started.elapsed());
    let started = Instant::now();
    assert_eq!(app.get(PATH, &tokens.access_token).await.status().as_u16(), 200);
    assert!(started.elapsed() < Duration::from_millis(400));
}
