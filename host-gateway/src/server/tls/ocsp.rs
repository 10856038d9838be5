//! OCSP (RFC 6960): building the request for one certificate, asking its responder over HTTP
//! (POST, with a timeout), and checking the answer before anything believes it: the signature
//! is the issuer's or that of a responder certificate the issuer gave id-kp-OCSPSigning, the
//! single response is for the certificate asked about, and it is current.

use std::time::Duration;

use der::asn1::{Null, ObjectIdentifier, OctetString};
use der::{Decode, Encode, Reader};
use rustls_pki_types::{CertificateDer, UnixTime};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, Request, TbsRequest,
};

use super::cert::CertInfo;

const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const OID_OCSP_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
/// id-kp-OCSPSigning (1.3.6.1.5.5.7.3.9), DER value bytes.
static EKU_OCSP_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x09];
/// Clock skew tolerated on thisUpdate and nextUpdate.
const SKEW_SECS: i64 = 300;
/// The largest response read.
const MAX_RESPONSE: usize = 256 * 1024;

/// Why no status could be had (a responder that could not be asked, or an answer not to
/// believe). All of these fall under `on_unreachable` for device checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OcspError {
    /// The certificate names no responder and none is configured.
    NoResponder,
    /// The issuer is not known (not in the chain nor the device CA).
    NoIssuer,
    /// HTTP failed, timed out, or answered other than 200.
    Unreachable(String),
    /// The responder answered with a non-successful status (tryLater, unauthorized, ...).
    Refused(String),
    /// The answer does not parse, is not signed by an authorised responder, is about another
    /// certificate, or is not current.
    BadResponse(String),
}

impl std::fmt::Display for OcspError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OcspError::NoResponder => write!(f, "no OCSP responder (no AIA URL in the certificate, no responder_url)"),
            OcspError::NoIssuer => write!(f, "the issuer certificate is not known"),
            OcspError::Unreachable(e) => write!(f, "responder unreachable: {e}"),
            OcspError::Refused(s) => write!(f, "responder answered {s}"),
            OcspError::BadResponse(e) => write!(f, "bad OCSP response: {e}"),
        }
    }
}

impl std::error::Error for OcspError {}

fn bad(e: impl std::fmt::Display) -> OcspError {
    OcspError::BadResponse(e.to_string())
}

/// A certificate's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Good,
    Revoked { at: i64, reason: Option<String> },
    Unknown,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Good => "good",
            Status::Revoked { .. } => "revoked",
            Status::Unknown => "unknown",
        }
    }
}

/// A checked answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: Status,
    /// Unix seconds.
    pub this_update: i64,
    pub next_update: Option<i64>,
    /// The whole OCSPResponse as received (what a server staples).
    pub der: Vec<u8>,
}

/// One certificate to ask about: where, and the request.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub cert_id: CertId,
    pub subject: String,
    pub serial_hex: String,
    issuer: CertificateDer<'static>,
    request: Vec<u8>,
}

