//! The state every handler of a running emulator shares: the tenant, what sign-in left behind,
//! the throttle, the fault queue, the dice, the journal and the options. It is a leaf apart from
//! lib.rs so that the handlers (http.rs, batch.rs, token.rs, …) take it from below, not from the
//! module that declares them.

use crate::access::{Grant, Issued, PendingDeviceCode};
use crate::assertion::Certificate;
use crate::dice::Dice;
use crate::fault;
use crate::journal::Journal;
use crate::options::Options;
use crate::tenant::Tenant;
use crate::throttle::Throttle;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// State shared by the handlers.
pub(crate) struct Shared {
    /// The users and their phones; changes are journaled before it is unlocked.
    pub tenant: Mutex<Tenant>,
    /// Access tokens issued and still known, by token.
    pub tokens: Mutex<HashMap<String, Issued>>,
    /// How the emulator behaves.
    pub options: Options,
    /// The certificate client assertions must be signed for, if one is configured.
    pub certificate: Option<Certificate>,
    /// Scripted faults not yet used up.
    pub faults: fault::Queue,
    /// Randomness: random faults, latency jitter, `$batch` order.
    pub dice: Mutex<Dice>,
    /// Graph's throttle buckets.
    pub throttle: Mutex<Throttle>,
    /// Every request and change, in order.
    pub journal: Journal,
    /// Device codes waiting for an admin, by device code.
    pub device_codes: Mutex<HashMap<String, PendingDeviceCode>>,
    /// Refresh tokens issued, with the client each belongs to.
    pub refresh_tokens: Mutex<HashMap<String, String>>,
    /// Access tokens issued so far.
    pub tokens_issued: AtomicU64,
    /// How each token was asked for, in order.
    pub grants: Mutex<Vec<Grant>>,
    /// Graph HTTP calls being answered now, and the most at once.
    pub calls: CallGauge,
}

impl Shared {
    /// The state of a new emulator holding `tenant`, with nothing issued, queued or journaled.
    pub fn new(tenant: Tenant, certificate: Option<Certificate>, journal: Journal, options: Options) -> Shared {
        Shared {
            tenant: Mutex::new(tenant),
            tokens: Mutex::default(),
            certificate,
            faults: fault::Queue::default(),
            dice: Mutex::new(Dice::new(options.random_seed)),
            throttle: Mutex::new(Throttle::new(&options)),
            journal,
            device_codes: Mutex::default(),
            refresh_tokens: Mutex::default(),
            tokens_issued: AtomicU64::default(),
            calls: CallGauge::default(),
            grants: Mutex::default(),
            options,
        }
    }

    /// How long to hold a Graph call before answering: the configured latency plus jitter.
    pub fn latency(&self) -> Duration {
        let jitter = match self.options.latency_jitter_ms {
            0 => 0,
            j => self.dice.lock().expect("dice lock").below(j + 1),
        };
        Duration::from_millis(self.options.latency_ms + jitter)
    }

    /// How long a "slow" fault holds an answer.
    pub fn slow(&self) -> Duration {
        Duration::from_millis(self.options.slow_ms)
    }
}

/// Graph HTTP calls (single requests and `$batch` envelopes) being answered now, and the most
/// ever at once: how a test sees a client's concurrency.
#[derive(Default)]
pub(crate) struct CallGauge {
    open: AtomicU64,
    most: AtomicU64,
}

/// One open call; closing it (dropping) takes it off the gauge, however the handler ends.
pub(crate) struct OpenCall<'a>(&'a CallGauge);

impl CallGauge {
    /// Counts a call as open until the returned guard is dropped.
    pub fn open(&self) -> OpenCall<'_> {
        let now = self.open.fetch_add(1, Relaxed) + 1;
        self.most.fetch_max(now, Relaxed);
        OpenCall(self)
    }

    /// The most calls that were open at once.
    pub fn most(&self) -> u64 {
        self.most.load(Relaxed)
    }
}

impl Drop for OpenCall<'_> {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Relaxed);
    }
}
