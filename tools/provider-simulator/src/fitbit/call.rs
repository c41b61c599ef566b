//! What every Fitbit data and subscription call goes through ([`answer_call`]): the token, the
//! user's hourly budget with Fitbit's rate-limit headers, injected faults, the path's user and
//! the token's scopes; and how errors are answered.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder};
use chrono::Utc;

use crate::error::ApiError;
use crate::http::{bearer_token, count_call_as, AnswerLate};
use crate::rate_limit::{Admission, RateStatus};
use crate::scope::Scope;
use crate::state::{Caller, EndpointKind, Store};

fn with_rate_headers(mut builder: HttpResponseBuilder, rate: &RateStatus) -> HttpResponseBuilder {
    builder
        .insert_header(("Fitbit-Rate-Limit-Limit", rate.limit.to_string()))
        .insert_header(("Fitbit-Rate-Limit-Remaining", rate.remaining.to_string()))
        .insert_header(("Fitbit-Rate-Limit-Reset", rate.reset_seconds.to_string()));
    builder
}

/// An error as Fitbit answers it, with the rate-limit headers once the call was counted.
pub(super) fn error_response(error: &ApiError, rate: Option<&RateStatus>) -> HttpResponse {
    let builder = HttpResponse::build(error.status());
    let mut builder = match rate {
        Some(rate) => with_rate_headers(builder, rate),
        None => builder,
    };
    builder.json(error.body())
}

/// An admitted API call: authenticated, counted against the user's budget, past any fault.
pub(super) struct ApiCall {
    pub(super) caller: Caller,
    rate: RateStatus,
}

impl ApiCall {
    pub(super) fn ok(&self, status: StatusCode, body: serde_json::Value) -> HttpResponse {
        with_rate_headers(HttpResponse::build(status), &self.rate).json(body)
    }

    pub(super) fn empty(&self, status: StatusCode) -> HttpResponse {
        with_rate_headers(HttpResponse::build(status), &self.rate).finish()
    }

    pub(super) fn error(&self, error: ApiError) -> HttpResponse {
        error_response(&error, Some(&self.rate))
    }

    /// `result`'s body with `status`, or its error.
    pub(super) fn reply(
        &self,
        status: StatusCode,
        result: Result<serde_json::Value, ApiError>,
    ) -> HttpResponse {
        match result {
            Ok(body) => self.ok(status, body),
            Err(error) => self.error(error),
        }
    }
}

/// Answers a data or subscription call: `answer` runs only once [`begin_call`] has admitted the
/// call; a call stopped before that is answered as [`begin_call`] says.
pub(super) async fn answer_call(
    store: &Store,
    req: &HttpRequest,
    path_user: &str,
    kind: EndpointKind,
    needs: Option<Scope>,
    answer: impl FnOnce(&ApiCall) -> HttpResponse,
) -> HttpResponse {
    match begin_call(store, req, path_user, kind, needs).await {
        Ok(call) => answer(&call),
        Err(response) => response,
    }
}

/// What every data and subscription call goes through, in Fitbit's order as far as it shows:
/// the token, then the budget (every authenticated call counts), then injected faults, then the
/// path's user and the token's scopes.
async fn begin_call(
    store: &Store,
    req: &HttpRequest,
    path_user: &str,
    kind: EndpointKind,
    needs: Option<Scope>,
) -> Result<ApiCall, HttpResponse> {
    count_call_as(req, kind.label());
    let now = Utc::now();
    let token = bearer_token(req).unwrap_or_default();
    let caller = store.authenticate(token, now).map_err(|e| error_response(&e, None))?;
    let rate = match store.admit(&caller.user_id, now) {
        Admission::Allowed(rate) => rate,
        Admission::Limited(rate) => {
            return Err(error_response(&ApiError::RateLimited, Some(&rate)))
        }
    };
    store.record_call(&caller.user_id, kind);
    if let Some(fault) = store.take_fault(&caller.user_id) {
        if fault.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
        }
        if let Some(status) = fault.status {
            return Err(error_response(&ApiError::InjectedFault(status), Some(&rate)));
        }
        if fault.answer_delay_ms > 0 {
            req.extensions_mut().insert(AnswerLate(Duration::from_millis(fault.answer_delay_ms)));
        }
    }
    let call = ApiCall { caller, rate };
    if path_user != "-" && path_user != call.caller.user_id {
        return Err(call.error(ApiError::InsufficientPermissions));
    }
    if let Some(scope) = needs {
        if !call.caller.scopes.contains(&scope) {
            return Err(call.error(ApiError::InsufficientScope(scope)));
        }
    }
    Ok(call)
}
