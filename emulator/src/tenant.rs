//! The emulated tenant: users, their phone methods, and Graph's rules for changing them
//! (docs/graph.md#phone-methods); each user also holds the profile phones `profile.rs` serves.
//! Deliberately shares no code with the client side, so a misreading of Graph's documentation on
//! one side is caught by the other. Every change is recorded for the journal.

use crate::number;
use crate::options::Options;
use crate::profile;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The seed / state file format: `{ "users": [ … ] }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seed {
    /// Users of the tenant.
    pub users: Vec<SeedUser>,
}

/// One user in the seed format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedUser {
    /// Object id (a GUID in a real tenant; any unique string here).
    pub id: String,
    /// User principal name.
    pub user_principal_name: String,
    /// Registered phone methods, at most one per type.
    #[serde(default)]
    pub phone_methods: Vec<SeedPhone>,
    /// The user's default sign-in method (`mobile`, `alternateMobile`, `office`), which Graph
    /// refuses to delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_method: Option<String>,
    /// Contact numbers on the user's profile (beta `itemPhone`); any number of each type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profile_phones: Vec<SeedProfilePhone>,
}

/// One phone method in the seed format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedPhone {
    /// `mobile`, `alternateMobile` or `office`.
    pub phone_type: String,
    /// The number as stored.
    pub phone_number: String,
}

/// One profile phone (beta `itemPhone`) in the seed format.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedProfilePhone {
    /// The item's id; a new GUID when absent. The state keeps it, so ids survive a save and load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `home`, `business`, `mobile`, `other`, `assistant`, `homeFax`, `businessFax`, `otherFax`,
    /// `pager` or `radio`; absent for none.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub phone_type: Option<String>,
    /// The number, free text, as stored.
    pub number: String,
    /// Friendly name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Who may see it (`organization` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_audiences: Option<String>,
    /// When it was created (ISO 8601, kept as written); the time of loading when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_date_time: Option<String>,
    /// When it was last changed (ISO 8601, kept as written); `createdDateTime` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_date_time: Option<String>,
}

/// The three phone types and their fixed method ids (docs/graph.md#fixed-method-ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `mobile`
    Mobile = 0,
    /// `alternateMobile`
    AlternateMobile = 1,
    /// `office`
    Office = 2,
}

/// The password method's fixed id, listed by `/authentication/methods` (docs/graph.md#fixed-method-ids).
const PASSWORD_METHOD_ID: &str = "28c10230-6103-485e-b985-444c60001490";

impl Kind {
    const ALL: [Kind; 3] = [Kind::Mobile, Kind::AlternateMobile, Kind::Office];

    /// The fixed method id of this type, the same in every tenant.
    pub fn id(self) -> &'static str {
        match self {
            Kind::Mobile => "3179e48a-750b-4051-897c-87b9720928f7",
            Kind::AlternateMobile => "b6332ec1-7057-4abe-9331-3d72feddfe41",
            Kind::Office => "e37fc753-ff3b-4958-9484-eaa9425c82bc",
        }
    }

    /// Graph's name of the type.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Mobile => "mobile",
            Kind::AlternateMobile => "alternateMobile",
            Kind::Office => "office",
        }
    }

    /// The type of a method id.
    pub fn from_id(id: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.id().eq_ignore_ascii_case(id))
    }

    /// The type of a name; Graph enum values are matched exactly.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A refusal, shaped like a Graph error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// HTTP status.
    pub status: u16,
    /// `error.code`.
    pub code: String,
    /// `error.message`.
    pub message: String,
}

impl Failure {
    /// A malformed request (not a business rule): 400 `BadRequest`.
    pub fn bad_request(message: impl Into<String>) -> Failure {
        Failure {
            status: 400,
            code: "BadRequest".into(),
            message: message.into(),
        }
    }
}

/// The ops a [`Change`] can record.
const OPS: [&str; 5] = ["add", "update", "delete", "enableSmsSignIn", "disableSmsSignIn"];

/// A name from a fixed set. (An alias of `&'static str`: spelled out, serde would try to borrow
/// it from the input instead of reading it with `known_op` / `known_type`.)
pub type Name = &'static str;

