//! `/api/v1/platform-accounts` (accounts for 0x05 cascade links, stored as argon2 hashes; no
//! answer ever carries a password or a hash) and `/api/v1/maintenance/purge` (retention on
//! demand).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{blocking, ApiError, ApiResult, AppState};
use crate::server::auth::hash_password;
use crate::server::model::PlatformAccountCreate;

pub async fn account_create(
    State(s): State<AppState>,
    Json(body): Json<PlatformAccountCreate>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    body.validate()?;
    let store = s.manager.ctx().store.clone();
    if let Some(g) = body.gateway {
        let st = store.clone();
        let gateways = blocking(move || st.gateways()).await?;
        if !gateways.iter().any(|x| x.id == g) {
            return Err(crate::server::model::FieldError {
                field: "gateway".into(),
                message: format!("no gateway {g}"),
            }
            .into());
        }
    }
    let PlatformAccountCreate {
        username,
        password,
        gateway,
    } = body;
    let user = username.clone();
    let created = blocking(move || {
        let hash = hash_password(&password)?;
        store.platform_account_put(&user, &hash, gateway)
    })
    .await?;
    tracing::info!(%username, created, "platform account saved");
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((
        status,
        Json(json!({ "username": username, "gateway_id": gateway, "created": created })),
    ))
}

pub async fn account_list(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    let store = s.manager.ctx().store.clone();
    let items = blocking(move || store.platform_accounts()).await?;
    Ok(Json(json!({ "items": items })))
}

pub async fn account_delete(State(s): State<AppState>, Path(username): Path<String>) -> ApiResult<StatusCode> {
    let store = s.manager.ctx().store.clone();
    let u = username.clone();
    if blocking(move || store.platform_account_delete(&u)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no platform account {username}")))
    }
}

/// What to purge: frames received before `before` (Unix ms), or more than `older_than_secs`
/// ago; neither: the configured retention.
#[derive(Deserialize, Default)]
pub struct PurgeBody {
    before: Option<i64>,
    older_than_secs: Option<u64>,
}

pub async fn purge(State(s): State<AppState>, body: Option<Json<PurgeBody>>) -> ApiResult<Json<Value>> {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let ctx = s.manager.ctx().clone();
    let now = chrono::Utc::now().timestamp_millis();
    let before = match (body.before, body.older_than_secs, ctx.retention_ms) {
        (Some(b), _, _) => b,
        (None, Some(secs), _) => now - i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX / 2),
        (None, None, Some(keep)) => now - keep,
        (None, None, None) => {
            return Err(ApiError::bad_request(
                "no retention configured: give `before` (Unix ms) or `older_than_secs`",
            ))
        }
    };
    let deleted = crate::server::purge(&ctx, before).await?;
    Ok(Json(json!({ "deleted": deleted, "before": before })))
}
