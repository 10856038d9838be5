//! What the gateway reads from an X.509 certificate: subject, common name, subjectAltNames
//! (for the VIN), serial, validity, the OCSP responder of its authorityInfoAccess, and the
//! issuer's name and key (for OCSP `CertID`s).

use der::asn1::ObjectIdentifier;
use der::{Decode, Encode, Tag, Tagged};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{AuthorityInfoAccessSyntax, SubjectAltName};
use x509_cert::Certificate;

const OID_CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const OID_SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const OID_AIA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");
const OID_AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");

/// The fields of a certificate the gateway uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject, RFC 4514 style (`CN=...,O=...`).
    pub subject: String,
    pub common_name: Option<String>,
    /// DNS names, URIs and e-mail addresses of the subjectAltName extension.
    pub sans: Vec<String>,
    /// The serial number's bytes (big-endian, as encoded).
    pub serial: Vec<u8>,
    /// The serial number as a DER INTEGER (what an OCSP `CertID` carries).
    pub serial_der: Vec<u8>,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// OCSP responder URLs from authorityInfoAccess.
    pub ocsp_urls: Vec<String>,
    /// DER of the issuer and subject names (to pair a certificate with its issuer).
    pub issuer_name_der: Vec<u8>,
    pub subject_name_der: Vec<u8>,
    /// The subjectPublicKey bits (what OCSP's issuerKeyHash hashes, for an issuer).
    pub public_key_bits: Vec<u8>,
}

impl CertInfo {
    /// Parses a DER certificate.
    pub fn parse(der_bytes: &[u8]) -> Result<CertInfo, String> {
        let cert = Certificate::from_der(der_bytes).map_err(|e| format!("not an X.509 certificate: {e}"))?;
        let tbs = &cert.tbs_certificate;
        let mut common_name = None;
        for rdn in tbs.subject.0.iter() {
            for atv in rdn.0.iter() {
                if atv.oid == OID_CN {
                    common_name = directory_string(&atv.value);
                }
            }
        }
        let mut sans = Vec::new();
        let mut ocsp_urls = Vec::new();
        for ext in tbs.extensions.iter().flatten() {
            if ext.extn_id == OID_SAN {
                let san = SubjectAltName::from_der(ext.extn_value.as_bytes())
                    .map_err(|e| format!("bad subjectAltName: {e}"))?;
                for name in san.0 {
                    match name {
                        GeneralName::DnsName(s)
                        | GeneralName::UniformResourceIdentifier(s)
                        | GeneralName::Rfc822Name(s) => sans.push(s.to_string()),
                        _ => {}
                    }
                }
            } else if ext.extn_id == OID_AIA {
                let aia = AuthorityInfoAccessSyntax::from_der(ext.extn_value.as_bytes())
                    .map_err(|e| format!("bad authorityInfoAccess: {e}"))?;
                for ad in aia.0 {
                    if let (true, GeneralName::UniformResourceIdentifier(u)) =
                        (ad.access_method == OID_AD_OCSP, ad.access_location)
                    {
                        ocsp_urls.push(u.to_string());
                    }
                }
            }
        }
        let der_of = |n: &x509_cert::name::Name| n.to_der().map_err(|e| e.to_string());
        Ok(CertInfo {
            subject: tbs.subject.to_string(),
            common_name,
            sans,
            serial: tbs.serial_number.as_bytes().to_vec(),
            serial_der: tbs.serial_number.to_der().map_err(|e| e.to_string())?,
            not_before: tbs.validity.not_before.to_unix_duration().as_secs() as i64,
            not_after: tbs.validity.not_after.to_unix_duration().as_secs() as i64,
            ocsp_urls,
            issuer_name_der: der_of(&tbs.issuer)?,
            subject_name_der: der_of(&tbs.subject)?,
            public_key_bits: tbs.subject_public_key_info.subject_public_key.raw_bytes().to_vec(),
        })
    }

    /// The serial as upper-case hex (as `openssl x509 -serial` and its index files show it).
    pub fn serial_hex(&self) -> String {
        let bytes = match self.serial.as_slice() {
            [0, rest @ ..] if !rest.is_empty() => rest,
            s => s,
        };
        hex::encode_upper(bytes)
    }

