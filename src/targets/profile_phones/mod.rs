//! The `profile` target: the phones shown in a user's directory profile (beta `itemPhone`,
//! `/beta/users/{u}/profile/phones`, docs/graph.md#profile-phones). Unlike phone methods, items
//! have server-assigned ids, a user may have several of one type, and a type or display name is
//! changed in place (PATCH answers 200 with the object), so there is no add-then-delete here.
//!
//! Planning (`planner`): items are paired with the input's rows, first by canonical number, then,
//! per type, the items left over (oldest first) with the rows left over (by line). A paired item
//! of another number, type or display name is updated in place (one PATCH; it keeps its id and
//! `allowedAudiences`); a row left without an item is added; with prune, an item left without a
//! row is deleted, after every write (extra copies of one number too, the oldest kept). A
//! rejected row never licenses a delete: items of a type whose row was rejected are left exactly
//! as they are, and a rejected row of unreadable type (or a user whose every row was rejected)
//! blocks every delete.
//!
//! Microsoft documents application permissions as not supported for profile-phone writes, so a
//! 403 on a write is taken as "this run's token cannot write profile phones": reported once, with
//! what to do (sign in as an admin, `auth.method = "device_code"`).

pub mod planner;
pub mod types;

#[cfg(test)]
mod tests;

pub use types::TYPES;
use types::parse_type;

use crate::config::TargetSection;
use crate::graph::{Confirm, GraphClient, GraphError, Request, Version, path_segment};
use crate::input::phone;
use crate::model::{CurrentUser, DesiredUser, Item, Op, OpKind, Phone, UserPlan};
use crate::targets::rules::{Context, Settings};
use crate::targets::target::Target;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The `profile` target.
pub struct ProfilePhones {
    settings: Settings,
    /// Region for item numbers written without a country code, so they compare with the input's.
    region: phone::Region,
    /// A 403 on a write means "app-only tokens may not write profile phones": run-wide.
    app_only: bool,
}

/// Builds the target from `[target.profile]`: by default every type is managed, and each input
/// type feeds the profile type of the same name, with `office` feeding `business`.
pub fn build(section: &TargetSection, context: &Context) -> Result<Box<dyn Target>, (String, String)> {
    let mut default: BTreeMap<String, String> = TYPES.iter().map(|t| (t.to_string(), t.to_string())).collect();
    default.insert("office".into(), "business".into());
    Ok(Box::new(ProfilePhones {
        settings: Settings::read(section, &TYPES, default, context)?,
        region: context.region,
        app_only: context.app_only,
    }))
}

/// The user's profile-phone collection below the version.
fn phones_path(user: &str) -> String {
    format!("{}/profile/phones", GraphClient::user_path(user))
}

/// An `itemPhone` as Graph returns it, as far as this target needs it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemPhone {
    id: String,
    #[serde(default, rename = "type")]
    phone_type: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    number: Option<String>,
    #[serde(default)]
    created_date_time: Option<String>,
}

/// The body of a list of profile phones.
#[derive(Deserialize)]
struct Page {
    value: Vec<ItemPhone>,
}

