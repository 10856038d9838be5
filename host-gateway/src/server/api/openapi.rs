//! `/api/v1/openapi.json`: the OpenAPI 3.1 document of the admin API.

use axum::Json;
use serde_json::{json, Value};

fn op(summary: &str, params: &[(&str, &str)], body: Option<&str>) -> Value {
    let mut o = json!({
        "summary": summary,
        "responses": { "200": { "description": "OK" }, "401": { "description": "missing or wrong bearer token" } },
    });
    if !params.is_empty() {
        o["parameters"] = params
            .iter()
            .map(|(name, inn)| json!({ "name": name, "in": inn, "required": *inn == "path", "schema": { "type": "string" } }))
            .collect();
    }
    if let Some(b) = body {
        o["requestBody"] =
            json!({ "content": { b: { "schema": { "type": if b == "text/csv" { "string" } else { "object" } } } } });
    }
    o
}

pub async fn document() -> Json<Value> {
    let id = [("id", "path")];
    let vin = [("vin", "path")];
    Json(json!({
        "openapi": "3.1.0",
        "info": { "title": "GB/T 32960 gateway admin API", "version": env!("CARGO_PKG_VERSION") },
        "components": { "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } } },
        "security": [ { "bearer": [] } ],
        "paths": {
            "/api/v1/gateways": {
                "get": op("List gateways with their status", &[], None),
                "post": op("Create a gateway (name, port, auth_type, auth_url, host, duplicate_vin)", &[], Some("application/json")),
            },
            "/api/v1/gateways/{id}": {
                "get": op("One gateway", &id, None),
                "patch": op("Edit a gateway (rebinds and reloads); `enabled` stops or starts it", &id, Some("application/json")),
                "delete": op("Stop and delete a gateway", &id, None),
            },
            "/api/v1/gateways/{id}/stop": { "post": op("Stop a gateway", &id, None) },
            "/api/v1/gateways/{id}/start": { "post": op("Start a gateway", &id, None) },
            "/api/v1/devices/import": {
                "post": op("Import up to 10000 devices (JSON list of {vin, iccid, metadata} or CSV with a header); per-row errors", &[("gateway", "query")], Some("application/json")),
            },
            "/api/v1/devices/{vin}": { "get": op("A device: online, last login, last seen, latest real-time data", &vin, None) },
            "/api/v1/devices/{vin}/messages": {
                "get": op("Stored frames, newest first", &[("vin", "path"), ("command", "query"), ("from", "query"), ("to", "query"), ("limit", "query")], None),
            },
            "/api/v1/devices/{vin}/commands": {
                "post": op("Send query/set/control built for the device's edition and wait for the answer ({command, params, control, level, message, data, timeout_secs}); 409 offline, 504 no answer", &vin, Some("application/json")),
            },
            "/api/v1/platform-accounts": {
                "get": op("Platform accounts for 0x05 cascade links (no passwords or hashes)", &[], None),
                "post": op("Create an account or replace its password ({username, password, gateway}); stored as an argon2 hash", &[], Some("application/json")),
            },
            "/api/v1/platform-accounts/{username}": { "delete": op("Delete a platform account", &[("username", "path")], None) },
            "/api/v1/maintenance/purge": {
                "post": op("Delete frames received before `before` (Unix ms), or older than `older_than_secs`, or the configured retention", &[], Some("application/json")),
            },
            "/api/v1/sessions": { "get": op("Online sessions (?history=true adds stored ones)", &[("history", "query"), ("vin", "query"), ("limit", "query")], None) },
            "/api/v1/sessions/{vin}": { "delete": op("Close a VIN's connection", &vin, None) },
            "/metrics": { "get": op("Prometheus metrics (no token)", &[], None) },
        }
    }))
}
