//! Fitbit's subscriptions API: `POST/GET/DELETE /1/user/-/[{collection}/]apiSubscriptions[/{id}].json`.
//! Each operation is one handler; the collection segment is optional (absent: every collection,
//! listed as `collectionType: "user"`), so each is registered on both paths.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::fitbit::call::{answer_call, ApiCall};
use crate::state::{Created, EndpointKind, Store, Subscription};

type Data = web::Data<Store>;

/// Collections that can be subscribed to.
const COLLECTIONS: [&str; 5] = ["activities", "body", "foods", "sleep", "userRevokedAccess"];
const MAX_SUBSCRIPTION_ID_LEN: usize = 50;

/// `/1/user/{user_id}/[{collection}/]apiSubscriptions.json`.
#[derive(Deserialize)]
pub(super) struct ListPath {
    user_id: String,
    /// None: the all-collections path (every subscription of the user).
    #[serde(default)]
    collection: Option<String>,
}

/// `/1/user/{user_id}/[{collection}/]apiSubscriptions/{subscription_id}.json`.
#[derive(Deserialize)]
pub(super) struct SubscriptionPath {
    user_id: String,
    /// None: the all-collections path (a subscription to every collection).
    #[serde(default)]
    collection: Option<String>,
    subscription_id: String,
}

fn check_collection(collection: &str) -> Result<(), ApiError> {
    if COLLECTIONS.contains(&collection) {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("Unknown collection {collection}")))
    }
}

/// Answers a call on one subscription's path (subscription calls need no scope); `answer` gets
/// the path's collection (None: all of them) and subscription id.
async fn on_subscription(
    store: &Store,
    req: &HttpRequest,
    path: web::Path<SubscriptionPath>,
    answer: impl FnOnce(&ApiCall, Option<String>, String) -> HttpResponse,
) -> HttpResponse {
    let SubscriptionPath { user_id: path_user, collection, subscription_id } = path.into_inner();
    answer_call(store, req, &path_user, EndpointKind::Subscriptions, None, |call| {
        answer(call, collection, subscription_id)
    })
    .await
}

/// `POST`: 201 with a new subscription, 200 when the same one exists, 409 when the user's
/// collection is subscribed under another id.
pub(super) async fn create(
    store: Data,
    req: HttpRequest,
    path: web::Path<SubscriptionPath>,
) -> HttpResponse {
    on_subscription(&store, &req, path, |call, collection, subscription_id| {
        // Fitbit rejects a body-less POST without an explicit `Content-Length: 0`.
        if !req.headers().contains_key(header::CONTENT_LENGTH) {
            return call.error(ApiError::LengthRequired);
        }
        if let Some(Err(error)) = collection.as_deref().map(check_collection) {
            return call.error(error);
        }
        if subscription_id.is_empty() || subscription_id.len() > MAX_SUBSCRIPTION_ID_LEN {
            return call.error(ApiError::Validation {
                field: "subscriptionId",
                message: format!(
                    "subscription id must be 1 to {MAX_SUBSCRIPTION_ID_LEN} characters"
                ),
            });
        }
        let subscriber_id = req
            .headers()
            .get("X-Fitbit-Subscriber-Id")
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map_or_else(|| store.config.subscriber_id.clone(), str::to_string);
        let wanted = Subscription {
            subscriber_id,
            owner_id: call.caller.user_id.clone(),
            collection,
            subscription_id,
        };
        match store.create_subscription(wanted) {
            Ok(Created::New(s)) => call.ok(StatusCode::CREATED, s.to_json()),
            Ok(Created::AlreadyExists(s)) => call.ok(StatusCode::OK, s.to_json()),
            Err(error) => call.error(error),
        }
    })
    .await
}

/// `GET`: the user's subscriptions, all of them or those of one collection.
pub(super) async fn list(store: Data, req: HttpRequest, path: web::Path<ListPath>) -> HttpResponse {
    let ListPath { user_id: path_user, collection } = path.into_inner();
    answer_call(&store, &req, &path_user, EndpointKind::Subscriptions, None, |call| {
        if let Some(Err(error)) = collection.as_deref().map(check_collection) {
            return call.error(error);
        }
        let listed: Vec<serde_json::Value> = store
            .list_subscriptions(&call.caller.user_id, collection.as_deref())
            .iter()
            .map(Subscription::to_json)
            .collect();
        call.ok(StatusCode::OK, json!({"apiSubscriptions": listed}))
    })
    .await
}

/// `DELETE`: 204, or 404 when there is no such subscription on that path.
pub(super) async fn delete(
    store: Data,
    req: HttpRequest,
    path: web::Path<SubscriptionPath>,
) -> HttpResponse {
    on_subscription(&store, &req, path, |call, collection, subscription_id| {
        let user_id = &call.caller.user_id;
        if store.delete_subscription(user_id, collection.as_deref(), &subscription_id) {
            call.empty(StatusCode::NO_CONTENT)
        } else {
            call.error(ApiError::NotFound(format!("No subscription {subscription_id}")))
        }
    })
    .await
}
