//! `tls` (with `docker.tls = true`; needs `port`, and `docker-api` needs it): mutual TLS on
//! the port, proven from both sides.
//!
//! A handshake with the client certificate of `DOCKER_CERT_PATH` (or `--certs`) must succeed
//! and `GET /_ping` answer; a second handshake without any client certificate must be refused.
//! Each way of failing is its own reason: the port speaks plain HTTP, the client files are
//! missing or do not match, the server's certificate is not from the CA in use, does not name
//! `vm.hostname` and `vm.ip`, has expired or is not valid yet, dockerd refuses the client
//! certificate, or accepts clients without one (`--tls` without `--tlsverify`).

use super::{Ctx, human};
use crate::finding::{CheckId, Finding, Status};
use camino::Utf8PathBuf;
use dockvm_certs::read::{CertInfo, ClientFiles, ClientFilesError, San};
use dockvm_engine::transport as http;
use dockvm_engine::{Endpoint, HttpError};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::io::{self, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// A certificate that expires sooner than this is a warning.
const RENEW_WITHIN: Duration = Duration::from_secs(30 * 86400);

/// The client side of TLS, prepared once per run: where the files are and what they hold.
#[derive(Debug)]
pub struct TlsSetup {
    pub dir: Utf8PathBuf,
    /// Where `dir` came from: `--certs`, `DOCKER_CERT_PATH`, or the default.
    pub source: &'static str,
    pub files: Result<ClientFiles, ClientFilesError>,
}

impl TlsSetup {
    /// The folder is `--certs`, else `DOCKER_CERT_PATH`, else where `dockvm install --certs`
    /// puts the client files (`~/.docker/dockvm-<vm>`).
    pub fn load(
        spec: &dockvm_spec::Spec,
        env: &super::Env,
        certs: Option<&camino::Utf8Path>,
    ) -> TlsSetup {
        let (dir, source) = match (certs, env.docker_cert_path.as_deref()) {
            (Some(d), _) => (d.to_owned(), "--certs"),
            (None, Some(d)) if !d.is_empty() => (Utf8PathBuf::from(d), "DOCKER_CERT_PATH"),
            _ => (
                env.home
                    .clone()
                    .unwrap_or_default()
                    .join(".docker")
                    .join(spec.cert_dir_name()),
                "the default folder",
            ),
        };
        let files = ClientFiles::load(&dir);
        TlsSetup { dir, source, files }
    }

    /// The Docker API endpoint over TLS: the server verified against the CA and the host name,
    /// the client certificate presented. `Err` says why there is none.
    pub fn endpoint(&self, spec: &dockvm_spec::Spec) -> Result<Endpoint, String> {
        let files = self.files.as_ref().map_err(|e| e.to_string())?;
        let provider = provider();
        let verifier = WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots(&files.ca)?),
            provider.clone(),
        )
        .build()
        .map_err(|e| format!("{}: {e}", self.dir.join(dockvm_spec::tls::CA)))?;
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_webpki_verifier(verifier)
            .with_client_cert_resolver(Arc::new(Identity(files.identity.clone())));
        Ok(Endpoint {
            addr: std::net::SocketAddr::from((spec.vm.ip, spec.docker.port)),
            tls: Some(http::Tls::new(Arc::new(config), server_name(spec))),
            pipe: None,
        })
    }
}

/// ring's provider, made once per process (the handshakes' verifiers ask for it repeatedly).
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: std::sync::OnceLock<Arc<CryptoProvider>> = std::sync::OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

fn roots(ca: &[CertificateDer<'static>]) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for c in ca {
        roots
            .add(c.clone())
            .map_err(|e| format!("ca.pem: not a usable CA certificate: {e}"))?;
    }
    Ok(roots)
}

/// The name a client verifies: `vm.hostname`, as the docker CLI does with DOCKER_HOST.
fn server_name(spec: &dockvm_spec::Spec) -> ServerName<'static> {
    ServerName::try_from(spec.vm.hostname.to_string()).expect("a validated host name")
}

