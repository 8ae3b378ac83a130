//! TLS to PostgreSQL: libpq's `sslmode` and `sslrootcert` in the
//! `--index-db` URL, with rustls (the TLS stack the object store's client
//! already uses) through `tokio-postgres-rustls`.
//!
//! What each `sslmode` does (as libpq, except where noted):
//!
//! | `sslmode` | encrypted | the server's certificate |
//! |---|---|---|
//! | `disable` | never | - |
//! | `prefer` (the default) | when the server offers TLS, else in clear | not checked |
//! | `require` | always (refused otherwise) | not checked; with `sslrootcert=PATH`, as `verify-ca` (libpq does the same) |
//! | `verify-ca` | always | signed by a trusted CA; any name |
//! | `verify-full` | always | signed by a trusted CA, and names the host of the URL (DNS name or IP address) |
//!
//! Trusted CAs: the PEM certificates of `sslrootcert=PATH`, else the
//! system's roots (`sslrootcert=system`, or no `sslrootcert`). libpq would
//! read `~/.postgresql/root.crt` when none is given; a server process has
//! no such home, so the system's roots are the default here, as managed
//! databases (RDS, Cloud SQL, Azure, ...) are usually reached with
//! `sslrootcert=PATH` to the provider's CA bundle anyway.
//!
//! `tokio-postgres` parses `sslmode` only up to `require`, and not
//! `sslrootcert`: both are taken out of the URL here ([`parse`]) and the
//! rest is left to it. Nothing else of libpq's TLS options is read
//! (`sslcert`/`sslkey`, client certificates, are refused by its parser as
//! unknown options).

use crate::store::StoreError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Where the trusted CAs come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Roots {
    System,
    File(PathBuf),
}

/// An `--index-db` URL, parsed: what `tokio-postgres` connects to, and how.
pub(crate) struct Target {
    pub config: tokio_postgres::Config,
    pub mode: SslMode,
    pub tls: MakeRustlsConnect,
}

fn bad(why: impl std::fmt::Display) -> StoreError {
    // The URL itself is never repeated: it may hold a password.
    StoreError::Corrupt(format!("--index-db: {why}"))
}

/// Parses `url` (`postgres://USER[:PASSWORD]@HOST:PORT/DB[?PARAMS]`), with
/// `sslmode` and `sslrootcert` among the parameters, and builds its TLS
/// configuration (reading `sslrootcert` or the system's roots when the
/// mode verifies).
pub(crate) fn parse(url: &str) -> Result<Target, StoreError> {
    let (rest, mode, roots) = split_tls_params(url)?;
    let mut config: tokio_postgres::Config = rest.parse().map_err(|e| {
        bad(format_args!(
            "not a postgres://USER[:PASSWORD]@HOST:PORT/DB URL ({})",
            super::pg::with_causes(&e)
        ))
    })?;
    config.ssl_mode(match mode {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        _ => tokio_postgres::config::SslMode::Require,
    });
    let tls = MakeRustlsConnect::new(client_config(mode, roots.as_ref())?);
    Ok(Target { config, mode, tls })
}

