//! Every knob of the emulator, shared by `phonesync emulator`'s flags and by tests. Where Graph's
//! real behaviour is UNCONFIRMED (docs/graph.md#unconfirmed-behaviour), the emulator's choice is a
//! knob here and its default is the one that page recommends.

use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// The most items a page of a Graph list holds (`$top` and `--profile-page-size` alike).
pub const MAX_PAGE_SIZE: usize = 999;

/// How the emulator behaves. `Options::default()` equals the flags' defaults.
#[derive(Debug, Clone, Args)]
pub struct Options {
    /// Accept only this client id at the token endpoint (default: any).
    #[arg(long, help_heading = "Sign-in")]
    pub client_id: Option<String>,
    /// Accept only this client secret (default: any secret).
    #[arg(long, env = "PHONESYNC_EMULATOR_CLIENT_SECRET", hide_env_values = true, help_heading = "Sign-in")]
    pub client_secret: Option<String>,
    /// PEM certificate that client assertions (PS256 with x5t#S256, or RS256 with x5t) must be
    /// signed for; without it, certificate sign-in is refused.
    #[arg(long, value_name = "PEM", help_heading = "Sign-in")]
    pub certificate: Option<PathBuf>,
    /// Issuer a federated (workload identity) assertion must carry; without it, federated
    /// sign-in is refused. Its audience must be api://AzureADTokenExchange.
    #[arg(long, help_heading = "Sign-in")]
    pub federated_issuer: Option<String>,
    /// Subject a federated assertion must carry (default: any).
    #[arg(long, help_heading = "Sign-in")]
    pub federated_subject: Option<String>,
    /// Lifetime of issued access tokens, in seconds (`expires_in`).
    #[arg(long, default_value_t = 3599, help_heading = "Sign-in")]
    pub token_lifetime: u64,
    /// Device-code sign-in: approve each code at its first poll, as if the admin had signed in
    /// at once (otherwise approve with POST /_emulator/devicelogin, form field user_code).
    #[arg(long, help_heading = "Sign-in")]
    pub device_code_auto_approve: bool,
    /// Device-code sign-in: the polling interval the emulator asks for, in seconds.
    #[arg(long, default_value_t = 5, help_heading = "Sign-in")]
    pub device_code_interval: u64,

    /// Which numbers create/update accept: `strict` is the documented `+CC NUMBER[xEXT]`;
    /// `lenient` also takes `+CCNUMBER` and punctuation (docs/graph.md#number-format-and-echo, UNCONFIRMED).
    #[arg(long, value_enum, default_value_t = NumberInput::Strict, help_heading = "Graph behaviour")]
    pub number_input: NumberInput,
    /// How numbers are stored and returned: as sent, without spaces, or re-spaced in groups.
    #[arg(long, value_enum, default_value_t = NumberEcho::Verbatim, help_heading = "Graph behaviour")]
    pub number_echo: NumberEcho,
    /// HTTP status for a phone-method rule violation (UNCONFIRMED, docs/graph.md#rule-errors).
    #[arg(long, default_value_t = 400, help_heading = "Graph behaviour")]
    pub rule_error_status: u16,
    /// `error.code` for a phone-method rule violation (UNCONFIRMED, docs/graph.md#rule-errors).
    #[arg(long, default_value = "invalidRequest", help_heading = "Graph behaviour")]
    pub rule_error_code: String,
    /// Status of a successful create: 201 (reference page) or 200 (tutorial), docs/graph.md#phone-methods.
    #[arg(long, default_value_t = 201, value_parser = clap::value_parser!(u16).range(200..=201), help_heading = "Graph behaviour")]
    pub create_status: u16,
    /// Answer to a successful update: `empty` 204 (the example) or `body` 200 with the object, docs/graph.md#phone-methods.
    #[arg(long, value_enum, default_value_t = UpdateResponse::Empty, help_heading = "Graph behaviour")]
    pub update_response: UpdateResponse,
    /// Treat every user as not enabled for SMS sign-in by policy (smsSignInState
    /// `notAllowedByPolicy`; enableSmsSignIn refused).
    #[arg(long, help_heading = "Graph behaviour")]
    pub sms_sign_in_disabled: bool,
    /// Refuse beta `GET …/authentication/signInPreferences` with 403 `Authorization_RequestDenied`,
    /// as for an app without the permission to read it (UNCONFIRMED which one, docs/graph.md#default-sign-in-method).
    #[arg(long, help_heading = "Graph behaviour")]
    pub sign_in_preferences_forbidden: bool,
    /// Refuse beta profile-phone writes (POST, PATCH, DELETE …/profile/phones) made with an
    /// app-only token with 403 `Authorization_RequestDenied`, as Microsoft's current pages say
    /// application permissions are not supported for them (UNCONFIRMED, docs/graph.md#profile-phones).
    /// Reads, and writes with a delegated token, are served.
    #[arg(long, help_heading = "Graph behaviour")]
    pub profile_app_only_forbidden: bool,
    /// Answer a list of profile phones (`GET …/profile/phones`) in pages of at most N items, each
    /// with an `@odata.nextLink` to the next while more remain, as a request's `$top` does
    /// (whether Graph pages the list unasked is UNCONFIRMED, docs/graph.md#profile-phone-pages).
    /// When absent, a list without `$top` is one page of every item.
    #[arg(long, value_name = "N", help_heading = "Graph behaviour")]
    pub profile_page_size: Option<usize>,
    /// A `$batch` envelope the emulator refuses as a whole with 429 or 503 (an injected status
    /// fault aimed at it) runs its items first, journaled as usual, then answers the refusal;
    /// without it, nothing in a refused batch runs (UNCONFIRMED which Graph does,
    /// docs/graph.md#batch).
    #[arg(long, help_heading = "Graph behaviour")]
    pub refused_batch_ran_items: bool,