impl Target {
    /// The request for `leaf` issued by `issuer`; `responder` overrides the leaf's AIA URL.
    pub fn new(
        leaf: &CertInfo,
        issuer: &CertificateDer<'static>,
        responder: Option<&str>,
    ) -> Result<Target, OcspError> {
        let issuer_info = CertInfo::parse(issuer).map_err(|_| OcspError::NoIssuer)?;
        if !leaf.issued_by(&issuer_info) {
            return Err(OcspError::NoIssuer);
        }
        let url = responder
            .map(str::to_owned)
            .or_else(|| leaf.ocsp_urls.iter().find(|u| u.starts_with("http")).cloned())
            .ok_or(OcspError::NoResponder)?;
        let sha1 = |b: &[u8]| {
            ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, b)
                .as_ref()
                .to_vec()
        };
        let internal = |e: der::Error| OcspError::BadResponse(format!("cannot encode the request: {e}"));
        let cert_id = CertId {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: OID_SHA1,
                parameters: Some(Null.into()),
            },
            issuer_name_hash: OctetString::new(sha1(&issuer_info.subject_name_der)).map_err(internal)?,
            issuer_key_hash: OctetString::new(sha1(&issuer_info.public_key_bits)).map_err(internal)?,
            serial_number: SerialNumber::from_der(&leaf.serial_der).map_err(internal)?,
        };
        let request = OcspRequest {
            tbs_request: TbsRequest {
                version: Default::default(),
                requestor_name: None,
                request_list: vec![Request {
                    req_cert: cert_id.clone(),
                    single_request_extensions: None,
                }],
                request_extensions: None,
            },
            optional_signature: None,
        }
        .to_der()
        .map_err(internal)?;
        Ok(Target {
            url,
            cert_id,
            subject: leaf.subject.clone(),
            serial_hex: leaf.serial_hex(),
            issuer: issuer.clone(),
            request,
        })
    }

    /// Asks the responder and checks the answer against `now` (Unix seconds).
    pub async fn query(&self, http: &reqwest::Client, timeout: Duration) -> Result<Answer, OcspError> {
        let unreachable = |e: reqwest::Error| {
            let what = if e.is_timeout() {
                "timed out".to_string()
            } else {
                e.to_string()
            };
            OcspError::Unreachable(format!("{}: {what}", self.url))
        };
        let r = http
            .post(&self.url)
            .header("content-type", "application/ocsp-request")
            .header("accept", "application/ocsp-response")
            .body(self.request.clone())
            .timeout(timeout)
            .send()
            .await
            .map_err(unreachable)?;
        if !r.status().is_success() {
            return Err(OcspError::Unreachable(format!("{}: HTTP {}", self.url, r.status())));
        }
        if r.content_length().is_some_and(|n| n as usize > MAX_RESPONSE) {
            return Err(bad("response too large"));
        }
        let body = r.bytes().await.map_err(unreachable)?;
        if body.len() > MAX_RESPONSE {
            return Err(bad("response too large"));
        }
        self.check(&body, chrono::Utc::now().timestamp())
    }

    /// Checks a DER OCSPResponse for this target at `now`.
    pub fn check(&self, der_bytes: &[u8], now: i64) -> Result<Answer, OcspError> {
        let resp = OcspResponse::from_der(der_bytes).map_err(bad)?;
        if resp.response_status != OcspResponseStatus::Successful {
            return Err(OcspError::Refused(format!("{:?}", resp.response_status)));
        }
        let bytes = resp
            .response_bytes
            .ok_or_else(|| bad("successful but no responseBytes"))?;
        if bytes.response_type != OID_OCSP_BASIC {
            return Err(bad(format!(
                "response type {} is not id-pkix-ocsp-basic",
                bytes.response_type
            )));
        }
        let basic_der = bytes.response.as_bytes();
        let basic = BasicOcspResponse::from_der(basic_der).map_err(bad)?;
        let tbs = first_element(basic_der).map_err(bad)?;
        let signature = basic
            .signature
            .as_bytes()
            .ok_or_else(|| bad("signature is not whole bytes"))?;
        let alg = basic.signature_algorithm.to_der().map_err(bad)?;
        self.verify_signer(&basic, tbs, signature, &alg, now)?;

        let single = basic
            .tbs_response_data
            .responses
            .iter()
            .find(|s| s.cert_id == self.cert_id)
            .ok_or_else(|| bad("no response for the certificate asked about"))?;
        let this_update = single.this_update.0.to_unix_duration().as_secs() as i64;
        let next_update = single.next_update.map(|t| t.0.to_unix_duration().as_secs() as i64);
        if this_update > now + SKEW_SECS {
            return Err(bad("thisUpdate is in the future"));
        }
        if next_update.is_some_and(|n| n < now - SKEW_SECS) {
            return Err(bad("the response is out of date (nextUpdate has passed)"));
        }
        let status = match &single.cert_status {
            CertStatus::Good(_) => Status::Good,
            CertStatus::Unknown(_) => Status::Unknown,
            CertStatus::Revoked(info) => Status::Revoked {
                at: info.revocation_time.0.to_unix_duration().as_secs() as i64,
                reason: info.revocation_reason.map(|r| format!("{r:?}")),
            },
        };
        Ok(Answer {
            status,
            this_update,
            next_update,
            der: der_bytes.to_vec(),
        })
    }

    /// The response must be signed by the issuer, or by a certificate in the response that the
    /// issuer issued for OCSP signing (RFC 6960 4.2.2.2).
    fn verify_signer(
        &self,
        basic: &BasicOcspResponse,
        tbs: &[u8],
        signature: &[u8],
        alg_der: &[u8],
        now: i64,
    ) -> Result<(), OcspError> {
        if verify_with(&self.issuer, tbs, signature, alg_der) {
            return Ok(());
        }
        let anchor = webpki::anchor_from_trusted_cert(&self.issuer).map_err(bad)?;
        let anchors = [anchor];
        let time = UnixTime::since_unix_epoch(Duration::from_secs(now.max(0) as u64));
        for c in basic.certs.iter().flatten() {
            let Ok(der_bytes) = c.to_der() else { continue };
            let der_cert = CertificateDer::from(der_bytes);
            let Ok(ee) = webpki::EndEntityCert::try_from(&der_cert) else {
                continue;
            };
            let delegated = ee
                .verify_for_usage(
                    algorithms(),
                    &anchors,
                    &[],
                    time,
                    webpki::KeyUsage::required(EKU_OCSP_SIGNING),
                    None,
                    None,
                )
                .is_ok();
            if delegated && verify_with(&der_cert, tbs, signature, alg_der) {
                return Ok(());
            }
        }
        Err(bad("not signed by the issuer nor by a responder it authorised"))
    }
}