pub fn check(ctx: &Ctx<'_>) -> Finding {
    let deadline = Instant::now() + ctx.timeout;
    let addr = ctx.api_addr();
    let spec = ctx.spec;
    let setup = ctx
        .tls
        .expect("the tls check runs only for a spec with docker.tls");
    let expected = format!(
        "mutual TLS at {addr}: a certificate for {} and {} from the CA in {}, the client certificate accepted, a client without one refused",
        spec.vm.hostname,
        spec.vm.ip,
        setup.dir.join(dockvm_spec::tls::CA)
    );
    let f = |status, reason: String| {
        Finding::new(CheckId::Tls, status, reason).expected(expected.clone())
    };

    // 1. A client without a certificate: what the server speaks, its chain, and whether it lets
    //    a stranger in; the client with a certificate asks at the same time (step 4).
    let (stranger, with_cert, recorder) = both_handshakes(ctx, deadline);
    let stranger = match stranger {
        Ok(r) => r,
        Err(failed) => return failed.finding(ctx, f(Status::Fail, String::new())),
    };
    let Some((leaf, intermediates)) = recorder.chain() else {
        return f(
            Status::Error,
            "the handshake finished without a server certificate".into(),
        );
    };
    let server = match dockvm_certs::read::info(&leaf) {
        Ok(i) => i,
        Err(e) => {
            return f(
                Status::Fail,
                format!("the server's certificate is unreadable: {e}"),
            )
            .actual(e.to_string());
        }
    };

    // 2. The client's files.
    let files = match &setup.files {
        Ok(files) => files,
        Err(e) => return unusable_client_files(setup, e, f(Status::Fail, String::new())),
    };

    // 3. The server's certificate, judged with the CA in use.
    if let Some(bad) = judge(ctx, setup, files, &leaf, &intermediates, &server) {
        return bad;
    }

    // 4. The client certificate must get in.
    let with_cert = match (with_cert, ctx.api) {
        (Some(r), _) => r,
        (None, Err(e)) => return f(Status::Error, format!("cannot set up the TLS client: {e}")),
        (None, Ok(_)) => unreachable!("an endpoint always asks"),
    };
    if let Some(refused) = client_refused(setup, files, with_cert, f(Status::Fail, String::new())) {
        return refused;
    }

    // 5. A stranger must not get in.
    if let Stranger::Accepted = stranger {
        return f(
            Status::Fail,
            "dockerd accepts clients without a certificate: it runs with --tls, not --tlsverify".into(),
        )
        .actual("GET /_ping without a client certificate: 200 OK")
        .hint("use the drop-in `dockvm gen` writes (--tlsverify, and no --tlsverify=false in daemon.json or DOCKER_OPTS), then `systemctl daemon-reload && systemctl restart docker`");
    }

    // 6. Soon to expire: a warning with the date.
    works(ctx, setup, &server, files, expected)
}

/// Steps 1 and 4 at once: a handshake without a client certificate, recording the server's
/// chain, and `GET /_ping` through the run's own endpoint with the client certificate (its
/// session, a TLS 1.3 ticket, is resumed by docker-api and the share checks, which then skip
/// the certificate exchange). The latter is `None` when the endpoint could not be made.
#[allow(clippy::type_complexity)]
fn both_handshakes(
    ctx: &Ctx<'_>,
    deadline: Instant,
) -> (
    Result<Stranger, ProbeFailed>,
    Option<Result<dockvm_engine::Response, HttpError>>,
    Arc<Recorder>,
) {
    let recorder = Arc::new(Recorder::default());
    let anonymous = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let (stranger, with_cert) = std::thread::scope(|s| {
        let with_cert = ctx
            .api
            .as_ref()
            .ok()
            .map(|ep| s.spawn(move || ep.ping(deadline)));
        let stranger = probe(ctx, Arc::new(anonymous), deadline);
        (
            stranger,
            with_cert.map(|h| h.join().expect("the request does not panic")),
        )
    });
    (stranger, with_cert, recorder)
}

/// Everything held: a pass, or a warning when a certificate expires soon.
fn works(
    ctx: &Ctx<'_>,
    setup: &TlsSetup,
    server: &CertInfo,
    files: &ClientFiles,
    expected: String,
) -> Finding {
    let (spec, addr) = (ctx.spec, ctx.api_addr());
    let actual = format!(
        "server certificate for {}, valid until {}; a client without a certificate refused",
        sans(server),
        CertInfo::date(server.not_after)
    );
    let days_left = (server.not_after - unix_now()).div_euclid(86_400);
    let soon = expiring(server, files);
    if !soon.is_empty() {
        return Finding::new(CheckId::Tls, Status::Warn, format!("mutual TLS works, but {}", soon.join(" and ")))
            .expected(expected)
            .actual(actual)
            .hint("`dockvm certs --renew`, then `dockvm install --certs DIR` on each side and restart docker in the VM")
            .fact("server_days_left", days_left);
    }
    Finding::new(
        CheckId::Tls,
        Status::Pass,
        format!(
            "mutual TLS at {addr}: the server's certificate is from the CA in {} and names {} and {}; the client certificate is accepted, a client without one refused",
            setup.dir.join(dockvm_spec::tls::CA),
            spec.vm.hostname,
            spec.vm.ip
        ),
    )
    .expected(expected)
    .actual(actual)
    .fact("server_days_left", days_left)
}

