//! Vehicle signatures and data-unit encryption for the `decode` and `encode` commands: loading
//! keys from the command line, verifying and signing frames, decrypting and encrypting data
//! units. Everything cryptographic is the core's `security` module; this module only turns
//! command-line arguments into its inputs and its outcomes into JSON and one-line errors.
//!
//! Conventions are the core's defaults (notes 2025 §4 and §13): SM2 with SM3 and the user ID
//! `1234567812345678`, RSA PKCS#1 v1.5 with SHA-256, "ECC" as ECDSA P-256 with SHA-256; the
//! 0xFF marker outside the signed range (A1) unless `--marker-included`; AES or SM4 in ECB with
//! PKCS#7 unless told otherwise; sign the plaintext, then encrypt (A15).

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use gb32960_core::frame::{Edition, Encryption, RawFrame};
use gb32960_core::security::{
    self, decrypt_raw_frame, encrypt_frame_in_place, is_supported, signed_parts, verify_frame_with, BlockCipher,
    BlockCipherConfig, MarkerPolicy, Mode, P256Signer, Padding, RsaSigner, SignedParts, Signer, Sm2Signer,
    Verification, VerifyingKey,
};
use gb32960_core::signature::SignatureAlgorithm;
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------------------------
// Public keys (`decode --public-key`)

/// The key of `decode --public-key`: a PEM/DER file, or a key as hex in the form an activation
/// carries it (notes 2025 A3), which is read per frame according to the frame's signature type.
#[derive(Debug)]
pub enum PublicKey {
    /// From a SubjectPublicKeyInfo (or PKCS#1 RSA) PEM or DER file: one algorithm.
    File(VerifyingKey),
    /// Wire bytes: SM2 `X ‖ Y` (or SEC1), RSA modulus + 3-byte exponent, P-256 SEC1.
    Wire(Vec<u8>),
}

impl PublicKey {
    /// Reads `arg`: a file when one exists at that path (PEM when it holds `-----BEGIN`, else
    /// DER), otherwise hex wire bytes.
    pub fn load(arg: &str) -> Result<Self> {
        let path = Path::new(arg);
        if path.is_file() {
            let bytes = std::fs::read(path).with_context(|| format!("--public-key: reading {arg}"))?;
            let key = match std::str::from_utf8(&bytes) {
                Ok(text) if text.contains("-----BEGIN") => {
                    if text.contains("PRIVATE KEY-----") {
                        bail!(
                            "--public-key {arg}: this is a private key; give its public key \
                             (`openssl pkey -in KEY -pubout`)"
                        );
                    }
                    VerifyingKey::from_public_key_pem(text)
                }
                _ => VerifyingKey::from_public_key_der(&bytes),
            };
            return key.map(PublicKey::File).map_err(|_| {
                anyhow!("--public-key {arg}: not an SM2, P-256 or RSA public key (PEM `PUBLIC KEY` or `RSA PUBLIC KEY`, or DER)")
            });
        }
        let bytes =
            hex_arg(arg).map_err(|_| anyhow!("--public-key {arg}: no such file, and not a key as hex either"))?;
        let readable = [
            SignatureAlgorithm::SM2,
            SignatureAlgorithm::RSA,
            SignatureAlgorithm::ECC,
        ]
        .into_iter()
        .any(|a| VerifyingKey::from_wire(a, &bytes).is_ok());
        if !readable {
            bail!(
                "--public-key: {} byte(s) of hex are not an SM2 (64 bytes X||Y or SEC1), P-256 (SEC1) or RSA \
                 (modulus + 3-byte exponent) public key",
                bytes.len()
            );
        }
        Ok(PublicKey::Wire(bytes))
    }

    /// The key to check a signature of type `algorithm` with; the outcome when there is none.
    fn for_algorithm(&self, algorithm: SignatureAlgorithm) -> std::result::Result<VerifyingKey, Verification> {
        match self {
            PublicKey::File(k) => Ok(k.clone()),
            // Wire bytes that do not make a key of the signature's type cannot verify it.
            PublicKey::Wire(b) => VerifyingKey::from_wire(algorithm, b).map_err(|_| Verification::Invalid),
        }
    }
}