/// Which of a user's phone collections a [`Change`] is about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Resource {
    /// `…/authentication/phoneMethods` (`"phoneMethods"`).
    #[default]
    PhoneMethods,
    /// Beta `…/profile/phones` (`"profilePhones"`).
    ProfilePhones,
}

/// One change of state, for the journal. `Default` gives an empty phone-method change, for
/// building one field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// The user's object id.
    pub user_id: String,
    /// `add`, `update`, `delete`, `enableSmsSignIn`, `disableSmsSignIn`.
    #[serde(deserialize_with = "known_op")]
    pub op: Name,
    /// The collection changed (`phoneMethods` when absent from the JSON).
    #[serde(default)]
    pub resource: Resource,
    /// The method's type; for a profile phone, its `type` (`""` when it has none).
    #[serde(deserialize_with = "known_type")]
    pub phone_type: Name,
    /// For a profile phone: the item's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// For a profile phone: its `displayName` after the change, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Number before.
    pub before: Option<String>,
    /// Number after.
    pub after: Option<String>,
    /// Phone methods (for a profile phone: profile phones) the user had before the change.
    pub methods_before: usize,
    /// Phone methods (for a profile phone: profile phones) the user has after it.
    pub methods_after: usize,
}

/// Reads [`Change::op`], which names one of [`OPS`].
fn known_op<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
    let name = String::deserialize(d)?;
    OPS.into_iter()
        .find(|op| *op == name)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown change op '{name}'")))
}

/// Reads [`Change::phone_type`], which names a [`Kind`], a profile phone type, or is empty (a
/// profile phone without a type).
fn known_type<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
    let name = String::deserialize(d)?;
    Kind::from_name(&name)
        .map(Kind::name)
        .or_else(|| profile::type_name(&name))
        .or_else(|| name.is_empty().then_some(""))
        .ok_or_else(|| serde::de::Error::custom(format!("unknown phoneType '{name}'")))
}

#[derive(Debug, Clone)]
struct User {
    id: String,
    upn: String,
    phones: [Option<String>; 3],
    default_method: Option<Kind>,
    /// Whether the mobile number is registered for SMS sign-in.
    sms_enabled: bool,
    /// Profile phones (beta `itemPhone`).
    profile: profile::Phones,
}

impl User {
    fn count(&self) -> usize {
        self.phones.iter().flatten().count()
    }
}

/// The tenant's users, addressable by id or UPN (case-insensitively).
#[derive(Debug)]
pub struct Tenant {
    users: Vec<User>,
    index: HashMap<String, usize>,
    /// How many users hold each mobile number (SMS sign-in needs it unique).
    mobiles: HashMap<String, usize>,
    options: Options,
    changes: Vec<Change>,
}

