//! Access tokens for Graph (docs/graph.md#tokens): app-only sign-in with a client secret, a
//! certificate (client assertion signed PS256 with `x5t#S256`, or RS256 with `x5t`), or workload
//! identity federation (an assertion re-read from a file at every request, since kubelet rotates
//! it); a token handed in ready-made; or delegated device-code sign-in for an admin at a terminal.
//! Tokens are cached, refreshed before they expire, and dropped on a 401. Secrets stay in
//! `secrecy` types and never reach `Debug` output, logs or errors.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The client-assertion type of certificate and federated sign-in.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The app and the token service it signs in to.
#[derive(Debug, Clone)]
pub struct App {
    /// Token service base, e.g. `https://login.microsoftonline.com`.
    pub authority: reqwest::Url,
    /// Tenant id or domain.
    pub tenant: String,
    /// Application (client) id.
    pub client_id: String,
    /// For app-only sign-in, the resource's `.default` scope; for device code, the delegated scopes.
    pub scope: String,
}

impl App {
    fn endpoint(&self, leaf: &str) -> Result<reqwest::Url, AuthError> {
        let mut url = self.authority.clone();
        url.path_segments_mut()
            .map_err(|_| AuthError::Unreachable("the authority host cannot be a base URL".into()))?
            .pop_if_empty()
            .extend([self.tenant.as_str(), "oauth2", "v2.0", leaf]);
        Ok(url)
    }
}

pub use crate::config::AssertionAlgorithm;

/// A certificate and its private key, loaded from a PEM file.
#[derive(Clone)]
pub struct ClientCertificate {
    key: jsonwebtoken::EncodingKey,
    sha256: String,
    sha1: String,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t#S256", &self.sha256)
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Reads a PEM file holding the certificate and its RSA private key (the format
    /// `AZURE_CLIENT_CERTIFICATE_PATH` names).
    pub fn load(path: &Path) -> Result<ClientCertificate, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read certificate {}: {e}", path.display()))?;
        let blocks = pem::parse_many(&bytes).map_err(|e| format!("{} is not PEM: {e}", path.display()))?;
        let cert = blocks
            .iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or_else(|| format!("{} holds no CERTIFICATE block", path.display()))?;
        let key = blocks.iter().find(|b| b.tag().ends_with("PRIVATE KEY")).ok_or_else(|| {
            format!(
                "{} holds no PRIVATE KEY block: it needs the certificate and its private key",
                path.display()
            )
        })?;
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem::encode(key).as_bytes())
            .map_err(|e| format!("{}: the private key is not an RSA key ({e})", path.display()))?;
        let digest = |alg| URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(alg, cert.contents()).as_ref());
        Ok(ClientCertificate {
            key,
            sha256: digest(&aws_lc_rs::digest::SHA256),
            sha1: digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY),
        })
    }

    /// A fresh client assertion for `app`, valid for ten minutes.
    fn assertion(&self, app: &App, algorithm: AssertionAlgorithm) -> Result<String, AuthError> {
        let mut header = jsonwebtoken::Header::new(match algorithm {
            AssertionAlgorithm::Ps256 => jsonwebtoken::Algorithm::PS256,
            AssertionAlgorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
        });
        match algorithm {
            AssertionAlgorithm::Ps256 => header.x5t_s256 = Some(self.sha256.clone()),
            AssertionAlgorithm::Rs256 => header.x5t = Some(self.sha1.clone()),
        }
        let now = jsonwebtoken::get_current_timestamp();
        let claims = serde_json::json!({
            "aud": app.endpoint("token")?.as_str(),
            "iss": app.client_id,
            "sub": app.client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now,
            "iat": now,
            "exp": now + 600,
        });
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| AuthError::Setup(format!("cannot sign the client assertion: {e}")))
    }
}

