//! The emulator's OAuth 2.0 token endpoint, `POST /{tenant}/oauth2/v2.0/token`, client-credentials
//! grant (docs/graph.md#tokens): a client secret; a client assertion signed PS256 (`x5t#S256`) or
//! RS256 (`x5t`) with the configured certificate; or a federated assertion from the configured
//! issuer with audience `api://AzureADTokenExchange`. Errors are shaped like Entra's, and so are
//! the answers of faults scripted for it (method `token`).

use super::{Effect, Shared, answer, fault};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// The certificate client assertions are checked against.
pub struct Certificate {
    pem: Vec<u8>,
    sha256: String,
    sha1: String,
}

impl Certificate {
    /// Reads a PEM certificate and computes its thumbprints.
    pub fn from_pem(pem_bytes: &[u8]) -> Result<Certificate, String> {
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

/// A token-service refusal.
struct Refusal {
    status: StatusCode,
    error: String,
    code: u32,
    description: String,
}

fn refuse(status: StatusCode, error: impl Into<String>, code: u32, description: impl Into<String>) -> Refusal {
    Refusal {
        status,
        error: error.into(),
        code,
        description: description.into(),
    }
}

/// The refusal a scripted status fault makes: an OAuth error (`temporarily_unavailable` for
/// 429 and 503/504, `server_error` for other 5xx, `invalid_client` for 401, `invalid_request` for
/// other 4xx) unless the fault names its own `code` and `message`.
fn fault_refusal(status: u16, code: Option<String>, message: Option<String>) -> Refusal {
    let (error, description) = match status {
        429 | 503 | 504 => (
            "temporarily_unavailable",
            "The service is temporarily unavailable. Please retry later.",
        ),
        401 => ("invalid_client", "Client authentication failed."),
        500..=599 => ("server_error", "An unexpected error occurred on the server."),
        _ => ("invalid_request", "The request is not valid."),
    };
    refuse(
        StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
        code.unwrap_or_else(|| error.to_string()),
        90033,
        message.unwrap_or_else(|| description.to_string()),
    )
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let trace = uuid::Uuid::new_v4().to_string();
        let body = json!({
            "error": self.error,
            "error_description": format!("AADSTS{}: {} Trace ID: {trace}", self.code, self.description),
            "error_codes": [self.code],
            "timestamp": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "trace_id": trace,
            "correlation_id": uuid::Uuid::new_v4().to_string(),
        });
        (self.status, axum::Json(body)).into_response()
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

/// A device code waiting for an admin to sign in.
pub struct PendingDeviceCode {
    user_code: String,
    client_id: String,
    approved: bool,
    expiry: Instant,
}

/// What a successful grant yields.
struct Granted {
    client_id: String,
    /// Delegated grants also get a refresh token.
    delegated: bool,
}

/// `POST /{tenant}/oauth2/v2.0/token`, meeting the fault scripted for it, if any.
pub async fn token(State(s): State<Arc<Shared>>, Path(tenant): Path<String>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let effect = s.faults.take(fault::TOKEN, uri.path());
    let answer = || issue(&s, tenant, &headers, &body);
    match effect {
        None => answer(),
        Some(Effect::Status {
            status,
            retry_after,
            code,
            message,
        }) => {
            let mut r = fault_refusal(status, code, message).into_response();
            if let Some(v) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
                r.headers_mut().insert("retry-after", v);
            }
            r
        }
        Some(Effect::Drop) => answer::dropped(),
        Some(Effect::Slow) => {
            let r = answer();
            tokio::time::sleep(s.slow()).await;
            r
        }
        Some(Effect::Applied(status)) => {
            let r = answer();
            if r.status().is_success() {
                fault_refusal(status, None, None).into_response()
            } else {
                r
            }
        }
        Some(Effect::AppliedDrop) => {
            answer();
            answer::dropped()
        }
    }
}

/// How one granted token was asked for, so tests can check the client's sign-in itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `client_credentials`, `refresh_token` or the device-code grant type.
    pub grant_type: String,
    /// The client assertion's `alg` (`PS256`, `RS256`), when one was sent.
    pub assertion_alg: Option<String>,
    /// The assertion's thumbprint header: `x5t#S256` or `x5t`, when it had one.
    pub thumbprint_header: Option<&'static str>,
}

impl Grant {
    fn of(body: &[u8]) -> Grant {
        let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
        let header = form.get("client_assertion").and_then(|a| jsonwebtoken::decode_header(a).ok());
        Grant {
            grant_type: form.get("grant_type").cloned().unwrap_or_default(),
            assertion_alg: header.as_ref().map(|h| format!("{:?}", h.alg)),
            thumbprint_header: header.as_ref().and_then(|h| {
                if h.x5t_s256.is_some() {
                    Some("x5t#S256")
                } else if h.x5t.is_some() {
                    Some("x5t")
                } else {
                    None
                }
            }),
        }
    }
}

/// Answers a token request: a token, or Entra's refusal.
fn issue(s: &Shared, tenant: String, headers: &HeaderMap, body: &[u8]) -> Response {
    match grant(s, &tenant, headers, body) {
        Ok(granted) => {
            s.grants.lock().expect("grants lock").push(Grant::of(body));
            let access_token = format!("emu.{}", uuid::Uuid::new_v4().simple());
            let lifetime = s.options.token_lifetime();
            let issued = super::Issued {
                expiry: Instant::now() + lifetime,
                app: granted.client_id.clone(),
                tenant,
                delegated: granted.delegated,
            };
            s.tokens.lock().expect("tokens lock").insert(access_token.clone(), issued);
            s.tokens_issued.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let seconds = lifetime.as_secs();
            let mut body = json!({"token_type": "Bearer", "expires_in": seconds, "ext_expires_in": seconds, "access_token": access_token});
            if granted.delegated {
                let refresh = format!("emu-refresh.{}", uuid::Uuid::new_v4().simple());
                s.refresh_tokens
                    .lock()
                    .expect("refresh lock")
                    .insert(refresh.clone(), granted.client_id);
                body["refresh_token"] = json!(refresh);
                body["scope"] = json!("https://graph.microsoft.com/UserAuthenticationMethod.ReadWrite.All");
            }
            axum::Json(body).into_response()
        }
        Err(r) => r.into_response(),
    }
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`: starts a device-code sign-in.
pub async fn device_code(State(s): State<Arc<Shared>>, Path(_tenant): Path<String>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let Some(client_id) = form.get("client_id").filter(|c| !c.is_empty()) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )
        .into_response();
    };
    if s.options.client_id.as_ref().is_some_and(|pinned| pinned != client_id) {
        let why = format!("Application with identifier '{client_id}' was not found in the directory.");
        return refuse(StatusCode::BAD_REQUEST, "unauthorized_client", 700016, why).into_response();
    }
    let device_code = uuid::Uuid::new_v4().simple().to_string();
    let user_code: String = uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase();
    let expires_in = 900;
    let pending = PendingDeviceCode {
        user_code: user_code.clone(),
        client_id: client_id.clone(),
        approved: false,
        expiry: Instant::now() + std::time::Duration::from_secs(expires_in),
    };
    s.device_codes.lock().expect("device lock").insert(device_code.clone(), pending);
    let uri = "https://microsoft.com/devicelogin (emulator: POST /_emulator/devicelogin with user_code)";
    axum::Json(json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": uri,
        "expires_in": expires_in,
        "interval": s.options.device_code_interval,
        "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
    }))
    .into_response()
}

/// `POST /_emulator/devicelogin` (form `user_code`): the admin signs in.
pub async fn approve(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let code = form.get("user_code").map(|c| c.trim().to_uppercase()).unwrap_or_default();
    let mut pending = s.device_codes.lock().expect("device lock");
    match pending.values_mut().find(|p| p.user_code == code) {
        Some(p) => {
            p.approved = true;
            StatusCode::NO_CONTENT.into_response()
        }
        None => (StatusCode::NOT_FOUND, "no pending sign-in has that code").into_response(),
    }
}

/// Approves every pending device code (what a test does instead of a person).
pub fn approve_all(s: &Shared) {
    for p in s.device_codes.lock().expect("device lock").values_mut() {
        p.approved = true;
    }
}

fn device_grant(s: &Shared, client_id: &str, device_code: &str) -> Result<Granted, Refusal> {
    let bad = StatusCode::BAD_REQUEST;
    let mut pending = s.device_codes.lock().expect("device lock");
    let Some(p) = pending.get_mut(device_code).filter(|p| p.client_id == client_id) else {
        return Err(refuse(bad, "invalid_grant", 70000, "The provided device code is not valid."));
    };
    if p.expiry <= Instant::now() {
        return Err(refuse(
            bad,
            "expired_token",
            70020,
            "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
        ));
    }
    if s.options.device_code_auto_approve {
        p.approved = true;
    }
    if !p.approved {
        return Err(refuse(
            bad,
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        ));
    }
    pending.remove(device_code);
    Ok(Granted {
        client_id: client_id.to_string(),
        delegated: true,
    })
}

/// Checks the request and says who a token is issued to.
fn grant(s: &Shared, tenant: &str, headers: &HeaderMap, body: &[u8]) -> Result<Granted, Refusal> {
    let bad = StatusCode::BAD_REQUEST;
    let unauthorized = StatusCode::UNAUTHORIZED;
    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(refuse(
            bad,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        ));
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let field = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    if !matches!(
        field("grant_type"),
        Some("client_credentials" | "urn:ietf:params:oauth:grant-type:device_code" | "refresh_token")
    ) {
        return Err(refuse(
            bad,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        ));
    }
    let client_id = field("client_id").ok_or_else(|| {
        refuse(
            bad,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )
    })?;
    match field("grant_type") {
        Some("urn:ietf:params:oauth:grant-type:device_code") => return device_grant(s, client_id, field("device_code").unwrap_or("")),
        Some("refresh_token") => {
            let known = s
                .refresh_tokens
                .lock()
                .expect("refresh lock")
                .get(field("refresh_token").unwrap_or(""))
                .cloned();
            return match known {
                Some(owner) if owner == client_id => Ok(Granted {
                    client_id: owner,
                    delegated: true,
                }),
                _ => Err(refuse(
                    bad,
                    "invalid_grant",
                    70000,
                    "The provided refresh token is invalid or expired.",
                )),
            };
        }
        _ => {}
    }
    let scope = field("scope").unwrap_or("");
    if !scope.ends_with("/.default") || scope.contains(' ') {
        return Err(refuse(
            bad,
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' is not valid. The scope must name one resource and end in /.default.",
        ));
    }
    if s.options.client_id.as_deref().is_some_and(|pinned| pinned != client_id) {
        return Err(refuse(
            bad,
            "unauthorized_client",
            700016,
            format!("Application with identifier '{client_id}' was not found in the directory."),
        ));
    }
    match (field("client_secret"), field("client_assertion")) {
        (Some(secret), None) => {
            if s.options.client_secret.as_deref().is_some_and(|pinned| pinned != secret) {
                return Err(refuse(unauthorized, "invalid_client", 7000215, "Invalid client secret provided."));
            }
            if s.options.client_secret.is_none()
                && (s.certificate.is_some() || s.options.federated_issuer.is_some())
                && s.options.client_id.is_some()
            {
                // An app set up for certificate or federated sign-in has no secret.
                return Err(refuse(unauthorized, "invalid_client", 7000215, "Invalid client secret provided."));
            }
        }
        (None, Some(assertion)) => {
            if field("client_assertion_type") != Some(JWT_BEARER) {
                return Err(refuse(
                    bad,
                    "invalid_request",
                    90023,
                    format!("client_assertion_type must be {JWT_BEARER}."),
                ));
            }
            verify_assertion(s, tenant, client_id, assertion)?;
        }
        (Some(_), Some(_)) => {
            return Err(refuse(
                bad,
                "invalid_request",
                90023,
                "Send either client_secret or client_assertion, not both.",
            ));
        }
        (None, None) => {
            return Err(refuse(
                unauthorized,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        }
    }
    Ok(Granted {
        client_id: client_id.to_string(),
        delegated: false,
    })
}

fn verify_assertion(s: &Shared, tenant: &str, client_id: &str, assertion: &str) -> Result<(), Refusal> {
    let unauthorized = StatusCode::UNAUTHORIZED;
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
    match (thumbprint, &s.certificate, &s.options.federated_issuer) {
        (Some((thumb, sha256)), Some(cert), _) => {
            let expected = if sha256 { &cert.sha256 } else { &cert.sha1 };
            if thumb != expected {
                return Err(refuse(
                    unauthorized,
                    "invalid_client",
                    700027,
                    "The certificate with identifier used to sign the client assertion is not registered on application.",
                ));
            }
            let alg = match header.alg {
                Algorithm::PS256 | Algorithm::RS256 => header.alg,
                other => {
                    return Err(refuse(
                        unauthorized,
                        "invalid_client",
                        5002738,
                        format!("Algorithm {other:?} is not supported; use PS256 or RS256."),
                    ));
                }
            };
            let key = DecodingKey::from_rsa_pem(&cert.pem)
                .map_err(|_| refuse(unauthorized, "invalid_client", 700027, "Certificate unusable."))?;
            let mut validation = Validation::new(alg);
            validation.validate_aud = false;
            validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub", "aud"]);
            let claims = jsonwebtoken::decode::<Claims>(assertion, &key, &validation).map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature | jsonwebtoken::errors::ErrorKind::ImmatureSignature => refuse(
                    unauthorized,
                    "invalid_client",
                    700024,
                    "Client assertion is not within its valid time range.",
                ),
                _ => refuse(
                    unauthorized,
                    "invalid_client",
                    700027,
                    format!("Client assertion failed signature validation ({e})."),
                ),
            })?;
            let c = claims.claims;
            if c.iss != client_id || c.sub != client_id {
                return Err(refuse(
                    unauthorized,
                    "invalid_client",
                    700021,
                    "Client assertion application identifier doesn't match 'client_id' parameter.",
                ));
            }
            let suffix = format!("/{tenant}/oauth2/v2.0/token");
            if !audiences(&c.aud).iter().any(|a| a.ends_with(&suffix)) {
                return Err(refuse(
                    unauthorized,
                    "invalid_client",
                    700023,
                    format!("Client assertion audience claim does not match Realm issuer; expected an audience ending in {suffix}."),
                ));
            }
            if c.jti.as_deref().unwrap_or("").is_empty() {
                return Err(refuse(
                    unauthorized,
                    "invalid_client",
                    700025,
                    "Client assertion contains no jti claim.",
                ));
            }
            Ok(())
        }
        (None, _, Some(issuer)) => {
            // The external IdP's keys are not known here: the claims are what is checked.
            let claims = jsonwebtoken::dangerous::insecure_decode::<Claims>(assertion).map_err(|e| {
                refuse(
                    unauthorized,
                    "invalid_client",
                    700211,
                    format!("Federated assertion is invalid ({e})."),
                )
            })?;
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            if claims.claims.exp.is_none_or(|exp| exp < now - 60) {
                return Err(refuse(
                    unauthorized,
                    "invalid_client",
                    700024,
                    "Client assertion is not within its valid time range.",
                ));
            }
            let c = claims.claims;
            let subject_ok = s.options.federated_subject.as_ref().is_none_or(|want| *want == c.sub);
            if &c.iss != issuer || !subject_ok || !audiences(&c.aud).iter().any(|a| a == EXCHANGE_AUDIENCE) {
                return Err(refuse(
                    unauthorized,
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
        _ => Err(refuse(
            unauthorized,
            "invalid_client",
            700027,
            "Client assertion failed signature validation: no certificate or federated credential is registered on application.",
        )),
    }
}
