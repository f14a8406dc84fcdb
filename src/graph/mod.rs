//! The transport: signs, paces, batches (v1.0 and beta never mixed), retries and confirms any
//! Graph request. It speaks requests, not phones: what to read and write, and how to tell by
//! reading whether a write was applied, come from the targets (`targets`). Graph's error bodies,
//! correlation headers and user addressing live here.
//!
//! `request` is the vocabulary, `wire` one signed and paced HTTP call, `batch` the `$batch`
//! gatherer, `client` the per-op state machine every request goes through, `rate` the pacer,
//! `auth` sign-in, `connect` the configured endpoint opened.

pub mod auth;
pub mod batch;
pub mod client;
pub mod connect;
pub mod halt;
pub mod rate;
pub mod request;
pub mod retry;
pub mod stats;
pub mod wire;

pub use client::GraphClient;
pub use request::{
    AFTER_HEADER, Attempt, CallInfo, ChainItem, ChainObserver, ChainResult, Confirm, DirectoryUser, GraphError, NOT_STARTED, NotSent,
    Processed, Request, Version, path_segment,
};
pub use wire::{ClientSettings, http_client};
