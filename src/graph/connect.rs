//! Turns the configured endpoint into a signed-in Graph client: either the embedded emulator,
//! started for this run with its state loaded from (and saved back to) the state folder, or a
//! real tenant with credentials from the environment.

use crate::config::{Config, Endpoint, SignIn};
use crate::graph::auth::{App, ClientCertificate, Credential};
use crate::graph::client::GraphClient;
use crate::graph::retry;
use crate::graph::wire::ClientSettings;
use anyhow::{Context, Result, bail};
use std::time::{Duration, Instant};

pub use embedded::STATE_FILE;

/// A Graph client and, for the embedded endpoint, the emulator behind it.
pub struct Connection {
    /// The client every stage uses.
    pub client: std::sync::Arc<GraphClient>,
    /// What the client talks to, for people.
    pub label: String,
    embedded: Option<embedded::Embedded>,
}

/// Opens the configured endpoint and signs in.
/// `scopes` are the delegated Graph permissions the run's targets need (asked for by device-code
/// sign-in; app-only sign-in gets what the app was granted).
pub async fn open(config: &Config, scopes: &[&str]) -> Result<Connection> {
    let mut settings = ClientSettings {
        base: "https://graph.microsoft.com".parse().expect("static URL"),
        budgets: crate::graph::rate::Budgets {
            resource_units_per_10s: config.rate.resource_units_per_10s,
            writes_per_150s: config.rate.writes_per_150s,
        },
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
        calls_in_flight: config.rate.concurrency,
        unreachable_after: config.rate.unreachable_after,
    };
    let (credential, label, embedded) = match &config.endpoint {
        Endpoint::Embedded => {
            let (emu, state_file, credential_for) = embedded::Embedded::start(config).await?;
            settings.base = emu.url().parse().context("emulator URL")?;
            let label = format!("embedded Graph emulator (state: {})", state_file.display());
            (credential_for(settings.base.clone()), label, Some(emu))
        }
        Endpoint::Url(url) => {
            settings.base = url.clone();
            let credential = credential(config, url, scopes)?;
            let tenant = config.auth.tenant_id.as_deref().unwrap_or("(from the token)");
            (credential, format!("Microsoft Graph at {url} (tenant {tenant})"), None)
        }
    };
    let client = GraphClient::new(settings, credential).context("cannot set up the HTTP client")?;
    client.sign_in().await.context("cannot sign in to Graph")?;
    Ok(Connection { client, label, embedded })
}

/// The credential for a real tenant, from the configured sign-in method.
fn credential(config: &Config, url: &reqwest::Url, scopes: &[&str]) -> Result<Credential> {
    let auth = &config.auth;
    let Some(sign_in) = &auth.sign_in else {
        bail!(
            "sign-in is not configured for {url}: set AZURE_TENANT_ID and AZURE_CLIENT_ID, and AZURE_CLIENT_SECRET, \
             AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE (or choose auth.method in {}); see docs/configuration.md#sign-in-to-a-real-tenant",
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
            {
                // The targets' permissions, reading users (to resolve UPNs), and a refresh token.
                let mut wanted: Vec<String> = Vec::new();
                let all = scopes.iter().copied().chain(["User.ReadBasic.All"]);
                for scope in all.map(|s| format!("{resource}/{s}")).chain(["offline_access".to_string()]) {
                    if !wanted.contains(&scope) {
                        wanted.push(scope);
                    }
                }
                app(wanted.join(" "))
            },
            crate::console::info,
        ),
        SignIn::AccessToken(_) => unreachable!("handled above"),
    })
}

impl Connection {
    /// True when the run talks to the embedded emulator.
    pub fn is_embedded(&self) -> bool {
        self.embedded.is_some()
    }

    /// Stops the embedded emulator, saving its state when `save` is set.
    pub async fn close(self, save: bool) -> Result<()> {
        match self.embedded {
            Some(emu) => emu.close(save).await,
            None => Ok(()),
        }
    }
}

/// The emulator built into the binary, started for one run with its tenant loaded from (and
/// saved back to) the state folder.
#[cfg(feature = "embedded-emulator")]
mod embedded {
    use crate::config::Config;
    use crate::graph::auth::{App, Credential};
    use anyhow::{Context, Result};
    use phonesync_emulator::{Emulator, Options, Seed, load_seed};
    use secrecy::SecretString;
    use std::path::{Path, PathBuf};

    /// The file in the state folder holding the embedded emulator's tenant between runs.
    pub const STATE_FILE: &str = "emulator-state.json";

    /// A running embedded emulator and the file its tenant is saved to.
    pub struct Embedded {
        emu: Emulator,
        state_file: PathBuf,
    }