impl Tenant {
    /// Builds a tenant from a seed, refusing a seed Graph could never hold.
    pub fn from_seed(seed: &Seed, options: &Options) -> Result<Tenant, String> {
        let mut tenant = Tenant {
            users: Vec::new(),
            index: HashMap::new(),
            mobiles: HashMap::new(),
            options: options.clone(),
            changes: Vec::new(),
        };
        for (n, u) in seed.users.iter().enumerate() {
            let at = |what: String| format!("users[{n}] ({}): {what}", u.user_principal_name);
            if u.id.is_empty() || u.user_principal_name.is_empty() {
                return Err(at("id and userPrincipalName are required".into()));
            }
            let mut phones: [Option<String>; 3] = Default::default();
            for p in &u.phone_methods {
                let kind = Kind::from_name(&p.phone_type).ok_or_else(|| at(format!("unknown phoneType '{}'", p.phone_type)))?;
                if phones[kind as usize].replace(p.phone_number.clone()).is_some() {
                    return Err(at(format!("two {} phones", kind.name())));
                }
            }
            if phones[Kind::AlternateMobile as usize].is_some() && phones[Kind::Mobile as usize].is_none() {
                return Err(at("alternateMobile without mobile".into()));
            }
            let default_method = match &u.default_method {
                Some(d) => Some(Kind::from_name(d).ok_or_else(|| at(format!("unknown defaultMethod '{d}'")))?),
                None => None,
            };
            let profile = profile::Phones::from_seed(&u.id, &u.profile_phones).map_err(at)?;
            let slot = tenant.users.len();
            for key in [&u.id, &u.user_principal_name] {
                if tenant.index.insert(key.to_lowercase(), slot).is_some() {
                    return Err(at(format!("'{key}' is used by two users")));
                }
            }
            if let Some(m) = &phones[Kind::Mobile as usize] {
                *tenant.mobiles.entry(number::identity(m)).or_default() += 1;
            }
            tenant.users.push(User {
                id: u.id.clone(),
                upn: u.user_principal_name.clone(),
                phones,
                default_method,
                sms_enabled: true,
                profile,
            });
        }
        Ok(tenant)
    }

    /// The tenant in the seed format.
    pub fn to_seed(&self) -> Seed {
        let users = self
            .users
            .iter()
            .map(|u| SeedUser {
                id: u.id.clone(),
                user_principal_name: u.upn.clone(),
                phone_methods: Kind::ALL
                    .into_iter()
                    .filter_map(|k| {
                        u.phones[k as usize].as_ref().map(|n| SeedPhone {
                            phone_type: k.name().into(),
                            phone_number: n.clone(),
                        })
                    })
                    .collect(),
                default_method: u.default_method.map(|k| k.name().to_string()),
                profile_phones: u.profile.to_seed(),
            })
            .collect();
        Seed { users }
    }

    /// The changes made since the last call.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    /// The user's profile phones.
    pub(crate) fn profile(&self, u: usize) -> &profile::Phones {
        &self.users[u].profile
    }

    /// The user's profile phones, to change; the change goes to [`Tenant::record`].
    pub(crate) fn profile_mut(&mut self, u: usize) -> &mut profile::Phones {
        &mut self.users[u].profile
    }

    /// Records a change for the journal.
    pub(crate) fn record(&mut self, change: Change) {
        self.changes.push(change);
    }

    fn rule(&self, message: impl Into<String>) -> Failure {
        Failure {
            status: self.options.rule_error_status,
            code: self.options.rule_error_code.clone(),
            message: message.into(),
        }
    }

    /// The index of the user named `key` (object id or UPN).
    pub fn user(&self, key: &str) -> Result<usize, Failure> {
        self.index.get(&key.to_lowercase()).copied().ok_or_else(|| Failure {
            status: 404,
            code: "Request_ResourceNotFound".into(),
            message: format!("Resource '{key}' does not exist or one of its queried reference-property objects are not present."),
        })
    }

    /// How many users the tenant has.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// The user's object id and user principal name.
    pub fn identity(&self, u: usize) -> (&str, &str) {
        (&self.users[u].id, &self.users[u].upn)
    }