fn algorithms() -> &'static [&'static dyn rustls_pki_types::SignatureVerificationAlgorithm] {
    rustls::crypto::ring::default_provider()
        .signature_verification_algorithms
        .all
}

/// Whether `signature` over `msg` verifies with `cert`'s key under the algorithm `alg_der` (a
/// DER AlgorithmIdentifier).
fn verify_with(cert: &CertificateDer<'_>, msg: &[u8], signature: &[u8], alg_der: &[u8]) -> bool {
    let Ok(ee) = webpki::EndEntityCert::try_from(cert) else {
        return false;
    };
    let Ok(alg_inner) = first_element_contents(alg_der) else {
        return false;
    };
    algorithms()
        .iter()
        .filter(|a| a.signature_alg_id().as_ref() == alg_inner)
        .any(|a| ee.verify_signature(*a, msg, signature).is_ok())
}

/// The whole first element (header included) inside a DER SEQUENCE.
fn first_element(seq: &[u8]) -> der::Result<&[u8]> {
    let mut r = der::SliceReader::new(seq)?;
    let outer = der::Header::decode(&mut r)?;
    let _ = outer;
    let start: usize = r.position().try_into()?;
    let inner = der::Header::decode(&mut r)?;
    let end = usize::try_from(r.position())? + usize::try_from(inner.length)?;
    seq.get(start..end).ok_or(
        der::ErrorKind::Incomplete {
            expected_len: der::Length::try_from(end)?,
            actual_len: der::Length::try_from(seq.len())?,
        }
        .into(),
    )
}

/// The contents (without tag and length) of a DER SEQUENCE.
fn first_element_contents(seq: &[u8]) -> der::Result<&[u8]> {
    let mut r = der::SliceReader::new(seq)?;
    let outer = der::Header::decode(&mut r)?;
    let start: usize = r.position().try_into()?;
    let end = start + usize::try_from(outer.length)?;
    seq.get(start..end)
        .ok_or(der::ErrorKind::Length { tag: outer.tag }.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_slicing() {
        // SEQUENCE { INTEGER 5, NULL }
        let seq = [0x30, 0x05, 0x02, 0x01, 0x05, 0x05, 0x00];
        assert_eq!(first_element(&seq).unwrap(), &[0x02, 0x01, 0x05]);
        assert_eq!(first_element_contents(&seq).unwrap(), &seq[2..]);
        assert!(first_element(&[0x30, 0x05, 0x02, 0x09]).is_err());
    }

    #[test]
    fn garbage_is_a_bad_response() {
        let e = OcspResponse::from_der(b"not der").map_err(bad).unwrap_err();
        assert!(matches!(e, OcspError::BadResponse(_)));
    }
}
