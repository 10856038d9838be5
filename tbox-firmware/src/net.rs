//! TCP to the gateway over an `embassy-net` stack, whatever the board's network interface
//! (Ethernet MAC, LAN9118, Wi-Fi): the stack is the seam.

use embassy_net::dns::DnsQueryType;
use embassy_net::tcp::TcpSocket;
use embassy_net::{IpAddress, Stack};
use embassy_time::{with_timeout, Duration};

use crate::log::Ascii;
use crate::transport::{ConnectError, Endpoint, LinkEnd, Session, Transport};

/// How long to wait for the network (link and DHCP) before an attempt counts as failed.
const NETWORK_WAIT: Duration = Duration::from_secs(20);
/// How long a TCP connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long to let a closing connection send what is left and its FIN.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// TCP keep-alive probes while the link is quiet, and the silence after which smoltcp gives up
/// (longer than the longest heartbeat period, 240 s, so the protocol's own liveness rules).
const KEEP_ALIVE: Duration = Duration::from_secs(60);
const SOCKET_TIMEOUT: Duration = Duration::from_secs(300);

/// Opens TCP connections through `stack`, with buffers borrowed for the whole run (one
/// connection at a time).
pub struct TcpTransport<'a> {
    stack: Stack<'a>,
    rx: &'a mut [u8],
    tx: &'a mut [u8],
}

impl<'a> TcpTransport<'a> {
    /// A transport over `stack` with the socket's receive and transmit buffers.
    pub fn new(stack: Stack<'a>, rx: &'a mut [u8], tx: &'a mut [u8]) -> Self {
        TcpTransport { stack, rx, tx }
    }

    async fn resolve(&self, host: &[u8]) -> Result<IpAddress, ConnectError> {
        let name = core::str::from_utf8(host).map_err(|_| ConnectError::BadEndpoint)?;
        if name.is_empty() {
            return Err(ConnectError::BadEndpoint);
        }
        // An address literal is answered without a query.
        let found = self
            .stack
            .dns_query(name, DnsQueryType::A)
            .await
            .map_err(|_| ConnectError::Dns)?;
        found.first().copied().ok_or(ConnectError::Dns)
    }
}

impl Transport for TcpTransport<'_> {
    async fn run_session<S: Session>(&mut self, to: &Endpoint<'_>, session: &mut S) -> Result<LinkEnd, ConnectError> {
        if to.port == 0 {
            return Err(ConnectError::BadEndpoint);
        }
        if !self.stack.is_config_up() {
            with_timeout(NETWORK_WAIT, self.stack.wait_config_up())
                .await
                .map_err(|_| ConnectError::NoNetwork)?;
        }
        let addr = self.resolve(to.host).await?;
        let mut socket = TcpSocket::new(self.stack, self.rx, self.tx);
        socket.set_timeout(Some(SOCKET_TIMEOUT));
        socket.set_keep_alive(Some(KEEP_ALIVE));
        // Frames are small and each is a message: send them at once.
        socket.set_nagle_enabled(false);
        match with_timeout(CONNECT_TIMEOUT, socket.connect((addr, to.port))).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => {
                crate::info!("tcp: connect to {}:{} failed", Ascii(to.host), to.port);
                return Err(ConnectError::Tcp);
            }
        }
        crate::info!("tcp: connected to {}:{}", Ascii(to.host), to.port);
        let end = {
            let (reader, writer) = socket.split();
            session.run(reader, writer).await
        };
        socket.close();
        let _ = with_timeout(CLOSE_WAIT, socket.flush()).await;
        socket.abort();
        let _ = with_timeout(CLOSE_WAIT, socket.flush()).await;
        Ok(end)
    }
}
