//! `/api/v1/sessions`: who is online (and the recent history), and kicking a VIN.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{blocking, ApiError, ApiResult, AppState};

#[derive(Deserialize)]
pub struct ListQuery {
    /// Also return stored sessions (online and offline), newest first.
    #[serde(default)]
    history: bool,
    vin: Option<String>,
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    100
}

pub async fn list(State(s): State<AppState>, Query(q): Query<ListQuery>) -> ApiResult<Json<Value>> {
    let online: Vec<_> = s
        .manager
        .ctx()
        .registry
        .list()
        .into_iter()
        .filter(|o| q.vin.as_deref().is_none_or(|v| v == o.vin))
        .collect();
    let mut body = json!({ "items": online });
    if q.history {
        let store = s.manager.ctx().store.clone();
        let (vin, limit) = (q.vin.clone(), q.limit.min(10_000));
        body["history"] = serde_json::to_value(blocking(move || store.sessions(vin.as_deref(), limit)).await?)
            .map_err(anyhow::Error::from)?;
    }
    Ok(Json(body))
}

pub async fn kick(State(s): State<AppState>, Path(vin): Path<String>) -> ApiResult<StatusCode> {
    if s.manager.ctx().registry.kick(&vin, "kicked through the API") {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("{vin} is not online")))
    }
}
