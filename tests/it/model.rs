//! Model-based fault test over both targets: no fault, typo, key mix-up or interruption may cost
//! a user a sign-in phone or a profile phone. For many seeds: a random small tenant (phone
//! methods, and profile phones of managed and unmanaged types, some written nationally) and HR
//! file (rejected rows, users named by UPN and by object id in either case, `prune` on and off,
//! `$batch` on and off) and a random script of faults on items, on `$batch` envelopes and on the
//! token service. After the first run every user is no worse than before (each phone as before or
//! as the input wants it, gone only where pruning or a move licenses it; a profile phone keeps
//! its id, changing its number only for one HR gives its type), the journal checker passes, and a
//! second, fault-free run converges every user the plan could bring in line, pairing profile
//! phones with rows in place (a new number updates an item rather than adding one).
//!
//! `cargo test --test it model::` runs 500 seeds; `PHONESYNC_MODEL_SEEDS=10000 cargo test --release
//! --test it model::` runs the long version (docs/safety.md, "Longer checks").

use crate::targets::profile_table;
use crate::world::{World, csv_rows, journal_violations, pinned, planned_writes, summary, unaudited_write};
use phonesync_emulator::{Effect, Fault, Options};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// A small deterministic random source (xorshift), so every seed is one repeatable scenario.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const TYPES: [&str; 3] = ["mobile", "alternateMobile", "office"];
/// Numbers as Graph holds them and as HR writes them.
const NUMBERS: [(&str, &str); 4] = [
    ("+1 2065550101", "206-555-0101"),
    ("+1 2065550102", "(206) 555-0102"),
    ("+1 4255550103", "425.555.0103"),
    ("+44 7911123456", "+44 7911 123456"),
];

/// Profile phone types seeded: the two the profile target manages (fed by HR `mobile` and
/// `office`), and one it must never touch.
const PROFILE_TYPES: [&str; 3] = ["mobile", "business", "home"];

/// The profile type an HR type feeds under [`profile_table`].
fn profile_type_of(hr_type: &str) -> Option<&'static str> {
    match hr_type {
        "mobile" => Some("mobile"),
        "office" => Some("business"),
        _ => None,
    }
}

/// A number's digits as the tool compares them (national US numbers given their country code).
fn key(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    if digits.len() == 10 { format!("1{digits}") } else { digits }
}

