//! `--register API_URL`: the fleet's VINs and ICCIDs are imported through the gateway's admin
//! API before the vehicles connect: `POST {API_URL}/api/v1/devices/import` with the JSON list
//! `[{"vin": "...", "iccid": "..."}]` and `Authorization: Bearer <token>`.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Serialize;

/// Devices per request, so that a large fleet does not become one huge body.
pub const BATCH: usize = 1000;

/// One device of the import.
#[derive(Debug, Clone, Serialize)]
pub struct Device {
    pub vin: String,
    pub iccid: String,
}

/// The import endpoint under a base URL (`http://host:port` or with a trailing slash).
pub fn import_url(api_url: &str) -> String {
    format!("{}/api/v1/devices/import", api_url.trim_end_matches('/'))
}

/// Posts the devices in batches of [`BATCH`]; any answer other than 2xx is an error that quotes
/// the status and the start of the body.
pub async fn register(api_url: &str, token: &str, devices: &[Device]) -> Result<()> {
    let url = import_url(api_url);
    let parsed = reqwest::Url::parse(&url).with_context(|| format!("--register {api_url:?} is not a URL"))?;
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(30));
    // A gateway on this machine is reached directly, whatever HTTP_PROXY says.
    let loopback = parsed.host_str().is_some_and(|h| {
        h == "localhost"
            || h.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    });
    if loopback {
        builder = builder.no_proxy();
    }
    let client = builder.build().context("building the HTTP client")?;
    for batch in devices.chunks(BATCH) {
        let response = client
            .post(parsed.clone())
            .bearer_auth(token)
            .json(batch)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let body: String = body.chars().take(200).collect();
            bail!("POST {url}: {status} {}", body.trim());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_import_path_follows_the_base_url() {
        assert_eq!(
            import_url("http://127.0.0.1:8998/"),
            "http://127.0.0.1:8998/api/v1/devices/import"
        );
        assert_eq!(
            import_url("https://gw.example/admin"),
            "https://gw.example/admin/api/v1/devices/import"
        );
    }
}
