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

/// The `tls` member of a gateway (transport "tls"). Certificate, key, CA and CRL values are a
/// file path or the PEM text itself (starting with `-----BEGIN`).
fn tls_schema() -> Value {
    let pem = |d: &str| json!({ "type": "string", "description": format!("{d} (file path or PEM text)") });
    json!({
        "type": "object",
        "required": ["cert", "key"],
        "properties": {
            "cert": pem("server certificate chain, leaf first; for stapling the issuer follows the leaf"),
            "key": pem("private key of the leaf (RSA or ECDSA; PKCS#8, SEC1 or PKCS#1); write-only: GET shows the path or \"<inline PEM, redacted>\""),
            "versions": { "type": "array", "items": { "enum": ["1.2", "1.3"] }, "default": ["1.2", "1.3"] },
            "max_fragment_size": { "type": "integer", "minimum": 512, "maximum": 16389, "default": 4096,
                "description": "largest TLS record sent, header included; keep the chain below it for embedded clients" },
            "handshake_timeout_ms": { "type": "integer", "minimum": 1000, "maximum": 60000, "default": 10000 },
            "client_ca": pem("root CA(s) of the device certificates; set: client certificates are required and each login's VIN must match"),
            "vin_match": { "enum": ["cn", "san", "cn_or_san"], "default": "cn" },
            "crl": { "type": "array", "items": pem("a CRL of the device CA"), "default": [] },
            "ocsp": {
                "type": "object",
                "properties": {
                    "mode": { "enum": ["disabled", "server", "client", "both"], "default": "disabled" },
                    "staple_cache_secs": { "type": "integer", "minimum": 300, "maximum": 3600, "default": 1800 },
                    "client_cache_secs": { "type": "integer", "minimum": 1, "maximum": 3600, "default": 300 },
                    "timeout_ms": { "type": "integer", "minimum": 100, "maximum": 30000, "default": 3000 },
                    "responder_url": { "type": "string", "description": "instead of the certificates' AIA URL" },
                    "on_unreachable": { "enum": ["refuse", "allow"], "default": "refuse",
                        "description": "device checks when the responder cannot be asked (fail closed by default)" },
                },
            },
        },
    })
}

pub async fn document() -> Json<Value> {
    let id = [("id", "path")];
    let vin = [("vin", "path")];
    Json(json!({
        "openapi": "3.1.0",
        "info": { "title": "GB/T 32960 gateway admin API", "version": env!("CARGO_PKG_VERSION") },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": { "GatewayTls": tls_schema() },
        },
        "security": [ { "bearer": [] } ],
        "paths": {
            "/api/v1/gateways": {
                "get": op("List gateways with their status", &[], None),
                "post": op("Create a gateway (name, port, auth_type, auth_url, host, duplicate_vin, transport \"tcp\" or \"tls\", tls: see components.schemas.GatewayTls); bad PEM is a 422 naming the field", &[], Some("application/json")),
            },
            "/api/v1/gateways/{id}": {
                "get": op("One gateway", &id, None),
                "patch": op("Edit a gateway (rebinds and reloads); `enabled` stops or starts it; `tls` is merged member by member (null removes one). A change of `tls` alone swaps the certificates for new handshakes and keeps every connection; bad PEM is a 422 naming the field and the old settings stay. GET shows `tls_status` (certificate fingerprint, dates, OCSP staple), never the key", &id, Some("application/json")),
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
