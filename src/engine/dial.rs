//! How a load connection is opened: TCP to the first hop (the URL's host, its `connect_to`, or a
//! proxy), an HTTP CONNECT tunnel through the proxy (for https:// and http:// alike), then TLS with the
//! target's shared configuration ([`crate::spec::net::Net`]). It runs once per connection, never per
//! request, and knows nothing of HTTP beyond CONNECT. Each opening tells its phases: the first hop's
//! name resolved again (as a client without a DNS cache does; nothing for an IP address), the TCP
//! connect (with the proxy's tunnel when there is one) and the TLS handshake.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::EngineError;
use super::h1;
use super::metrics::{Outcome, Phase};
use crate::spec::HttpVersion;
use crate::spec::endpoint::Endpoint;
use crate::spec::net::Net;

/// Longest CONNECT answer head read from a proxy.
const MAX_PROXY_HEAD: usize = 16 * 1024;

/// Opens connections to one endpoint.
#[derive(Clone)]
pub struct Dialer {
    /// The first hop: the proxy, or the endpoint (or its `connect_to`).
    addr: SocketAddr,
    /// The first hop's host name, resolved again for every new connection (none for an IP address).
    dns_host: Option<String>,
    /// The CONNECT request sent to the proxy first.
    tunnel: Option<Bytes>,
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

/// The address a connection to `ep` goes to first: the proxy, else `connect_to`, else the URL's host.
pub async fn resolve(ep: &Endpoint, net: &Net) -> std::io::Result<SocketAddr> {
    let (host, port) = net.first_hop(ep).map_err(std::io::Error::other)?;
    tokio::net::lookup_host((host.as_str(), port))
        .await?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{host} resolves to no address")))
}

impl Dialer {
    /// Connections to `ep` whose first hop is `addr` (from [`resolve`]).
    pub fn new(addr: SocketAddr, ep: &Endpoint, net: &Net, version: HttpVersion) -> Result<Dialer, EngineError> {
        let tls = if ep.tls {
            let host = net.tls_name(ep);
            let name = ServerName::try_from(host.to_string())
                .map_err(|e| EngineError::Address(format!("{host:?} is not a valid TLS server name: {e}")))?;
            let alpn: &[&[u8]] = match version {
                HttpVersion::Http1 => &[b"http/1.1"],
                HttpVersion::Http2 => &[b"h2"],
            };
            Some((TlsConnector::from(Arc::new(net.tls_config(alpn))), name))
        } else {
            None
        };
        let tunnel = net.proxy.for_endpoint(ep).map_err(EngineError::Address)?.map(|p| {
            let (host, port) = net.destination(ep);
            let target = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
            let mut req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n").into_bytes();
            if let Some(auth) = &p.auth {
                req.extend_from_slice(b"Proxy-Authorization: ");
                req.extend_from_slice(auth.as_bytes());
                req.extend_from_slice(b"\r\n");
            }
            req.extend_from_slice(b"\r\n");
            Bytes::from(req)
        });
        let dns_host = net.first_hop(ep).ok().and_then(|(host, _)| dns_name(&host));
        Ok(Dialer { addr, dns_host, tunnel, tls })
    }

    /// Whether connections are TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Open a connection: TCP, the proxy's tunnel when there is one, TLS for https://. Its phases are
    /// told to `on` ([`Phase::Dns`], [`Phase::Connect`] including the tunnel, [`Phase::Tls`]): three
    /// clock reads per connection.
    pub async fn open(&self, on: &impl Fn(Phase, Duration)) -> Result<h1::Stream, Outcome> {
        let addr = self.address(on).await?;
        let t = Instant::now();
        let mut tcp = TcpStream::connect(addr).await.map_err(|_| Outcome::Connect)?;
        let _ = tcp.set_nodelay(true);
        if let Some(req) = &self.tunnel {
            tunnel(&mut tcp, req).await?;
        }
        let connected = Instant::now();
        on(Phase::Connect, connected - t);
        Ok(match &self.tls {
            None => h1::Stream::Plain(tcp),
            Some((c, name)) => {
                let tls = c.connect(name.clone(), tcp).await.map_err(|_| Outcome::Tls)?;
                on(Phase::Tls, connected.elapsed());
                h1::Stream::Tls(Box::new(tls))
            }
        })
    }