/// How `decode` checks signatures.
#[derive(Debug, Default)]
pub struct VerifyOptions {
    /// `--public-key`; without it only an activation's own key is available.
    pub public_key: Option<PublicKey>,
    /// `--marker-included`: the 0xFF marker is the last signed byte (notes A1, literal reading).
    pub marker_included: bool,
}

/// The signature check of one plaintext frame, ready for the JSON: `None` when the frame carries
/// no signature (2016, responses, commands other than 0x02/0x03/0x09, an unsigned report).
fn check_signature<'a>(raw: &RawFrame<'a>, opts: &VerifyOptions) -> Option<(SignedParts<'a>, Verification, Value)> {
    let parts = signed_parts(raw).ok()??;
    let algorithm = parts.signature.algorithm;
    let policy = if opts.marker_included {
        MarkerPolicy::Included
    } else {
        MarkerPolicy::Excluded
    };
    let (outcome, key) = if !is_supported(algorithm) {
        (Verification::Unsupported, Value::Null)
    } else if let Some(pk) = &opts.public_key {
        let outcome = match pk.for_algorithm(algorithm) {
            Ok(k) => verify_frame_with(raw, Some(&k), policy).unwrap_or(Verification::Invalid),
            Err(v) => v,
        };
        (outcome, json!("argument"))
    } else {
        // The core checks an activation with the key it carries, and reports NoKey otherwise.
        let outcome = verify_frame_with(raw, None, policy).unwrap_or(Verification::Invalid);
        let key = if parts.activation_key.is_some() {
            json!("frame")
        } else {
            Value::Null
        };
        (outcome, key)
    };
    Some((parts, outcome, key))
}

/// The JSON value of `valid`: `true`, `false`, `"unsupported"` or `"no_key"`.
fn valid_json(v: Verification) -> Value {
    match v {
        Verification::Valid => Value::Bool(true),
        Verification::Invalid => Value::Bool(false),
        other => Value::String(other.name().to_owned()),
    }
}

