//! Baseline: an actix-web server whose only handler reads the body and answers 204, with the same
//! worker count as the subscriber. Whatever the subscriber adds is measured against this.
use actix_web::{web, App, HttpResponse, HttpServer};
use clap::Parser;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 18080)]
    port: u16,
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    HttpServer::new(|| {
        App::new().route(
            "/webhooks/fitbit",
            web::post().to(|body: web::Bytes| async move {
                std::hint::black_box(body);
                HttpResponse::NoContent().finish()
            }),
        )
    })
    .workers(args.workers)
    .bind(("127.0.0.1", args.port))?
    .run()
    .await
}
