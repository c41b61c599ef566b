//! `v4/projects/{project}/subscribers…`: webhook subscribers (verified on create and on a change
//! of endpoint or secret) and their MANUAL per-user subscriptions, managed with the project's
//! credential (a service-account token with the `cloud-platform` scope).

use std::collections::{BTreeSet, HashMap};

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::google::endpoints::GoogleEndpoint;
use crate::google::error::GoogleApiError;
use crate::google::notify;
use crate::google::scope::GoogleScope;
use crate::google::state::{subscriber_exists, subscriber_not_found};
use crate::google::wire;
use crate::google::world::{
    generated_id, CreatePolicy, GoogleCaller, Subscriber, SubscriberConfig,
};
use crate::http::{bearer_token, count_call_as};
use crate::state::Store;

type Data = web::Data<Store>;
type Http = web::Data<reqwest::Client>;
type Query = web::Query<HashMap<String, String>>;

/// The data types subscriptions are documented for.
pub const SUBSCRIBABLE_DATA_TYPES: [&str; 6] =
    ["altitude", "distance", "floors", "sleep", "steps", "weight"];
const SUBSCRIBER_TYPE: &str = "type.googleapis.com/google.devicesandservices.health.v4.Subscriber";
const EMPTY_TYPE: &str = "type.googleapis.com/google.protobuf.Empty";
/// `google.rpc.Code.FAILED_PRECONDITION`.
const FAILED_PRECONDITION_CODE: u16 = 9;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SubscriberBody {
    endpoint_uri: Option<String>,
    subscriber_configs: Option<Vec<ConfigBody>>,
    endpoint_authorization: Option<AuthorizationBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigBody {
    #[serde(default)]
    data_types: Vec<String>,
    subscription_create_policy: Option<String>,
}

#[derive(Deserialize)]
struct AuthorizationBody {
    secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionBody {
    user: Option<String>,
    #[serde(default)]
    data_types: Vec<String>,
}

fn invalid(message: impl Into<String>) -> GoogleApiError {
    GoogleApiError::InvalidArgument(message.into())
}

/// The project credential, for this project: anything else is 401/403.
fn begin_project_call(
    store: &Store,
    req: &HttpRequest,
    project: &str,
    endpoint: GoogleEndpoint,
) -> Result<(), GoogleApiError> {
    count_call_as(req, endpoint.label());
    let caller = store.google_authenticate(bearer_token(req).unwrap_or_default(), Utc::now())?;
    let GoogleCaller::Project { scopes } = caller else {
        return Err(GoogleApiError::PermissionDenied(
            "The caller does not have permission: subscribers are managed with the project's \
             service account"
                .into(),
        ));
    };
    if !scopes.contains(&GoogleScope::CloudPlatform) {
        return Err(GoogleApiError::InsufficientScopes);
    }
    if project != store.config.google_project {
        return Err(GoogleApiError::PermissionDenied(format!(
            "Permission denied on resource project {project}."
        )));
    }
    store.google_record_call(None, endpoint);
    Ok(())
}

/// Subscriber and subscription ids: 4–36 characters, `[a-z]([a-z0-9-]{2,34}[a-z0-9])`.
fn check_id(kind: &str, id: &str) -> Result<(), GoogleApiError> {
    let bytes = id.as_bytes();
    let well_formed = (4..=36).contains(&bytes.len())
        && bytes.first().is_some_and(u8::is_ascii_lowercase)
        && bytes.last().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    if well_formed {
        Ok(())
    } else {
        Err(invalid(format!(
            "{kind} {id:?} must be 4 to 36 characters matching [a-z]([a-z0-9-]{{2,34}}[a-z0-9])"
        )))
    }
}

fn id_from_query(query: &Query, name: &str, kind: &str) -> Result<String, GoogleApiError> {
    match query.get(name).filter(|id| !id.is_empty()) {
        Some(id) => check_id(kind, id).map(|()| id.clone()),
        None => Ok(generated_id()),
    }
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, GoogleApiError> {
    serde_json::from_slice(body).map_err(|e| invalid(format!("Invalid JSON payload received. {e}")))
}

fn endpoint_uri(uri: Option<String>) -> Result<String, GoogleApiError> {
    let uri = uri.filter(|u| !u.is_empty()).ok_or_else(|| invalid("endpointUri is required"))?;
    // Google requires https; the simulator also takes http, for endpoints on the loopback.
    match reqwest::Url::parse(&uri) {
        Ok(url) if matches!(url.scheme(), "https" | "http") => Ok(uri),
        _ => Err(invalid(format!("endpointUri {uri:?} is not an https URL"))),
    }
}

fn secret(authorization: Option<AuthorizationBody>) -> Result<String, GoogleApiError> {
    authorization
        .and_then(|a| a.secret)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("endpointAuthorization.secret is required"))
}

fn configs(bodies: Vec<ConfigBody>) -> Result<Vec<SubscriberConfig>, GoogleApiError> {
    let mut seen = BTreeSet::new();
    bodies
        .into_iter()
        .map(|body| {
            if body.data_types.is_empty() {
                return Err(invalid("subscriberConfigs[].dataTypes must not be empty"));
            }
            for data_type in &body.data_types {
                if !SUBSCRIBABLE_DATA_TYPES.contains(&data_type.as_str()) {
                    return Err(invalid(format!(
                        "Data type {data_type} cannot be subscribed to (one of {})",
                        SUBSCRIBABLE_DATA_TYPES.join(", ")
                    )));
                }
                if !seen.insert(data_type.clone()) {
                    return Err(invalid(format!("Data type {data_type} is in two configs")));
                }
            }
            let policy = body.subscription_create_policy.unwrap_or_default();
            let policy = CreatePolicy::parse(&policy).ok_or_else(|| {
                invalid(format!("subscriptionCreatePolicy {policy:?} must be AUTOMATIC or MANUAL"))
            })?;
            Ok(SubscriberConfig { data_types: body.data_types, policy })
        })
        .collect()
}

fn operation_name(project: &str) -> String {
    format!("projects/{project}/operations/{}", generated_id())
}

/// A finished long-running operation with its result (`response` carries `@type`).
fn operation_done(project: &str, type_url: &str, response: Value) -> HttpResponse {
    let mut response = response;
    if let Value::Object(fields) = &mut response {
        fields.insert("@type".to_string(), json!(type_url));
    } else {
        response = json!({"@type": type_url});
    }
    HttpResponse::Ok().json(json!({
        "name": operation_name(project),
        "done": true,
        "response": response,
    }))
}

/// A finished operation that failed the endpoint verification.
fn operation_failed(project: &str, message: String) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "name": operation_name(project),
        "done": true,
        "error": {"code": FAILED_PRECONDITION_CODE, "message": message,
            "status": "FAILED_PRECONDITION"},
    }))
}