/// Adds `valid` and `key` to `body.signature` of a decoded frame's JSON. When the codec found no
/// signature but the verifier did (at the end of the data unit, inside a block that has no
/// length field, notes §6.2), the check goes in `body.trailing_signature` instead, so that
/// `body.signature` stays what the codec saw and the JSON still encodes to the same bytes.
pub fn add_signature_check(json: &mut Value, raw: &RawFrame<'_>, opts: &VerifyOptions) {
    let Some((parts, outcome, key)) = check_signature(raw, opts) else {
        return;
    };
    let Some(body) = json.get_mut("body").and_then(Value::as_object_mut) else {
        return;
    };
    let fields = [("valid", valid_json(outcome)), ("key", key)];
    match body.get_mut("signature") {
        Some(Value::Object(sig)) => sig.extend(fields.map(|(k, v)| (k.to_owned(), v))),
        _ => {
            let s = parts.signature;
            let mut sig = Map::new();
            sig.insert("algorithm".into(), json!(s.algorithm.0));
            sig.insert("algorithm_name".into(), json!(s.algorithm.name()));
            sig.insert("r_hex".into(), json!(hex::encode_upper(s.r)));
            sig.insert("s_hex".into(), json!(hex::encode_upper(s.s)));
            sig.extend(fields.map(|(k, v)| (k.to_owned(), v)));
            body.insert("trailing_signature".into(), Value::Object(sig));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Data-unit keys (`--key`, `--cipher-mode`, `--iv`, `--padding`)

/// `--cipher-mode`: the block-cipher mode (the standard names none; the core defaults to ECB).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CipherMode {
    /// Electronic codebook, no IV (the core's default, and what a Java platform gets by default).
    #[default]
    Ecb,
    /// CBC with the IV given by `--iv`.
    Cbc,
    /// CBC with the IV as the first 16 bytes of the data unit (darkinno-tech/gb32960-java-sdk);
    /// decryption reads it from there, encryption needs a fresh `--iv`.
    CbcIvPrefix,
}

/// `--padding`: how the last block is padded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PaddingArg {
    /// PKCS#7 (Java's "PKCS5Padding"), the core's default.
    #[default]
    Pkcs7,
    /// Zero bytes up to the block boundary (decryption strips up to 15 trailing zeros).
    Zero,
    /// No padding: the data unit must be a whole number of 16-byte blocks.
    None,
}

/// A data-unit key and how to use it. The cipher (AES 0x03 or SM4 0x05) is the frame's: the
/// header's encryption byte when decrypting, the JSON's `encryption` when encrypting.
#[derive(Debug)]
pub struct DataUnitKey {
    key: Vec<u8>,
    config: BlockCipherConfig,
    /// Whether `--iv` was given (CBC with the IV in the data unit encrypts only with one).
    iv_given: bool,
}

impl DataUnitKey {
    /// From the command-line arguments. `iv` is hex, or `key` for the key itself (as
    /// DarkInno/gb32960-go-sdk does); CBC needs it, the standard having no IV to default to.
    pub fn new(key_hex: &str, mode: CipherMode, iv: Option<&str>, padding: PaddingArg) -> Result<Self> {
        let key = hex_arg(key_hex).map_err(|e| anyhow!("--key: {e}"))?;
        let iv_given = iv.is_some();
        if ![16, 24, 32].contains(&key.len()) {
            bail!("--key: {} byte(s); SM4 takes 16 bytes, AES 16, 24 or 32", key.len());
        }
        let iv = match (mode, iv) {
            (CipherMode::Ecb, Some(_)) => bail!("--iv: ECB has no IV; give --cipher-mode cbc"),
            (CipherMode::Ecb, None) => None,
            (CipherMode::Cbc, None) => bail!(
                "--cipher-mode cbc needs --iv HEX (16 bytes): the standard defines no IV \
                 (`--iv key` uses the key, as DarkInno/gb32960-go-sdk does)"
            ),
            (CipherMode::CbcIvPrefix, None) => None,
            (_, Some("key")) if key.len() == 16 => Some(key.clone()),
            (_, Some("key")) => bail!("--iv key: the key is {} bytes, an IV 16", key.len()),
            (_, Some(h)) => Some(hex_arg(h).map_err(|e| anyhow!("--iv: {e}"))?),
        };
        let iv: Option<[u8; 16]> = iv
            .map(|v| {
                let n = v.len();
                v.try_into().map_err(|_| anyhow!("--iv: {n} byte(s), an IV is 16"))
            })
            .transpose()?;
        let mode = match mode {
            CipherMode::Ecb => Mode::Ecb,
            CipherMode::Cbc => Mode::Cbc {
                iv: iv.unwrap_or_default(),
            },
            CipherMode::CbcIvPrefix => Mode::CbcIvPrefix {
                iv: iv.unwrap_or_default(),
            },
        };
        let padding = match padding {
            PaddingArg::Pkcs7 => Padding::Pkcs7,
            PaddingArg::Zero => Padding::Zero,
            PaddingArg::None => Padding::None,
        };
        Ok(DataUnitKey {
            key,
            config: BlockCipherConfig { mode, padding },
            iv_given,
        })
    }

    /// The cipher for data units encrypted with `method` in `edition`.
    /// The error is one line and the core's error kind.
    fn cipher(&self, method: Encryption, edition: Edition) -> std::result::Result<BlockCipher, (String, &'static str)> {
        let name = method.name(edition).to_uppercase();
        BlockCipher::new(method, &self.key, self.config).map_err(|e| {
            let msg = match e {
                security::Error::InvalidKey => format!(
                    "--key: {} byte(s) do not make an {name} key (SM4 takes 16 bytes, AES 16, 24 or 32)",
                    self.key.len()
                ),
                _ => format!(
                    "--key works with AES (0x03) and SM4 (0x05) data units, not {name} (0x{:02X})",
                    method.0
                ),
            };
            (msg, e.kind())
        })
    }

    /// Decrypts an encrypted frame into `out`: the plaintext frame with encryption 0x01 (see
    /// `security::decrypt_raw_frame`). The error is one line and the core's error kind.
    pub fn decrypt<'o>(
        &self,
        raw: &RawFrame<'_>,
        out: &'o mut Vec<u8>,
    ) -> std::result::Result<RawFrame<'o>, (String, &'static str)> {
        let h = raw.header;
        let cipher = self.cipher(h.encryption, h.edition)?;
        out.resize(raw.wire_len(), 0);
        decrypt_raw_frame(raw, &cipher, out).map_err(|e| {
            let name = h.encryption.name(h.edition).to_uppercase();
            let n = raw.data.len();
            let msg = match e {
                security::Error::Decrypt if !n.is_multiple_of(16) => {
                    format!("cannot decrypt the {name} data unit: {n} bytes are not a whole number of 16-byte blocks")
                }
                security::Error::Decrypt => format!(
                    "cannot decrypt the {name} data unit: the padding does not check out \
                     (wrong --key, --cipher-mode, --iv or --padding?)"
                ),
                other => format!("cannot decrypt the {name} data unit: {other}"),
            };
            (msg, e.kind())
        })
    }

    /// Whether this key applies to data units encrypted with `method`: AES and SM4 (RSA and SM2
    /// data units, as in a key exchange, need the receiver's private key, notes A6).
    pub fn applies_to(method: Encryption, edition: Edition) -> bool {
        method.is_encrypted(edition) && matches!(method, Encryption::AES | Encryption::SM4)
    }

    /// Encrypts the data unit of the plaintext frame `frame` with `method` (A15: after signing).
    fn encrypt(&self, frame: &[u8], method: Encryption, edition: Edition) -> Result<Vec<u8>> {
        if !Self::applies_to(method, edition) {
            let names = match edition {
                Edition::V2016 => "\"aes128\" (3)",
                Edition::V2025 => "\"sm4\" (5) or \"aes\" (3)",
            };
            bail!(
                "--key: the JSON's \"encryption\" is {} (0x{:02X}); set it to {names} to say which cipher the key \
                 is for",
                method.name(edition),
                method.0
            );
        }
        if matches!(self.config.mode, Mode::CbcIvPrefix { .. }) && !self.iv_given {
            bail!("--cipher-mode cbc-iv-prefix: give a fresh random --iv for every data unit");
        }
        let cipher = self.cipher(method, edition).map_err(|(m, _)| anyhow!(m))?;
        let mut buf = frame.to_vec();
        buf.resize(frame.len() + 32, 0);
        let n = encrypt_frame_in_place(&mut buf, &cipher).map_err(|e| anyhow!("cannot encrypt: {e}"))?;
        buf.truncate(n);
        Ok(buf)
    }
}

