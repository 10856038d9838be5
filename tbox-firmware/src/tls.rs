//! TLS 1.3 with mutual certificates (embedded-tls), over any other transport.
//!
//! The gateway's certificate must chain to our CA and name [`TlsCredentials::server_name`];
//! we present the device certificate (ECDSA P-256, CN = the VIN) and sign with its key. The
//! verification is ours to ask for: embedded-tls skips it silently when the crypto provider
//! returns no verifier, which is why [`DeviceProvider`] always returns the rustpki
//! `CertVerifier` and there is no way to build this transport without a CA.
//!
//! Limits of embedded-tls 0.19 that the gateway must respect: TLS 1.3 only, AES-GCM suites,
//! P-256 key share, and handshake messages not split across records. The read buffer must
//! hold the largest record the gateway sends (16 KiB plus overhead unless it caps fragments).

use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::mutex::Mutex;
use embassy_time::{with_timeout, Duration, Instant};
use embedded_io_async::{Read, Write};
use embedded_tls::pki::CertVerifier;
use embedded_tls::{
    Aes128GcmSha256, Certificate, CryptoProvider, CryptoRngCore, SignatureScheme, TlsClock, TlsConfig, TlsConnection,
    TlsContext, TlsError, TlsVerifier,
};
use p256::ecdsa::{DerSignature, SigningKey};

use crate::info;
use crate::transport::{ConnectError, Endpoint, LinkEnd, Session, SharedHalves, Transport};

/// Largest certificate chain the gateway may send (its certificate, maybe its CA).
const CHAIN_CAPACITY: usize = 2048;
/// How long a handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// The only suite we offer (the smaller of the two embedded-tls implements).
type Suite = Aes128GcmSha256;

/// What the device needs for mutual TLS.
#[derive(Clone, Copy)]
pub struct TlsCredentials<'a> {
    /// The CA the gateway's certificate must chain to (DER).
    pub ca: &'a [u8],
    /// Our certificate (DER); its CN is the VIN.
    pub cert: &'a [u8],
    /// Our private key: P-256, SEC1 DER.
    pub key: &'a [u8],
    /// The name the gateway's certificate must carry (CN or DNS SAN).
    pub server_name: &'a str,
}

/// The server name checked when `TBOX_TLS_SERVER_NAME` is not set at build time.
pub const DEFAULT_SERVER_NAME: &str = "gateway.test";

impl TlsCredentials<'static> {
    /// The credentials built into the image: the files of `TBOX_TLS_DIR` (`build.rs` copies
    /// them, or empty placeholders when it is unset, and then [`TlsTransport`] refuses to
    /// start) and `TBOX_TLS_SERVER_NAME`. A production device would read provisioned ones.
    pub fn built_in() -> Self {
        TlsCredentials {
            ca: include_bytes!(concat!(env!("OUT_DIR"), "/tls/ca.der")),
            cert: include_bytes!(concat!(env!("OUT_DIR"), "/tls/device.der")),
            key: include_bytes!(concat!(env!("OUT_DIR"), "/tls/device-key.der")),
            server_name: match option_env!("TBOX_TLS_SERVER_NAME") {
                Some(name) => name,
                None => DEFAULT_SERVER_NAME,
            },
        }
    }
}

/// Certificate validity is checked against the wall clock once it is known ([`crate::clock`]).
pub struct WallClock;

impl TlsClock for WallClock {
    fn now() -> Option<u64> {
        crate::clock::unix_now().and_then(|t| u64::try_from(t).ok())
    }
}

/// Our crypto provider: the RNG, a verifier that is always there, our certificate and key.
pub struct DeviceProvider<'a, R> {
    rng: &'a mut R,
    verifier: CertVerifier<'a, Suite, WallClock, CHAIN_CAPACITY>,
    cert: &'a [u8],
    key: &'a [u8],
}

impl<'a, R: CryptoRngCore> DeviceProvider<'a, R> {
    /// A provider that verifies the gateway against `credentials.ca`.
    pub fn new(rng: &'a mut R, credentials: &TlsCredentials<'a>) -> Self {
        DeviceProvider {
            rng,
            verifier: CertVerifier::new(Certificate::X509(credentials.ca)),
            cert: credentials.cert,
            key: credentials.key,
        }
    }
}

impl<R: CryptoRngCore> CryptoProvider for DeviceProvider<'_, R> {
    type CipherSuite = Suite;
    type Signature = DerSignature;

    fn rng(&mut self) -> impl CryptoRngCore {
        &mut *self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Suite>, TlsError> {
        Ok(&mut self.verifier)
    }

    fn signer(&mut self) -> Result<(impl signature::SignerMut<DerSignature>, SignatureScheme), TlsError> {
        let secret = p256::SecretKey::from_sec1_der(self.key).map_err(|_| TlsError::InvalidPrivateKey)?;
        Ok((SigningKey::from(&secret), SignatureScheme::EcdsaSecp256r1Sha256))
    }

    fn client_cert(&mut self) -> Option<Certificate<impl AsRef<[u8]>>> {
        Some(Certificate::X509(self.cert))
    }
}

