//! Getting bytes to and from a Stratum v1 pool (its `stratum+tcp://` or
//! `stratum+ssl://` URL parsed by [`crate::sources::pool::PoolUrl`]): TCP
//! with connect timeout and keepalive, TLS through `rustls` (certificates
//! verified against the webpki roots unless `--tls-insecure`), and which
//! hosts a `client.reconnect` may send us to.
//!
//! A [`Connection`] is polled: reads time out after a short interval so the
//! one session thread can also submit shares and run its timers.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};

use crate::sources::pool::PoolUrl;

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot resolve {0}")]
    Resolve(String),
    #[error("cannot connect to {addr}: {source}")]
    Io { addr: String, source: io::Error },
    #[error("TLS with {addr} failed: {why}")]
    Tls {
        addr: String,
        why: String,
        /// The peer's certificate was refused (retrying will not help).
        certificate: bool,
    },
}

impl ConnectError {
    /// A failure that retrying will not fix (a certificate we refuse).
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            ConnectError::Tls {
                certificate: true,
                ..
            }
        )
    }
}

/// TLS settings shared by every connection.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    config: Arc<ClientConfig>,
}

impl TlsSettings {
    /// Verify certificates against the webpki roots, or (with `insecure`)
    /// accept any certificate, signatures still checked.
    pub fn new(insecure: bool) -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()?;
        let config = if insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
                .with_no_client_auth()
        } else {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        Ok(TlsSettings {
            config: Arc::new(config),
        })
    }
}

/// `--tls-insecure`: any certificate chain is accepted; the handshake
/// signatures are still verified.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// An open connection to a pool, plain or TLS.
pub enum Connection {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

/// How often a blocked read gives the session a turn.
pub const POLL: Duration = Duration::from_millis(10);

fn tcp(url: &PoolUrl, timeout: Duration) -> Result<TcpStream, ConnectError> {
    let addr = format!("{}:{}", url.host, url.port);
    let addrs: Vec<_> = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|_| ConnectError::Resolve(addr.clone()))?
        .collect();
    let mut last = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                let io = |source| ConnectError::Io {
                    addr: addr.clone(),
                    source,
                };
                s.set_nodelay(true).map_err(io)?;
                let sock = socket2::SockRef::from(&s);
                let ka = socket2::TcpKeepalive::new()
                    .with_time(Duration::from_secs(60))
                    .with_interval(Duration::from_secs(10));
                sock.set_tcp_keepalive(&ka).map_err(io)?;
                s.set_write_timeout(Some(Duration::from_secs(10)))
                    .map_err(io)?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(ConnectError::Io {
        addr,
        source: last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address")),
    })
}