/// Sets a decrypted frame's `encryption` and `encryption_name` back to the wire's and adds
/// `"decrypted": true` after them.
pub fn mark_decrypted(json: Value, wire: Encryption, edition: Edition) -> Value {
    let Value::Object(m) = json else { return json };
    let mut out = Map::with_capacity(m.len() + 1);
    for (k, v) in m {
        match k.as_str() {
            "encryption" => {
                out.insert(k, json!(wire.0));
            }
            "encryption_name" => {
                out.insert(k, json!(wire.name(edition)));
                out.insert("decrypted".into(), Value::Bool(true));
            }
            _ => {
                out.insert(k, v);
            }
        }
    }
    Value::Object(out)
}

// ---------------------------------------------------------------------------------------------
// Private keys and encoding (`encode --private-key`, `encode --key`)

/// The signing key of `encode --private-key`, and its public key in the activation's form.
pub struct PrivateKey {
    signer: Box<dyn Signer>,
    public_wire: Option<Vec<u8>>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.signer.algorithm().name())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Reads a PEM private key: PKCS#8 `PRIVATE KEY` (as `openssl genpkey` writes it) for SM2,
    /// P-256 or RSA; also SEC1 `EC PRIVATE KEY` and PKCS#1 `RSA PRIVATE KEY`.
    pub fn load(path: &str) -> Result<Self> {
        let pem = std::fs::read_to_string(path).with_context(|| format!("--private-key: reading {path}"))?;
        if pem.contains("PUBLIC KEY-----") {
            bail!("--private-key {path}: this is a public key; give the private key (PEM)");
        }
        if pem.contains("ENCRYPTED") {
            bail!(
                "--private-key {path}: the key is encrypted; write it in the clear first \
                 (`openssl pkey -in KEY -out PLAIN.pem`)"
            );
        }
        if let Ok(s) = Sm2Signer::from_pem(&pem) {
            let public_wire = Some(s.public_key_wire().to_vec());
            return Ok(PrivateKey {
                signer: Box::new(s),
                public_wire,
            });
        }
        if let Ok(s) = P256Signer::from_pem(&pem) {
            let public_wire = Some(s.public_key_sec1().to_vec());
            return Ok(PrivateKey {
                signer: Box::new(s),
                public_wire,
            });
        }
        if let Ok(s) = RsaSigner::from_pem(&pem, getrandom::SysRng) {
            let public_wire = s.public_key_wire().ok();
            return Ok(PrivateKey {
                signer: Box::new(s),
                public_wire,
            });
        }
        bail!(
            "--private-key {path}: not an SM2, P-256 or RSA private key (PEM `PRIVATE KEY`, `EC PRIVATE KEY` or \
             `RSA PRIVATE KEY`)"
        )
    }
}