    /// Resource units an app may spend per window (app + tenant token bucket,
    /// docs/graph.md#throttle-limits); no throttling when absent. Every phone-method and
    /// profile-phone request costs 1.
    #[arg(long, value_name = "RU", help_heading = "Throttling")]
    pub throttle_ru: Option<u32>,
    /// Length of the resource-unit window, in seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS", help_heading = "Throttling")]
    pub throttle_window: f64,
    /// Writes (POST, PATCH, DELETE) an app may make per write window; unlimited when absent.
    #[arg(long, value_name = "N", help_heading = "Throttling")]
    pub throttle_writes: Option<u32>,
    /// Length of the write window, in seconds (Graph: 150).
    #[arg(long, default_value_t = 150.0, value_name = "SECONDS", help_heading = "Throttling")]
    pub throttle_write_window: f64,
    /// How a 429 says when to retry: integer seconds, fractional seconds, an HTTP date, or no
    /// Retry-After at all (docs/graph.md#retry-after).
    #[arg(long, value_enum, default_value_t = RetryAfterMode::Seconds, help_heading = "Throttling")]
    pub retry_after: RetryAfterMode,

    /// Fraction of Graph requests (0 to 1) that meet a random fault from --faults.
    #[arg(long, default_value_t = 0.0, value_name = "RATE", help_heading = "Faults")]
    pub fault_rate: f64,
    /// The faults to draw from (comma-separated). `applied-*` apply a write, then fail.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = FaultKind::ALL.to_vec(), help_heading = "Faults")]
    pub faults: Vec<FaultKind>,
    /// How long a `slow` fault holds the response, in milliseconds (set it past the client's timeout).
    #[arg(long, default_value_t = 35_000, value_name = "MS", help_heading = "Faults")]
    pub slow_ms: u64,
    /// Seed of the random choices (faults, latency, response order), for repeatable runs.
    #[arg(long, default_value_t = 1, help_heading = "Faults")]
    pub random_seed: u64,
    /// Fixed delay added to every Graph request, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS", help_heading = "Faults")]
    pub latency_ms: u64,
    /// Random extra delay, uniform from 0 to this, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS", help_heading = "Faults")]
    pub latency_jitter_ms: u64,