impl Target for ProfilePhones {
    fn name(&self) -> &'static str {
        "profile"
    }

    fn title(&self) -> &'static str {
        "profile phones"
    }

    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn keeps_names(&self) -> bool {
        true
    }

    fn server_ids(&self) -> bool {
        true
    }

    fn delegated_scopes(&self) -> &'static [&'static str] {
        // docs/graph.md#profile-phone-permissions: delegated User.ReadWrite(.All) writes profiles.
        &["User.ReadWrite.All"]
    }

    fn read(&self, user: &str) -> (Version, String) {
        (Version::Beta, phones_path(user))
    }

    fn parse(&self, body: Value) -> Result<Vec<Item>, String> {
        let mut page: Page = serde_json::from_value(body).map_err(|e| format!("cannot read the list of profile phones: {e}"))?;
        // Oldest first, whatever order the pages came in: the planner pairs leftovers in this
        // order and keeps the oldest of duplicates.
        page.value.sort_by(|a, b| a.created_date_time.cmp(&b.created_date_time));
        // An item listed twice (on two pages) is one item.
        let mut seen = std::collections::HashSet::new();
        page.value.retain(|p| seen.insert(p.id.clone()));
        Ok(page
            .value
            .into_iter()
            .map(|p| Item {
                id: p.id,
                // A type this tool does not know is kept as Graph wrote it and never managed.
                phone_type: p.phone_type.map(|t| parse_type(&t).map_or(t, str::to_string)).unwrap_or_default(),
                phone: canonical(p.number.as_deref().unwrap_or_default(), self.region),
                display_name: p.display_name,
            })
            .collect())
    }

    fn plan(&self, desired: &DesiredUser, current: &CurrentUser) -> UserPlan {
        planner::plan_user(&self.settings, desired, current)
    }

    fn write(&self, user: &str, op: &Op, op_id: &str) -> (Request, Confirm) {
        let collection = phones_path(user);
        let item = format!("{collection}/{}", path_segment(op.item_id.as_deref().unwrap_or_default()));
        let phone_type = op.phone_type.clone();
        let name = op.display_name.clone();
        let region = self.region;
        let (method, path, body, confirm) = match op.kind {
            OpKind::Add => {
                let mut body = Map::new();
                body.insert("type".into(), json!(phone_type));
                body.insert("number".into(), json!(op.after.clone().unwrap_or_default()));
                if let Some(n) = &name {
                    body.insert("displayName".into(), json!(n));
                }
                let key = phone::key(op.after.as_deref().unwrap_or_default());
                let check = move |body: &Value| {
                    body.get("value")
                        .and_then(Value::as_array)
                        .is_some_and(|items| items.iter().any(|i| holds(i, &phone_type, name.as_deref(), Some(&key), region)))
                };
                let confirm = Confirm::Holds {
                    path: collection.clone(),
                    check: Arc::new(check),
                };
                (Method::POST, collection, Some(Value::Object(body)), confirm)
            }
            OpKind::Update => {
                let mut body = Map::new();
                body.insert("type".into(), json!(phone_type));
                if let Some(n) = &name {
                    body.insert("displayName".into(), json!(n));
                }
                // A new number is set in place: the item keeps its id and what this tool does
                // not manage (allowedAudiences).
                let number = op.after.as_deref().filter(|after| op.before.as_deref() != Some(*after));
                if let Some(number) = number {
                    body.insert("number".into(), json!(number));
                }
                let key = number.map(phone::key);
                let check = move |body: &Value| holds(body, &phone_type, name.as_deref(), key.as_deref(), region);
                let confirm = Confirm::Holds {
                    path: item.clone(),
                    check: Arc::new(check),
                };
                (Method::PATCH, item, Some(Value::Object(body)), confirm)
            }
            OpKind::Delete => (Method::DELETE, item.clone(), None, Confirm::Gone { path: item }),
        };
        let request = Request {
            version: Version::Beta,
            method,
            path,
            body,
            client_request_id: op_id.to_string(),
            after: Vec::new(),
            // A create gets a new server id every time it runs.
            resend_may_duplicate: op.kind == OpKind::Add,
        };
        (request, confirm)
    }

    fn refused_for_run(&self, error: &GraphError) -> Option<String> {
        // Signed in as a person, a 403 is about one user (the admin's rights over them), not the run.
        (self.app_only && error.status == Some(403)).then(|| {
            format!(
                "Graph refused to write profile phones ({}: {}). Microsoft documents application (app-only) \
                 permissions as not supported for profile-phone writes: sign in as an admin with \
                 auth.method = \"device_code\" (delegated) to sync profile phones, or leave \"profile\" out of targets",
                error.code, error.message
            )
        })
    }
}

/// A profile number as the tool compares it: profile numbers are free text ("provided by the
/// user"), so one written nationally (`(206) 555-0101`) is read with the default region, as the
/// input's are; one that does not parse keeps its digits as they are.
fn canonical(number: &str, region: phone::Region) -> Phone {
    phone::parse(number, region).map_or_else(
        |_| phone::from_graph(number),
        |p| Phone {
            display: number.to_string(),
            ..p
        },
    )
}

/// Whether an `itemPhone` body has `phone_type`, the display name `name` (when one is wanted)
/// and, when given, the number with comparison key `key` (compared as the planner compares
/// numbers, national ones read with `region`).
fn holds(item: &Value, phone_type: &str, name: Option<&str>, key: Option<&str>, region: phone::Region) -> bool {
    let field = |k: &str| item.get(k).and_then(Value::as_str);
    field("type").is_some_and(|t| t.eq_ignore_ascii_case(phone_type))
        && name.is_none_or(|n| field("displayName") == Some(n))
        && key.is_none_or(|k| field("number").is_some_and(|n| canonical(n, region).key == k))
}
