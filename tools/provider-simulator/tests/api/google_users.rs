//! Users in the Google mode: cohort consents, grants, days with hand-entered steps.

use chrono::NaiveDate;
use fitex_provider_simulator::{DayData, DayRecord, SimulatorConfig};

use crate::helpers::*;

#[tokio::test]
async fn cohort_people_have_google_tokens_that_read_their_days() {
    let app =
        spawn_with(SimulatorConfig { cohort_size: 3, cohort_days: 10, ..Default::default() }).await;
    let fitbit = app.admin.cohort().await.unwrap();
    let google = app.admin.google_cohort().await.unwrap();
    assert_eq!(google.len(), 3);
    for (fitbit, google) in fitbit.iter().zip(&google) {
        assert_eq!(fitbit.user_id, google.user_id);
        assert_eq!(fitbit.timezone, google.timezone);
        assert_ne!(google.health_user_id, google.user_id);
        assert_eq!(google.expires_in, 3_599);
        assert!(google.scope.contains("activity_and_fitness"));
        let (status, identity) =
            app.google_get("/v4/users/me/identity", &google.access_token).await;
        assert_eq!(status, 200);
        assert_eq!(identity["legacyUserId"], google.user_id.as_str());
        assert_eq!(identity["healthUserId"], google.health_user_id.as_str());
    }
    // The Google and Fitbit sides read the same days.
    let member = &google[0];
    let yesterday = chrono::Utc::now().date_naive() - chrono::TimeDelta::days(1);
    let first = yesterday - chrono::TimeDelta::days(9);
    let end = yesterday + chrono::TimeDelta::days(1);
    let (status, body) =
        app.rollup(&member.access_token, "steps", &first.to_string(), &end.to_string()).await;
    assert_eq!(status, 200, "{body}");
    for point in body["rollupDataPoints"].as_array().unwrap() {
        let d = &point["civilStartTime"]["date"];
        let date = NaiveDate::from_ymd_opt(
            d["year"].as_i64().unwrap() as i32,
            d["month"].as_u64().unwrap() as u32,
            d["day"].as_u64().unwrap() as u32,
        )
        .unwrap();
        let day = app.admin.day(&member.user_id, date).await.unwrap().unwrap();
        assert_eq!(point["steps"]["countSum"], day.steps.to_string());
    }
}

#[tokio::test]
async fn a_grant_refreshes_the_cohort_view_and_revocation_removes_it() {
    let app =
        spawn_with(SimulatorConfig { cohort_size: 1, cohort_days: 2, ..Default::default() }).await;
    let before = app.admin.google_cohort().await.unwrap();
    let user = before[0].user_id.clone();
    let (status, fresh) = app.google_refresh(&before[0].refresh_token).await;
    assert_eq!(status, 200);
    let after = app.admin.google_cohort().await.unwrap();
    assert_eq!(after[0].access_token, fresh["access_token"].as_str().unwrap());
    assert_eq!(after[0].refresh_token, before[0].refresh_token);

    // The admin accepts the healthUserId as well as the simulator id.
    let granted = app.admin.google_grant(&before[0].health_user_id).await.unwrap();
    assert_eq!(granted.user_id, user);
    app.admin.google_revoke(&user).await.unwrap();
    assert!(app.admin.google_cohort().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_day_keeps_its_manual_steps_and_a_plain_day_has_none() {
    let app = spawn_sim().await;
    app.create("ALICE1").await;
    let date = NaiveDate::from_ymd_opt(2026, 3, 7).unwrap();
    let record = DayRecord {
        day: DayData { steps: 5_000, worn_minutes: 700, ..DayData::default() },
        manual_steps: 2_500,
    };
    app.admin.set_day_record("ALICE1", date, record).await.unwrap();
    assert_eq!(app.admin.day_record("ALICE1", date).await.unwrap(), Some(record));
    assert_eq!(app.admin.day("ALICE1", date).await.unwrap(), Some(record.day));
    let fitbit = app.fitbit_steps(date).await;
    assert_eq!(fitbit, "5000");

    app.admin.set_day("ALICE1", date, record.day).await.unwrap();
    assert_eq!(app.admin.day_record("ALICE1", date).await.unwrap().unwrap().manual_steps, 0);
}

impl TestSim {
    /// ALICE1's Fitbit steps on `date` (with a fresh Fitbit token).
    async fn fitbit_steps(&self, date: NaiveDate) -> String {
        let tokens = self.admin.issue_implicit_token("ALICE1", 86_400).await.unwrap();
        let path = format!("/1/user/-/activities/steps/date/{date}/1d.json");
        let (status, body) = self.get_json(&path, &tokens).await;
        assert_eq!(status, 200, "{body}");
        body["activities-steps"][0]["value"].as_str().unwrap().to_string()
    }
}
