//! The admin HTTP API (axum): bearer-token authentication, JSON errors naming the field.

mod admin;
mod commands;
mod devices;
mod gateways;
mod openapi;
mod sessions;
pub mod token;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};

use super::gateway::Manager;
use super::model::FieldError;
use token::TokenCheck;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub manager: Arc<Manager>,
    pub token: Arc<TokenCheck>,
}

/// An API error: an HTTP status and `{"error": ..., "field": ...}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            field: None,
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, what)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: e.to_string(),
            field: Some(e.field),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast::<FieldError>() {
            Ok(f) => f.into(),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "API internal error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.field {
            Some(f) => serde_json::json!({ "error": self.message, "field": f }),
            None => serde_json::json!({ "error": self.message }),
        };
        (self.status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Runs a blocking store call off the async threads.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> anyhow::Result<T> + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(ApiError::from)
}

async fn require_token(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .map(str::to_owned);
    let ok = match given {
        Some(t) => {
            let check = s.token.clone();
            tokio::task::spawn_blocking(move || check.verify(&t))
                .await
                .unwrap_or(false)
        }
        None => false,
    };
    if !ok {
        return ApiError::new(StatusCode::UNAUTHORIZED, "missing or wrong bearer token").into_response();
    }
    next.run(req).await
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.manager.ctx().metrics.render(),
    )
}

/// The router.
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/api/v1/gateways", post(gateways::create).get(gateways::list))
        .route(
            "/api/v1/gateways/{id}",
            patch(gateways::update).get(gateways::get_one).delete(gateways::remove),
        )
        .route("/api/v1/gateways/{id}/stop", post(gateways::stop))
        .route("/api/v1/gateways/{id}/start", post(gateways::start))
        .route("/api/v1/devices/import", post(devices::import))
        .route("/api/v1/devices/{vin}", get(devices::get_one))
        .route("/api/v1/devices/{vin}/messages", get(devices::messages))
        .route("/api/v1/devices/{vin}/commands", post(commands::command))
        .route(
            "/api/v1/platform-accounts",
            post(admin::account_create).get(admin::account_list),
        )
        .route("/api/v1/platform-accounts/{username}", delete(admin::account_delete))
        .route("/api/v1/maintenance/purge", post(admin::purge))
        .route("/api/v1/sessions", get(sessions::list))
        .route("/api/v1/sessions/{vin}", delete(sessions::kick))
        .layer(axum::middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/metrics", get(metrics))
        .merge(protected)
        .with_state(state)
}