impl Connection {
    /// Connect (and for TLS, complete the handshake) within `timeout`.
    pub fn open(
        url: &PoolUrl,
        tls: Option<&TlsSettings>,
        timeout: Duration,
    ) -> Result<Connection, ConnectError> {
        let stream = tcp(url, timeout)?;
        let addr = format!("{}:{}", url.host, url.port);
        if !url.tls {
            stream
                .set_read_timeout(Some(POLL))
                .map_err(|source| ConnectError::Io { addr, source })?;
            return Ok(Connection::Plain(stream));
        }
        let tls_err = |why: String| ConnectError::Tls {
            addr: addr.clone(),
            why,
            certificate: false,
        };
        let settings = tls.ok_or_else(|| tls_err("no TLS settings".into()))?;
        let name = ServerName::try_from(url.host.clone()).map_err(|e| tls_err(e.to_string()))?;
        let conn = ClientConnection::new(Arc::clone(&settings.config), name)
            .map_err(|e| tls_err(e.to_string()))?;
        let mut s = StreamOwned::new(conn, stream);
        s.sock
            .set_read_timeout(Some(timeout))
            .map_err(|e| tls_err(e.to_string()))?;
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock).map_err(|e| {
                let certificate = e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                    .is_some_and(|r| matches!(r, rustls::Error::InvalidCertificate(_)));
                ConnectError::Tls {
                    addr: addr.clone(),
                    why: e.to_string(),
                    certificate,
                }
            })?;
        }
        s.sock
            .set_read_timeout(Some(POLL))
            .map_err(|e| tls_err(e.to_string()))?;
        Ok(Connection::Tls(Box::new(s)))
    }

    /// Read what is available: `Ok(0)` means the pool closed the
    /// connection; a timeout is `WouldBlock`/`TimedOut`.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Connection::Plain(s) => s.read(buf),
            Connection::Tls(s) => s.read(buf),
        }
    }

    /// Read what is available within the poll interval: `Ok(None)` when
    /// nothing came (a timeout), `Ok(Some(0))` when the pool closed the
    /// connection.
    pub fn poll(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self.read(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Write one whole line.
    pub fn write_line(&mut self, line: &str) -> io::Result<()> {
        self.write_bytes(line.as_bytes())
    }

    /// Write all of `bytes` (a line, or a Stratum V2 frame).
    pub fn write_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Connection::Plain(s) => s.write_all(bytes),
            Connection::Tls(s) => {
                s.write_all(bytes)?;
                s.flush()
            }
        }
    }

    /// Close politely (TLS close_notify), ignoring errors.
    pub fn close(self) {
        match self {
            Connection::Plain(s) => {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
            Connection::Tls(mut s) => {
                s.conn.send_close_notify();
                let _ = s.flush();
                let _ = s.sock.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// Why a `client.reconnect` to another host is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectRefused {
    #[error("{0:?} is not a host name")]
    NotAHost(String),
    #[error("{to} is not in the registered domain of {from}, nor listed in --allow-reconnect-to")]
    OtherDomain { from: String, to: String },
    #[error("{to} is another host than {from} (redirects to other hosts are off), nor listed in --allow-reconnect-to")]
    OtherHost { from: String, to: String },
}

/// Whether a pool at `from` may send the miner to host `to` with
/// `client.reconnect`: the same host; a host listed in `allow`
/// (`--allow-reconnect-to`, case-insensitive); or, with `same_domain`, a
/// host of the same registered domain (`eu.pool.example` from
/// `pool.example`, by the Public Suffix List, so `a.github.io` and
/// `b.github.io` are different owners). IP addresses match only
/// themselves or the list.
pub fn redirect_allowed(
    from: &str,
    to: &str,
    allow: &[String],
    same_domain: bool,
) -> Result<(), RedirectRefused> {
    let norm = |h: &str| h.trim_end_matches('.').to_ascii_lowercase();
    let (from_n, to_n) = (norm(from), norm(to));
    let is_ip = |h: &str| h.parse::<std::net::IpAddr>().is_ok();
    let hostname = |h: &str| {
        !h.is_empty()
            && h.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    if !is_ip(&to_n) && !hostname(&to_n) {
        return Err(RedirectRefused::NotAHost(to.chars().take(80).collect()));
    }
    if to_n == from_n || allow.iter().any(|a| norm(a) == to_n) {
        return Ok(());
    }
    if !same_domain {
        return Err(RedirectRefused::OtherHost {
            from: from.to_string(),
            to: to.to_string(),
        });
    }
    let registered = |h: &str| {
        if is_ip(h) {
            None
        } else {
            psl::domain_str(h).map(str::to_string)
        }
    };
    match (registered(&from_n), registered(&to_n)) {
        (Some(a), Some(b)) if a == b => Ok(()),
        _ => Err(RedirectRefused::OtherDomain {
            from: from.to_string(),
            to: to.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_within_the_registered_domain_or_the_list() {
        let none: &[String] = &[];
        let ok = |from, to| redirect_allowed(from, to, none, true).is_ok();
        assert!(ok("pool.example.com", "pool.example.com"));
        assert!(ok("pool.example.com", "POOL.example.com."));
        assert!(ok("pool.example.com", "eu.pool.example.com"));
        assert!(ok("eu1.example.co.uk", "us2.example.co.uk"));
        assert!(ok("example.com", "stratum.example.com"));
        assert!(!ok("pool.example.com", "pool.example.net"));
        assert!(!ok("pool.example.com", "evil.com"));
        assert!(!ok("pool.example.com", "example.com.evil.com"));
        // Different owners under a public suffix.
        assert!(!ok("a.github.io", "b.github.io"));
        assert!(!ok("pool.example.co.uk", "other.co.uk"));
        // Addresses only match themselves.
        assert!(ok("127.0.0.1", "127.0.0.1"));
        assert!(!ok("127.0.0.1", "127.0.0.2"));
        assert!(!ok("10.0.0.1", "localhost"));
        assert!(!ok("::1", "127.0.0.1"));
        // Not a host name at all.
        for bad in ["", "a b", "host\u{7}", "a..b", "-x.com", "x/y"] {
            assert!(matches!(
                redirect_allowed("pool.example.com", bad, none, true),
                Err(RedirectRefused::NotAHost(_))
            ));
        }
        // The list allows anything named in it; off, only the same host.
        let allow = vec!["Backup.Other.NET".to_string(), "10.0.0.2".to_string()];
        assert!(redirect_allowed("pool.example.com", "backup.other.net", &allow, true).is_ok());
        assert!(redirect_allowed("10.0.0.1", "10.0.0.2", &allow, false).is_ok());
        assert!(redirect_allowed("pool.example.com", "eu.pool.example.com", none, false).is_err());
        assert!(redirect_allowed("pool.example.com", "pool.example.com", none, false).is_ok());
    }
}