/// What `encode` does beyond the JSON: sign, then encrypt.
#[derive(Debug, Default)]
pub struct EncodeOptions {
    /// `--private-key`.
    pub private_key: Option<PrivateKey>,
    /// `--key` and its mode, IV and padding.
    pub key: Option<DataUnitKey>,
}

/// Encodes a frame from its JSON, signing it with `opts.private_key` (2025 real-time, reissue
/// and activation frames; any signature in the JSON is replaced) and then encrypting its data
/// unit with `opts.key` (the JSON's `encryption` names the cipher). `plain_encode` is the
/// JSON encoder.
pub fn encode_with(
    value: &Value,
    opts: &mut EncodeOptions,
    plain_encode: impl Fn(&Value) -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    let Value::Object(top) = value else {
        return plain_encode(value);
    };
    let kind = top.get("body_kind").and_then(Value::as_str).unwrap_or_default();
    let decrypted = top.get("decrypted") == Some(&Value::Bool(true));
    let mut plain = top.clone();
    if opts.key.is_some() {
        if kind == "encrypted" {
            bail!(
                "--key: the data unit is already encrypted (body_kind \"encrypted\"); give its plaintext body \
                 (`decode --key` prints it)"
            );
        }
        plain.insert("encryption".into(), json!(Encryption::NONE.0));
    } else if decrypted
        && top
            .get("encryption")
            .is_some_and(|e| e != &json!(1) && e != &json!("none"))
    {
        bail!(
            "this JSON was decrypted by `decode --key` (\"decrypted\": true): give --key to encrypt the data unit \
             again, or set \"encryption\" to 1 for a plaintext frame"
        );
    }
    if let Some(pk) = &opts.private_key {
        prepare_for_signing(&mut plain, kind, pk)?;
    }
    let mut bytes = plain_encode(&Value::Object(plain))?;
    if let Some(pk) = &mut opts.private_key {
        bytes = sign(&bytes, pk)?;
    }
    if let Some(key) = &opts.key {
        let raw = RawFrame::parse(&bytes).map_err(|e| anyhow!("cannot encode frame: {e}"))?;
        if raw.data.is_empty() {
            // Nothing to encrypt: the frame as the JSON gives it, encryption byte included.
            return plain_encode(value);
        }
        let edition = raw.header.edition;
        let method = wire_encryption(top.get("encryption"), edition)?;
        bytes = key.encrypt(&bytes, method, edition)?;
    }
    Ok(bytes)
}

