//! Sign-in: `[auth]` and the standard `AZURE_*` environment variables → how the tool signs in
//! to Entra ID. Secrets come only from the environment or from files.

use crate::config::endpoint::parse_url;
use crate::config::env::{ACCESS_TOKEN_VAR, Env};
use crate::config::raw::{Bad, RawAuth};
use secrecy::SecretString;
use std::path::{Path, PathBuf};

/// Sign-in settings. Secrets come only from the environment.
#[derive(Debug, Clone)]
pub struct Auth {
    /// Directory (tenant) id or domain.
    pub tenant_id: Option<String>,
    /// Application (client) id.
    pub client_id: Option<String>,
    /// Base URL of the token service.
    pub authority_host: reqwest::Url,
    /// How to sign in; `None` when nothing is configured.
    pub sign_in: Option<SignIn>,
}

/// Which signature a certificate assertion uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionAlgorithm {
    /// PS256 with the SHA-256 thumbprint in `x5t#S256` (current Entra documentation).
    Ps256,
    /// RS256 with the SHA-1 thumbprint in `x5t` (older documentation; a fallback).
    Rs256,
}

/// A sign-in method with what it needs.
#[derive(Debug, Clone)]
pub enum SignIn {
    /// App-only with the secret from `AZURE_CLIENT_SECRET`.
    ClientSecret(SecretString),
    /// App-only with a certificate: a PEM file holding the certificate and its private key.
    Certificate {
        /// The PEM file.
        path: PathBuf,
        /// The assertion's signature.
        algorithm: AssertionAlgorithm,
    },
    /// App-only with workload identity federation: the assertion file, re-read at every sign-in.
    WorkloadIdentity {
        /// The token file (`AZURE_FEDERATED_TOKEN_FILE`).
        token_file: PathBuf,
    },
    /// A bearer token obtained elsewhere, from `PHONESYNC_ACCESS_TOKEN`.
    AccessToken(SecretString),
    /// Delegated sign-in of an admin through the device-code flow.
    DeviceCode,
}

impl SignIn {
    /// The method's name as written in config.
    pub fn name(&self) -> &'static str {
        match self {
            SignIn::ClientSecret(_) => "client_secret",
            SignIn::Certificate { .. } => "certificate",
            SignIn::WorkloadIdentity { .. } => "workload_identity",
            SignIn::AccessToken(_) => "access_token",
            SignIn::DeviceCode => "device_code",
        }
    }
}

/// The token service's base URL: `auth.authority_host`, else `AZURE_AUTHORITY_HOST`, else
/// Entra's public cloud.
pub(crate) fn authority_host(raw: &RawAuth, env: &Env, bad: Bad) -> Result<reqwest::Url, anyhow::Error> {
    let authority = raw
        .authority_host
        .clone()
        .or_else(|| env.get("AZURE_AUTHORITY_HOST"))
        .unwrap_or_else(|| "https://login.microsoftonline.com".into());
    parse_url(&authority).map_err(|why| bad("auth.authority_host", why))
}

/// Checks and types the rest of `[auth]` (`authority_host` is checked first, by
/// [`authority_host`]), taking sign-in values from `env` where the file has none; `resolve`
/// anchors relative paths at the config's folder.
pub(crate) fn auth(
    raw: RawAuth,
    env: &Env,
    resolve: &dyn Fn(&Path) -> PathBuf,
    authority_host: reqwest::Url,
    bad: Bad,
) -> Result<Auth, anyhow::Error> {
    let sign_in = sign_in(&raw, env, resolve).map_err(|(key, why)| bad(key, why))?;
    Ok(Auth {
        tenant_id: raw.tenant_id.or_else(|| env.get("AZURE_TENANT_ID")),
        client_id: raw.client_id.or_else(|| env.get("AZURE_CLIENT_ID")),
        authority_host,
        sign_in,
    })
}

/// Picks the sign-in method: the one named by `auth.method`, or with `auto` (the default) the
/// first that is configured of: access token, client secret, certificate, federated token file.
fn sign_in(raw: &RawAuth, env: &Env, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<Option<SignIn>, (&'static str, String)> {
    let secret = env.get("AZURE_CLIENT_SECRET").map(SecretString::from);
    let token = env.get(ACCESS_TOKEN_VAR).map(SecretString::from);
    let certificate = raw
        .certificate_path
        .as_deref()
        .map(resolve)
        .or_else(|| env.get("AZURE_CLIENT_CERTIFICATE_PATH").map(PathBuf::from));
    let token_file = raw
        .federated_token_file
        .as_deref()
        .map(resolve)
        .or_else(|| env.get("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from));
    let algorithm = match raw.assertion_algorithm.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("PS256") => AssertionAlgorithm::Ps256,
        Some("RS256") => AssertionAlgorithm::Rs256,
        Some(other) => return Err(("auth.assertion_algorithm", format!("'{other}' is not PS256 or RS256"))),
    };
    let need = |what: &str| ("auth.method", format!("needs {what}"));
    let method = raw.method.as_deref().unwrap_or("auto");
    Ok(match method {
        "auto" => token
            .map(SignIn::AccessToken)
            .or(secret.map(SignIn::ClientSecret))
            .or(certificate.map(|path| SignIn::Certificate { path, algorithm }))
            .or(token_file.map(|token_file| SignIn::WorkloadIdentity { token_file })),
        "client_secret" => Some(SignIn::ClientSecret(
            secret.ok_or_else(|| need("AZURE_CLIENT_SECRET in the environment"))?,
        )),
        "certificate" => Some(SignIn::Certificate {
            path: certificate.ok_or_else(|| need("auth.certificate_path or AZURE_CLIENT_CERTIFICATE_PATH"))?,
            algorithm,
        }),
        "workload_identity" => Some(SignIn::WorkloadIdentity {
            token_file: token_file.ok_or_else(|| need("auth.federated_token_file or AZURE_FEDERATED_TOKEN_FILE"))?,
        }),
        "access_token" => Some(SignIn::AccessToken(
            token.ok_or_else(|| need("PHONESYNC_ACCESS_TOKEN in the environment"))?,
        )),
        "device_code" => Some(SignIn::DeviceCode),
        other => {
            return Err((
                "auth.method",
                format!("'{other}' is not auto, client_secret, certificate, workload_identity, access_token or device_code"),
            ));
        }
    })
}
