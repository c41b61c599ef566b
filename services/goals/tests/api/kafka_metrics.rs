//! The goals service's consumer exports its librdkafka statistics on `/metrics`, like its producer.

use std::time::{Duration, Instant};

use crate::helpers::*;

#[tokio::test]
async fn the_consumers_statistics_are_on_the_metrics_page() {
    let app = spawn_goals_with(|settings| {
        settings.kafka.statistics_interval = Duration::from_millis(100);
    })
    .await;
    let consumer = "client=\"fitex-goals\",role=\"consumer\"";
    let deadline = Instant::now() + Duration::from_secs(30);
    let page = loop {
        let page = app.get("/metrics").await.text().await.unwrap();
        let reported = page
            .lines()
            .any(|l| l.starts_with("fitex_kafka_queue_messages{") && l.contains(consumer))
            && page
                .lines()
                .any(|l| l.starts_with("fitex_kafka_broker_rtt_seconds{") && l.contains(consumer));
        if reported || Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let families: Vec<&str> =
        page.lines().filter(|l| l.contains(consumer)).filter_map(|l| l.split('{').next()).collect();
    for family in [
        "fitex_kafka_queue_messages",
        "fitex_kafka_broker_rtt_seconds",
        "fitex_kafka_broker_errors_total",
    ] {
        assert!(families.contains(&family), "{family} for the consumer, in\n{page}");
    }
}