/// Step 2's failure: the client files named, and how to get good ones.
fn unusable_client_files(setup: &TlsSetup, e: &ClientFilesError, base: Finding) -> Finding {
    let hint = match e {
        ClientFilesError::Missing { .. } => format!(
            "`dockvm install --certs DIR` puts ca.pem, cert.pem and key.pem there (DIR: where `dockvm certs` wrote them); the folder came from {}",
            setup.source
        ),
        ClientFilesError::Mismatch { .. } => {
            "copy cert.pem and key.pem from the same `dockvm certs` folder".into()
        }
        ClientFilesError::Bad { .. } => {
            "copy the file again from the folder `dockvm certs` wrote".into()
        }
    };
    Finding {
        reason: format!("the client files cannot be used: {e}"),
        ..base
    }
    .actual(e.to_string())
    .hint(hint)
}

/// Step 4: the answer to `GET /_ping` with the client certificate; `None` when it got in.
fn client_refused(
    setup: &TlsSetup,
    files: &ClientFiles,
    with_cert: Result<dockvm_engine::Response, HttpError>,
    base: Finding,
) -> Option<Finding> {
    let fail = |reason: String| Finding {
        reason,
        ..base.clone()
    };
    match with_cert {
        Ok(r) if r.status == 200 => None,
        Ok(r) => Some(
            fail(format!(
                "GET /_ping over TLS with the client certificate gave {}",
                r.status_line
            ))
            .actual(r.status_line)
            .hint("something other than dockerd answers TLS on this port"),
        ),
        Err(e) => {
            let client = files
                .identity
                .cert
                .first()
                .and_then(|c| dockvm_certs::read::info(c).ok());
            let issuer = client.map(|c| c.issuer).unwrap_or_else(|| "?".into());
            Some(
                fail(format!(
                    "dockerd refused the client certificate {} (issued by \"{issuer}\"): {}",
                    setup.dir.join(dockvm_spec::tls::CLIENT_CERT),
                    what_failed(&e)
                ))
                .actual(e.to_string())
                .hint(format!(
                    "dockerd trusts another CA (--tlscacert in the VM): install the server files of the same `dockvm certs` folder in {} and restart docker",
                    dockvm_spec::tls::VM_DIR
                )),
            )
        }
    }
}

/// Step 6: which certificates expire within [`RENEW_WITHIN`], with their dates.
fn expiring(server: &CertInfo, files: &ClientFiles) -> Vec<String> {
    let now = unix_now();
    let client = files
        .identity
        .cert
        .first()
        .and_then(|c| dockvm_certs::read::info(c).ok());
    [("server", Some(server)), ("client", client.as_ref())]
        .into_iter()
        .filter_map(|(what, info)| {
            let i = info?;
            (i.not_after - now < RENEW_WITHIN.as_secs() as i64).then(|| {
                format!(
                    "the {what} certificate expires {}",
                    CertInfo::date(i.not_after)
                )
            })
        })
        .collect()
}

/// The server's certificate against the CA in use, the SANs and the dates; `None` when good.
fn judge(
    ctx: &Ctx<'_>,
    setup: &TlsSetup,
    files: &ClientFiles,
    leaf: &CertificateDer<'static>,
    intermediates: &[CertificateDer<'static>],
    server: &CertInfo,
) -> Option<Finding> {
    let spec = ctx.spec;
    let ca_path = setup.dir.join(dockvm_spec::tls::CA);
    let f = |reason: String| Finding::new(CheckId::Tls, Status::Fail, reason);
    let roots = match roots(&files.ca) {
        Ok(r) => r,
        Err(e) => return Some(f(format!("{}: {e}", setup.dir))),
    };
    let verifier =
        match WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider()).build() {
            Ok(v) => v,
            Err(e) => return Some(f(format!("{ca_path}: {e}"))),
        };
    let ca_subjects: Vec<String> = files
        .ca
        .iter()
        .filter_map(|c| dockvm_certs::read::info(c).ok())
        .map(|c| format!("\"{}\"", c.subject))
        .collect();
    let names = [
        server_name(spec),
        ServerName::IpAddress(IpAddr::V4(spec.vm.ip).into()),
    ];
    let now = UnixTime::now();
    for name in names {
        let Err(e) = verifier.verify_server_cert(leaf, intermediates, &name, &[], now) else {
            continue;
        };
        let finding = refusal(ctx, setup, server, &ca_subjects, &name, &e);
        return Some(finding.expected(format!(
            "a server certificate from the CA in {ca_path} for {} and {}",
            spec.vm.hostname, spec.vm.ip
        )));
    }
    None
}

