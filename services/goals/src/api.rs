//! The read API (JSON over HTTP, bearer token): a participant's goal, progress and history; a
//! team's progress; a program's leaderboard and its evaluation export (CSV). Described in
//! `openapi.json` (served at `/v1/openapi.json`).
//!
//! Each route needs a token scope ([`Scope`]): team and program aggregates `read`, one
//! participant's data (goals, daily steps, valid days, time zone) `participant`, the program-wide
//! export `admin`. Every error is JSON (`{"error": "<message>"}`) and never echoes the request;
//! the security headers and the JSON form of actix's own errors come from
//! `fitex_common::http_security::json_api`, wrapped around the whole application.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{PathError, QueryPayloadError};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use chrono::NaiveDate;
use fitex_common::api_tokens::{self, Scope};
use fitex_common::http_security::error_body;
use fitex_common::zone::ParticipantZone;
use fitex_goals::{classify, day_progress, StrategyKind};
use fitex_goals_store::recompute::unit_name;
use fitex_goals_store::{season_close, store};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use subtle::ConstantTimeEq;

pub const OPENAPI: &str = include_str!("../openapi.json");

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("this needs a token with the {} scope", .0.as_str())]
    Forbidden(Scope),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    BadRequest(String),
    #[error("internal error")]
    Internal(#[from] sqlx::Error),
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(error) = self {
            tracing::error!(%error, "read API failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, ApiError::Unauthorized) {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(error_body(self))
    }
}

/// The configured bootstrap token (`goals.api_token`, admin scope); staff and service tokens are
/// issued with `fitexctl tokens issue` and checked by hash.
#[derive(Clone)]
pub struct ApiToken(pub SecretString);

/// Every `/v1` request must carry `Authorization: Bearer <token>`; the token's scope goes into the
/// request's extensions. A refusal is an answer, not an `Err`, so the security headers wrapped
/// around the application complete it.
pub async fn require_token(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    match scope_of(&request).await {
        Ok(scope) => {
            request.extensions_mut().insert(scope);
            Ok(next.call(request).await?.map_into_left_body())
        }
        Err(error) => Ok(request.error_response(error).map_into_right_body()),
    }
}

/// The scope of the request's bearer token: the bootstrap token is admin, others are looked up.
async fn scope_of(request: &ServiceRequest) -> Result<Scope, ApiError> {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    let Some(given) = given.filter(|t| !t.is_empty()) else {
        return Err(ApiError::Unauthorized);
    };
    let bootstrap = request
        .app_data::<web::Data<ApiToken>>()
        .map(|t| t.0.expose_secret().to_string())
        .filter(|t| !t.is_empty());
    if bootstrap.is_some_and(|t| bool::from(t.as_bytes().ct_eq(given.as_bytes()))) {
        return Ok(Scope::Admin);
    }
    let scope = match request.app_data::<web::Data<PgPool>>() {
        Some(pool) => api_tokens::scope_of(pool, &given).await?,
        None => None,
    };
    scope.ok_or(ApiError::Unauthorized)
}

/// 403 unless the request's token has `needed` (or a scope that includes it).
fn require_scope(request: &HttpRequest, needed: Scope) -> Result<(), ApiError> {
    match request.extensions().get::<Scope>() {
        Some(scope) if scope.allows(needed) => Ok(()),
        _ => Err(ApiError::Forbidden(needed)),
    }
}

/// A path parameter that does not parse names no resource: 404, without repeating it.
fn path_error(_: PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::NotFound("resource").into()
}

/// A query parameter that does not parse: 400 with the reason, without repeating the query.
fn query_error(error: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    let reason = match error {
        QueryPayloadError::Deserialize(error) => error.to_string(),
        _ => "unreadable".to_string(),
    };
    ApiError::BadRequest(format!("invalid query parameter: {reason}")).into()
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/v1/openapi.json",
        web::get()
            .to(|| async { HttpResponse::Ok().content_type("application/json").body(OPENAPI) }),
    )
    .service(
        web::scope("/v1")
            .wrap(actix_web::middleware::from_fn(require_token))
            .app_data(web::PathConfig::default().error_handler(path_error))
            .app_data(web::QueryConfig::default().error_handler(query_error))
            .route("/participants/{id}/goal", web::get().to(current_goal))
            .route("/participants/{id}/goals", web::get().to(goal_history))
            .route("/teams/{id}/progress", web::get().to(team_progress))
            .route("/programs/{id}/leaderboard", web::get().to(program_leaderboard))
            .route("/programs/{id}/export.csv", web::get().to(export_csv)),
    );
}