/// How the tool proves who it is.
#[derive(Debug, Clone)]
pub enum Credential {
    /// App-only, client secret.
    ClientSecret(App, SecretString),
    /// App-only, certificate.
    Certificate(App, ClientCertificate, AssertionAlgorithm),
    /// App-only, workload identity federation: the assertion is read from this file each time.
    Federated(App, PathBuf),
    /// A bearer token obtained elsewhere; it cannot be refreshed.
    Static(SecretString),
    /// Delegated sign-in of an admin through the device-code flow; `prompt` shows the
    /// instructions (URL and code) to the person.
    DeviceCode(App, fn(&str)),
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
    /// The credential itself is unusable (unreadable token file, bad key, …).
    #[error("{0}")]
    Setup(String),
}

struct Cached {
    token: SecretString,
    /// When to start getting a new token (well before expiry).
    refresh_at: Instant,
    /// When the token stops working; until then it is used while another worker refreshes.
    expires_at: Instant,
    refresh_token: Option<SecretString>,
}

/// Numbers token sources, so a thread's copy of a token is never taken for another source's.
static SOURCES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's copy of the last fresh token it used: (source, generation, token). Requests
    /// read it without taking any lock while the source's generation is unchanged.
    static LOCAL: RefCell<Option<(u64, u64, SecretString)>> = const { RefCell::new(None) };
}

/// Attempts at the token service per sign-in: 5xx answers and network errors are retried.
const TOKEN_ATTEMPTS: u32 = 4;

/// A credential plus its cached token.
///
/// The cache sits behind a plain lock held only to copy a token in or out; the token request
/// itself runs under a separate lock that only workers needing a new token wait on. While a
/// token is due for refresh but still valid, every other worker keeps using it. A request takes
/// no lock at all while the token is fresh: each thread keeps a copy, valid while the source's
/// generation (bumped whenever the cached token changes or is dropped) is the one it was taken at.
pub struct TokenSource {
    id: u64,
    /// Bumped, under the cache lock, whenever the cached token changes or is dropped.
    generation: AtomicU64,
    /// Until when (milliseconds after `epoch`) the cached token is fresh; 0 when it is not.
    fresh_until_ms: AtomicU64,
    epoch: Instant,
    credential: Credential,
    http: reqwest::Client,
    timeout: Duration,
    deadline: Option<Instant>,
    policy: crate::graph::retry::Policy,
    cache: std::sync::Mutex<Option<Cached>>,
    refreshing: Mutex<()>,
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
    refresh_token: Option<String>,
}

#[derive(serde::Deserialize, Default)]
struct TokenError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

#[derive(serde::Deserialize)]
struct DeviceCodeResponse {
    device_code: String,
    message: String,
    expires_in: u64,
    #[serde(default = "default_interval")]
    interval: u64,
}

fn default_interval() -> u64 {
    5
}

/// What one token request produced.
struct Grant {
    token: SecretString,
    lifetime: Duration,
    refresh_token: Option<SecretString>,
}