/// What a refusal of the server's certificate means, in the user's words: another CA, the
/// names, the dates.
fn refusal(
    ctx: &Ctx<'_>,
    setup: &TlsSetup,
    server: &CertInfo,
    ca_subjects: &[String],
    name: &ServerName<'_>,
    e: &rustls::Error,
) -> Finding {
    let spec = ctx.spec;
    let ca_path = setup.dir.join(dockvm_spec::tls::CA);
    let f = |reason: String| Finding::new(CheckId::Tls, Status::Fail, reason);
    let found = match &e {
        rustls::Error::InvalidCertificate(c) => c.clone(),
        other => CertificateError::Other(rustls::OtherError(Arc::new(io::Error::other(
            other.to_string(),
        )))),
    };
    match found {
        CertificateError::UnknownIssuer | CertificateError::BadSignature => f(format!(
            "the server's certificate (issued by \"{}\") does not lead to the CA in {ca_path} ({})",
            server.issuer,
            ca_subjects.join(", ")
        ))
        .actual(format!("server certificate issued by \"{}\"", server.issuer))
        .hint(format!(
            "the VM's server files and this client's come from different `dockvm certs` folders: install both from one (`dockvm install --certs DIR` on each side), or point DOCKER_CERT_PATH at the right folder (now from {})",
            setup.source
        )),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => f(format!(
            "the server's certificate is for {}, not {name}",
            sans(server),
            name = show_name(name)
        ))
        .actual(sans(server))
        .hint(format!(
            "the VM's address or name changed since the certificate was issued: `dockvm certs --renew` issues one for {} and {} from the same CA; install the server files in the VM and restart docker",
            spec.vm.hostname, spec.vm.ip
        )),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => f(format!(
            "the server's certificate expired {} (valid from {})",
            CertInfo::date(server.not_after),
            CertInfo::date(server.not_before)
        ))
        .actual(format!("valid until {}", CertInfo::date(server.not_after)))
        .hint("`dockvm certs --renew`, install the server files in the VM and restart docker"),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => f(format!(
            "the server's certificate is not valid yet: valid from {} (this machine's clock: {})",
            CertInfo::date(server.not_before),
            CertInfo::date(unix_now())
        ))
        .actual(format!("valid from {}", CertInfo::date(server.not_before)))
        .hint("one of the clocks is wrong (this machine's or the one that issued it): fix it, or reissue with `dockvm certs --renew`"),
        other => f(format!("the server's certificate is refused: {other:?}"))
            .actual(format!("{e}")),
    }
}

fn show_name(n: &ServerName<'_>) -> String {
    match n {
        ServerName::DnsName(d) => format!("DNS:{}", d.as_ref()),
        ServerName::IpAddress(i) => format!("IP:{}", IpAddr::from(*i)),
        _ => "?".into(),
    }
}