/// `POST v4/projects/{project}/subscribers?subscriberId=…`: verifies the endpoint, then stores the
/// subscriber (nothing is stored when verification fails).
pub(crate) async fn create(
    store: Data,
    http: Http,
    req: HttpRequest,
    path: web::Path<String>,
    query: Query,
    body: web::Bytes,
) -> Result<HttpResponse, GoogleApiError> {
    let project = path.into_inner();
    begin_project_call(&store, &req, &project, GoogleEndpoint::Subscribers)?;
    let id = id_from_query(&query, "subscriberId", "subscriberId")?;
    let body: SubscriberBody = parse_body(&body)?;
    let endpoint_uri = endpoint_uri(body.endpoint_uri)?;
    let secret = secret(body.endpoint_authorization)?;
    let configs = configs(body.subscriber_configs.unwrap_or_default())?;
    if store.google_subscriber(&id).is_some() {
        return Err(subscriber_exists(&id));
    }
    let check = notify::verify_endpoint(&http, &endpoint_uri, &secret).await;
    if let Some(error) = check.error {
        return Ok(operation_failed(&project, error));
    }
    let now = Utc::now();
    let subscriber =
        Subscriber { id, endpoint_uri, secret, configs, create_time: now, update_time: now };
    // Another create of the same id may have finished while this one was verifying.
    store.google_insert_subscriber(subscriber.clone())?;
    Ok(operation_done(&project, SUBSCRIBER_TYPE, subscriber.to_json(&project)))
}

