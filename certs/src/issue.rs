//! Issuing: a CA, and from it the server and client certificates, all ECDSA P-256 (rcgen
//! with ring). Pure apart from the random keys and serial numbers: the time is an argument.

use crate::CertError;
use dockvm_spec::Spec;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData as _, SanType, SerialNumber,
};
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};

/// How long the CA is valid: 10 years.
pub const CA_DAYS: u32 = 3650;
/// The default validity of the server and client certificates, as `--days` (825 days, the most
/// that Apple's and the CA/Browser Forum's former rule allowed; docker-machine used 1080).
pub const DEFAULT_DAYS: u32 = 825;
/// The most `--days` accepts: the CA's own lifetime.
pub const MAX_DAYS: u32 = CA_DAYS;
/// Certificates start this long before the moment they are issued, so that a VM whose clock is
/// a little behind the PC's accepts them at once.
const BACKDATE: Duration = Duration::hours(1);

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct Pair {
    pub cert: String,
    pub key: String,
}

/// From when to when a certificate is valid.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// `days` days from `now` (starting an hour before it).
    pub fn days_from(now: OffsetDateTime, days: u32) -> Validity {
        Validity {
            not_before: now - BACKDATE,
            not_after: now + Duration::days(i64::from(days)),
        }
    }
}

/// A CA that can sign: its certificate (PEM) and key.
pub struct Ca {
    pub pair: Pair,
    key: KeyPair,
}

impl Ca {
    /// A new CA for the spec's VM, valid for [`CA_DAYS`] from `now`. Its subject carries the
    /// date and a random tag, so that two CAs of the same VM never read alike in a message.
    pub fn new(spec: &Spec, now: OffsetDateTime) -> Result<Ca, CertError> {
        let key = new_key()?;
        let mut params = CertificateParams::default();
        let tag = crate::hex(&random::<3>()?);
        params.distinguished_name.push(
            DnType::CommonName,
            format!(
                "dockvm CA {} {}-{:02}-{:02} {tag}",
                spec.vm.name,
                now.year(),
                u8::from(now.month()),
                now.day()
            ),
        );
        params
            .distinguished_name
            .push(DnType::OrganizationName, "dockvm");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(&mut params, Validity::days_from(now, CA_DAYS))?;
        let cert = params.self_signed(&key)?;
        Ok(Ca {
            pair: Pair {
                cert: cert.pem(),
                key: key.serialize_pem(),
            },
            key,
        })
    }

    /// The CA of an existing folder, to issue from it again (`--renew`).
    pub fn load(cert_pem: &str, key_pem: &str) -> Result<Ca, CertError> {
        let key = KeyPair::from_pem(key_pem).map_err(|e| CertError::Bad {
            what: "the CA key",
            why: e.to_string(),
        })?;
        // The key must be the certificate's: a mismatch would issue certificates nobody trusts.
        let info = crate::read::info_pem(cert_pem)?;
        if info.spki != key.subject_public_key_info() {
            return Err(CertError::Bad {
                what: "the CA",
                why: "ca-key.pem is not the key of ca.pem".into(),
            });
        }
        if !info.is_ca {
            return Err(CertError::Bad {
                what: "the CA",
                why: "ca.pem is not a CA certificate".into(),
            });
        }
        Ok(Ca {
            pair: Pair {
                cert: cert_pem.to_owned(),
                key: key_pem.to_owned(),
            },
            key,
        })
    }

    fn issuer(&self) -> Result<Issuer<'static, &KeyPair>, CertError> {
        Ok(Issuer::from_ca_cert_pem(&self.pair.cert, &self.key)?)
    }

    /// The server certificate: SANs `DNS:<hostname>` and `IP:<ip>`, extended key usage
    /// serverAuth, subject CN the host name.
    pub fn server(
        &self,
        hostname: &str,
        ip: IpAddr,
        validity: Validity,
    ) -> Result<Pair, CertError> {
        let key = new_key()?;
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, hostname);
        params.subject_alt_names = vec![
            SanType::DnsName(hostname.try_into()?),
            SanType::IpAddress(ip),
        ];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        set_validity(&mut params, validity)?;
        let cert = params.signed_by(&key, &self.issuer()?)?;
        Ok(Pair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    }

    /// A client certificate: extended key usage clientAuth.
    pub fn client(&self, name: &str, validity: Validity) -> Result<Pair, CertError> {
        let key = new_key()?;
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        set_validity(&mut params, validity)?;
        let cert = params.signed_by(&key, &self.issuer()?)?;
        Ok(Pair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    }
}

/// The server and client pairs of a spec, issued by `ca` for `days` from `now`.
pub fn leaves(
    ca: &Ca,
    spec: &Spec,
    days: u32,
    now: OffsetDateTime,
) -> Result<(Pair, Pair), CertError> {
    let validity = Validity::days_from(now, days);
    let server = ca.server(spec.vm.hostname.as_str(), IpAddr::V4(spec.vm.ip), validity)?;
    let client = ca.client(&format!("dockvm client {}", spec.vm.name), validity)?;
    Ok((server, client))
}

fn new_key() -> Result<KeyPair, CertError> {
    Ok(KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?)
}

/// A random positive serial number (RFC 5280: at most 20 bytes, positive), and the validity.
fn set_validity(params: &mut CertificateParams, v: Validity) -> Result<(), CertError> {
    let mut serial = random::<16>()?;
    serial[0] &= 0x7f;
    serial[0] |= 0x01;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.not_before = v.not_before;
    params.not_after = v.not_after;
    Ok(())
}

fn random<const N: usize>() -> Result<[u8; N], CertError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| CertError::Bad {
        what: "the random number source",
        why: e.to_string(),
    })?;
    Ok(b)
}
