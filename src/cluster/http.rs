//! One HTTP/1.1 request on a new connection: plain TCP (to etcd on its
//! client port) or TLS pinned to a peer's certificate (node to node). The
//! admin path is not hot; a connection per request keeps failure simple
//! (a stopped peer or etcd costs one timeout, never a poisoned pool).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{self, DigitallySignedStruct, SignatureScheme};
use tokio_rustls::TlsConnector;

/// A request to send: method, path and query, extra headers, body.
pub(crate) struct Outgoing<'a> {
    pub(crate) method: &'a str,
    pub(crate) path_and_query: &'a str,
    pub(crate) headers: &'a [(&'a str, &'a str)],
    pub(crate) body: Bytes,
}

/// Sends `req` to `addr` over plain TCP within `timeout`.
pub(crate) async fn plain(
    addr: SocketAddr,
    req: Outgoing<'_>,
    timeout: Duration,
) -> Result<(u16, Bytes), String> {
    tokio::time::timeout(timeout, async {
        let tcp = TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
        exchange(tcp, addr, req).await
    })
    .await
    .map_err(|_| format!("no answer from {addr} within {timeout:?}"))?
}

/// Sends `req` to `addr` over TLS, accepting only a certificate whose
/// SHA-256 is `pinned`, within `timeout`.
pub(crate) async fn pinned_tls(
    addr: SocketAddr,
    pinned: [u8; 32],
    req: Outgoing<'_>,
    timeout: Duration,
) -> Result<(u16, Bytes), String> {
    tokio::time::timeout(timeout, async {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(Pinned { sha256: pinned, provider: provider.clone() });
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        let tcp = TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
        let name = ServerName::IpAddress(addr.ip().into());
        let tls = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {addr}: {e}"))?;
        exchange(tls, addr, req).await
    })
    .await
    .map_err(|_| format!("no answer from {addr} within {timeout:?}"))?
}

async fn exchange<S>(stream: S, addr: SocketAddr, req: Outgoing<'_>) -> Result<(u16, Bytes), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut send, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP with {addr}: {e}"))?;
    let driver = tokio::spawn(conn);
    let mut builder = Request::builder()
        .method(req.method)
        .uri(req.path_and_query)
        .header("host", addr.to_string())
        .header("content-type", "application/json");
    for (k, v) in req.headers {
        builder = builder.header(*k, *v);
    }
    let request = builder.body(Full::new(req.body)).map_err(|e| e.to_string())?;
    let resp = send.send_request(request).await.map_err(|e| format!("HTTP with {addr}: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading {addr}'s answer: {e}"))?
        .to_bytes();
    driver.abort();
    Ok((status, body))
}

/// Accepts exactly one certificate (by SHA-256), whatever its names: the
/// fingerprint a peer published in etcd when it joined.
#[derive(Debug)]
struct Pinned {
    sha256: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let digest = ring::digest::digest(&ring::digest::SHA256, end_entity.as_ref());
        if digest.as_ref() == self.sha256 {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("not the certificate this node published".into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