#[derive(Deserialize)]
pub struct ProgramQuery {
    program_id: Option<i64>,
}

#[derive(Serialize)]
struct GoalView {
    effective_date: NaiveDate,
    steps: i32,
    /// Serialized as [`StrategyKind::as_str`].
    strategy: StrategyKind,
    inputs: Vec<NaiveDate>,
    citation: String,
    provisional: bool,
    explanation: String,
}

impl From<fitex_goals::Goal> for GoalView {
    fn from(g: fitex_goals::Goal) -> Self {
        GoalView {
            effective_date: g.effective_date,
            steps: g.steps,
            strategy: g.strategy,
            inputs: g.inputs,
            citation: g.citation,
            provisional: g.provisional,
            explanation: g.explanation,
        }
    }
}

/// The participant's enrolment in `program_id`, or their only/most recent one.
async fn enrolment_for(
    pool: &PgPool,
    participant: i64,
    program_id: Option<i64>,
) -> Result<store::Enrolment, ApiError> {
    let enrolments = store::enrolments(pool, participant).await?;
    match program_id {
        Some(id) => enrolments.into_iter().find(|e| e.program.id == id),
        None => enrolments.into_iter().max_by_key(|e| e.program.program.start_date),
    }
    .ok_or(ApiError::NotFound("participant enrolment"))
}

/// What the participant endpoints start with: the `participant` scope, then the participant (a
/// deleted one, awaiting the purge, is hidden like one who never existed) with their time zone,
/// and the enrolment asked for.
async fn participant_enrolment(
    request: &HttpRequest,
    pool: &PgPool,
    path: web::Path<i64>,
    query: &ProgramQuery,
) -> Result<(i64, ParticipantZone, store::Enrolment), ApiError> {
    require_scope(request, Scope::Participant)?;
    let participant = path.into_inner();
    let (_, zone) =
        store::participant(pool, participant).await?.ok_or(ApiError::NotFound("participant"))?;
    let enrolment = enrolment_for(pool, participant, query.program_id).await?;
    Ok((participant, zone, enrolment))
}

/// One participant's data (time zone, today's steps): the `participant` scope.
async fn current_goal(
    request: HttpRequest,
    pool: web::Data<PgPool>,
    path: web::Path<i64>,
    query: web::Query<ProgramQuery>,
) -> Result<HttpResponse, ApiError> {
    let (participant, zone, enrolment) =
        participant_enrolment(&request, &pool, path, &query).await?;
    let today = zone.today(chrono::Utc::now());
    let program = &enrolment.program.program;
    let date = today.min(program.end_date());
    let goal =
        store::goals(pool.get_ref(), participant, enrolment.program.id, program.start_date, date)
            .await?
            .pop();
    let day = store::days(pool.get_ref(), participant, date, date).await?.pop();
    // The portal's "Today" is the same function.
    let progress = day_progress(program, day.as_ref(), goal.as_ref());
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "participant_id": participant,
        "program_id": enrolment.program.id,
        "team_id": enrolment.team_id,
        "date": date,
        "time_zone": zone.name(),
        "unit": unit_name(program.unit),
        "goal": goal.map(GoalView::from),
        "today": {
            "steps": progress.steps,
            "progress": progress.progress,
            "goal": progress.goal,
            "goal_met": progress.goal_met,
        },
    })))
}

/// One participant's data (goals and the valid days they came from): the `participant` scope.
async fn goal_history(
    request: HttpRequest,
    pool: web::Data<PgPool>,
    path: web::Path<i64>,
    query: web::Query<ProgramQuery>,
) -> Result<HttpResponse, ApiError> {
    let (participant, _, enrolment) = participant_enrolment(&request, &pool, path, &query).await?;
    let program = &enrolment.program.program;
    let goals = store::goals(
        pool.get_ref(),
        participant,
        enrolment.program.id,
        program.start_date,
        program.end_date(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "participant_id": participant,
        "program_id": enrolment.program.id,
        "goals": goals.into_iter().map(GoalView::from).collect::<Vec<_>>(),
    })))
}

