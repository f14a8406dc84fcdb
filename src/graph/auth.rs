//! Access tokens for Graph: the client-credentials grant with a client secret (graph-contract
//! §5), or a token handed in ready-made. Tokens are cached, refreshed before they expire, and
//! dropped on a 401 so the next request signs in afresh. Secrets stay in `secrecy` types.

use secrecy::{ExposeSecret, SecretString};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How the tool proves who it is.
#[derive(Debug, Clone)]
pub enum Credential {
    /// App-only sign-in with a client secret.
    ClientSecret {
        /// Token endpoint base, e.g. `https://login.microsoftonline.com`.
        authority: reqwest::Url,
        /// Tenant id or domain.
        tenant: String,
        /// Application (client) id.
        client_id: String,
        /// The secret.
        secret: SecretString,
        /// The resource's `.default` scope, e.g. `https://graph.microsoft.com/.default`.
        scope: String,
    },
    /// A bearer token obtained elsewhere; it cannot be refreshed.
    Static(SecretString),
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token service refused.
    #[error("sign-in refused by the token service (HTTP {status}): {error}: {description}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// OAuth error code, e.g. `invalid_client`.
        error: String,
        /// The service's description (contains no secret).
        description: String,
    },
    /// The token service could not be reached or answered nonsense.
    #[error("cannot reach the token service: {0}")]
    Unreachable(String),
}

struct Cached {
    token: SecretString,
    refresh_at: Instant,
}

/// A credential plus its cached token.
pub struct TokenSource {
    credential: Credential,
    http: reqwest::Client,
    cache: Mutex<Option<Cached>>,
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

#[derive(serde::Deserialize, Default)]
struct TokenError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

impl TokenSource {
    /// A token source for `credential`, using `http` to reach the token service.
    pub fn new(credential: Credential, http: reqwest::Client) -> TokenSource {
        TokenSource {
            credential,
            http,
            cache: Mutex::new(None),
        }
    }

    /// A valid token, from the cache while it is fresh. Concurrent callers share one sign-in.
    pub async fn token(&self) -> Result<SecretString, AuthError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = self.acquire().await?;
        // Refresh well before expiry: five minutes early, or halfway for short-lived tokens.
        let margin = (lifetime / 2).min(Duration::from_secs(300));
        *cache = Some(Cached {
            token: token.clone(),
            refresh_at: Instant::now() + lifetime - margin,
        });
        Ok(token)
    }

    /// Forgets `rejected` (after a 401), so the next call signs in again.
    pub async fn invalidate(&self, rejected: &SecretString) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|c| c.token.expose_secret() == rejected.expose_secret()) {
            *cache = None;
        }
    }

    async fn acquire(&self) -> Result<(SecretString, Duration), AuthError> {
        let (authority, tenant, client_id, secret, scope) = match &self.credential {
            Credential::Static(token) => return Ok((token.clone(), Duration::from_secs(3600))),
            Credential::ClientSecret {
                authority,
                tenant,
                client_id,
                secret,
                scope,
            } => (authority, tenant, client_id, secret, scope),
        };
        let mut url = authority.clone();
        url.path_segments_mut()
            .map_err(|_| AuthError::Unreachable("the authority host cannot be a base URL".into()))?
            .pop_if_empty()
            .extend([tenant.as_str(), "oauth2", "v2.0", "token"]);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", secret.expose_secret()),
            ("scope", scope.as_str()),
        ];
        let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let response = self
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| AuthError::Unreachable(e.without_url().to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| AuthError::Unreachable(e.without_url().to_string()))?;
        if !status.is_success() {
            let e: TokenError = serde_json::from_slice(&bytes).unwrap_or_default();
            return Err(AuthError::Refused {
                status: status.as_u16(),
                error: e.error,
                description: e.error_description,
            });
        }
        let t: TokenResponse =
            serde_json::from_slice(&bytes).map_err(|e| AuthError::Unreachable(format!("unexpected token response: {e}")))?;
        Ok((
            SecretString::from(t.access_token),
            Duration::from_secs(t.expires_in.unwrap_or(3599).max(1)),
        ))
    }
}