    /// The address of a new connection's first hop: its host name resolved again (timed as
    /// [`Phase::Dns`]), or the IP address given.
    async fn address(&self, on: &impl Fn(Phase, Duration)) -> Result<SocketAddr, Outcome> {
        let Some(host) = &self.dns_host else { return Ok(self.addr) };
        let t = Instant::now();
        let addr = tokio::net::lookup_host((host.as_str(), self.addr.port()))
            .await
            .ok()
            .and_then(|mut a| a.next())
            .ok_or(Outcome::Connect)?;
        on(Phase::Dns, t.elapsed());
        Ok(addr)
    }
}

/// The host to resolve for each new connection: none for an IP address (bracketed or not).
fn dns_name(host: &str) -> Option<String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>().is_err().then(|| host.to_string())
}

/// Ask the proxy on `tcp` for a tunnel; any answer but 2xx is a connection failure. The head is read
/// byte by byte so that nothing after it is taken from the tunnel.
async fn tunnel(tcp: &mut TcpStream, req: &[u8]) -> Result<(), Outcome> {
    tcp.write_all(req).await.map_err(|_| Outcome::Connect)?;
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_PROXY_HEAD || tcp.read(&mut byte).await.map_err(|_| Outcome::Connect)? == 0 {
            return Err(Outcome::Connect);
        }
        head.push(byte[0]);
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(&head) {
        Ok(httparse::Status::Complete(_)) if resp.code.is_some_and(|c| (200..300).contains(&c)) => Ok(()),
        _ => Err(Outcome::Connect),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn a_tunnel_is_asked_for_with_the_destination_and_credentials() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let proxy = tokio::spawn(async move {
            let mut heads = Vec::new();
            for answer in
                ["HTTP/1.1 200 Connection established\r\n\r\n", "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"]
            {
                let (mut s, _) = l.accept().await.unwrap();
                let mut buf = vec![0u8; 1024];
                let n = s.read(&mut buf).await.unwrap();
                heads.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                s.write_all(answer.as_bytes()).await.unwrap();
                if answer.contains("200") {
                    s.write_all(b"after").await.unwrap();
                }
                let _ = s.read(&mut buf).await;
            }
            heads
        });
        let mut spec: crate::spec::TargetSpec =
            toml::from_str("name = \"t\"\nkind = \"http\"\nurl = \"http://api.test:8080/\"").unwrap();
        spec.proxy = Some(format!("http://user:pa%20ss@{addr}"));
        spec.connect_to = Some("10.1.2.3:9000".into());
        let net = Net::of_target(&spec, std::path::Path::new(".")).unwrap();
        let ep = Endpoint::parse("http://api.test:8080/").unwrap();
        assert_eq!(resolve(&ep, &net).await.unwrap(), addr);
        let d = Dialer::new(addr, &ep, &net, HttpVersion::Http1).unwrap();
        let mut s = match d.open(&|_, _| {}).await {
            Ok(h1::Stream::Plain(s)) => s,
            _ => panic!("the tunnel opens"),
        };
        let mut after = [0u8; 5];
        s.read_exact(&mut after).await.unwrap();
        assert_eq!(&after, b"after", "bytes after the CONNECT answer belong to the tunnel");
        drop(s);
        assert!(matches!(d.open(&|_, _| {}).await, Err(Outcome::Connect)), "a refused tunnel is a connection failure");
        let heads = proxy.await.unwrap();
        // "user:pa ss" in base64.
        assert_eq!(
            heads[0],
            "CONNECT 10.1.2.3:9000 HTTP/1.1\r\nHost: 10.1.2.3:9000\r\nProxy-Authorization: Basic dXNlcjpwYSBzcw==\r\n\r\n"
        );
    }
}
