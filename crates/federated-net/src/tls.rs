//! Mutual TLS: every party holds a certificate signed by the federation's CA, and every
//! connection is authenticated both ways (rustls on the `ring` provider; no home-made
//! cryptography). A party's name is its certificate's common name: the aggregator knows a
//! trust by the certificate it connected with, never by what a message claims.
//!
//! [`generate_federation`] writes a CA and one certificate per party (rcgen), for tests,
//! examples and trials; a deployment uses its own PKI.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{NetError, Result};

/// Where a party's certificate, key and the federation's CA certificate are (PEM files).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TlsFiles {
    /// The party's certificate chain (PEM).
    pub cert: PathBuf,
    /// The party's private key (PEM, PKCS#8).
    pub key: PathBuf,
    /// The federation CA's certificate (PEM): the only root trusted.
    pub ca: PathBuf,
}

impl TlsFiles {
    /// Resolve relative paths against `dir` (the config file's folder).
    pub fn relative_to(mut self, dir: &Path) -> TlsFiles {
        for p in [&mut self.cert, &mut self.key, &mut self.ca] {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        }
        self
    }

    fn certs(&self) -> Result<Vec<CertificateDer<'static>>> {
        let certs = CertificateDer::pem_file_iter(&self.cert)
            .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| NetError::tls(format!("reading {}: {e}", self.cert.display())))?;
        if certs.is_empty() {
            return Err(NetError::tls(format!(
                "{} holds no certificate",
                self.cert.display()
            )));
        }
        Ok(certs)
    }

    fn key(&self) -> Result<PrivateKeyDer<'static>> {
        PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|e| NetError::tls(format!("reading the key {}: {e}", self.key.display())))
    }

    fn roots(&self) -> Result<RootCertStore> {
        let mut roots = RootCertStore::empty();
        let cas = CertificateDer::pem_file_iter(&self.ca)
            .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| NetError::tls(format!("reading the CA {}: {e}", self.ca.display())))?;
        for ca in cas {
            roots
                .add(ca)
                .map_err(|e| NetError::tls(format!("the CA {}: {e}", self.ca.display())))?;
        }
        if roots.is_empty() {
            return Err(NetError::tls(format!(
                "{} holds no CA certificate",
                self.ca.display()
            )));
        }
        Ok(roots)
    }

    /// This party's own name (its certificate's common name).
    pub fn own_name(&self) -> Result<String> {
        let certs = self.certs()?;
        peer_name(&certs[0])
            .ok_or_else(|| NetError::tls(format!("{} has no common name", self.cert.display())))
    }

    /// The aggregator's TLS configuration: its certificate, and a client certificate signed
    /// by the federation CA required of every connection.
    pub fn server_config(&self) -> Result<ServerConfig> {
        let provider = provider();
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(self.roots()?), provider.clone())
                .build()
                .map_err(|e| NetError::tls(format!("client verifier: {e}")))?;
        ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| NetError::tls(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.certs()?, self.key()?)
            .map_err(|e| NetError::tls(format!("the aggregator's certificate: {e}")))
    }

    /// A node's or submitter's TLS configuration: trust only the federation CA, present
    /// this party's certificate.
    pub fn client_config(&self) -> Result<ClientConfig> {
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| NetError::tls(e.to_string()))?
            .with_root_certificates(self.roots()?)
            .with_client_auth_cert(self.certs()?, self.key()?)
            .map_err(|e| NetError::tls(format!("this party's certificate: {e}")))
    }

    /// As [`TlsFiles::client_config`], and the server must also be the party `name`: its
    /// certificate (already verified against the federation CA and the address, as webpki
    /// does) must carry `name` as its common name, or the handshake fails. Every party of a
    /// federation holds a certificate from the same CA, valid for the same addresses in a
    /// trial; the name is what tells Prio3's helper from, say, a trust.
    pub fn client_config_pinned(&self, name: &str) -> Result<ClientConfig> {
        let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(self.roots()?),
            provider(),
        )
        .build()
        .map_err(|e| NetError::tls(format!("server verifier: {e}")))?;
        let mut config = self.client_config()?;
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(PinnedName {
                inner,
                name: name.to_string(),
            }));
        Ok(config)
    }
}

/// The federation CA's verification (webpki), then the server's common name against the
/// one expected.
#[derive(Debug)]
struct PinnedName {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    name: String,
}

/// A server whose certificate names another party than the one pinned (its `Debug` is its
/// message: rustls prints it so).
struct WrongParty {
    expected: String,
    found: Option<String>,
}

impl std::fmt::Display for WrongParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server's certificate names {}, not {:?} (the name pinned in the configuration)",
            self.found
                .as_deref()
                .map(|n| format!("{n:?}"))
                .unwrap_or_else(|| "no party".into()),
            self.expected
        )
    }
}

impl std::fmt::Debug for WrongParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for WrongParty {}

impl rustls::client::danger::ServerCertVerifier for PinnedName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls_pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls_pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let found = peer_name(end_entity);
        if found.as_deref() == Some(self.name.as_str()) {
            Ok(verified)
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Other(rustls::OtherError(Arc::new(WrongParty {
                    expected: self.name.clone(),
                    found,
                }))),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The common name of a certificate (the party's name), if it has one.
pub fn peer_name(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, x509) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let cn = x509.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_string)
}

/// Files written by [`generate_federation`].
#[derive(Debug, Clone)]
pub struct Federation {
    /// The folder.
    pub dir: PathBuf,
}

impl Federation {
    /// The TLS files of `party` (`aggregator`, a trust, a submitter).
    pub fn party(&self, party: &str) -> TlsFiles {
        TlsFiles {
            cert: self.dir.join(format!("{party}.pem")),
            key: self.dir.join(format!("{party}.key")),
            ca: self.dir.join("ca.pem"),
        }
    }
}

/// Write a new federation CA (`ca.pem`; its key is not kept) and, signed by it, a
/// certificate and key for each of `parties` (`NAME.pem`, `NAME.key`), valid for
/// `localhost` and `127.0.0.1` (the aggregator's name in tests and examples).
pub fn generate_federation(dir: &Path, parties: &[&str]) -> Result<Federation> {
    generate_federation_with_expired(dir, parties, &[])
}

/// As [`generate_federation`], with the certificates of `expired` (also in `parties`)
/// valid only in the year 2000 (for tests of expired certificates).
pub fn generate_federation_with_expired(
    dir: &Path,
    parties: &[&str],
    expired: &[&str],
) -> Result<Federation> {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose, SanType,
    };
    let gen_err = |e: rcgen::Error| NetError::tls(format!("generating certificates: {e}"));
    std::fs::create_dir_all(dir).map_err(|e| NetError::io(dir, e))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(gen_err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "pets federation CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(gen_err)?)
        .map_err(gen_err)?;
    write(&dir.join("ca.pem"), &ca.pem())?;
    for &party in parties {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(gen_err)?;
        params.distinguished_name.push(DnType::CommonName, party);
        params.subject_alt_names = vec![
            SanType::DnsName("localhost".try_into().map_err(gen_err)?),
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        ];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if expired.contains(&party) {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2000, 12, 31);
        }
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().map_err(gen_err)?;
        let cert = params.signed_by(&key, &ca).map_err(gen_err)?;
        write(&dir.join(format!("{party}.pem")), &cert.pem())?;
        write(&dir.join(format!("{party}.key")), &key.serialize_pem())?;
    }
    Ok(Federation {
        dir: dir.to_path_buf(),
    })
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| NetError::io(path, e))
}
