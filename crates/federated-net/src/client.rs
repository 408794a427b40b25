//! The HTTPS client every node and submitter uses: reqwest on a ring-based rustls
//! configuration that presents the party's certificate and trusts only the federation CA.

use std::time::{Duration, Instant};

use pets::federated::secagg::RoundId;
use pets::federated::wire::to_wire;
use reqwest::StatusCode;
use serde::Serialize;

use crate::error::{NetError, Result};
use crate::messages::{Envelope, nonce};
use crate::tls::TlsFiles;

/// A party's connection to the aggregator.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    poll: Duration,
}

/// What a GET returned.
#[derive(Debug)]
pub enum Got {
    /// 200: the body.
    Ready(Vec<u8>),
    /// 202 or 204: not yet.
    Wait,
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// Whether `e` was caused by a refused TCP connection (nothing listening).
fn refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = src {
        if let Some(io) = c.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        src = c.source();
    }
    false
}

impl Client {
    /// A client of the aggregator at `base` (`https://host:port`) as the party of `tls`.
    pub fn new(base: &str, tls: &TlsFiles, poll: Duration) -> Result<Client> {
        Client::with_config(base, tls.client_config()?, poll)
    }

    /// A client of the party `name` at `base`: the handshake fails unless the server's
    /// certificate, besides being the federation CA's and valid for the address, names
    /// `name` ([`TlsFiles::client_config_pinned`]).
    pub fn pinned(base: &str, tls: &TlsFiles, name: &str, poll: Duration) -> Result<Client> {
        Client::with_config(base, tls.client_config_pinned(name)?, poll)
    }

    fn with_config(base: &str, config: rustls::ClientConfig, poll: Duration) -> Result<Client> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(config)
            .https_only(true)
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| NetError::Connect {
                url: base.to_string(),
                reason: chain(&e),
                down: false,
            })?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            poll,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    fn connect_err(&self, path: &str, e: reqwest::Error) -> NetError {
        NetError::Connect {
            url: self.url(path),
            reason: chain(&e),
            down: refused(&e),
        }
    }

    /// POST raw bytes; the status and the body.
    pub async fn post_bytes(&self, path: &str, body: Vec<u8>) -> Result<(StatusCode, Vec<u8>)> {
        let resp = self
            .http
            .post(self.url(path))
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .map_err(|e| self.connect_err(path, e))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| self.connect_err(path, e))?;
        Ok((status, body.to_vec()))
    }

    /// Wrap `message` in an envelope for `round` with a fresh nonce, encode it.
    pub fn envelope<T: Serialize>(round: RoundId, message: T) -> Result<Vec<u8>> {
        Ok(to_wire(&Envelope {
            round,
            nonce: nonce(),
            message,
        })?)
    }

    /// POST `message` for `round`; an error with the aggregator's reason unless accepted.
    pub async fn post<T: Serialize>(
        &self,
        path: &str,
        round: RoundId,
        message: T,
        what: &str,
    ) -> Result<Vec<u8>> {
        let body = Client::envelope(round, message)?;
        let (status, body) = self.post_bytes(path, body).await?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(NetError::Refused {
                what: what.to_string(),
                status: status.as_u16(),
                reason: String::from_utf8_lossy(&body).into_owned(),
            })
        }
    }

    /// GET once.
    pub async fn get(&self, path: &str, what: &str) -> Result<Got> {
        let resp = self
            .http
            .get(self.url(path))
            .send()
            .await
            .map_err(|e| self.connect_err(path, e))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| self.connect_err(path, e))?;
        match status {
            StatusCode::OK => Ok(Got::Ready(body.to_vec())),
            StatusCode::ACCEPTED | StatusCode::NO_CONTENT => Ok(Got::Wait),
            s => Err(NetError::Refused {
                what: what.to_string(),
                status: s.as_u16(),
                reason: String::from_utf8_lossy(&body).into_owned(),
            }),
        }
    }

    /// Connect and complete the TLS handshake (a GET of `path`, whatever it answers): `Ok`
    /// once the server has proved it is who this client expects (with [`Client::pinned`]:
    /// the party named), the connection error otherwise. Sends no message; the connection
    /// is kept for the requests that follow.
    pub async fn handshake(&self, path: &str) -> Result<()> {
        match self.get(path, "a handshake").await {
            Ok(_) | Err(NetError::Refused { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// GET until ready or `wait` has passed.
    pub async fn poll(&self, path: &str, what: &str, wait: Duration) -> Result<Vec<u8>> {
        let until = Instant::now() + wait;
        loop {
            if let Got::Ready(b) = self.get(path, what).await? {
                return Ok(b);
            }
            if Instant::now() >= until {
                return Err(NetError::Refused {
                    what: what.to_string(),
                    status: 408,
                    reason: format!("not ready after {:.0} s", wait.as_secs_f64()),
                });
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}