    /// Builds the credential for the emulator's URL.
    pub type CredentialFor = Box<dyn FnOnce(reqwest::Url) -> Credential + Send>;

    impl Embedded {
        /// Starts the emulator from the saved state, else the configured seed, else an empty
        /// tenant, with a fresh credential pinned in it: sign-in is exercised for real.
        pub async fn start(config: &Config) -> Result<(Embedded, PathBuf, CredentialFor)> {
            let state_file = config.emulator.state_dir.join(STATE_FILE);
            let seed = initial_state(&state_file, config.emulator.seed.as_deref())?;
            let client_id = uuid::Uuid::new_v4().to_string();
            let secret = uuid::Uuid::new_v4().simple().to_string();
            let options = Options {
                client_id: Some(client_id.clone()),
                client_secret: Some(secret.clone()),
                ..Default::default()
            };
            let emu = Emulator::start("127.0.0.1:0".parse().expect("static address"), &seed, options).await?;
            let credential: CredentialFor = Box::new(move |authority| {
                let app = App {
                    authority,
                    tenant: "embedded".into(),
                    client_id,
                    scope: "https://graph.microsoft.com/.default".into(),
                };
                Credential::ClientSecret(app, SecretString::from(secret))
            });
            Ok((
                Embedded {
                    emu,
                    state_file: state_file.clone(),
                },
                state_file,
                credential,
            ))
        }

        /// The emulator's base URL.
        pub fn url(&self) -> String {
            self.emu.url()
        }

        /// Stops the emulator, saving its tenant when `save` is set.
        pub async fn close(self, save: bool) -> Result<()> {
            let state = self.emu.state();
            self.emu.stop().await;
            if save {
                let dir = self.state_file.parent().unwrap_or(Path::new("."));
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create state folder {}", dir.display()))?;
                crate::files::write_private(&self.state_file, &serde_json::to_vec_pretty(&state)?)?;
            }
            Ok(())
        }
    }

    /// The saved state if there is one, else the seed, else an empty tenant.
    fn initial_state(state_file: &Path, seed: Option<&Path>) -> Result<Seed> {
        if state_file.exists() {
            return load_seed(state_file);
        }
        match seed {
            Some(path) => load_seed(path),
            None => Ok(Seed::default()),
        }
    }
}

/// A build without the emulator: `endpoint = "embedded"` stops the run with a clear message.
#[cfg(not(feature = "embedded-emulator"))]
mod embedded {
    use crate::config::Config;
    use crate::graph::auth::Credential;
    use anyhow::{Result, bail};
    use std::path::PathBuf;

    /// The file in the state folder holding the embedded emulator's tenant between runs.
    pub const STATE_FILE: &str = "emulator-state.json";

    /// No emulator in this build: this type has no values.
    pub enum Embedded {}

    /// Builds the credential for the emulator's URL.
    pub type CredentialFor = Box<dyn FnOnce(reqwest::Url) -> Credential + Send>;

    impl Embedded {
        /// Always fails: this build has no emulator.
        pub async fn start(config: &Config) -> Result<(Embedded, PathBuf, CredentialFor)> {
            bail!(
                "{}: endpoint = \"embedded\" needs the built-in Graph emulator, and this build has none \
                 (built without the embedded-emulator feature); set endpoint to https://graph.microsoft.com",
                config.path.display()
            )
        }

        /// Never called.
        pub fn url(&self) -> String {
            match *self {}
        }

        /// Never called.
        pub async fn close(self, _save: bool) -> Result<()> {
            match self {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Env;

    /// Device-code sign-in asks for the delegated permissions of the run's targets, plus reading
    /// users and a refresh token.
    #[test]
    fn device_code_asks_for_the_targets_permissions() {
        let env = Env::from_pairs([("AZURE_TENANT_ID", "contoso"), ("AZURE_CLIENT_ID", "app")]);
        let config = Config::parse(
            "endpoint = \"https://graph.microsoft.com\"\n[auth]\nmethod = \"device_code\"\n",
            std::path::Path::new("/p/config.toml"),
            &env,
        )
        .unwrap();
        let url: reqwest::Url = "https://graph.microsoft.com".parse().unwrap();
        let scopes = ["UserAuthenticationMethod.ReadWrite.All", "User.ReadWrite.All"];
        let Credential::DeviceCode(app, _) = credential(&config, &url, &scopes).unwrap() else {
            panic!("device code")
        };
        assert_eq!(
            app.scope,
            "https://graph.microsoft.com/UserAuthenticationMethod.ReadWrite.All https://graph.microsoft.com/User.ReadWrite.All \
             https://graph.microsoft.com/User.ReadBasic.All offline_access"
        );
    }
}