/// Checks that the frame can be signed, and fills what the encoder needs but a signer makes: a
/// placeholder signature of an activation (replaced when signing), and its public key when the
/// JSON has none.
fn prepare_for_signing(plain: &mut Map<String, Value>, kind: &str, pk: &PrivateKey) -> Result<()> {
    let edition = match plain.get("edition") {
        Some(e) if e == &json!("2025") || e == &json!(2025) => Some(Edition::V2025),
        Some(e) if e == &json!("2016") || e == &json!(2016) => Some(Edition::V2016),
        _ => None,
    };
    match (kind, edition) {
        ("realtime", Some(Edition::V2025)) => Ok(()),
        ("activation", _) => {
            let Some(body) = plain.get_mut("body").and_then(Value::as_object_mut) else {
                return Ok(()); // the encoder says what is wrong with it
            };
            let placeholder = json!({"algorithm": pk.signer.algorithm().0, "r_hex": "", "s_hex": ""});
            body.insert("signature".into(), placeholder);
            if !body.contains_key("public_key_hex") {
                let wire = pk.public_wire.as_ref().ok_or_else(|| {
                    anyhow!("body.public_key_hex: missing, and the RSA key's exponent does not fit 3 bytes")
                })?;
                body.insert("public_key_hex".into(), json!(hex::encode_upper(wire)));
            }
            Ok(())
        }
        // No body_kind or edition: the encoder says so.
        ("", _) | (_, None) => Ok(()),
        _ => {
            let what = if kind == "realtime" { "2016 realtime" } else { kind };
            let article = if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            bail!(
                "nothing to sign in {article} {what} frame: only 2025 real-time, reissue and activation frames carry \
                 a vehicle signature"
            )
        }
    }
}

/// Signs the plaintext frame `bytes` (its signature, if any, is replaced).
fn sign(bytes: &[u8], pk: &mut PrivateKey) -> Result<Vec<u8>> {
    use gb32960_core::{Body, Frame};
    let frame = Frame::parse(bytes).map_err(|e| anyhow!("cannot encode frame: {e}"))?;
    let mut buf = vec![0u8; gb32960_core::MAX_FRAME_LEN];
    let signer = &mut *pk.signer;
    let n = match frame.body {
        Body::Realtime2025(report) => security::emit_signed_realtime(&frame.header, &report, signer, &mut buf),
        Body::Activation(a) => security::emit_signed_activation(&frame.header, &a, signer, &mut buf),
        _ => bail!("nothing to sign in this frame"),
    }
    .map_err(|e| anyhow!("cannot sign: {e}"))?;
    buf.truncate(n);
    if matches!(frame.body, Body::Activation(_)) {
        // A platform checks an activation with the key it carries (T A.2): they must match.
        let raw = RawFrame::parse(&buf).map_err(|e| anyhow!("cannot sign: {e}"))?;
        if verify_frame_with(&raw, None, MarkerPolicy::Excluded) != Some(Verification::Valid) {
            let mine = pk
                .public_wire
                .as_ref()
                .map_or_else(String::new, |w| format!(" (this key's: {})", hex::encode_upper(w)));
            bail!(
                "body.public_key_hex is not the public key of --private-key{mine}: a platform would reject the \
                 activation; correct it or leave it out"
            );
        }
    }
    Ok(buf)
}

/// The JSON's `encryption` (a number or a name of `edition`), 0x01 when absent.
fn wire_encryption(v: Option<&Value>, edition: Edition) -> Result<Encryption> {
    match v {
        None | Some(Value::Null) => Ok(Encryption::NONE),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|c| u8::try_from(c).ok())
            .map(Encryption)
            .ok_or_else(|| anyhow!("encryption: {n} is not a code 0-255")),
        Some(Value::String(s)) => {
            let mut codes = (0..=u8::MAX).map(Encryption).filter(|e| e.name(edition) == s);
            match (codes.next(), codes.next()) {
                (Some(e), None) => Ok(e),
                _ => bail!("encryption: {s:?} does not name one method of edition {edition}"),
            }
        }
        Some(other) => bail!("encryption: expected a number or a name, found {other}"),
    }
}

/// Hex from the command line: white space and a `0x` prefix allowed.
fn hex_arg(s: &str) -> Result<Vec<u8>> {
    crate::cli_codec::parse_hex(s)
}
