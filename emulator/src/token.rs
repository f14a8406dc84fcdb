//! The emulator's OAuth 2.0 token endpoint, `POST /{tenant}/oauth2/v2.0/token`, client-credentials
//! grant (docs/graph.md#tokens): a client secret; a client assertion signed PS256 (`x5t#S256`) or
//! RS256 (`x5t`) with the configured certificate; or a federated assertion from the configured
//! issuer with audience `api://AzureADTokenExchange`. Also the device-code sign-in and the
//! refresh-token grant it leads to. Errors are shaped like Entra's (refusal.rs), and so are the
//! answers of faults scripted for it (method `token`); assertions are checked in assertion.rs;
//! what a grant leaves behind (tokens, device codes, grants) is kept in access.rs's records.

use crate::access::{Grant, Issued, PendingDeviceCode};
use crate::answer;
use crate::assertion::{self, JWT_BEARER};
use crate::fault::{self, Effect};
use crate::refusal::{Refusal, fault_refusal, refuse};
use crate::shared::Shared;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// What a successful grant yields.
struct Granted {
    client_id: String,
    /// Delegated grants also get a refresh token.
    delegated: bool,
}

/// `POST /{tenant}/oauth2/v2.0/token`, meeting the fault scripted for it, if any.
pub(crate) async fn token(State(s): State<Arc<Shared>>, Path(tenant): Path<String>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
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

/// Answers a token request: a token, or Entra's refusal.
fn issue(s: &Shared, tenant: String, headers: &HeaderMap, body: &[u8]) -> Response {
    match grant(s, &tenant, headers, body) {
        Ok(granted) => {
            s.grants.lock().expect("grants lock").push(Grant::of(body));
            let access_token = format!("emu.{}", uuid::Uuid::new_v4().simple());
            let lifetime = s.options.token_lifetime();
            let issued = Issued {
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
pub(crate) async fn device_code(State(s): State<Arc<Shared>>, Path(_tenant): Path<String>, body: Bytes) -> Response {
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
pub(crate) async fn approve(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
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
pub(crate) fn approve_all(s: &Shared) {
    for p in s.device_codes.lock().expect("device lock").values_mut() {
        p.approved = true;
    }
}

/// The device-code grant: the code `client_id` was given, once an admin signed in.
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

/// A token request's form fields.
type Form = HashMap<String, String>;

/// The form field `name`, when it is present and not empty.
fn field<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

/// Checks the request and says who a token is issued to.
fn grant(s: &Shared, tenant: &str, headers: &HeaderMap, body: &[u8]) -> Result<Granted, Refusal> {
    let bad = StatusCode::BAD_REQUEST;
    let form = read_form(headers, body)?;
    let grant_type = field(&form, "grant_type");
    if !matches!(grant_type, Some("client_credentials" | DEVICE_CODE_GRANT | "refresh_token")) {
        return Err(refuse(
            bad,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        ));
    }
    let client_id = field(&form, "client_id").ok_or_else(|| {
        refuse(
            bad,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )
    })?;
    match grant_type {
        Some(DEVICE_CODE_GRANT) => device_grant(s, client_id, field(&form, "device_code").unwrap_or("")),
        Some("refresh_token") => refresh_grant(s, client_id, field(&form, "refresh_token").unwrap_or("")),
        _ => client_credentials(s, tenant, client_id, &form),
    }
}

/// The form fields of a token request, which must be form-encoded.
fn read_form(headers: &HeaderMap, body: &[u8]) -> Result<Form, Refusal> {
    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        ));
    }
    Ok(url::form_urlencoded::parse(body).into_owned().collect())
}

/// The refresh-token grant: a refresh token issued to `client_id`.
fn refresh_grant(s: &Shared, client_id: &str, refresh_token: &str) -> Result<Granted, Refusal> {
    let known = s.refresh_tokens.lock().expect("refresh lock").get(refresh_token).cloned();
    match known {
        Some(owner) if owner == client_id => Ok(Granted {
            client_id: owner,
            delegated: true,
        }),
        _ => Err(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70000,
            "The provided refresh token is invalid or expired.",
        )),
    }
}

/// The client-credentials grant: a `/.default` scope, the pinned client (if one is), and the
/// client's credential.
fn client_credentials(s: &Shared, tenant: &str, client_id: &str, form: &Form) -> Result<Granted, Refusal> {
    let bad = StatusCode::BAD_REQUEST;
    let scope = field(form, "scope").unwrap_or("");
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
    authenticate(s, tenant, client_id, form)?;
    Ok(Granted {
        client_id: client_id.to_string(),
        delegated: false,
    })
}

/// The client's credential: a client secret or a client assertion, exactly one.
fn authenticate(s: &Shared, tenant: &str, client_id: &str, form: &Form) -> Result<(), Refusal> {
    let bad = StatusCode::BAD_REQUEST;
    let unauthorized = StatusCode::UNAUTHORIZED;
    match (field(form, "client_secret"), field(form, "client_assertion")) {
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
            Ok(())
        }
        (None, Some(assertion)) => {
            if field(form, "client_assertion_type") != Some(JWT_BEARER) {
                return Err(refuse(
                    bad,
                    "invalid_request",
                    90023,
                    format!("client_assertion_type must be {JWT_BEARER}."),
                ));
            }
            assertion::verify(s.certificate.as_ref(), &s.options, tenant, client_id, assertion)
        }
        (Some(_), Some(_)) => Err(refuse(
            bad,
            "invalid_request",
            90023,
            "Send either client_secret or client_assertion, not both.",
        )),
        (None, None) => Err(refuse(
            unauthorized,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )),
    }
}
