//! The `auth` target: a user's phone authentication methods (v1.0
//! `/users/{u}/authentication/phoneMethods`), the phones they sign in with. At most one phone
//! per type (`mobile`, `alternateMobile`, `office`), each at a fixed method id; Graph cannot
//! change a method's type, so a type change is an add and then a delete; a `mobile` must exist
//! while an `alternateMobile` does; the default sign-in method cannot be deleted
//! (docs/graph.md#phone-methods, #phone-method-rules, #default-sign-in-method).
//!
//! This module owns the wire format, the fixed ids, the confirm-by-reread of each write and the
//! default-method read; `planner` owns the rules.

pub mod planner;
pub mod types;

pub use types::{Current, Desired, PhoneType};

use crate::config::TargetSection;
use crate::graph::{Confirm, GraphClient, GraphError, Request, Version};
use crate::input::phone;
use crate::model::{CurrentUser, DesiredUser, Item, Op, OpKind, UserPlan};
use crate::targets::rules::{Context, Projected, Settings, project};
use crate::targets::target::Target;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// The `auth` target.
pub struct AuthPhones {
    settings: Settings,
    /// The planner's view of `settings`.
    planner: planner::Settings,
}

/// Builds the target from `[target.auth]`: by default every type is managed and each input type
/// feeds the method type of the same name.
pub fn build(section: &TargetSection, context: &Context) -> Result<Box<dyn Target>, (String, String)> {
    let names: Vec<&str> = PhoneType::ALL.iter().map(|t| t.as_str()).collect();
    let identity = names.iter().map(|t| (t.to_string(), t.to_string())).collect();
    let settings = Settings::read(section, &names, identity, context)?;
    let planner = planner::Settings {
        managed_types: settings.managed.iter().filter_map(|t| PhoneType::parse(t)).collect(),
        prune: settings.prune,
    };
    Ok(Box::new(AuthPhones { settings, planner }))
}

impl AuthPhones {
    /// The planner's view of a user's desired state.
    pub fn desired(&self, d: &DesiredUser) -> Desired {
        let Projected { phones, rejected, none } = project(d, &self.settings.from, PhoneType::parse);
        let mut out = Desired {
            user: d.user.clone(),
            conflict: d.conflict.clone(),
            rejected,
            rejected_untyped: d.rejected_untyped.clone(),
            stated_none: none,
            ..Desired::default()
        };
        for (t, wanted) in phones {
            let mut rows = wanted.into_iter();
            let Some((first_type, first)) = rows.next() else { continue };
            for (other_type, other) in rows {
                if other.phone.key != first.phone.key {
                    let note = format!(
                        "lines {} and {} give different {t} numbers ({first_type} and {other_type} both feed {t})",
                        first.line.min(other.line),
                        first.line.max(other.line)
                    );
                    out.conflict = Some(match out.conflict.take() {
                        Some(prev) => format!("{prev}; {note}"),
                        None => note,
                    });
                }
            }
            out.phones.insert(t, first);
        }
        out
    }

    /// The planner's view of a user's current state.
    pub fn current(c: &CurrentUser) -> Current {
        Current {
            phones: c
                .items
                .iter()
                .filter_map(|i| PhoneType::parse(&i.phone_type).map(|t| (t, i.phone.clone())))
                .collect(),
            default_method: c.default_method.as_deref().and_then(PhoneType::parse),
            unfinished_moves: c
                .unfinished_moves
                .iter()
                .filter_map(|m| Some((PhoneType::parse(&m.from)?, PhoneType::parse(&m.to)?, m.key.clone())))
                .collect(),
        }
    }
}

/// The user's phone-method collection below the version.
fn methods_path(user: &str) -> String {
    format!("{}/authentication/phoneMethods", GraphClient::user_path(user))
}

/// A phone method as Graph returns it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhoneMethod {
    #[serde(default)]
    id: String,
    phone_type: String,
    phone_number: String,
}

/// The body of a list of phone methods.
#[derive(Deserialize)]
struct Page {
    value: Vec<PhoneMethod>,
}

/// The beta `signInPreferences` resource, as far as this target needs it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignInPreferences {
    #[serde(default)]
    user_preferred_method_for_secondary_authentication: Option<String>,
}