/// TLS over another transport (TCP), with the record buffers borrowed for the whole run.
pub struct TlsTransport<'a, T, R> {
    inner: T,
    credentials: TlsCredentials<'a>,
    rng: R,
    read_buf: &'a mut [u8],
    write_buf: &'a mut [u8],
}

impl<'a, T: Transport, R: CryptoRngCore> TlsTransport<'a, T, R> {
    /// TLS over `inner`. `read_buf` must hold the largest record the gateway sends;
    /// `write_buf` our largest (the ClientHello, our certificate): 4 KiB is plenty.
    pub fn new(
        inner: T,
        credentials: TlsCredentials<'a>,
        rng: R,
        read_buf: &'a mut [u8],
        write_buf: &'a mut [u8],
    ) -> Self {
        TlsTransport {
            inner,
            credentials,
            rng,
            read_buf,
            write_buf,
        }
    }
}

impl<T: Transport, R: CryptoRngCore> Transport for TlsTransport<'_, T, R> {
    async fn run_session<S: Session>(&mut self, to: &Endpoint<'_>, session: &mut S) -> Result<LinkEnd, ConnectError> {
        if self.credentials.ca.is_empty() || self.credentials.cert.is_empty() || self.credentials.key.is_empty() {
            return Err(ConnectError::Tls("no CA, certificate or key provisioned"));
        }
        let mut layer = TlsLayer {
            credentials: &self.credentials,
            rng: &mut self.rng,
            read_buf: self.read_buf,
            write_buf: self.write_buf,
            session,
            failure: None,
        };
        let end = self.inner.run_session(to, &mut layer).await?;
        match layer.failure {
            Some(reason) => Err(ConnectError::Tls(reason)),
            None => Ok(end),
        }
    }
}

/// The session the inner transport runs: a handshake, then the application's session over
/// the TLS halves.
struct TlsLayer<'l, 'c, S, R> {
    credentials: &'l TlsCredentials<'c>,
    rng: &'l mut R,
    read_buf: &'l mut [u8],
    write_buf: &'l mut [u8],
    session: &'l mut S,
    failure: Option<&'static str>,
}

impl<S: Session, R: CryptoRngCore> Session for TlsLayer<'_, '_, S, R> {
    async fn run<Rd: Read, Wr: Write>(&mut self, reader: Rd, writer: Wr) -> LinkEnd {
        let reader = Mutex::<NoopRawMutex, _>::new(reader);
        let writer = Mutex::<NoopRawMutex, _>::new(writer);
        let socket = SharedHalves::new(&reader, &writer);
        let mut tls: TlsConnection<'_, _, Suite> = TlsConnection::new(socket, self.read_buf, self.write_buf);
        let config = TlsConfig::new().with_server_name(self.credentials.server_name);
        let provider = DeviceProvider::new(self.rng, self.credentials);
        let started = Instant::now();
        match with_timeout(HANDSHAKE_TIMEOUT, tls.open(TlsContext::new(&config, provider))).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                self.failure = Some(error_name(&e));
                return LinkEnd::Broken;
            }
            Err(_) => {
                self.failure = Some("handshake timed out");
                return LinkEnd::Broken;
            }
        }
        info!(
            "tls: handshake done in {} ms (TLS 1.3, AES-128-GCM, gateway verified, client certificate sent)",
            started.elapsed().as_millis()
        );
        let end = {
            let (reader, writer) = tls.split();
            self.session.run(reader, writer).await
        };
        // close_notify, best effort: the link is ending anyway.
        let _ = with_timeout(Duration::from_secs(1), tls.close()).await;
        end
    }
}

/// A short name for a TLS failure, for the log (the harness looks for `InvalidCertificate`).
fn error_name(e: &TlsError) -> &'static str {
    match e {
        TlsError::InvalidCertificate | TlsError::InvalidCertificateEntry => "InvalidCertificate",
        TlsError::InvalidSignature => "InvalidSignature",
        TlsError::InvalidPrivateKey => "InvalidPrivateKey",
        TlsError::HandshakeAborted(..) => "HandshakeAborted (alert from the gateway)",
        TlsError::ConnectionClosed => "ConnectionClosed",
        TlsError::Io(_) | TlsError::IoError => "I/O error",
        TlsError::InsufficientSpace | TlsError::OutOfMemory => "buffer too small",
        _ => "handshake failed",
    }
}
