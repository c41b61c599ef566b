//! `fitexctl send-sample`: sample Fitbit notifications, signed with the configured client secret,
//! posted to a subscriber (and one forged request, which it must refuse).

use std::time::Duration;

use anyhow::{bail, Context};
use secrecy::ExposeSecret;

use crate::settings::FitbitSettings;

pub async fn run(fitbit: &FitbitSettings, url: &str, users: usize) -> anyhow::Result<()> {
    let Some(secret) = fitbit.client_secrets.first() else {
        bail!("fitbit.client_secrets is empty: nothing to sign with");
    };
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let today = chrono::Utc::now().date_naive().format("%Y-%m-%d").to_string();
    let mut bodies: Vec<String> = (0..users)
        .map(|i| {
            let user = format!("DEMO{i:02}");
            format!(
                r#"[{{"collectionType":"activities","date":"{today}","ownerId":"{user}","ownerType":"user","subscriptionId":"{user}-activities"}}]"#
            )
        })
        .collect();
    // One batch for several users and types, as Fitbit sends after a multi-user sync.
    bodies.push(format!(
        r#"[{{"collectionType":"activities","date":"{today}","ownerId":"B4TZHW","ownerType":"user","subscriptionId":"B4TZHW-activities"}},{{"collectionType":"sleep","date":"{today}","ownerId":"B4TZHW","ownerType":"user","subscriptionId":"B4TZHW-sleep"}},{{"collectionType":"userRevokedAccess","ownerId":"22AAAA","ownerType":"user","subscriptionId":"22AAAA-all"}}]"#
    ));
    for body in &bodies {
        let signature = fitex_fitbit::sign(secret.expose_secret(), body.as_bytes());
        let response = client
            .post(url)
            .header("Content-Type", "application/json")
            .header("X-Fitbit-Signature", signature)
            .body(body.clone())
            .send()
            .await
            .with_context(|| format!("posting to {url}"))?;
        println!(
            "POST {} notification(s) → {}",
            body.matches("ownerId").count(),
            response.status()
        );
    }
    // And one forged request, which the subscriber must refuse.
    let forged = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-Fitbit-Signature", "e6OUUBQCnrnhuvS7PvLRUOmF0TU=")
        .body(bodies[0].clone())
        .send()
        .await?;
    println!("POST with a forged signature → {} (expected 404)", forged.status());
    Ok(())
}