/// `GET v4/projects/{project}/subscribers`.
pub(crate) async fn list(
    store: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, GoogleApiError> {
    let project = path.into_inner();
    begin_project_call(&store, &req, &project, GoogleEndpoint::Subscribers)?;
    let subscribers: Vec<Value> =
        store.google_subscribers().iter().map(|s| s.to_json(&project)).collect();
    Ok(HttpResponse::Ok().json(json!({"totalSize": subscribers.len(), "subscribers": subscribers})))
}

/// The fields an `updateMask` may name (snake_case as documented, camelCase as JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum MaskField {
    EndpointUri,
    SubscriberConfigs,
    EndpointAuthorization,
}

fn parse_mask(mask: &str) -> Result<BTreeSet<MaskField>, GoogleApiError> {
    mask.split(',')
        .map(str::trim)
        .filter(|path| !path.is_empty())
        .map(|path| match path {
            "endpoint_uri" | "endpointUri" => Ok(MaskField::EndpointUri),
            "subscriber_configs" | "subscriberConfigs" => Ok(MaskField::SubscriberConfigs),
            "endpoint_authorization"
            | "endpointAuthorization"
            | "endpoint_authorization.secret"
            | "endpointAuthorization.secret" => Ok(MaskField::EndpointAuthorization),
            other => Err(invalid(format!(
                "updateMask path {other} is not supported (endpoint_uri, subscriber_configs, \
                 endpoint_authorization)"
            ))),
        })
        .collect()
}

/// `PATCH v4/projects/{project}/subscribers/{id}?updateMask=…`: only the masked fields change;
/// a new endpoint or secret is verified first, and on failure nothing changes.
pub(crate) async fn patch(
    store: Data,
    http: Http,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: Query,
    body: web::Bytes,
) -> Result<HttpResponse, GoogleApiError> {
    let (project, id) = path.into_inner();
    begin_project_call(&store, &req, &project, GoogleEndpoint::Subscribers)?;
    let current = store.google_subscriber(&id).ok_or_else(|| subscriber_not_found(&id))?;
    let mask = query
        .get("updateMask")
        .map(|mask| parse_mask(mask))
        .transpose()?
        .filter(|fields| !fields.is_empty())
        .ok_or_else(|| invalid("updateMask is required"))?;
    let body: SubscriberBody = parse_body(&body)?;
    let mut updated = current.clone();
    if mask.contains(&MaskField::EndpointUri) {
        updated.endpoint_uri = endpoint_uri(body.endpoint_uri)?;
    }
    if mask.contains(&MaskField::SubscriberConfigs) {
        updated.configs = configs(body.subscriber_configs.unwrap_or_default())?;
    }
    if mask.contains(&MaskField::EndpointAuthorization) {
        updated.secret = secret(body.endpoint_authorization)?;
    }
    if mask.contains(&MaskField::EndpointUri) || mask.contains(&MaskField::EndpointAuthorization) {
        let check = notify::verify_endpoint(&http, &updated.endpoint_uri, &updated.secret).await;
        if let Some(error) = check.error {
            return Ok(operation_failed(&project, error));
        }
    }
    updated.update_time = Utc::now();
    if !store.google_replace_subscriber(updated.clone()) {
        return Err(subscriber_not_found(&id));
    }
    Ok(operation_done(&project, SUBSCRIBER_TYPE, updated.to_json(&project)))
}

/// `DELETE v4/projects/{project}/subscribers/{id}[?force=true]`.
pub(crate) async fn delete(
    store: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: Query,
) -> Result<HttpResponse, GoogleApiError> {
    let (project, id) = path.into_inner();
    begin_project_call(&store, &req, &project, GoogleEndpoint::Subscribers)?;
    let force = query.get("force").is_some_and(|f| f == "true" || f == "1");
    store.google_delete_subscriber(&id, force)?;
    Ok(operation_done(&project, EMPTY_TYPE, json!({})))
}

