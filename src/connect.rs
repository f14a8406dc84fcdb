//! Turns the configured endpoint into a signed-in Graph client: either the embedded emulator,
//! started for this run with its state loaded from (and saved back to) the state folder, or a
//! real tenant with credentials from the environment.

use crate::config::{Config, Endpoint, SignIn};
use crate::emulator::{self, Emulator, Seed};
use crate::graph::auth::{App, ClientCertificate, Credential};
use crate::graph::{ClientSettings, GraphClient, retry};
use anyhow::{Context, Result, bail};
use secrecy::SecretString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The file in the state folder holding the embedded emulator's tenant between runs.
pub const STATE_FILE: &str = "emulator-state.json";

/// A Graph client and, for the embedded endpoint, the emulator behind it.
pub struct Connection {
    /// The client every stage uses.
    pub client: std::sync::Arc<GraphClient>,
    /// What the client talks to, for people.
    pub label: String,
    embedded: Option<(Emulator, PathBuf)>,
}

/// Opens the configured endpoint and signs in.
pub async fn open(config: &Config) -> Result<Connection> {
    let mut settings = ClientSettings {
        base: "https://graph.microsoft.com".parse().expect("static URL"),
        requests_per_second: config.rate.requests_per_second,
        retry: retry::Policy {
            max_attempts: config.rate.max_attempts,
            base_delay: Duration::from_millis(500),
            max_delay: config.rate.max_backoff,
        },
        request_timeout: config.rate.request_timeout,
        retry_budget: config.rate.retry_budget,
        deadline: config.rate.run_timeout.map(|t| Instant::now() + t),
        throttle_priority: config.rate.throttle_priority.clone(),
        batch_size: config.rate.batch_size,
    };
    let (credential, label, embedded) = match &config.endpoint {
        Endpoint::Embedded => {
            let state_file = config.emulator.state_dir.join(STATE_FILE);
            let seed = initial_state(&state_file, config.emulator.seed.as_deref())?;
            // A fresh credential per run, pinned in the emulator: sign-in is exercised for real.
            let client_id = uuid::Uuid::new_v4().to_string();
            let secret = uuid::Uuid::new_v4().simple().to_string();
            let options = emulator::Options {
                client_id: Some(client_id.clone()),
                client_secret: Some(secret.clone()),
                ..Default::default()
            };
            let emu = Emulator::start("127.0.0.1:0".parse().expect("static address"), &seed, options).await?;
            settings.base = emu.url().parse().context("emulator URL")?;
            let app = App {
                authority: settings.base.clone(),
                tenant: "embedded".into(),
                client_id,
                scope: "https://graph.microsoft.com/.default".into(),
            };
            let credential = Credential::ClientSecret(app, SecretString::from(secret));
            let label = format!("embedded Graph emulator (state: {})", state_file.display());
            (credential, label, Some((emu, state_file)))
        }
        Endpoint::Url(url) => {
            settings.base = url.clone();
            let credential = credential(config, url)?;
            let tenant = config.auth.tenant_id.as_deref().unwrap_or("(from the token)");
            (credential, format!("Microsoft Graph at {url} (tenant {tenant})"), None)
        }
    };
    let client = GraphClient::new(settings, credential).context("cannot set up the HTTP client")?;
    client.sign_in().await.context("cannot sign in to Graph")?;
    Ok(Connection { client, label, embedded })
}

/// The credential for a real tenant, from the configured sign-in method.
fn credential(config: &Config, url: &reqwest::Url) -> Result<Credential> {
    let auth = &config.auth;
    let Some(sign_in) = &auth.sign_in else {
        bail!(
            "sign-in is not configured for {url}: set AZURE_TENANT_ID and AZURE_CLIENT_ID, and AZURE_CLIENT_SECRET, \
             AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE (or choose auth.method in {}); see the README's Sign-in section",
            config.path.display()
        );
    };
    if let SignIn::AccessToken(token) = sign_in {
        return Ok(Credential::Static(token.clone()));
    }
    let (Some(tenant), Some(client_id)) = (&auth.tenant_id, &auth.client_id) else {
        bail!(
            "sign-in with {} needs the tenant and the app: set AZURE_TENANT_ID and AZURE_CLIENT_ID, or auth.tenant_id and auth.client_id in {}",
            sign_in.name(),
            config.path.display()
        );
    };
    let resource = format!("{}://{}", url.scheme(), url.host_str().unwrap_or("graph.microsoft.com"));
    let app = |scope: String| App {
        authority: auth.authority_host.clone(),
        tenant: tenant.clone(),
        client_id: client_id.clone(),
        scope,
    };
    let app_only = app(format!("{resource}/.default"));
    Ok(match sign_in {
        SignIn::ClientSecret(secret) => Credential::ClientSecret(app_only, secret.clone()),
        SignIn::Certificate { path, algorithm } => {
            Credential::Certificate(app_only, ClientCertificate::load(path).map_err(anyhow::Error::msg)?, *algorithm)
        }
        SignIn::WorkloadIdentity { token_file } => Credential::Federated(app_only, token_file.clone()),
        SignIn::DeviceCode => Credential::DeviceCode(
            app(format!(
                "{resource}/UserAuthenticationMethod.ReadWrite.All {resource}/User.ReadBasic.All offline_access"
            )),
            |message| {
                let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("{message}\n").as_bytes());
            },
        ),
        SignIn::AccessToken(_) => unreachable!("handled above"),
    })
}

/// The saved state if there is one, else the seed, else an empty tenant.
fn initial_state(state_file: &Path, seed: Option<&Path>) -> Result<Seed> {
    if state_file.exists() {
        return emulator::load_seed(state_file);
    }
    match seed {
        Some(path) => emulator::load_seed(path),
        None => Ok(Seed::default()),
    }
}

impl Connection {
    /// True when the run talks to the embedded emulator.
    pub fn is_embedded(&self) -> bool {
        self.embedded.is_some()
    }

    /// Stops the embedded emulator, saving its state when `save` is set.
    pub async fn close(self, save: bool) -> Result<()> {
        let Some((emu, state_file)) = self.embedded else { return Ok(()) };
        let state = emu.state();
        emu.stop().await;
        if save {
            save_state(&state_file, &state)?;
        }
        Ok(())
    }
}

fn save_state(path: &Path, state: &Seed) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create state folder {}", dir.display()))?;
    crate::files::write_private(path, &serde_json::to_vec_pretty(state)?)
}