/// Takes `sslmode` and `sslrootcert` out of the URL's parameters: the URL
/// without them, the mode, and the roots (`None`: not given).
fn split_tls_params(url: &str) -> Result<(String, SslMode, Option<Roots>), StoreError> {
    // Parameters start at the first `?` after the credentials (up to the
    // first `@`), as tokio-postgres and libpq read it.
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    let creds_end = url[after_scheme..]
        .find('@')
        .map(|i| after_scheme + i + 1)
        .unwrap_or(after_scheme);
    let Some(q) = url[creds_end..].find('?').map(|i| creds_end + i) else {
        return Ok((url.to_owned(), SslMode::Prefer, None));
    };
    let mut mode = None;
    let mut roots = None;
    let mut kept = Vec::new();
    for pair in url[q + 1..].split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "sslmode" => {
                mode = Some(match v {
                    "disable" => SslMode::Disable,
                    "allow" | "prefer" => SslMode::Prefer,
                    "require" => SslMode::Require,
                    "verify-ca" => SslMode::VerifyCa,
                    "verify-full" => SslMode::VerifyFull,
                    _ => {
                        return Err(bad(format_args!(
                            "sslmode={v:?} is none of disable, prefer, require, verify-ca, \
                             verify-full"
                        )))
                    }
                })
            }
            "sslrootcert" => {
                let v = percent_decode(v).ok_or_else(|| bad("sslrootcert is not valid UTF-8"))?;
                roots = Some(if v == "system" {
                    Roots::System
                } else {
                    Roots::File(PathBuf::from(v))
                });
            }
            _ => kept.push(pair),
        }
    }
    let mode = match (mode, &roots) {
        // libpq: system roots imply verify-full, and refuse anything less.
        (None, Some(Roots::System)) => SslMode::VerifyFull,
        (Some(m), Some(Roots::System)) if m != SslMode::VerifyFull => {
            return Err(bad(
                "sslrootcert=system needs sslmode=verify-full (as libpq)",
            ))
        }
        // libpq: `require` with a root certificate file verifies the CA.
        (Some(SslMode::Require), Some(Roots::File(_))) => SslMode::VerifyCa,
        (m, _) => m.unwrap_or(SslMode::Prefer),
    };
    let mut rest = url[..q].to_owned();
    if !kept.is_empty() {
        rest.push('?');
        rest.push_str(&kept.join("&"));
    }
    Ok((rest, mode, roots))
}

/// `%XX` escapes decoded (URL parameters); `None` if not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).and_then(|&c| hex(c)),
            b.get(i + 2).and_then(|&c| hex(c)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The rustls client configuration for `mode`.
fn client_config(mode: SslMode, roots: Option<&Roots>) -> Result<rustls::ClientConfig, StoreError> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format_args!("TLS: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => {
            Arc::new(NotVerified(provider.clone()))
        }
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let roots = roots.cloned().unwrap_or(Roots::System);
            let store = root_store(&roots)?;
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider)
                .build()
                .map_err(|e| bad(format_args!("TLS roots: {e}")))?;
            Arc::new(Verified {
                webpki,
                check_name: mode == SslMode::VerifyFull,
                what: match (&roots, mode) {
                    (Roots::File(p), SslMode::VerifyCa) => {
                        format!("sslmode=verify-ca, CA from {}", p.display())
                    }
                    (Roots::File(p), _) => {
                        format!("sslmode=verify-full, CA from {}", p.display())
                    }
                    (Roots::System, SslMode::VerifyCa) => {
                        "sslmode=verify-ca, the system's CAs".into()
                    }
                    (Roots::System, _) => "sslmode=verify-full, the system's CAs".into(),
                },
            })
        }
    };
    let mut config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    // What libpq 17 sends (and PostgreSQL 17's direct TLS requires).
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(config)
}

fn root_store(roots: &Roots) -> Result<RootCertStore, StoreError> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::File(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(format_args!("sslrootcert {}: {e}", path.display())))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(format_args!("sslrootcert {}: {e}", path.display())))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(bad(format_args!(
                    "sslrootcert {}: no PEM certificate in it",
                    path.display()
                )));
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(bad(
                    "no system root certificates to verify the database's with: give \
                     sslrootcert=PATH (a PEM file of the CA)",
                ));
            }
        }
    }
    Ok(store)
}

/// `prefer` and `require`: encrypted, the certificate not checked (as
/// libpq). The handshake's signatures are still checked against the
/// certificate's key.
#[derive(Debug)]
struct NotVerified(Arc<CryptoProvider>);

