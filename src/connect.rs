//! Turns the configured endpoint into a signed-in Graph client: either the embedded emulator,
//! started for this run with its state loaded from (and saved back to) the state folder, or a
//! real tenant with credentials from the environment.

use crate::config::{Config, Endpoint};
use crate::emulator::{self, Emulator, Seed};
use crate::graph::auth::Credential;
use crate::graph::{ClientSettings, GraphClient, retry};
use anyhow::{Context, Result, bail};
use secrecy::SecretString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file in the state folder holding the embedded emulator's tenant between runs.
pub const STATE_FILE: &str = "emulator-state.json";

/// A Graph client and, for the embedded endpoint, the emulator behind it.
pub struct Connection {
    /// The client every stage uses.
    pub client: GraphClient,
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
            let credential = Credential::ClientSecret {
                authority: settings.base.clone(),
                tenant: "embedded".into(),
                client_id,
                secret: SecretString::from(secret),
                scope: "https://graph.microsoft.com/.default".into(),
            };
            let label = format!("embedded Graph emulator (state: {})", state_file.display());
            (credential, label, Some((emu, state_file)))
        }
        Endpoint::Url(url) => {
            settings.base = url.clone();
            let (Some(tenant), Some(client_id), Some(secret)) =
                (&config.auth.tenant_id, &config.auth.client_id, &config.auth.client_secret)
            else {
                bail!(
                    "sign-in is not configured for {url}: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET \
                     (tenant and client id may also be set under [auth] in {}); see the README's Sign-in section",
                    config.path.display()
                );
            };
            let scope = format!("{}://{}/.default", url.scheme(), url.host_str().unwrap_or("graph.microsoft.com"));
            let credential = Credential::ClientSecret {
                authority: config.auth.authority_host.clone(),
                tenant: tenant.clone(),
                client_id: client_id.clone(),
                secret: secret.clone(),
                scope,
            };
            (credential, format!("Microsoft Graph at {url} (tenant {tenant})"), None)
        }
    };
    let client = GraphClient::new(settings, credential).context("cannot set up the HTTP client")?;
    client.sign_in().await.context("cannot sign in to Graph")?;
    Ok(Connection { client, label, embedded })
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
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(state)?).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}
