//! How bytes reach the gateway, seen from the application.
//!
//! A [`Transport`] opens a connection to an [`Endpoint`] and hands its two halves to a
//! [`Session`], which reads and writes them at the same time (frames from the platform arrive
//! while reports go out). When the session returns, the transport closes the connection. The
//! session is the application's; transports are [`crate::net::TcpTransport`] and
//! [`crate::tls::TlsTransport`], which wraps any other transport's halves in TLS.
//!
//! Halves rather than one `Read + Write` object because a read must never be cancelled in the
//! middle: embedded-tls reads a record header and body over several awaits and loses its place
//! if the future is dropped. With halves, the reader runs as its own long-lived future.

use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::mutex::Mutex;
use embedded_io_async::{ErrorType, Read, Write};

/// Where to connect: parameters 0x05 (domain, or a dotted IPv4 address) and 0x06 (port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint<'a> {
    /// Host name or address, ASCII.
    pub host: &'a [u8],
    /// TCP port.
    pub port: u16,
}

/// Why no session could be run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    /// The network is not up (no link, no address) within the wait.
    NoNetwork,
    /// The endpoint is unusable (empty, not ASCII, port 0).
    BadEndpoint,
    /// The host name did not resolve.
    Dns,
    /// The TCP connection was refused or timed out.
    Tcp,
    /// The TLS handshake failed; the reason as embedded-tls names it (`InvalidCertificate`
    /// when the gateway's certificate does not chain to our CA or names another host).
    Tls(&'static str),
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkEnd {
    /// The gateway closed the connection.
    PeerClosed,
    /// Reading or writing failed (reset, timeout, a TLS record error).
    Broken,
    /// The application ended it (disconnect command, logout, lost heartbeats).
    HungUp,
}

/// The application's use of one connection.
#[allow(async_fn_in_trait)] // single-threaded executors: no `Send` bound wanted
pub trait Session {
    /// Runs over the connection's halves until the link ends.
    async fn run<R: Read, W: Write>(&mut self, reader: R, writer: W) -> LinkEnd;
}

/// A way to open connections.
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// Connects to `to`, runs `session` over the connection, then closes it.
    async fn run_session<S: Session>(&mut self, to: &Endpoint<'_>, session: &mut S) -> Result<LinkEnd, ConnectError>;
}

/// Two halves of a connection as one cloneable `Read + Write` handle, for a layer above that
/// wants a single socket and splits it again (embedded-tls). Each half sits behind its own
/// async mutex, so a read in progress never blocks a write.
pub struct SharedHalves<'a, R, W> {
    reader: &'a Mutex<NoopRawMutex, R>,
    writer: &'a Mutex<NoopRawMutex, W>,
}

impl<'a, R, W> SharedHalves<'a, R, W> {
    /// A handle over the two halves.
    pub fn new(reader: &'a Mutex<NoopRawMutex, R>, writer: &'a Mutex<NoopRawMutex, W>) -> Self {
        SharedHalves { reader, writer }
    }
}

impl<R, W> Clone for SharedHalves<'_, R, W> {
    fn clone(&self) -> Self {
        SharedHalves {
            reader: self.reader,
            writer: self.writer,
        }
    }
}

/// Errors of either half, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HalfError(pub embedded_io_async::ErrorKind);

impl core::fmt::Display for HalfError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl core::error::Error for HalfError {}

impl embedded_io_async::Error for HalfError {
    fn kind(&self) -> embedded_io_async::ErrorKind {
        self.0
    }
}

fn half_error(e: impl embedded_io_async::Error) -> HalfError {
    HalfError(e.kind())
}

impl<R, W> ErrorType for SharedHalves<'_, R, W> {
    type Error = HalfError;
}

impl<R: Read, W> Read for SharedHalves<'_, R, W> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.reader.lock().await.read(buf).await.map_err(half_error)
    }
}

impl<R, W: Write> Write for SharedHalves<'_, R, W> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.writer.lock().await.write(buf).await.map_err(half_error)
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.writer.lock().await.flush().await.map_err(half_error)
    }
}