impl ServerCertVerifier for NotVerified {
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
        verify_tls12_signature(
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
        verify_tls13_signature(
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

/// `verify-ca` and `verify-full`: the chain to a trusted CA (and the
/// validity dates), and for `verify-full` the host name. A failure says
/// which mode and which CAs refused it.
#[derive(Debug)]
struct Verified {
    webpki: Arc<WebPkiServerVerifier>,
    check_name: bool,
    what: String,
}

impl ServerCertVerifier for Verified {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain before the name: a name error means the
        // chain was good.
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(v) => Ok(v),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            Err(rustls::Error::InvalidCertificate(e)) => {
                let why = match &e {
                    CertificateError::UnknownIssuer => "is not signed by a trusted CA".to_string(),
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. } => {
                        format!("does not name the host {}", server_name.to_str())
                    }
                    e => format!("{e:?}"),
                };
                Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                    rustls::OtherError(Arc::new(Refused(format!(
                        "the database server's certificate {why} ({}; {e:?})",
                        self.what
                    )))),
                )))
            }
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dist::pg::Pg;

    /// A pool for `url` on a runtime of its own, and one query's answer.
    fn query_bool(url: &str, sql: &'static str) -> Result<bool, StoreError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let pg = Pg::new(url, rt.handle().clone())?;
        let r = pg.run(async |c| Ok(c.query_one(sql, &[]).await?.get::<_, bool>(0)));
        drop(pg);
        rt.shutdown_background();
        r
    }

    const ENCRYPTED: &str = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

    /// Whether a connection to `url` is encrypted (it must connect).
    fn encrypted(url: &str) -> bool {
        query_bool(url, ENCRYPTED).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    /// Why a connection to `url` fails (it must fail).
    fn refused(url: &str) -> String {
        match query_bool(url, ENCRYPTED) {
            Ok(ssl) => panic!("{url} connected (encrypted: {ssl})"),
            Err(e) => e.to_string(),
        }
    }

    /// The TLS server, a new database on it (its URL), and the CA that
    /// signed the server's certificate and another (their paths).
    fn tls_db() -> (&'static reel_testsvc::Postgres, String, String, String) {
        let pg = reel_testsvc::postgres_tls();
        let tls = pg.tls().unwrap();
        let (ca, other) = (tls.ca.display(), tls.other_ca.display());
        (pg, pg.create_database(), ca.to_string(), other.to_string())
    }

    /// `verify-full` with the CA that signed the server's certificate
    /// connects, by name or by IP address, and the server says the
    /// connection is encrypted; so does the default (`prefer`) against a
    /// server that offers TLS.
    #[test]
    fn verify_full_with_the_right_ca_is_encrypted() {
        let (pg, url, ca, _) = tls_db();
        let by_name = url.replace("127.0.0.1", "localhost");
        for u in [&url, &by_name] {
            let u = format!("{u}?sslmode=verify-full&sslrootcert={ca}");
            assert!(encrypted(&u), "{u}");
        }
        assert!(encrypted(&url), "prefer");
        assert!(encrypted(&format!("{url}?sslmode=require")));
        // verify-ca does not look at the name; verify-full does.
        let port = pg.port();
        let other_name = format!(
            "postgres://reel@not-the-server:{port}/{}?hostaddr=127.0.0.1&sslrootcert={ca}",
            url.rsplit('/').next().unwrap()
        );
        assert!(encrypted(&format!("{other_name}&sslmode=verify-ca")));
        let e = refused(&format!("{other_name}&sslmode=verify-full"));
        assert!(e.contains("does not name the host not-the-server"), "{e}");
    }

    /// The wrong CA fails the connection at once, saying why.
    #[test]
    fn verify_full_with_another_ca_fails_clearly() {
        let (_, url, _, other) = tls_db();
        for mode in ["verify-full", "verify-ca", "require"] {
            let e = refused(&format!("{url}?sslmode={mode}&sslrootcert={other}"));
            assert!(
                e.contains("certificate is not signed by a trusted CA") && e.contains(&other),
                "{mode}: {e}"
            );
        }
    }

    /// `require` against a server without TLS is refused; a server that
    /// takes TLS only (`hostssl`) refuses a plain connection.
    #[test]
    fn require_against_plain_and_plain_against_tls_only_are_refused() {
        let plain = reel_testsvc::postgres().create_database();
        let e = refused(&format!("{plain}?sslmode=require"));
        assert!(e.contains("server does not support TLS"), "{e}");
        assert!(!encrypted(&plain), "prefer falls back");
        let (_, tls_only, _, _) = tls_db();
        let e = refused(&format!("{tls_only}?sslmode=disable"));
        assert!(
            e.contains("no pg_hba.conf entry") && e.contains("no encryption"),
            "{e}"
        );
    }

    /// A whole deployment over verify-full: the pool, the migrations and
    /// the retention lock's own connection are all encrypted.
    #[test]
    fn a_deployment_over_verify_full() {
        use crate::store::Storage;
        let (pg, url, ca, _) = tls_db();
        let db = url.rsplit('/').next().unwrap().to_owned();
        let s3 = reel_testsvc::s3();
        let bucket = s3.create_bucket();
        let s = crate::store::dist::DistStorage::open_with_env(
            &bucket,
            &format!("{url}?sslmode=verify-full&sslrootcert={ca}"),
            &s3.env(),
        )
        .unwrap();
        assert!(s.hold_sweeper_lock().unwrap());
        assert!(s.config_get("nothing").unwrap().is_none());
        let plain = pg.psql(
            "postgres",
            &format!(
                "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl USING (pid) \
                 WHERE a.datname = '{db}' AND a.application_name LIKE 'reel-server%' \
                 AND NOT ssl"
            ),
        );
        let all = pg.psql(
            "postgres",
            &format!(
                "SELECT count(DISTINCT application_name) FROM pg_stat_activity \
                 WHERE datname = '{db}' AND application_name LIKE 'reel-server%'"
            ),
        );
        assert_eq!((plain.trim(), all.trim()), ("0", "2"));
    }

    fn split(url: &str) -> (String, SslMode, Option<Roots>) {
        split_tls_params(url).unwrap()
    }

    #[test]
    fn sslmode_and_sslrootcert_are_taken_out_of_the_url() {
        let u = "postgres://u:p?w@h:5432/db";
        assert_eq!(split(u), (u.to_owned(), SslMode::Prefer, None));
        assert_eq!(
            split("postgres://u@h/db?sslmode=verify-full&sslrootcert=/etc/ca%20x.pem&application_name=a"),
            (
                "postgres://u@h/db?application_name=a".to_owned(),
                SslMode::VerifyFull,
                Some(Roots::File("/etc/ca x.pem".into()))
            )
        );
        assert_eq!(split("postgres://h/db?sslmode=disable").1, SslMode::Disable);
        assert_eq!(
            split("postgres://h/db?sslmode=verify-ca").1,
            SslMode::VerifyCa
        );
        // As libpq: `require` with a CA file verifies the CA; system roots
        // mean verify-full.
        assert_eq!(
            split("postgres://h/db?sslmode=require&sslrootcert=/ca.pem").1,
            SslMode::VerifyCa
        );
        assert_eq!(split("postgres://h/db?sslmode=require").1, SslMode::Require);
        assert_eq!(
            split("postgres://h/db?sslrootcert=system").1,
            SslMode::VerifyFull
        );
        for bad in [
            "postgres://h/db?sslmode=verify",
            "postgres://h/db?sslmode=require&sslrootcert=system",
        ] {
            assert!(split_tls_params(bad).is_err(), "{bad}");
        }
        // The password never appears in an error.
        let e = parse("postgres://u:secret@h/db?sslmode=nope")
            .err()
            .unwrap();
        assert!(!e.to_string().contains("secret"), "{e}");
        let e = parse("postgres://u:secret@h/db?sslcert=x").err().unwrap();
        assert!(
            e.to_string().contains("sslcert") && !e.to_string().contains("secret"),
            "{e}"
        );
        let e = parse("postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
            .err()
            .unwrap();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }
}