fn sans(c: &CertInfo) -> String {
    if c.sans.is_empty() {
        return "no subject alternative names".into();
    }
    c.sans
        .iter()
        .map(San::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// What an error of the TLS exchange says, shortly.
fn what_failed(e: &HttpError) -> String {
    match e {
        HttpError::Tls(rustls::Error::AlertReceived(a)) => format!("its TLS alert {a:?}"),
        other => other.to_string(),
    }
}

/// What the certificate-less client met.
enum Stranger {
    /// `GET /_ping` answered: anyone gets in.
    Accepted,
    /// The server ended the connection (certificate required).
    Refused,
}

/// Why the first handshake did not get as far as a server certificate.
enum ProbeFailed {
    Connect(io::Error),
    PlainHttp(Vec<u8>),
    NotTls { first: Vec<u8>, error: String },
    Silent,
    Other(String),
}

impl ProbeFailed {
    fn finding(self, ctx: &Ctx<'_>, base: Finding) -> Finding {
        let addr = ctx.api_addr();
        match self {
            ProbeFailed::Connect(e) => {
                let c = super::port::classify(CheckId::Tls, addr, &e, ctx.timeout);
                Finding { expected: base.expected, ..c }
            }
            ProbeFailed::PlainHttp(first) => Finding {
                reason: format!("{addr} speaks plain HTTP, not TLS: dockerd has no --tlsverify/--tls flags on this port"),
                actual: format!("the answer to a TLS hello starts with {}", http::show_bytes(&first)),
                hint: "install the drop-in `dockvm gen` writes for tls = true (its ExecStart has --tlsverify and the certificate files), then `systemctl daemon-reload && systemctl restart docker`".into(),
                ..base
            },
            ProbeFailed::NotTls { first, error } => Finding {
                reason: format!("{addr} does not speak TLS: {error}"),
                actual: format!("the answer starts with {}", http::show_bytes(&first)),
                hint: format!("something other than dockerd owns {addr}: in the VM, `ss -ltnp | grep :{}` names it", addr.port()),
                ..base
            },
            ProbeFailed::Silent => Finding {
                reason: format!("{addr} accepted the connection but did not answer the TLS hello within {}", human(ctx.timeout)),
                actual: "no answer".into(),
                hint: "a hung dockerd, or something else owns the port: in the VM, `ss -ltnp`".into(),
                ..base
            },
            ProbeFailed::Other(e) => Finding {
                reason: format!("the TLS handshake with {addr} failed: {e}"),
                actual: e,
                ..base
            },
        }
    }
}

/// Connects, handshakes without a client certificate (recording the server's bytes, to tell
/// plain HTTP from TLS), then asks `GET /_ping`.
fn probe(
    ctx: &Ctx<'_>,
    config: Arc<ClientConfig>,
    deadline: Instant,
) -> Result<Stranger, ProbeFailed> {
    let tcp = match http::connect(ctx.api_addr(), deadline) {
        Ok(t) => t,
        Err(HttpError::Connect(e)) => return Err(ProbeFailed::Connect(e)),
        Err(e) => return Err(ProbeFailed::Other(e.to_string())),
    };
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    let _ = tcp.set_read_timeout(Some(left));
    let _ = tcp.set_write_timeout(Some(left));
    let mut conn = rustls::ClientConnection::new(config, server_name(ctx.spec))
        .map_err(|e| ProbeFailed::Other(e.to_string()))?;
    let mut rec = Recording {
        tcp: &tcp,
        first: Vec::new(),
    };
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut rec) {
            let first = rec.first;
            if first.starts_with(b"HTTP/") {
                return Err(ProbeFailed::PlainHttp(first));
            }
            return Err(match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut if first.is_empty() => {
                    ProbeFailed::Silent
                }
                _ => match http::tls_error(&e) {
                    // A fatal alert from a TLS server (for example, one that wants a client
                    // certificate during a TLS 1.2 handshake) is still a TLS server.
                    Some(rustls::Error::AlertReceived(_)) if !first.is_empty() => {
                        return Ok(Stranger::Refused);
                    }
                    Some(t) => ProbeFailed::NotTls {
                        first,
                        error: t.to_string(),
                    },
                    None => ProbeFailed::Other(e.to_string()),
                },
            });
        }
    }
    let budget = deadline.saturating_duration_since(Instant::now());
    let mut s = rustls::StreamOwned::new(conn, tcp);
    match dockvm_engine::ping_over(&mut s, deadline, budget) {
        Ok(r) if r.status == 200 => Ok(Stranger::Accepted),
        _ => Ok(Stranger::Refused),
    }
}

/// The socket during the handshake, keeping the first bytes the server sent.
struct Recording<'a> {
    tcp: &'a TcpStream,
    first: Vec<u8>,
}

impl Read for Recording<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (&*self.tcp).read(buf)?;
        if self.first.len() < 64 {
            let take = n.min(64 - self.first.len());
            self.first.extend_from_slice(&buf[..take]);
        }
        Ok(n)
    }
}

impl Write for Recording<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.tcp).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        (&*self.tcp).flush()
    }
}

/// A verifier that accepts any server certificate and keeps it, so that the check can judge
/// it itself and say exactly what is wrong. Signatures are still verified.
#[derive(Debug, Default)]
struct Recorder {
    chain: Mutex<Option<(CertificateDer<'static>, Vec<CertificateDer<'static>>)>>,
}

impl Recorder {
    fn chain(&self) -> Option<(CertificateDer<'static>, Vec<CertificateDer<'static>>)> {
        self.chain.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.chain.lock().unwrap_or_else(|e| e.into_inner()) = Some((
            end_entity.clone().into_owned(),
            intermediates
                .iter()
                .map(|c| c.clone().into_owned())
                .collect(),
        ));
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
            &provider().signature_verification_algorithms,
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
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Always presents the client's certificate.
#[derive(Debug)]
struct Identity(Arc<CertifiedKey>);

impl ResolvesClientCert for Identity {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}