    /// Also write the journal (every request and state change) to this file as JSON lines.
    #[arg(long, value_name = "FILE", help_heading = "Journal")]
    pub journal: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            client_id: None,
            client_secret: None,
            certificate: None,
            federated_issuer: None,
            federated_subject: None,
            token_lifetime: 3599,
            device_code_auto_approve: false,
            device_code_interval: 5,
            number_input: NumberInput::Strict,
            number_echo: NumberEcho::Verbatim,
            rule_error_status: 400,
            rule_error_code: "invalidRequest".into(),
            create_status: 201,
            update_response: UpdateResponse::Empty,
            sms_sign_in_disabled: false,
            sign_in_preferences_forbidden: false,
            profile_app_only_forbidden: false,
            profile_page_size: None,
            refused_batch_ran_items: false,
            throttle_ru: None,
            throttle_window: 10.0,
            throttle_writes: None,
            throttle_write_window: 150.0,
            retry_after: RetryAfterMode::Seconds,
            fault_rate: 0.0,
            faults: FaultKind::ALL.to_vec(),
            slow_ms: 35_000,
            random_seed: 1,
            latency_ms: 0,
            latency_jitter_ms: 0,
            journal: None,
        }
    }
}

impl Options {
    /// Lifetime of issued tokens.
    pub fn token_lifetime(&self) -> Duration {
        Duration::from_secs(self.token_lifetime.max(1))
    }

    /// Checks values clap cannot.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.fault_rate) {
            return Err(format!("--fault-rate {} is not between 0 and 1", self.fault_rate));
        }
        if !(self.throttle_window > 0.0 && self.throttle_write_window > 0.0) {
            return Err("throttle windows must be positive".into());
        }
        if !(400..600).contains(&self.rule_error_status) {
            return Err(format!("--rule-error-status {} is not an error status", self.rule_error_status));
        }
        if let Some(n) = self.profile_page_size
            && !(1..=MAX_PAGE_SIZE).contains(&n)
        {
            return Err(format!("--profile-page-size {n} is not between 1 and {MAX_PAGE_SIZE}"));
        }
        if self.faults.is_empty() && self.fault_rate > 0.0 {
            return Err("--fault-rate needs at least one kind in --faults".into());
        }
        Ok(())
    }
}

/// Which number spellings create/update accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NumberInput {
    /// Only `+CC NUMBER[xEXT]`, as documented.
    Strict,
    /// Also `+CCNUMBER`, spaces, dashes, dots and parentheses after the `+`.
    Lenient,
}

/// How stored numbers are returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NumberEcho {
    /// Exactly as sent (every Microsoft example).
    Verbatim,
    /// Digits only after the `+`: `+12065555555x12`.
    Compact,
    /// Re-spaced in groups: `+1 206 555 5555x12`.
    Respaced,
}

/// The answer to a successful PATCH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UpdateResponse {
    /// `204 No Content`.
    Empty,
    /// `200 OK` with the updated object.
    Body,
}

/// How a throttled response says when to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RetryAfterMode {
    /// `Retry-After: 3`.
    Seconds,
    /// `Retry-After: 2.128`.
    Fractional,
    /// `Retry-After: Wed, 21 Oct 2026 07:28:00 GMT`.
    HttpDate,
    /// No `Retry-After` header.
    Absent,
}

/// A fault the emulator can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FaultKind {
    /// 500 generalException.
    #[value(name = "500")]
    E500,
    /// 502 Bad Gateway.
    #[value(name = "502")]
    E502,
    /// 503 without Retry-After.
    #[value(name = "503")]
    E503,
    /// 503 with Retry-After.
    #[value(name = "503-retry-after")]
    E503RetryAfter,
    /// 504 Gateway Timeout.
    #[value(name = "504")]
    E504,
    /// 507 Insufficient Storage.
    #[value(name = "507")]
    E507,
    /// The connection is dropped without a complete response.
    Drop,
    /// The response is held for --slow-ms (past the client's timeout).
    Slow,
    /// A write is applied, then 500 is returned.
    #[value(name = "applied-500")]
    Applied500,
    /// A write is applied, then the connection is dropped.
    #[value(name = "applied-drop")]
    AppliedDrop,
    /// A write is applied, then 429 is returned (docs/graph.md#transient-failures).
    #[value(name = "applied-429")]
    Applied429,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 11] = [
        FaultKind::E500,
        FaultKind::E502,
        FaultKind::E503,
        FaultKind::E503RetryAfter,
        FaultKind::E504,
        FaultKind::E507,
        FaultKind::Drop,
        FaultKind::Slow,
        FaultKind::Applied500,
        FaultKind::AppliedDrop,
        FaultKind::Applied429,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        options: Options,
    }

    #[test]
    fn default_matches_the_flags_defaults() {
        let parsed = Wrapper::parse_from(["x"]).options;
        assert_eq!(format!("{parsed:?}"), format!("{:?}", Options::default()));
    }
}
