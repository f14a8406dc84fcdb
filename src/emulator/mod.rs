//! The Graph emulator: an axum server that behaves like Microsoft Graph's phone-method API as
//! documented (graph-contract.md), with a token endpoint, injected faults and a request journal.
//!
//! It is the embedded default endpoint (started in-process for `endpoint = "embedded"`), the
//! test bed of every integration test, and a sandbox to try a CSV in before touching a tenant
//! (`phonesync emulator`). It follows the contract, not the client.

mod http;
mod number;
pub mod tenant;

pub use tenant::{Seed, SeedPhone, SeedUser};

use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tenant::Tenant;
use tokio::sync::oneshot;

/// How the emulator behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Accept only this client id at the token endpoint; any when `None`.
    pub client_id: Option<String>,
    /// Accept only this client secret; any when `None`.
    pub client_secret: Option<String>,
    /// Lifetime of issued access tokens.
    pub token_lifetime: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            client_id: None,
            client_secret: None,
            token_lifetime: Duration::from_secs(3599),
        }
    }
}

/// A canned failure for the next matching Graph request (tests use these to exercise retries
/// and failed writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// HTTP status to answer with (429, 503, 504, …).
    pub status: u16,
    /// `Retry-After` header value, if any.
    pub retry_after: Option<String>,
    /// Only a request with this HTTP method takes the fault; any request when `None`.
    pub method: Option<String>,
}

impl Fault {
    /// A fault for the next request of any method.
    pub fn any(status: u16, retry_after: Option<&str>) -> Fault {
        Fault {
            status,
            retry_after: retry_after.map(str::to_string),
            method: None,
        }
    }

    /// A fault for the next request with `method` (e.g. `POST`).
    pub fn on(method: &str, status: u16) -> Fault {
        Fault {
            status,
            retry_after: None,
            method: Some(method.to_string()),
        }
    }
}

/// One Graph request the emulator answered.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// Order of arrival, from 1.
    pub seq: u64,
    /// HTTP method.
    pub method: String,
    /// Path as received, still percent-encoded.
    pub path: String,
    /// Status answered.
    pub status: u16,
    /// The `request-id` the emulator assigned.
    pub request_id: String,
    /// The client's `client-request-id`, if it sent one.
    pub client_request_id: Option<String>,
}

/// State shared by the handlers.
struct Shared {
    tenant: Mutex<Tenant>,
    tokens: Mutex<HashMap<String, Instant>>,
    options: Options,
    faults: Mutex<VecDeque<Fault>>,
    journal: Mutex<Vec<JournalEntry>>,
}

/// A running emulator. Dropping it without [`Emulator::stop`] leaves the server task running
/// until the runtime ends.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Emulator {
    /// Starts an emulator on `listen` (port 0 picks a free port) holding `seed`.
    pub async fn start(listen: SocketAddr, seed: &Seed, options: Options) -> Result<Emulator> {
        let tenant = Tenant::from_seed(seed).map_err(|e| anyhow::anyhow!("invalid emulator seed: {e}"))?;
        let shared = Arc::new(Shared {
            tenant: Mutex::new(tenant),
            tokens: Mutex::default(),
            options,
            faults: Mutex::default(),
            journal: Mutex::default(),
        });
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = http::router(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Emulator {
            addr,
            shared,
            stop: Some(stop),
            task,
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The tenant as it is now, in the seed format.
    pub fn state(&self) -> Seed {
        self.shared.tenant.lock().expect("tenant lock").to_seed()
    }

    /// Queues faults that the next Graph requests receive, one each, in order.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.faults.lock().expect("faults lock").extend(faults);
    }

    /// Every Graph request answered so far.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.shared.journal.lock().expect("journal lock").clone()
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Reads a seed file.
pub fn load_seed(path: &Path) -> Result<Seed> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read emulator seed {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a valid emulator seed (see the README for the format)", path.display()))
}

/// Runs the standalone emulator until Ctrl-C.
pub async fn serve(args: &crate::cli::EmulatorArgs) -> Result<std::process::ExitCode> {
    let seed = match &args.seed {
        Some(path) => load_seed(path)?,
        None => Seed::default(),
    };
    let options = Options {
        client_id: args.client_id.clone(),
        client_secret: args.client_secret.clone(),
        token_lifetime: Duration::from_secs(args.token_lifetime.max(1)),
    };
    let emulator = Emulator::start(args.listen, &seed, options).await?;
    let url = emulator.url();
    eprintln!(
        "phonesync Graph emulator (not Microsoft Graph) listening on {url} with {} users",
        seed.users.len()
    );
    eprintln!("  Graph:  {url}/v1.0/users/{{id or UPN}}/authentication/phoneMethods");
    eprintln!("  tokens: {url}/{{tenant}}/oauth2/v2.0/token (client-credentials grant)");
    match (&args.client_id, &args.client_secret) {
        (None, None) => eprintln!("  sign-in: any client id and secret are accepted (pin them with --client-id / --client-secret)"),
        _ => eprintln!("  sign-in: only the pinned client id/secret are accepted"),
    }
    eprintln!("  state:  {url}/_emulator/state    journal: {url}/_emulator/journal");
    eprintln!("Point phonesync at it with endpoint = \"{url}\" in config.toml. Ctrl-C stops it.");
    tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
    emulator.stop().await;
    Ok(std::process::ExitCode::SUCCESS)
}