/// `POST v4/projects/{project}/subscribers/{id}/subscriptions?subscriptionId=…` with
/// `{"user":"users/{healthUserId}","dataTypes":["steps"]}` → the Subscription.
pub(crate) async fn create_subscription(
    store: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: Query,
    body: web::Bytes,
) -> Result<HttpResponse, GoogleApiError> {
    let (project, subscriber_id) = path.into_inner();
    begin_project_call(&store, &req, &project, GoogleEndpoint::Subscriptions)?;
    let id = id_from_query(&query, "subscriptionId", "subscriptionId")?;
    let body: SubscriptionBody = parse_body(&body)?;
    let user = body.user.unwrap_or_default();
    let health_user_id = user
        .strip_prefix("users/")
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| invalid(format!("user {user:?} must be users/{{healthUserId}}")))?;
    // Data types may also be written `users/{healthUserId}/dataTypes/{type}`.
    let long_form = format!("{user}/dataTypes/");
    let data_types: Vec<String> = body
        .data_types
        .iter()
        .map(|t| t.strip_prefix(&long_form).unwrap_or(t).to_string())
        .collect();
    let subscription =
        store.google_create_subscription(&subscriber_id, id, health_user_id, data_types)?;
    Ok(HttpResponse::Ok().json(subscription.to_json(&project)))
}

/// `GET v4/projects/{project}/subscribers/{id}/subscriptions`.
pub(crate) async fn list_subscriptions(
    store: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: Query,
) -> Result<HttpResponse, GoogleApiError> {
    let (project, subscriber_id) = path.into_inner();
    begin_project_call(&store, &req, &project, GoogleEndpoint::Subscriptions)?;
    let all = store.google_subscriptions(&subscriber_id)?;
    // Page tokens are bound to the subscriber they list.
    let scope = format!("subscriptions of {subscriber_id}");
    let page_size = list_page_size(&query)?;
    let offset = match query.get("pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => wire::parse_page_token(token, &scope).ok_or_else(|| {
            GoogleApiError::InvalidArgument("Invalid pageToken for this list".into())
        })?,
    };
    let page: Vec<Value> =
        all.iter().skip(offset).take(page_size).map(|s| s.to_json(&project)).collect();
    let mut body = json!({"subscriptions": page});
    let next = offset.saturating_add(page_size);
    if next < all.len() {
        body["nextPageToken"] = json!(wire::page_token(next, &scope));
    }
    Ok(HttpResponse::Ok().json(body))
}

/// Google's list methods here: 50 a page unless `pageSize` asks otherwise, at most 1,000 (more
/// is coerced to 1,000; zero or less means the default).
pub const DEFAULT_LIST_PAGE_SIZE: usize = 50;
pub const MAX_LIST_PAGE_SIZE: usize = 1_000;

fn list_page_size(query: &Query) -> Result<usize, GoogleApiError> {
    match query.get("pageSize").filter(|s| !s.is_empty()) {
        None => Ok(DEFAULT_LIST_PAGE_SIZE),
        Some(text) => match text.parse::<i64>() {
            Ok(size) if size <= 0 => Ok(DEFAULT_LIST_PAGE_SIZE),
            Ok(size) => Ok(usize::try_from(size).unwrap_or(usize::MAX).min(MAX_LIST_PAGE_SIZE)),
            Err(_) => {
                Err(GoogleApiError::InvalidArgument(format!("Invalid value for pageSize: {text}")))
            }
        },
    }
}

/// `DELETE v4/projects/{project}/subscribers/{id}/subscriptions/{subscription}` → `{}`.
pub(crate) async fn delete_subscription(
    store: Data,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, GoogleApiError> {
    let (project, subscriber_id, subscription_id) = path.into_inner();
    begin_project_call(&store, &req, &project, GoogleEndpoint::Subscriptions)?;
    store.google_delete_subscription(&subscriber_id, &subscription_id)?;
    Ok(HttpResponse::Ok().json(json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_googles_pattern() {
        for good in ["abcd", "fitex-steps", "a1-2", &format!("a{}", "b".repeat(35))] {
            assert!(check_id("id", good).is_ok(), "{good}");
        }
        for bad in ["abc", "1abc", "abc-", "Abcd", "ab_cd", &format!("a{}", "b".repeat(36))] {
            assert!(check_id("id", bad).is_err(), "{bad}");
        }
        assert!(check_id("id", &generated_id()).is_ok());
    }

    #[test]
    fn update_masks_name_the_patchable_fields() {
        assert_eq!(
            parse_mask("endpoint_uri, endpointAuthorization").unwrap(),
            BTreeSet::from([MaskField::EndpointUri, MaskField::EndpointAuthorization])
        );
        assert!(parse_mask("state").is_err());
    }
}