    /// The user's `userPreferredMethodForSecondaryAuthentication` (beta `signInPreferences`,
    /// docs/graph.md#default-sign-in-method), read from the seed's default method: a mobile default
    /// is `sms`, the others `voiceAlternateMobile` and `voiceOffice`; without a default phone,
    /// `push`.
    pub fn preferred_method(&self, u: usize) -> &'static str {
        match self.users[u].default_method {
            Some(Kind::Mobile) => "sms",
            Some(Kind::AlternateMobile) => "voiceAlternateMobile",
            Some(Kind::Office) => "voiceOffice",
            None => "push",
        }
    }

    fn method(&self, u: usize, id: &str) -> Result<Kind, Failure> {
        let not_found = || Failure {
            status: 404,
            code: "itemNotFound".into(),
            message: format!("The phone method '{id}' was not found for this user."),
        };
        let kind = Kind::from_id(id).ok_or_else(not_found)?;
        self.users[u].phones[kind as usize].as_ref().map(|_| kind).ok_or_else(not_found)
    }

    fn sms_state(&self, u: usize, kind: Kind) -> &'static str {
        let user = &self.users[u];
        match (kind, &user.phones[kind as usize]) {
            (Kind::Mobile, Some(_)) if self.options.sms_sign_in_disabled => "notAllowedByPolicy",
            (Kind::Mobile, Some(n)) if self.mobiles.get(&number::identity(n)).copied().unwrap_or(0) > 1 => "phoneNumberNotUnique",
            (Kind::Mobile, Some(_)) if user.sms_enabled => "ready",
            (Kind::Mobile, Some(_)) => "notEnabled",
            _ => "notSupported",
        }
    }

    fn object(&self, u: usize, kind: Kind) -> Value {
        json!({
            "id": kind.id(),
            "phoneNumber": self.users[u].phones[kind as usize],
            "phoneType": kind.name(),
            "smsSignInState": self.sms_state(u, kind),
        })
    }

    /// `GET …/phoneMethods`: the user's phones, not ordered by type (the tutorial lists office first).
    pub fn list(&self, u: usize) -> Vec<Value> {
        [Kind::Office, Kind::Mobile, Kind::AlternateMobile]
            .into_iter()
            .filter(|k| self.users[u].phones[*k as usize].is_some())
            .map(|k| self.object(u, k))
            .collect()
    }

    /// `GET …/authentication/methods`: every method, each with `@odata.type` (docs/graph.md#phone-methods).
    pub fn all_methods(&self, u: usize) -> Vec<Value> {
        let mut v = vec![
            json!({"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": PASSWORD_METHOD_ID, "password": null, "createdDateTime": null}),
        ];
        for mut phone in self.list(u) {
            phone["@odata.type"] = json!("#microsoft.graph.phoneAuthenticationMethod");
            v.push(phone);
        }
        v
    }

    /// `GET …/phoneMethods/{id}`.
    pub fn get(&self, u: usize, id: &str) -> Result<Value, Failure> {
        let kind = self.method(u, id)?;
        Ok(self.object(u, kind))
    }

    fn accept_number(&self, value: &Value) -> Result<String, Failure> {
        let n = value
            .as_str()
            .ok_or_else(|| Failure::bad_request("phoneNumber must be a string."))?;
        number::accept(n, self.options.number_input, self.options.number_echo).map_err(|m| self.rule(m))
    }

    fn set(&mut self, u: usize, kind: Kind, op: &'static str, number: Option<String>) {
        let methods_before = self.users[u].count();
        let before = std::mem::replace(&mut self.users[u].phones[kind as usize], number.clone());
        if kind == Kind::Mobile {
            if let Some(b) = &before
                && let Some(c) = self.mobiles.get_mut(&number::identity(b))
            {
                *c = c.saturating_sub(1);
            }
            if let Some(a) = &number {
                *self.mobiles.entry(number::identity(a)).or_default() += 1;
                // Adding or changing a mobile registers it for SMS sign-in where policy allows (docs/graph.md#phone-method-rules).
                self.users[u].sms_enabled = true;
            }
        }
        let methods_after = self.users[u].count();
        self.changes.push(Change {
            user_id: self.users[u].id.clone(),
            op,
            phone_type: kind.name(),
            before,
            after: number,
            methods_before,
            methods_after,
            ..Change::default()
        });
    }

    /// `POST …/phoneMethods`: the new object.
    pub fn create(&mut self, u: usize, body: &Value) -> Result<Value, Failure> {
        let obj = body
            .as_object()
            .ok_or_else(|| Failure::bad_request("The request body must be a JSON object."))?;
        if obj.contains_key("smsSignInState") {
            return Err(self.rule("smsSignInState is read-only and cannot be set."));
        }
        let number = obj
            .get("phoneNumber")
            .ok_or_else(|| Failure::bad_request("phoneNumber is required."))?;
        let type_name = obj
            .get("phoneType")
            .and_then(Value::as_str)
            .ok_or_else(|| Failure::bad_request("phoneType is required."))?;
        let kind = Kind::from_name(type_name).ok_or_else(|| Failure::bad_request(format!("Invalid value '{type_name}' for phoneType.")))?;
        let stored = self.accept_number(number)?;
        let phones = &self.users[u].phones;
        if phones[kind as usize].is_some() {
            return Err(self.rule(format!(
                "The user already has a {} phone method; only one of each type is allowed.",
                kind.name()
            )));
        }
        if kind == Kind::AlternateMobile && phones[Kind::Mobile as usize].is_none() {
            return Err(self.rule("A user must have a mobile phone method before an alternateMobile phone method can be added."));
        }
        self.set(u, kind, "add", Some(stored));
        Ok(self.object(u, kind))
    }

    /// `PATCH …/phoneMethods/{id}`: the updated object (sent back only in one response mode).
    pub fn update(&mut self, u: usize, id: &str, body: &Value) -> Result<Value, Failure> {
        let kind = self.method(u, id)?;
        let obj = body
            .as_object()
            .ok_or_else(|| Failure::bad_request("The request body must be a JSON object."))?;
        if let Some(t) = obj.get("phoneType")
            && t.as_str() != Some(kind.name())
        {
            return Err(self.rule("The phoneType of a phone method cannot be changed; add a method of the new type and delete this one."));
        }
        if obj.contains_key("smsSignInState") {
            return Err(self.rule("smsSignInState is read-only and cannot be set."));
        }
        if let Some(n) = obj.get("phoneNumber") {
            let stored = self.accept_number(n)?;
            self.set(u, kind, "update", Some(stored));
        }
        Ok(self.object(u, kind))
    }

    /// `DELETE …/phoneMethods/{id}`.
    pub fn delete(&mut self, u: usize, id: &str) -> Result<(), Failure> {
        let kind = self.method(u, id)?;
        let user = &self.users[u];
        if kind == Kind::Mobile && user.phones[Kind::AlternateMobile as usize].is_some() {
            return Err(self.rule("A user can't have an alternateMobile without a mobile: delete the alternateMobile phone method first, or update the mobile instead."));
        }
        if user.default_method == Some(kind) {
            return Err(self.rule("This phone method is the user's default sign-in method and can't be deleted; change the default first."));
        }
        self.set(u, kind, "delete", None);
        Ok(())
    }

    /// `POST …/phoneMethods/{id}/enableSmsSignIn` and `disableSmsSignIn` (docs/graph.md#phone-methods).
    pub fn sms_sign_in(&mut self, u: usize, id: &str, enable: bool) -> Result<(), Failure> {
        let kind = self.method(u, id)?;
        if enable {
            if kind != Kind::Mobile {
                return Err(self.rule("SMS sign-in can only be enabled for a mobile phone method."));
            }
            match self.sms_state(u, kind) {
                "notAllowedByPolicy" => {
                    return Err(self.rule("The user is not enabled for SMS sign-in by the authentication methods policy."));
                }
                "phoneNumberNotUnique" => return Err(self.rule("The phone number is not unique in the SMS sign-in system.")),
                _ => {}
            }
        }
        if kind == Kind::Mobile {
            self.users[u].sms_enabled = enable;
        }
        let n = self.users[u].count();
        let number = self.users[u].phones[kind as usize].clone();
        let op = if enable { "enableSmsSignIn" } else { "disableSmsSignIn" };
        self.changes.push(Change {
            user_id: self.users[u].id.clone(),
            op,
            phone_type: kind.name(),
            before: number.clone(),
            after: number,
            methods_before: n,
            methods_after: n,
            ..Change::default()
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(options: Options) -> Tenant {
        let seed: Seed = serde_json::from_value(json!({"users": [
            {"id": "1", "userPrincipalName": "kim@contoso.com", "phoneMethods": [{"phoneType": "mobile", "phoneNumber": "+1 2065555555"}], "defaultMethod": "mobile"},
            {"id": "2", "userPrincipalName": "lee@contoso.com"}
        ]}))
        .unwrap();
        Tenant::from_seed(&seed, &options).unwrap()
    }

    #[test]
    fn enforces_one_per_type_and_mobile_first() {
        let mut t = tenant(Options::default());
        let dup = t
            .create(0, &json!({"phoneNumber": "+1 2065550100", "phoneType": "mobile"}))
            .unwrap_err();
        assert_eq!((dup.status, dup.code.as_str()), (400, "invalidRequest"));
        let alt = t
            .create(1, &json!({"phoneNumber": "+1 2065550100", "phoneType": "alternateMobile"}))
            .unwrap_err();
        assert!(alt.message.contains("mobile phone method before"));
        let ok = t
            .create(1, &json!({"phoneNumber": "+1 2065550100", "phoneType": "mobile"}))
            .unwrap();
        assert_eq!(ok["id"], Kind::Mobile.id());
        let changes = t.take_changes();
        assert_eq!(changes.len(), 1);
        assert_eq!((changes[0].methods_before, changes[0].methods_after), (0, 1));
    }

    #[test]
    fn rule_errors_are_configurable() {
        let mut t = tenant(Options {
            rule_error_status: 409,
            rule_error_code: "conflict".into(),
            ..Options::default()
        });
        let e = t
            .create(0, &json!({"phoneNumber": "+1 2065550100", "phoneType": "mobile"}))
            .unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (409, "conflict"));
    }

    #[test]
    fn sms_sign_in_needs_a_unique_mobile() {
        let mut t = tenant(Options::default());
        assert_eq!(t.get(0, Kind::Mobile.id()).unwrap()["smsSignInState"], "ready");
        t.create(1, &json!({"phoneNumber": "+1 2065555555", "phoneType": "mobile"}))
            .unwrap();
        assert_eq!(t.get(0, Kind::Mobile.id()).unwrap()["smsSignInState"], "phoneNumberNotUnique");
        assert!(
            t.sms_sign_in(1, Kind::Mobile.id(), true)
                .unwrap_err()
                .message
                .contains("not unique")
        );
        t.update(1, Kind::Mobile.id(), &json!({"phoneNumber": "+1 2065550199"})).unwrap();
        assert_eq!(t.get(0, Kind::Mobile.id()).unwrap()["smsSignInState"], "ready");
        t.sms_sign_in(0, Kind::Mobile.id(), false).unwrap();
        assert_eq!(t.get(0, Kind::Mobile.id()).unwrap()["smsSignInState"], "notEnabled");
        let disabled = tenant(Options {
            sms_sign_in_disabled: true,
            ..Options::default()
        });
        assert_eq!(disabled.get(0, Kind::Mobile.id()).unwrap()["smsSignInState"], "notAllowedByPolicy");
    }

    #[test]
    fn seeds_graph_could_not_hold_are_refused() {
        let seed: Seed =
            serde_json::from_value(json!({"users": [{"id": "1", "userPrincipalName": "a@b", "phoneMethods": [{"phoneType": "alternateMobile", "phoneNumber": "+1 2065555555"}]}]})).unwrap();
        assert!(
            Tenant::from_seed(&seed, &Options::default())
                .unwrap_err()
                .contains("alternateMobile without mobile")
        );
    }
}
