//! The Graph emulator: a server that behaves like Microsoft Graph's phone-method API, and its
//! beta profile phones, as documented (docs/graph.md): rules, errors, throttling, faults,
//! `$batch`, tokens, and a journal of everything it did.
//!
//! It is the embedded default endpoint (started in-process for `endpoint = "embedded"`), the
//! test bed of every integration test, and a sandbox to try a CSV in before touching a tenant
//! (`phonesync emulator`). It follows docs/graph.md, not the client, and shares no code with the
//! client side.

mod access;
mod answer;
mod assertion;
mod batch;
mod call;
pub mod check;
mod dice;
mod fault;
mod gate;
pub mod generate;
mod graph;
mod http;
mod inject;
pub mod journal;
mod number;
pub mod options;
mod refusal;
mod resources;
mod shared;
pub mod tenant;
mod throttle;
mod token;

pub use access::Grant as TokenGrant;
pub use fault::{Effect, Fault};
pub use journal::{ChangeRecord, Event, JournalEntry, RequestRecord};
pub use options::Options;
pub use tenant::{Change, Resource, Seed, SeedPhone, SeedProfilePhone, SeedUser};

use anyhow::{Context, Result};
use assertion::Certificate;
use hyper_util::rt::{TokioExecutor, TokioIo};
use shared::Shared;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use tenant::Tenant;
use tokio::sync::watch;
use tower::ServiceExt;

/// A running emulator.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// The error a connection ends with when a fault drops it.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

impl Emulator {
    /// Starts an emulator on `listen` (port 0 picks a free port) holding `seed`.
    pub async fn start(listen: SocketAddr, seed: &Seed, options: Options) -> Result<Emulator> {
        options.validate().map_err(anyhow::Error::msg)?;
        let tenant = Tenant::from_seed(seed, resources::tables()).map_err(|e| anyhow::anyhow!("invalid emulator seed: {e}"))?;
        let certificate = match &options.certificate {
            Some(path) => {
                let pem = std::fs::read(path).with_context(|| format!("cannot read certificate {}", path.display()))?;
                Some(Certificate::from_pem(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?)
            }
            None => None,
        };
        let journal = journal::Journal::new(options.journal.as_deref()).context("cannot open the journal file")?;
        let shared = Arc::new(Shared::new(tenant, certificate, journal, options));
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let app = http::router(shared.clone());
        let task = tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    _ = stopped.changed() => break,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                };
                let app = app.clone();
                let mut stopped = stopped.clone();
                tokio::spawn(async move {
                    // A service error makes hyper close the connection without an answer: that
                    // is how a "dropped connection" fault reaches the client.
                    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let app = app.clone();
                        async move {
                            let response = app
                                .oneshot(req.map(axum::body::Body::new))
                                .await
                                .unwrap_or_else(|never| match never {});
                            if response.extensions().get::<answer::DropConnection>().is_some() {
                                Err(Dropped)
                            } else {
                                Ok(response)
                            }
                        }
                    });
                    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = connection => {}
                        _ = stopped.changed() => {}
                    }
                });
            }
        });
        Ok(Emulator { addr, shared, stop, task })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The tenant as it is now, in the seed format.
    pub fn state(&self) -> Seed {
        self.shared.tenant.lock().expect("tenant lock").to_seed()
    }

    /// Queues faults for the next matching requests (each lets `skip` of them through, then hits
    /// `times` of them; a request meets the first queued fault that is ready for it).
    /// `POST /_emulator/faults` does the same over HTTP.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.faults.extend(faults);
    }

    /// The scripted faults not yet used up, with the hits each has left.
    pub fn pending_faults(&self) -> Vec<Fault> {
        self.shared.faults.list()
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Every journal entry so far.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.shared.journal.entries()
    }

    /// The requests in the journal, in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.journal()
            .into_iter()
            .filter_map(|e| match e.event {
                Event::Request(r) => Some(r),
                Event::Change(_) => None,
            })
            .collect()
    }

    /// The state changes in the journal, in order, each with the request that made it.
    pub fn change_records(&self) -> Vec<ChangeRecord> {
        self.journal()
            .into_iter()
            .filter_map(|e| match e.event {
                Event::Change(c) => Some(c),
                Event::Request(_) => None,
            })
            .collect()
    }

    /// The state changes in the journal, in order (without who made them: see
    /// [`Emulator::change_records`]).
    pub fn changes(&self) -> Vec<Change> {
        self.change_records().into_iter().map(|c| c.change).collect()
    }

    /// Every token the emulator granted, in order: how it was asked for.
    pub fn grants(&self) -> Vec<TokenGrant> {
        self.shared.grants.lock().expect("grants lock").clone()
    }

    /// The most Graph HTTP calls (single requests and `$batch` envelopes, not token requests)
    /// it was answering at once.
    pub fn most_calls_in_flight(&self) -> u64 {
        self.shared.calls.most()
    }

    /// Access tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        self.shared.tokens_issued.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The access tokens issued and still known (tests grep outputs for them).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.tokens.lock().expect("tokens lock").keys().cloned().collect()
    }

    /// Approves every pending device-code sign-in, as the admin would in a browser.
    pub fn approve_device_codes(&self) {
        token::approve_all(&self.shared);
    }

    /// Forgets every issued access token, as a revocation would; the next Graph call gets 401.
    pub fn revoke_tokens(&self) {
        self.shared.tokens.lock().expect("tokens lock").clear();
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Reads a seed file.
pub fn load_seed(path: &Path) -> Result<Seed> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read emulator seed {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a valid emulator seed (see docs/emulator.md, Seed format)",
            path.display()
        )
    })
}