    /// Whether `issuer` is the certificate that issued this one (by name; signatures are
    /// webpki's business).
    pub fn issued_by(&self, issuer: &CertInfo) -> bool {
        self.issuer_name_der == issuer.subject_name_der
    }

    /// `not_after` as RFC 3339.
    pub fn not_after_text(&self) -> String {
        unix_text(self.not_after)
    }
}

pub fn unix_text(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|| secs.to_string())
}

/// A DirectoryString (UTF8String, PrintableString, IA5String; TeletexString read as Latin-1).
fn directory_string(value: &der::Any) -> Option<String> {
    match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String => {
            std::str::from_utf8(value.value()).ok().map(str::to_owned)
        }
        Tag::TeletexString => Some(value.value().iter().map(|&b| b as char).collect()),
        _ => None,
    }
}

/// SHA-256 of DER bytes, as lower-case hex (a certificate's fingerprint).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

/// The identity a device proved with its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    pub subject: String,
    pub common_name: Option<String>,
    pub sans: Vec<String>,
    pub serial_hex: String,
    pub mode: super::spec::VinMatch,
}

impl ClientIdentity {
    pub fn new(info: &CertInfo, mode: super::spec::VinMatch) -> Self {
        ClientIdentity {
            subject: info.subject.clone(),
            common_name: info.common_name.clone(),
            sans: info.sans.clone(),
            serial_hex: info.serial_hex(),
            mode,
        }
    }

    /// Whether `vin` (of a login) is the one the certificate names; the error says what the
    /// certificate holds. VINs are compared ignoring ASCII case (DNS names are case-insensitive).
    pub fn check_vin(&self, vin: &str) -> Result<(), String> {
        use super::spec::VinMatch;
        let cn_ok = || {
            self.common_name
                .as_deref()
                .is_some_and(|cn| cn.eq_ignore_ascii_case(vin))
        };
        let san_ok = || self.sans.iter().any(|s| s.eq_ignore_ascii_case(vin));
        let ok = match self.mode {
            VinMatch::Cn => cn_ok(),
            VinMatch::San => san_ok(),
            VinMatch::CnOrSan => cn_ok() || san_ok(),
        };
        if ok {
            return Ok(());
        }
        Err(format!(
            "VIN {vin} does not match the client certificate ({}: CN {:?}, SAN {:?}, serial {})",
            self.mode.as_str(),
            self.common_name.as_deref().unwrap_or(""),
            self.sans,
            self.serial_hex
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::spec::VinMatch;
    use super::*;

    fn identity(cn: Option<&str>, sans: &[&str], mode: VinMatch) -> ClientIdentity {
        ClientIdentity {
            subject: String::new(),
            common_name: cn.map(str::to_owned),
            sans: sans.iter().map(|s| s.to_string()).collect(),
            serial_hex: "01".into(),
            mode,
        }
    }

    #[test]
    fn vin_matching_follows_the_mode() {
        let v = "LGBT32960TEST0001";
        assert!(identity(Some(v), &[], VinMatch::Cn).check_vin(v).is_ok());
        assert!(identity(Some("lgbt32960test0001"), &[], VinMatch::Cn)
            .check_vin(v)
            .is_ok());
        assert!(identity(Some(v), &[], VinMatch::San).check_vin(v).is_err());
        assert!(identity(Some("other"), &[v], VinMatch::San).check_vin(v).is_ok());
        assert!(identity(Some("other"), &[v], VinMatch::Cn).check_vin(v).is_err());
        assert!(identity(Some("other"), &[v], VinMatch::CnOrSan).check_vin(v).is_ok());
        let e = identity(Some("LGBT32960TEST0002"), &[], VinMatch::Cn)
            .check_vin(v)
            .unwrap_err();
        assert!(e.contains("LGBT32960TEST0002") && e.contains(v), "{e}");
    }

    #[test]
    fn serial_hex_drops_the_sign_byte() {
        let mut i = identity(None, &[], VinMatch::Cn);
        i.serial_hex = String::new();
        let info = CertInfo {
            subject: String::new(),
            common_name: None,
            sans: vec![],
            serial: vec![0x00, 0x9A, 0x01],
            serial_der: vec![],
            not_before: 0,
            not_after: 0,
            ocsp_urls: vec![],
            issuer_name_der: vec![],
            subject_name_der: vec![],
            public_key_bits: vec![],
        };
        assert_eq!(info.serial_hex(), "9A01");
    }
}