/// One generated scenario.
struct Scenario {
    seed: serde_json::Value,
    csv: String,
    prune: bool,
    batch: bool,
    faults: Vec<Fault>,
    /// Per user id: the valid numbers the input gives, by type.
    wanted: BTreeMap<String, BTreeMap<&'static str, BTreeSet<&'static str>>>,
    /// Per user id: types whose row was rejected, and whether a row of unreadable type was.
    rejected: BTreeMap<String, (BTreeSet<&'static str>, bool)>,
}

fn scenario(n: u64) -> Scenario {
    let mut r = Rng::new(n);
    let users = 1 + r.below(4) as usize;
    let mut seed_users = Vec::new();
    let mut csv = String::from("user,phoneType,phoneNumber\n");
    let mut wanted: BTreeMap<String, BTreeMap<&'static str, BTreeSet<&'static str>>> = BTreeMap::new();
    let mut rejected: BTreeMap<String, (BTreeSet<&'static str>, bool)> = BTreeMap::new();
    for u in 0..users {
        let id = format!("{u:08x}-0000-4000-8000-{:012x}", n);
        let upn = format!("user{u}@contoso.com");
        let mut phones = Vec::new();
        for t in TYPES {
            let has_mobile = phones.iter().any(|(ty, _): &(&str, &str)| *ty == "mobile");
            if r.chance(45) && (t != "alternateMobile" || has_mobile) {
                phones.push((t, r.pick(&NUMBERS).0));
            }
        }
        let profile: Vec<serde_json::Value> = (0..r.below(4))
            .map(|i| {
                let number = r.pick(&NUMBERS);
                json!({"id": format!("p{u}-{i}"), "type": r.pick(&PROFILE_TYPES),
                    "number": if r.chance(30) { number.1 } else { number.0 },
                    "displayName": if r.chance(50) { Some(format!("Phone {i}")) } else { None },
                    "createdDateTime": format!("2024-01-0{}T00:00:00Z", i + 1)})
            })
            .collect();
        seed_users.push(json!({"id": id, "userPrincipalName": upn,
            "phoneMethods": phones.iter().map(|(t, n)| json!({"phoneType": t, "phoneNumber": n})).collect::<Vec<_>>(),
            "profilePhones": profile}));
        let rows = r.below(4);
        for _ in 0..rows {
            let key = match r.below(4) {
                0 => id.clone(),
                1 => id.to_uppercase(),
                _ => upn.clone(),
            };
            let number = r.pick(&NUMBERS);
            match r.below(10) {
                0 => {
                    csv.push_str(&format!("{key},Mobile Phone,{}\n", number.1));
                    rejected.entry(id.clone()).or_default().1 = true;
                }
                1 => {
                    let t = *r.pick(&TYPES);
                    csv.push_str(&format!("{key},{t},555-01\n"));
                    rejected.entry(id.clone()).or_default().0.insert(t);
                }
                _ => {
                    let t = *r.pick(&TYPES);
                    csv.push_str(&format!("{key},{t},{}\n", number.1));
                    wanted.entry(id.clone()).or_default().entry(t).or_default().insert(number.0);
                }
            }
        }
    }
    let mut faults = Vec::new();
    for _ in 0..r.below(5) {
        let retry_after = match r.below(4) {
            0 => Some("0".to_string()),
            1 => Some("0.01".to_string()),
            2 => Some(httpdate::fmt_http_date(
                std::time::SystemTime::now() - std::time::Duration::from_secs(5),
            )),
            _ => None,
        };
        let with_retry = |f: Fault| match &retry_after {
            Some(v) => f.retry_after(v),
            None => f,
        };
        let method = *r.pick(&["GET", "POST", "PATCH", "DELETE"]);
        let fault = match r.below(9) {
            0 => with_retry(Fault::status(503).only("$batch")),
            1 => Fault::effect(Effect::Drop).only("$batch"),
            2 => Fault::effect(Effect::AppliedDrop).only("$batch"),
            3 => Fault::status(403)
                .only("POST")
                .code("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
            4 => Fault::effect(Effect::Applied(500)).only(method),
            5 => Fault::effect(Effect::Drop).only(method),
            6 => with_retry(Fault::status(429).only(method)),
            7 => Fault::status(503).only("token"),
            _ => Fault::effect(Effect::Applied(429)).only(method),
        };
        faults.push(fault.skip(r.below(4) as u32).times(1 + r.below(2) as u32));
    }
    Scenario {
        seed: json!({ "users": seed_users }),
        csv,
        prune: r.chance(50),
        batch: r.chance(50),
        faults,
        wanted,
        rejected,
    }
}

/// A user's phones as type → number.
fn phones_of(state: &phonesync_emulator::Seed) -> BTreeMap<String, BTreeMap<String, String>> {
    state
        .users
        .iter()
        .map(|u| {
            (
                u.id.clone(),
                u.phone_methods
                    .iter()
                    .map(|p| (p.phone_type.clone(), p.phone_number.clone()))
                    .collect(),
            )
        })
        .collect()
}

/// Runs one seed; returns how many scripted faults fired, or a description of the first
/// broken promise.
async fn run_seed(n: u64) -> Result<usize, String> {
    let s = scenario(n);
    let w = World::builder(s.seed.clone())
        .emulator(pinned(Options::default()))
        .targets(&["auth", "profile"])
        .target("profile", profile_table())
        .rate(|r| {
            r.max_attempts = Some(6);
            r.request_timeout_seconds = Some(2.0);
            r.batch = Some(s.batch);
            r.max_backoff_seconds = 0.01;
        })
        .prune(s.prune)
        .build()
        .await;
    let input = w.csv("hr.csv", &s.csv);
    let before = phones_of(&w.emulator.state());
    let profile_before = profile_of(&w.emulator.state());
    w.emulator.inject(s.faults.clone());
    let context = |what: String| {
        format!(
            "seed {n} (prune {}, batch {}): {what}\n{}faults: {:?}",
            s.prune, s.batch, s.csv, s.faults
        )
    };

    let (code, first) = w.run("apply", &input, "first").await;
    if let Err(e) = &code {
        // Only faults that leave Graph or the token service unanswering through every retry
        // may stop a run, and only before any work.
        let message = format!("{e:#}");
        if !(message.contains("sign in") || message.contains("answered none of the reads")) {
            return Err(context(format!("the first run failed: {e:#}")));
        }
    }
    // 1. No user is worse off than before.
    let after = phones_of(&w.emulator.state());
    for (id, had) in &before {
        let now = &after[id];
        let wanted = s.wanted.get(id).cloned().unwrap_or_default();
        let (rejected, untyped) = s.rejected.get(id).cloned().unwrap_or_default();
        for t in TYPES {
            let was = had.get(t);
            match now.get(t) {
                Some(n) if Some(n) == was => {}
                Some(n) if wanted.get(t).is_some_and(|w| w.contains(n.as_str())) && !rejected.contains(t) => {}
                Some(n) => return Err(context(format!("{id} {t} became {n}, which the input does not give (was {was:?})"))),
                None => {
                    let Some(m) = was else { continue };
                    let pruned = s.prune && !wanted.is_empty() && !untyped && !rejected.contains(t) && !wanted.contains_key(t);
                    // A move: the number is wanted on another type that did not hold it.
                    let moved = !rejected.contains(t)
                        && TYPES.iter().any(|u| {
                            *u != t
                                && had.get(*u) != Some(m)
                                && now.get(*u) == Some(m)
                                && wanted.get(*u).is_some_and(|w| w.contains(m.as_str()))
                        });
                    if !(pruned || moved) {
                        return Err(context(format!("{id} lost its {t} {m}: {now:?}")));
                    }
                }
            }
        }
    }
    let profile_after = profile_of(&w.emulator.state());
    for (id, had) in &profile_before {
        profile_no_worse(&s, id, had, &profile_after[id]).map_err(context)?;
    }
    // A person the input contradicts (two numbers for one type) is left as they were.
    for (id, types) in &s.wanted {
        if types.values().any(|numbers| numbers.len() > 1) && (before[id] != after[id] || profile_before[id] != profile_after[id]) {
            return Err(context(format!(
                "{id} has conflicting rows but was changed: {:?} -> {:?}",
                before[id], after[id]
            )));
        }
    }
    // 2. The journal shows no dependency broken, nothing applied twice, no user below its
    // floor, and no write outside what the run planned (from its audit).
    let plan = planned_writes(&w, &[&first]);
    let violations = journal_violations(&w.emulator.journal(), Some(&plan));
    if !violations.is_empty() {
        return Err(context(format!("checker: {violations:?}")));
    }
    // The audit names every write the journal shows.
    if let Some(c) = unaudited_write(&w, &first) {
        return Err(context(format!("a write the audit does not name: {c:?}")));
    }
    let fired = s.faults.len() - w.emulator.pending_faults().len();

    // 3. A fault-free second run converges every user the plan can bring in line.
    w.emulator.clear_faults();
    let (code, second) = w.run("apply", &input, "second").await;
    code.map_err(|e| context(format!("the second run failed: {e:#}")))?;
    for o in csv_rows(&second.join("outcomes.csv")) {
        if (o["op"] != "none" && o["status"] != "succeeded") || o["status"] == "read_failed" {
            return Err(context(format!("the fault-free run did not finish: {o:?}")));
        }
    }
    let (_, third) = w.run("plan", &input, "third").await;
    let planned = summary(&third)["ops"]["planned"].clone();
    if planned != json!({"add": 0, "update": 0, "delete": 0}) {
        return Err(context(format!("not converged after a fault-free run: {planned}")));
    }
    let plan = planned_writes(&w, &[&first, &second]);
    let violations = journal_violations(&w.emulator.journal(), Some(&plan));
    if !violations.is_empty() {
        return Err(context(format!("checker after the second run: {violations:?}")));
    }
    let profile_end = profile_of(&w.emulator.state());
    for (id, had) in &profile_before {
        profile_paired_in_place(&s, id, had, &profile_end[id]).map_err(context)?;
    }
    Ok(fired)
}

/// A user's profile phones as (id, type, number key).
type Profile = Vec<(String, String, String)>;

/// Every user's profile phones, by user id.
fn profile_of(state: &phonesync_emulator::Seed) -> BTreeMap<String, Profile> {
    state
        .users
        .iter()
        .map(|u| {
            let items = u
                .profile_phones
                .iter()
                .map(|p| {
                    (
                        p.id.clone().unwrap_or_default(),
                        p.phone_type.clone().unwrap_or_default(),
                        key(&p.number),
                    )
                })
                .collect();
            (u.id.clone(), items)
        })
        .collect()
}

/// What the input says of user `id`'s profile phones: the number keys each managed profile type
/// is given, the profile types whose row was rejected, and whether a row of unreadable type was,
/// or the user contradicts themself (then nothing of theirs may change).
struct ProfileInput {
    wanted: BTreeMap<&'static str, BTreeSet<String>>,
    rejected: BTreeSet<&'static str>,
    untyped: bool,
    conflict: bool,
}

fn profile_input(s: &Scenario, id: &str) -> ProfileInput {
    let hr = s.wanted.get(id).cloned().unwrap_or_default();
    let (rejected, untyped) = s.rejected.get(id).cloned().unwrap_or_default();
    let mut wanted: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for (t, numbers) in &hr {
        if let Some(p) = profile_type_of(t) {
            wanted.entry(p).or_default().extend(numbers.iter().map(|n| key(n)));
        }
    }
    ProfileInput {
        wanted,
        rejected: rejected.iter().filter_map(|t| profile_type_of(t)).collect(),
        untyped,
        conflict: hr.values().any(|n| n.len() > 1),
    }
}

/// After a run with faults: each profile phone the user had is still there with its id, its
/// number changed only to one the input gives its (managed, unrejected) type, its type changed
/// only to one the input gives its number under; gone only where prune may delete it; and a new
/// phone only holds a number the input gives its type.
fn profile_no_worse(s: &Scenario, id: &str, had: &Profile, now: &Profile) -> Result<(), String> {
    let input = profile_input(s, id);
    let changeable = |t: &str| (t == "mobile" || t == "business") && !input.rejected.contains(t) && !input.conflict;
    let given = |t: &str, k: &str| input.wanted.get(t).is_some_and(|w| w.contains(k));
    // Prune runs here only for a user with a readable row for these phones, and no row of
    // unreadable type (the prune guard).
    let prunes = s.prune && !input.untyped && !input.wanted.is_empty();
    let all_wanted: BTreeSet<&String> = input.wanted.values().flatten().collect();
    for (item, t, k) in had {
        // A phone whose number the input gives goes only as an extra copy: another phone keeps it.
        let kept_elsewhere = || now.iter().any(|(i, _, nk)| i != item && nk == k);
        match now.iter().find(|(i, _, _)| i == item) {
            None if prunes && changeable(t) && (!all_wanted.contains(k) || kept_elsewhere()) => {}
            None => return Err(format!("{id} lost profile phone {item} ({t} {k}): {now:?}")),
            Some((_, t2, k2)) if t2 == t && k2 == k => {}
            Some((_, t2, k2)) if t2 != t && k2 == k && changeable(t) && given(t2, k) => {}
            Some((_, t2, k2)) if t2 == t && changeable(t) && given(t, k2) => {}
            Some(other) => {
                return Err(format!(
                    "{id} profile phone {item} ({t} {k}) became {other:?}, which the input does not give"
                ));
            }
        }
    }
    // A new phone (a row of a type whose other row was rejected still adds its number: that
    // touches no phone the user has).
    let managed = |t: &str| (t == "mobile" || t == "business") && !input.conflict;
    for (item, t, k) in now.iter().filter(|(i, _, _)| !had.iter().any(|(h, _, _)| h == i)) {
        if !(managed(t) && given(t, k)) {
            return Err(format!("{id} gained profile phone {item} ({t} {k}), which the input does not give"));
        }
    }
    Ok(())
}

/// Once converged: per managed type the input gives and did not reject, every number it gives is
/// on a phone of that type (unless a phone this run leaves alone already shows it), and the
/// phones of that type whose number the input does not give were paired with its new numbers in
/// place: at least as many of its new numbers sit on phones the user already had as the fewer of
/// the two.
fn profile_paired_in_place(s: &Scenario, id: &str, had: &Profile, end: &Profile) -> Result<(), String> {
    let input = profile_input(s, id);
    if input.conflict {
        return Ok(());
    }
    let all_wanted: BTreeSet<&String> = input.wanted.values().flatten().collect();
    for (t, wanted) in input.wanted.iter().filter(|(t, _)| !input.rejected.contains(*t)) {
        let left_alone = |k: &String| {
            had.iter()
                .any(|(_, ht, hk)| hk == k && (ht == "home" || input.rejected.contains(ht.as_str())))
        };
        // A number given for two types is kept on one (the earlier row's).
        let shared = |k: &String| input.wanted.values().filter(|w| w.contains(k)).count() > 1;
        let on_a_type_wanting_it = |k: &String| {
            end.iter()
                .any(|(_, et, ek)| ek == k && input.wanted.get(et.as_str()).is_some_and(|w| w.contains(k)))
        };
        if let Some(missing) = wanted.iter().find(|k| !left_alone(k) && !on_a_type_wanting_it(k)) {
            return Err(format!("{id} converged without {t} {missing}: {end:?}"));
        }
        let leftovers = had.iter().filter(|(_, ht, hk)| ht == t && !all_wanted.contains(hk)).count();
        let new: BTreeSet<&String> = wanted
            .iter()
            .filter(|k| !shared(k) && !had.iter().any(|(_, _, hk)| hk == *k))
            .collect();
        let in_place = end
            .iter()
            .filter(|(i, et, k)| et == t && new.contains(k) && had.iter().any(|(h, _, _)| h == i))
            .count();
        if in_place < leftovers.min(new.len()) {
            return Err(format!(
                "{id}: {t}'s new numbers {new:?} were added beside its old phones instead of replacing them in place: {had:?} -> {end:?}"
            ));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_fault_costs_a_user_a_phone_and_a_clean_rerun_converges() {
    use futures_util::StreamExt;
    let seeds: u64 = std::env::var("PHONESYNC_MODEL_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    // PHONESYNC_MODEL_SEED=N replays one scenario.
    let range = match std::env::var("PHONESYNC_MODEL_SEED").ok().and_then(|v| v.parse::<u64>().ok()) {
        Some(one) => one..one + 1,
        None => 0..seeds,
    };
    let count = (range.end - range.start) as usize;
    let started = std::time::Instant::now();
    let results: Vec<Result<usize, String>> = futures_util::stream::iter(range).map(run_seed).buffer_unordered(8).collect().await;
    let fired: usize = results.iter().filter_map(|r| r.as_ref().ok()).sum();
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    eprintln!("{fired} scripted faults fired");
    assert!(
        count < 20 || fired > count / 2,
        "the fault scripts must actually hit: only {fired} fired"
    );
    eprintln!("{seeds} seeds in {:.1} s", started.elapsed().as_secs_f64());
    for f in &failures {
        eprintln!("---- {}", f.lines().next().unwrap_or_default());
    }
    assert!(
        failures.is_empty(),
        "{} of {seeds} seeds broke a promise; first:\n{}",
        failures.len(),
        failures[0]
    );
}