/// Arguments of the standalone emulator (`phonesync emulator`).
#[derive(Debug, clap::Args, Clone)]
#[command(
    after_help = "The emulator serves Graph's phone-method endpoints (v1.0 and beta), the beta profile-phone endpoints \
    (/beta/users/{id or UPN}/profile/phones), $batch, and a token endpoint (POST /{tenant}/oauth2/v2.0/token) on plain HTTP. Point phonesync at it with \
    endpoint = \"http://ADDRESS\" in config.toml. GET /_emulator/state shows the tenant (users, phone \
    methods, profile phones) in the seed format; GET /_emulator/journal lists every request and state change."
)]
pub struct ServeArgs {
    /// Address to listen on; use port 0 for any free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// JSON file with the tenant's users and phones (format in docs/emulator.md, "Seed format"). Empty tenant if absent.
    #[arg(long, help_heading = "Tenant")]
    pub seed: Option<std::path::PathBuf>,
    /// Generate a tenant of this many users instead of reading a seed.
    #[arg(long, value_name = "N", help_heading = "Tenant")]
    pub generate_users: Option<usize>,
    /// Seed number of the generated tenant (same number, same tenant).
    #[arg(long, default_value_t = 42, help_heading = "Tenant")]
    pub generate_seed: u64,
    /// Fraction of generated users whose HR rows differ from their current phones.
    #[arg(long, default_value_t = 0.1, help_heading = "Tenant")]
    pub change_fraction: f64,
    /// Write the generated tenant's HR export (long-format CSV) here.
    #[arg(long, value_name = "FILE", help_heading = "Tenant")]
    pub write_csv: Option<std::path::PathBuf>,
    /// Write the generated tenant as a seed file here.
    #[arg(long, value_name = "FILE", help_heading = "Tenant")]
    pub write_seed: Option<std::path::PathBuf>,
    /// How the emulator behaves.
    #[command(flatten)]
    pub options: Options,
}

/// Runs the standalone emulator until Ctrl-C.
pub async fn serve(args: &ServeArgs) -> Result<std::process::ExitCode> {
    let seed = match (&args.seed, args.generate_users) {
        (Some(_), Some(_)) => anyhow::bail!("--seed and --generate-users cannot be used together"),
        (Some(path), None) => load_seed(path)?,
        (None, Some(n)) => {
            let started = Instant::now();
            let generated = generate::generate(n, args.generate_seed, args.change_fraction);
            if let Some(path) = &args.write_csv {
                let file = std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
                generated
                    .write_csv(std::io::BufWriter::new(file))
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!(
                    "wrote {} HR rows ({} users with changes) to {}",
                    generated.rows.len(),
                    generated.changed_users,
                    path.display()
                );
            }
            if let Some(path) = &args.write_seed {
                std::fs::write(path, serde_json::to_vec(&generated.seed)?).with_context(|| format!("cannot write {}", path.display()))?;
            }
            eprintln!("generated {n} users in {:.1} s", started.elapsed().as_secs_f64());
            generated.seed
        }
        (None, None) => Seed::default(),
    };
    let options = args.options.clone();
    let pinned = options.client_id.is_some() || options.client_secret.is_some();
    let emulator = Emulator::start(args.listen, &seed, options).await?;
    let url = emulator.url();
    eprintln!(
        "phonesync Graph emulator (not Microsoft Graph) listening on {url} with {} users",
        seed.users.len()
    );
    eprintln!("  Graph:  {url}/v1.0/users/{{id or UPN}}/authentication/phoneMethods  (and /v1.0/$batch, /beta/…)");
    eprintln!("  profile phones (beta only): {url}/beta/users/{{id or UPN}}/profile/phones  (and /beta/$batch)");
    eprintln!("  tokens: {url}/{{tenant}}/oauth2/v2.0/token (client-credentials grant)");
    if pinned {
        eprintln!("  sign-in: only the pinned client id / secret are accepted");
    } else {
        eprintln!("  sign-in: any client id and secret are accepted (pin them with --client-id / --client-secret)");
    }
    eprintln!("  state:  {url}/_emulator/state    journal: {url}/_emulator/journal    faults: {url}/_emulator/faults");
    eprintln!("Point phonesync at it with endpoint = \"{url}\" in config.toml. Ctrl-C stops it.");
    tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
    emulator.stop().await;
    Ok(std::process::ExitCode::SUCCESS)
}