async fn team_progress(
    pool: web::Data<PgPool>,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let team_id = path.into_inner();
    let team: Option<(String, i64)> =
        sqlx::query_as("SELECT name, program_id FROM teams WHERE id = $1")
            .bind(team_id)
            .fetch_optional(pool.get_ref())
            .await?;
    let (name, program_id) = team.ok_or(ApiError::NotFound("team"))?;
    // A closed season's weeks are its frozen ones: late data changes nothing in them.
    let season_close::TeamWeeks { weeks, is_final } =
        season_close::team_weeks(&pool, team_id).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "team_id": team_id,
        "name": name,
        "program_id": program_id,
        "final": is_final,
        "weeks": weeks.iter().map(|w| serde_json::json!({
            "week": w.week, "goal": w.goal, "progress": w.progress,
            "percent_of_goal": w.percent_of_goal, "members": w.members,
            "members_meeting_goal": w.members_meeting_goal, "share_meeting_goal": w.share_meeting_goal,
        })).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
pub struct WeekQuery {
    week: Option<u32>,
}

async fn program_leaderboard(
    pool: web::Data<PgPool>,
    path: web::Path<i64>,
    query: web::Query<WeekQuery>,
) -> Result<HttpResponse, ApiError> {
    let program_id = path.into_inner();
    let program = store::program(&pool, program_id).await?.ok_or(ApiError::NotFound("program"))?;
    if query.week.is_some_and(|w| w == 0 || w > program.program.weeks) {
        return Err(ApiError::BadRequest(format!(
            "week must be between 1 and {}",
            program.program.weeks
        )));
    }
    // The portal's leaderboard is the same function, so both rank alike; a closed season's
    // comes from its snapshot.
    let season_close::Leaderboard { week, standings, is_final } =
        season_close::leaderboard(&pool, program_id, query.week).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "program_id": program_id,
        "week": week,
        "unit": unit_name(program.program.unit),
        "final": is_final,
        "teams": standings.iter().map(|s| serde_json::json!({
            "team_id": s.entry.team_id, "name": s.name, "rank": s.entry.rank,
            "percent_of_goal": s.entry.percent_of_goal, "versus_median": s.entry.versus_median,
            "streak_weeks": s.entry.streak_weeks,
        })).collect::<Vec<_>>(),
    })))
}

/// One row per participant and program day: steps, validity, goal — for program evaluation.
async fn export_csv(
    request: HttpRequest,
    pool: web::Data<PgPool>,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    // Every participant's days at once: admin tokens only.
    require_scope(&request, Scope::Admin)?;
    let program_id = path.into_inner();
    let program = store::program(&pool, program_id).await?.ok_or(ApiError::NotFound("program"))?;
    let p = &program.program;
    let participants: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT DISTINCT m.participant_id, t.id FROM team_members m JOIN teams t ON t.id = m.team_id
         JOIN participants p ON p.id = m.participant_id
         WHERE t.program_id = $1 AND p.deleted_at IS NULL ORDER BY m.participant_id",
    )
    .bind(program_id)
    .fetch_all(pool.get_ref())
    .await?;
    // Every row says whether the season is closed (its results final) when exported.
    let is_final = season_close::closure(pool.get_ref(), program_id).await?.is_some();
    let mut csv = String::from("participant_id,team_id,date,steps,worn_minutes,validity,goal_steps,goal_provisional,goal_strategy,final\n");
    for (participant, team) in participants {
        let days = store::days(pool.get_ref(), participant, p.start_date, p.end_date()).await?;
        let goals =
            store::goals(pool.get_ref(), participant, program_id, p.start_date, p.end_date())
                .await?;
        let goal_on: std::collections::HashMap<NaiveDate, &fitex_goals::Goal> =
            goals.iter().map(|g| (g.effective_date, g)).collect();
        for day in &days {
            let validity = serde_json::to_value(classify(day, &p.goals.validity))
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let goal = goal_on.get(&day.date);
            csv.push_str(&format!(
                "{participant},{team},{},{},{},{validity},{},{},{},{is_final}\n",
                day.date,
                day.steps,
                day.worn_minutes.map(|w| w.to_string()).unwrap_or_default(),
                goal.map(|g| g.steps.to_string()).unwrap_or_default(),
                goal.map(|g| g.provisional.to_string()).unwrap_or_default(),
                goal.map(|g| g.strategy.as_str()).unwrap_or_default(),
            ));
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"program-{program_id}.csv\""),
        ))
        .body(csv))
}