impl TokenSource {
    /// A token source for `credential`, using `http` to reach the token service; each token
    /// request may take `timeout`, none starts after `deadline`, and failures the service may
    /// recover from (5xx, network errors) are retried by `policy` (at most `TOKEN_ATTEMPTS`).
    pub fn new(
        credential: Credential,
        http: reqwest::Client,
        timeout: Duration,
        deadline: Option<Instant>,
        policy: crate::graph::retry::Policy,
    ) -> TokenSource {
        TokenSource {
            credential,
            http,
            timeout,
            deadline,
            policy: crate::graph::retry::Policy {
                max_attempts: policy.max_attempts.min(TOKEN_ATTEMPTS),
                ..policy
            },
            cache: std::sync::Mutex::new(None),
            refreshing: Mutex::new(()),
            id: SOURCES.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
            fresh_until_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Milliseconds from `epoch` to `t` (at least 1, so 0 can mean "not fresh").
    fn millis(&self, t: Instant) -> u64 {
        (t.saturating_duration_since(self.epoch).as_millis() as u64).max(1)
    }

    /// The fresh token from this thread's copy, taking no lock, if the copy is current.
    fn fresh_local(&self) -> Option<SecretString> {
        // Read the freshness first: a later generation is then seen too (Release/Acquire).
        if self.millis(Instant::now()) >= self.fresh_until_ms.load(Ordering::Acquire) {
            return None;
        }
        let generation = self.generation.load(Ordering::Acquire);
        LOCAL.with(|local| match &*local.borrow() {
            Some((id, g, token)) if *id == self.id && *g == generation => Some(token.clone()),
            _ => None,
        })
    }

    /// Tells every thread the cache changed to `cache` (the caller holds its lock): their
    /// copies are stale from now on.
    fn published(&self, cache: &Option<Cached>) {
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let fresh_until = cache.as_ref().map_or(0, |c| self.millis(c.refresh_at));
        self.fresh_until_ms.store(fresh_until, Ordering::Release);
        // This thread's copy is current at once.
        let copy = cache.as_ref().map(|c| (self.id, generation, c.token.clone()));
        LOCAL.with(|local| *local.borrow_mut() = copy);
    }

    /// The cached token if it is fresh (`Ok`), else whether it is still usable while someone
    /// refreshes (`Err(Some)`) or not at all (`Err(None)`).
    fn cached(&self) -> Result<SecretString, Option<SecretString>> {
        if let Some(token) = self.fresh_local() {
            return Ok(token);
        }
        let cache = self.cache.lock().expect("token cache lock");
        let now = Instant::now();
        match cache.as_ref() {
            Some(c) if now < c.refresh_at => {
                let generation = self.generation.load(Ordering::Acquire);
                LOCAL.with(|local| *local.borrow_mut() = Some((self.id, generation, c.token.clone())));
                Ok(c.token.clone())
            }
            Some(c) if now < c.expires_at => Err(Some(c.token.clone())),
            _ => Err(None),
        }
    }

    /// A valid token, from the cache while it is fresh. Concurrent callers share one sign-in;
    /// a token due for refresh but still valid is handed out while one caller refreshes it.
    pub async fn token(&self) -> Result<SecretString, AuthError> {
        let usable = match self.cached() {
            Ok(token) => return Ok(token),
            Err(usable) => usable,
        };
        let _guard = match usable.clone() {
            Some(token) => match self.refreshing.try_lock() {
                Ok(guard) => guard,
                // Someone else is refreshing: the current token still works.
                Err(_) => return Ok(token),
            },
            None => self.refreshing.lock().await,
        };
        // Another caller may have refreshed while this one waited.
        if let Ok(token) = self.cached() {
            return Ok(token);
        }
        let refresh_token = self
            .cache
            .lock()
            .expect("token cache lock")
            .as_ref()
            .and_then(|c| c.refresh_token.clone());
        let got = match (refresh_token, &self.credential) {
            (Some(rt), Credential::DeviceCode(app, _)) => match self.refresh(app, &rt).await {
                Ok(g) => Ok(g),
                Err(_) => self.acquire().await,
            },
            _ => self.acquire().await,
        };
        let grant = match (got, usable) {
            (Ok(g), _) => g,
            // An early refresh failed, but the token in hand still works: use it, and try
            // again at the next call.
            (Err(e), Some(token)) => {
                tracing::warn!(error = %e, "could not refresh the access token early; using the current one");
                return Ok(token);
            }
            (Err(e), None) => return Err(e),
        };
        // Refresh well before expiry: five minutes early, or halfway for short-lived tokens.
        let margin = (grant.lifetime / 2).min(Duration::from_secs(300));
        let token = grant.token.clone();
        let now = Instant::now();
        let mut cache = self.cache.lock().expect("token cache lock");
        *cache = Some(Cached {
            token: grant.token,
            refresh_at: now + grant.lifetime - margin,
            expires_at: now + grant.lifetime,
            refresh_token: grant.refresh_token,
        });
        self.published(&cache);
        Ok(token)
    }

    /// Forgets `rejected` (after a 401), so the next call signs in again. Returns false when
    /// the credential cannot produce another token.
    pub async fn invalidate(&self, rejected: &SecretString) -> bool {
        let mut cache = self.cache.lock().expect("token cache lock");
        if let Some(c) = cache.as_mut()
            && c.token.expose_secret() == rejected.expose_secret()
        {
            c.refresh_at = Instant::now();
            c.expires_at = Instant::now();
            self.published(&cache);
        }
        !matches!(self.credential, Credential::Static(_))
    }

    async fn acquire(&self) -> Result<Grant, AuthError> {
        match &self.credential {
            Credential::Static(token) => Ok(Grant {
                token: token.clone(),
                lifetime: Duration::from_secs(3600),
                refresh_token: None,
            }),
            Credential::ClientSecret(app, secret) => self.client_credentials(app, &[("client_secret", secret.expose_secret())]).await,
            Credential::Certificate(app, cert, alg) => {
                let assertion = cert.assertion(app, *alg)?;
                self.client_credentials(app, &[("client_assertion_type", JWT_BEARER), ("client_assertion", &assertion)])
                    .await
            }
            Credential::Federated(app, file) => {
                // Re-read every time: the projected token is rotated under us.
                let assertion = std::fs::read_to_string(file)
                    .map_err(|e| AuthError::Setup(format!("cannot read the federated token file {}: {e}", file.display())))?;
                self.client_credentials(
                    app,
                    &[("client_assertion_type", JWT_BEARER), ("client_assertion", assertion.trim())],
                )
                .await
            }
            Credential::DeviceCode(app, prompt) => self.device_code(app, *prompt).await,
        }
    }

    async fn client_credentials(&self, app: &App, proof: &[(&str, &str)]) -> Result<Grant, AuthError> {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", app.client_id.as_str()),
            ("scope", app.scope.as_str()),
        ];
        form.extend_from_slice(proof);
        self.post(app.endpoint("token")?, &form).await
    }

    async fn refresh(&self, app: &App, refresh_token: &SecretString) -> Result<Grant, AuthError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", app.client_id.as_str()),
            ("scope", app.scope.as_str()),
            ("refresh_token", refresh_token.expose_secret()),
        ];
        self.post(app.endpoint("token")?, &form).await
    }

    async fn device_code(&self, app: &App, prompt: fn(&str)) -> Result<Grant, AuthError> {
        let form = [("client_id", app.client_id.as_str()), ("scope", app.scope.as_str())];
        let (status, bytes) = self.send(app.endpoint("devicecode")?, &form).await?;
        if !(200..300).contains(&status) {
            return Err(refused(status, &bytes));
        }
        let dc: DeviceCodeResponse =
            serde_json::from_slice(&bytes).map_err(|e| AuthError::Unreachable(format!("unexpected device-code response: {e}")))?;
        prompt(&dc.message);
        let deadline = Instant::now() + Duration::from_secs(dc.expires_in);
        let mut interval = Duration::from_secs(dc.interval);
        let device_grant = "urn:ietf:params:oauth:grant-type:device_code";
        loop {
            tokio::time::sleep(interval).await;
            let form = [
                ("grant_type", device_grant),
                ("client_id", app.client_id.as_str()),
                ("device_code", dc.device_code.as_str()),
            ];
            let (status, bytes) = self.send(app.endpoint("token")?, &form).await?;
            if (200..300).contains(&status) {
                return grant(&bytes);
            }
            match serde_json::from_slice::<TokenError>(&bytes).unwrap_or_default().error.as_str() {
                "authorization_pending" if Instant::now() < deadline => {}
                "slow_down" => interval += Duration::from_secs(5),
                _ => return Err(refused(status, &bytes)),
            }
        }
    }

    async fn post(&self, url: reqwest::Url, form: &[(&str, &str)]) -> Result<Grant, AuthError> {
        let (status, bytes) = self.send(url, form).await?;
        if !(200..300).contains(&status) {
            return Err(refused(status, &bytes));
        }
        grant(&bytes)
    }

    /// One form post to the token service, retried on 5xx answers and network errors with
    /// backoff, each try bounded by the request timeout, none started past the run's deadline.
    async fn send(&self, url: reqwest::Url, form: &[(&str, &str)]) -> Result<(u16, Vec<u8>), AuthError> {
        let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let policy = &self.policy;
        let mut attempt = 0;
        loop {
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(AuthError::Unreachable("the run's time limit was reached before sign-in".into()));
            }
            attempt += 1;
            let sent = self
                .http
                .post(url.clone())
                .header("content-type", "application/x-www-form-urlencoded")
                .timeout(self.timeout)
                .body(body.clone())
                .send()
                .await;
            let (outcome, retry_after) = match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| crate::graph::retry::parse_retry_after(v, std::time::SystemTime::now()));
                    match response.bytes().await {
                        Ok(bytes) if status < 500 && status != 429 => return Ok((status, bytes.to_vec())),
                        Ok(bytes) => (Ok((status, bytes.to_vec())), retry_after),
                        Err(e) => (Err(AuthError::Unreachable(e.without_url().to_string())), None),
                    }
                }
                Err(e) => (Err(AuthError::Unreachable(e.without_url().to_string())), None),
            };
            if attempt >= policy.max_attempts {
                return outcome;
            }
            let mut wait = policy.delay(attempt, retry_after);
            if let Some(deadline) = self.deadline {
                wait = wait.min(deadline.saturating_duration_since(Instant::now()));
            }
            tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, "retrying the token request");
            tokio::time::sleep(wait).await;
        }
    }
}

