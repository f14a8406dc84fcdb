//! Client assertions at the token endpoint (docs/graph.md#tokens): a certificate assertion signed
//! PS256 (`x5t#S256`) or RS256 (`x5t`) with the configured certificate, or a federated assertion
//! from the configured issuer with audience `api://AzureADTokenExchange`. Each check that fails
//! refuses as Entra does, with its AADSTS code; the grant around it is token.rs's.

use crate::options::Options;
use crate::refusal::{Refusal, refuse};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};

/// The `client_assertion_type` of a JWT client assertion.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";
const UNAUTHORIZED: StatusCode = StatusCode::UNAUTHORIZED;

/// The certificate client assertions are checked against.
pub(crate) struct Certificate {
    pem: Vec<u8>,
    sha256: String,
    sha1: String,
}

impl Certificate {
    /// Reads a PEM certificate and computes its thumbprints.
    pub(crate) fn from_pem(pem_bytes: &[u8]) -> Result<Certificate, String> {
        let parsed = pem::parse_many(pem_bytes)
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|p| p.tag() == "CERTIFICATE")
            .ok_or("no CERTIFICATE block")?;
        let der = parsed.contents();
        let digest = |alg| URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(alg, der).as_ref());
        DecodingKey::from_rsa_pem(pem_bytes).map_err(|e| format!("not an RSA certificate: {e}"))?;
        Ok(Certificate {
            pem: pem_bytes.to_vec(),
            sha256: digest(&aws_lc_rs::digest::SHA256),
            sha1: digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY),
        })
    }
}

/// Claims read from an assertion.
#[derive(serde::Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    #[serde(default)]
    aud: serde_json::Value,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    exp: Option<i64>,
}

fn audiences(aud: &serde_json::Value) -> Vec<String> {
    match aud {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(v) => v.iter().filter_map(|a| a.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// Checks the assertion `client_id` sent to the token endpoint of `tenant`: a certificate
/// assertion when it names a thumbprint and a certificate is configured, else a federated one
/// when an issuer is configured.
pub(crate) fn verify(
    certificate: Option<&Certificate>,
    options: &Options,
    tenant: &str,
    client_id: &str,
    assertion: &str,
) -> Result<(), Refusal> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|e| {
        refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50027,
            format!("Invalid JWT token: {e}."),
        )
    })?;
    // A certificate assertion names its certificate by thumbprint; a federated one does not.
    let thumbprint = header
        .x5t_s256
        .as_ref()
        .map(|t| (t, true))
        .or(header.x5t.as_ref().map(|t| (t, false)));
    match (thumbprint, certificate, &options.federated_issuer) {
        (Some((thumb, sha256)), Some(cert), _) => {
            let expected = if sha256 { &cert.sha256 } else { &cert.sha1 };
            if thumb != expected {
                return Err(refuse(
                    UNAUTHORIZED,
                    "invalid_client",
                    700027,
                    "The certificate with identifier used to sign the client assertion is not registered on application.",
                ));
            }
            let claims = signed_claims(cert, &header, assertion)?;
            check_certificate_claims(&claims, tenant, client_id)
        }
        (None, _, Some(issuer)) => check_federated(assertion, issuer, options.federated_subject.as_deref()),
        _ => Err(refuse(
            UNAUTHORIZED,
            "invalid_client",
            700027,
            "Client assertion failed signature validation: no certificate or federated credential is registered on application.",
        )),
    }
}

/// The claims of an assertion signed with `cert`'s key, PS256 or RS256, within its time range.
fn signed_claims(cert: &Certificate, header: &Header, assertion: &str) -> Result<Claims, Refusal> {
    let alg = match header.alg {
        Algorithm::PS256 | Algorithm::RS256 => header.alg,
        other => {
            return Err(refuse(
                UNAUTHORIZED,
                "invalid_client",
                5002738,
                format!("Algorithm {other:?} is not supported; use PS256 or RS256."),
            ));
        }
    };
    let key = DecodingKey::from_rsa_pem(&cert.pem).map_err(|_| refuse(UNAUTHORIZED, "invalid_client", 700027, "Certificate unusable."))?;
    let mut validation = Validation::new(alg);
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub", "aud"]);
    let decoded = jsonwebtoken::decode::<Claims>(assertion, &key, &validation).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature | jsonwebtoken::errors::ErrorKind::ImmatureSignature => refuse(
            UNAUTHORIZED,
            "invalid_client",
            700024,
            "Client assertion is not within its valid time range.",
        ),
        _ => refuse(
            UNAUTHORIZED,
            "invalid_client",
            700027,
            format!("Client assertion failed signature validation ({e})."),
        ),
    })?;
    Ok(decoded.claims)
}

/// A certificate assertion's claims: issued by and about the client, for this tenant's token
/// endpoint, with a `jti`.
fn check_certificate_claims(c: &Claims, tenant: &str, client_id: &str) -> Result<(), Refusal> {
    if c.iss != client_id || c.sub != client_id {
        return Err(refuse(
            UNAUTHORIZED,
            "invalid_client",
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    let suffix = format!("/{tenant}/oauth2/v2.0/token");
    if !audiences(&c.aud).iter().any(|a| a.ends_with(&suffix)) {
        return Err(refuse(
            UNAUTHORIZED,
            "invalid_client",
            700023,
            format!("Client assertion audience claim does not match Realm issuer; expected an audience ending in {suffix}."),
        ));
    }
    if c.jti.as_deref().unwrap_or("").is_empty() {
        return Err(refuse(
            UNAUTHORIZED,
            "invalid_client",
            700025,
            "Client assertion contains no jti claim.",
        ));
    }
    Ok(())
}

/// A federated assertion: from `issuer`, about `subject` when one is configured, for the token
/// exchange audience, not expired (a minute's leeway).
fn check_federated(assertion: &str, issuer: &str, subject: Option<&str>) -> Result<(), Refusal> {
    // The external IdP's keys are not known here: the claims are what is checked.
    let claims = jsonwebtoken::dangerous::insecure_decode::<Claims>(assertion).map_err(|e| {
        refuse(
            UNAUTHORIZED,
            "invalid_client",
            700211,
            format!("Federated assertion is invalid ({e})."),
        )
    })?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if claims.claims.exp.is_none_or(|exp| exp < now - 60) {
        return Err(refuse(
            UNAUTHORIZED,
            "invalid_client",
            700024,
            "Client assertion is not within its valid time range.",
        ));
    }
    let c = claims.claims;
    let subject_ok = subject.is_none_or(|want| want == c.sub);
    if c.iss != issuer || !subject_ok || !audiences(&c.aud).iter().any(|a| a == EXCHANGE_AUDIENCE) {
        return Err(refuse(
            UNAUTHORIZED,
            "invalid_client",
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion issuer: '{}'.",
                c.iss
            ),
        ));
    }
    Ok(())
}
