//! `/api/v1/gateways`: create, list, edit (rebinds without a restart), stop, start, delete.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::{blocking, ApiError, ApiResult, AppState};
use crate::server::model::{FieldError, Gateway, GatewaySpec};
use crate::server::tls::material;

/// A gateway as the API shows it: its settings (the TLS key redacted), id, product, URL and
/// status, and for a running TLS gateway what is loaded (`tls_status`: certificate fingerprint
/// and dates, the OCSP staple).
pub fn view(s: &AppState, g: &Gateway) -> Value {
    let mut v = serde_json::to_value(g).unwrap_or(Value::Null);
    if let Some(t) = &g.spec.tls {
        v["tls"] = t.redacted();
    }
    let scheme = if g.spec.transport == "tls" { "tls" } else { "tcp" };
    v["url"] = json!(format!("{scheme}://{}:{}", g.spec.host, g.spec.port));
    v["status"] = serde_json::to_value(s.manager.status(g.id)).unwrap_or(Value::Null);
    if let Some(info) = s.manager.tls_info(g.id) {
        v["tls_status"] = info;
    }
    v
}

/// Loads the TLS material a spec names (files or inline PEM), so that bad PEM is refused
/// before anything is stored and the running settings stay.
async fn check_tls(spec: &GatewaySpec) -> ApiResult<()> {
    let Some(tls) = spec.tls.clone().filter(|_| spec.transport == "tls") else {
        return Ok(());
    };
    let now = chrono::Utc::now().timestamp();
    tokio::task::spawn_blocking(move || material::load(&tls, now).map(drop))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(())
}

/// JSON merge patch (RFC 7396) of `patch` over `target`, for the nested `tls` object: members
/// given replace, `null` removes, objects merge.
fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(&k);
                } else {
                    merge(t.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p,
    }
}

async fn find(s: &AppState, id: i64) -> ApiResult<Gateway> {
    let store = s.manager.ctx().store.clone();
    blocking(move || store.gateways())
        .await?
        .into_iter()
        .find(|g| g.id == id)
        .ok_or_else(|| ApiError::not_found(format!("no gateway {id}")))
}

fn spec_from(v: Value) -> ApiResult<GatewaySpec> {
    serde_json::from_value(v).map_err(|e| {
        let msg = e.to_string();
        // serde names the field in its message ("unknown variant ..., expected ..." or "missing field `name`").
        let field = msg
            .split('`')
            .nth(1)
            .filter(|_| msg.starts_with("missing field") || msg.starts_with("unknown field"))
            .unwrap_or("body")
            .to_string();
        FieldError { field, message: msg }.into()
    })
}

pub async fn create(State(s): State<AppState>, Json(body): Json<Value>) -> ApiResult<(StatusCode, Json<Value>)> {
    let spec = spec_from(body)?;
    spec.validate()?;
    check_tls(&spec).await?;
    let store = s.manager.ctx().store.clone();
    let g = blocking(move || store.gateway_insert(&spec)).await?;
    s.manager.apply(g.clone()).await;
    Ok((StatusCode::CREATED, Json(view(&s, &g))))
}

pub async fn list(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    let store = s.manager.ctx().store.clone();
    let gws = blocking(move || store.gateways()).await?;
    Ok(Json(
        json!({ "items": gws.iter().map(|g| view(&s, g)).collect::<Vec<_>>() }),
    ))
}

pub async fn get_one(State(s): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let g = find(&s, id).await?;
    Ok(Json(view(&s, &g)))
}

/// Merges the given fields over the gateway's settings (`enabled` stops or starts it; `tls` is
/// merged member by member, `null` removing one), validates, loads the TLS material, stores and
/// rebinds, or, when only `tls` changed on a running TLS gateway, swaps the certificates
/// without dropping a connection.
pub async fn update(State(s): State<AppState>, Path(id): Path<i64>, Json(body): Json<Value>) -> ApiResult<Json<Value>> {
    let mut g = find(&s, id).await?;
    let Value::Object(patch) = body else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };
    let mut merged = serde_json::to_value(&g.spec).map_err(anyhow::Error::from)?;
    for (k, v) in patch {
        if k == "enabled" {
            g.enabled = v.as_bool().ok_or(FieldError {
                field: "enabled".into(),
                message: "must be true or false".into(),
            })?;
        } else if k == "tls" && v.is_object() && merged.get("tls").is_some_and(Value::is_object) {
            merge(&mut merged["tls"], v);
        } else if merged.get(&k).is_some() {
            merged[&k] = v;
        } else {
            return Err(FieldError {
                field: k.clone(),
                message: "unknown field".into(),
            }
            .into());
        }
    }
    g.spec = spec_from(merged)?;
    g.spec.validate()?;
    check_tls(&g.spec).await?;
    let store = s.manager.ctx().store.clone();
    let (spec, enabled) = (g.spec.clone(), g.enabled);
    blocking(move || store.gateway_update(id, &spec, enabled)).await?;
    s.manager.apply(g.clone()).await;
    Ok(Json(view(&s, &g)))
}

async fn set_enabled(s: AppState, id: i64, enabled: bool) -> ApiResult<Json<Value>> {
    let mut g = find(&s, id).await?;
    g.enabled = enabled;
    let store = s.manager.ctx().store.clone();
    let spec = g.spec.clone();
    blocking(move || store.gateway_update(id, &spec, enabled)).await?;
    s.manager.apply(g.clone()).await;
    Ok(Json(view(&s, &g)))
}

pub async fn stop(State(s): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    set_enabled(s, id, false).await
}

pub async fn start(State(s): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    set_enabled(s, id, true).await
}

pub async fn remove(State(s): State<AppState>, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    find(&s, id).await?;
    s.manager.stop(id).await;
    let store = s.manager.ctx().store.clone();
    blocking(move || store.gateway_delete(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_of_tls() {
        let mut t = json!({ "cert": "a.pem", "key": "k.pem", "ocsp": { "mode": "server", "timeout_ms": 3000 } });
        merge(
            &mut t,
            json!({ "key": "k2.pem", "client_ca": "ca.pem", "ocsp": { "mode": "both" }, "cert": null }),
        );
        assert_eq!(
            t,
            json!({ "key": "k2.pem", "client_ca": "ca.pem", "ocsp": { "mode": "both", "timeout_ms": 3000 } })
        );
    }
}