fn refused(status: u16, bytes: &[u8]) -> AuthError {
    let e: TokenError = serde_json::from_slice(bytes).unwrap_or_default();
    AuthError::Refused {
        status,
        error: e.error,
        description: e.error_description,
    }
}

fn grant(bytes: &[u8]) -> Result<Grant, AuthError> {
    let t: TokenResponse = serde_json::from_slice(bytes).map_err(|e| AuthError::Unreachable(format!("unexpected token response: {e}")))?;
    Ok(Grant {
        token: SecretString::from(t.access_token),
        lifetime: Duration::from_secs(t.expires_in.unwrap_or(3599).max(1)),
        refresh_token: t.refresh_token.map(SecretString::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(token: &str) -> TokenSource {
        TokenSource::new(
            Credential::Static(SecretString::from(token.to_string())),
            reqwest::Client::new(),
            Duration::from_secs(1),
            None,
            super::super::retry::Policy {
                max_attempts: 1,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(1),
            },
        )
    }

    fn secret(t: Option<SecretString>) -> Option<String> {
        t.map(|t| t.expose_secret().to_string())
    }

    #[tokio::test]
    async fn a_fresh_token_is_read_without_the_lock_until_it_is_dropped() {
        let s = source("t1");
        assert_eq!(secret(s.fresh_local()), None, "nothing signed in yet");
        let token = s.token().await.unwrap();
        // With the cache lock held elsewhere, a request still gets its token.
        let held = s.cache.lock().unwrap();
        assert_eq!(secret(s.fresh_local()), Some("t1".into()));
        drop(held);
        // Another source signed in on this thread (at the same generation) gets its own token,
        // and this one's copy is then no longer on this thread: it goes through the cache.
        let other = source("t2");
        other.token().await.unwrap();
        assert_eq!(secret(other.fresh_local()), Some("t2".into()));
        assert_eq!(secret(s.fresh_local()), None, "another source's copy is not this one's");
        assert_eq!(secret(s.token().await.ok()), Some("t1".into()));
        s.invalidate(&token).await;
        assert_eq!(secret(s.fresh_local()), None, "a dropped token is not served from a copy");
        assert_eq!(secret(s.token().await.ok()), Some("t1".into()), "signed in again");
        assert_eq!(secret(s.fresh_local()), Some("t1".into()));
    }
}
