//! What sign-in leaves behind, as the rest of the emulator reads it: the access tokens issued
//! and whom to ([`Issued`]), device codes waiting for an admin ([`PendingDeviceCode`]), and how
//! each token was asked for ([`Grant`], public as `TokenGrant`). The token endpoint (token.rs)
//! writes them; every Graph call checks its bearer token against them (gate.rs). They live in a
//! leaf so that the shared state (shared.rs) can hold them without importing the endpoint.

use std::collections::HashMap;
use std::time::Instant;

/// An access token the emulator issued.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    /// When it stops being accepted.
    pub expiry: Instant,
    /// The client id it was issued to (the throttle's app).
    pub app: String,
    /// The tenant named in the token endpoint's path.
    pub tenant: String,
    /// Issued for a signed-in user (device code, refresh token), not app-only.
    pub delegated: bool,
}

/// A device code waiting for an admin to sign in.
pub(crate) struct PendingDeviceCode {
    /// The code the admin types at the verification page.
    pub user_code: String,
    /// The client that asked for it; only it may redeem the code.
    pub client_id: String,
    /// Whether the admin has signed in.
    pub approved: bool,
    /// When the code stops being redeemable.
    pub expiry: Instant,
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
    /// The grant a token request's form body asked for.
    pub(crate) fn of(body: &[u8]) -> Grant {
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