impl Target for AuthPhones {
    fn name(&self) -> &'static str {
        "auth"
    }

    fn title(&self) -> &'static str {
        "sign-in phone methods"
    }

    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn delegated_scopes(&self) -> &'static [&'static str] {
        &["UserAuthenticationMethod.ReadWrite.All"]
    }

    fn texted(&self) -> &'static [&'static str] {
        &["mobile", "alternateMobile"]
    }

    fn read(&self, user: &str) -> (Version, String) {
        (Version::V1, methods_path(user))
    }

    fn parse(&self, body: Value) -> Result<Vec<Item>, String> {
        let page: Page = serde_json::from_value(body).map_err(|e| format!("cannot read the list of phone methods: {e}"))?;
        // A type this tool does not know (Graph's `unknownFutureValue`) is kept as it is and
        // never planned for.
        Ok(page
            .value
            .into_iter()
            .map(|m| Item {
                id: m.id,
                phone_type: PhoneType::parse(&m.phone_type).map_or(m.phone_type, |t| t.as_str().to_string()),
                phone: phone::from_graph(&m.phone_number),
                display_name: None,
            })
            .collect())
    }

    fn plan(&self, desired: &DesiredUser, current: &CurrentUser) -> UserPlan {
        planner::plan_user(&self.desired(desired), &Self::current(current), &self.planner)
    }

    fn write(&self, user: &str, op: &Op, op_id: &str) -> (Request, Confirm) {
        let t = PhoneType::parse(&op.phone_type).expect("the auth planner writes only its own types");
        let collection = methods_path(user);
        let number = op.after.clone().unwrap_or_default();
        let item = format!("{collection}/{}", t.method_id());
        let (method, path, body) = match op.kind {
            OpKind::Add => (
                Method::POST,
                collection,
                Some(json!({"phoneNumber": number, "phoneType": t.as_str()})),
            ),
            OpKind::Update => (Method::PATCH, item.clone(), Some(json!({"phoneNumber": number}))),
            OpKind::Delete => (Method::DELETE, item.clone(), None),
        };
        let confirm = match op.kind {
            OpKind::Delete => Confirm::Gone { path: item },
            _ => {
                let key = phone::key(&number);
                Confirm::Holds {
                    path: item,
                    check: Arc::new(move |body: &Value| {
                        body.get("phoneNumber")
                            .and_then(Value::as_str)
                            .is_some_and(|n| phone::key(n) == key)
                    }),
                }
            }
        };
        let request = Request {
            version: Version::V1,
            method,
            path,
            body,
            client_request_id: op_id.to_string(),
            after: Vec::new(),
            // A phone method's id is fixed per type: a second add of it is refused, not kept.
            resend_may_duplicate: false,
        };
        (request, confirm)
    }

    fn refine_read(&self, user: &str, plan: &UserPlan) -> Option<(Version, String)> {
        // Graph refuses to delete the default sign-in method: read it for users whose plan deletes.
        plan.ops.iter().any(|o| o.kind == OpKind::Delete).then(|| {
            (
                Version::Beta,
                format!("{}/authentication/signInPreferences", GraphClient::user_path(user)),
            )
        })
    }

    fn refine_refused(&self, error: &GraphError) -> String {
        format!(
            "could not read users' default sign-in methods ({error}); a delete of a default method will be refused by Graph and reported"
        )
    }

    fn refine(&self, current: &mut CurrentUser, body: Value) -> Result<(), String> {
        let prefs: SignInPreferences = serde_json::from_value(body).map_err(|e| format!("cannot read the sign-in preferences: {e}"))?;
        // The phone each preferred method names (docs/graph.md#default-sign-in-method).
        current.default_method = match prefs.user_preferred_method_for_secondary_authentication.as_deref() {
            Some("sms" | "voiceMobile") => Some(PhoneType::Mobile),
            Some("voiceAlternateMobile") => Some(PhoneType::AlternateMobile),
            Some("voiceOffice") => Some(PhoneType::Office),
            _ => None,
        }
        .map(|t| t.as_str().to_string());
        Ok(())
    }
}
