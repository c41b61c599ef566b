//! HTTP plumbing both providers' handlers share: reading the bearer token, the base URL the caller
//! reached us at, holding back answers an injected fault marks as late, and counting every
//! provider call with the status it was answered with.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpMessage, HttpRequest};

use crate::state::Store;

/// The token of an `Authorization: Bearer …` header (the scheme in any case).
pub(crate) fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// `http://host:port` as the caller reached the simulator (for URLs that point back at it).
pub(crate) fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

/// Set on a request whose answer is to be held back (see
/// [`Fault::answered_late`](crate::model::Fault::answered_late)).
#[derive(Clone, Copy)]
pub(crate) struct AnswerLate(pub Duration);

/// Middleware: holds back the answers of requests marked [`AnswerLate`], after they were computed.
pub(crate) async fn hold_back_late_answers(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let response = next.call(req).await?;
    let late = response.request().extensions().get::<AnswerLate>().copied();
    if let Some(AnswerLate(delay)) = late {
        tokio::time::sleep(delay).await;
    }
    Ok(response)
}

/// Set on a request that is a provider call, with its kind for
/// [`Stats::all_in_calls_by_kind`](crate::model::Stats::all_in_calls_by_kind).
#[derive(Clone, Copy)]
struct CountedCall(&'static str);

/// Marks the request as a provider call of `kind`: [`count_provider_calls`] counts it with the
/// status it is answered with, whatever stops it (a bad token, the budget, a fault, a bad path).
pub(crate) fn count_call_as(req: &HttpRequest, kind: &'static str) {
    req.extensions_mut().insert(CountedCall(kind));
}

/// Middleware: counts each request marked by [`count_call_as`] once its answer is known.
pub(crate) async fn count_provider_calls(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let response = next.call(req).await?;
    let counted = response.request().extensions().get::<CountedCall>().copied();
    if let Some(CountedCall(kind)) = counted {
        if let Some(store) = response.request().app_data::<web::Data<Store>>() {
            store.record_answered_call(kind, response.status().as_u16());
        }
    }
    Ok(response)
}
