//! The emulated tenant, shared by every resource: its users (addressable by id or UPN), the seed
//! and state format it is loaded from and saved as, refusals shaped like Graph errors, and the
//! changes made, recorded for the journal with the vocabulary the journal and its checker read
//! ([`Change`], [`Resource`]).
//!
//! It knows no resource: each resource module keeps what it knows about users in its own
//! [`Table`], which the tenant holds and hands back by type, and applies its own rules. The
//! emulator deliberately shares no code with the client side, so a misreading of Graph's
//! documentation on one side is caught by the other.

use serde::{Deserialize, Serialize};
use std::any::Any;
use std::collections::HashMap;
use std::fmt;

/// The seed / state file format: `{ "users": [ … ] }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seed {
    /// Users of the tenant.
    pub users: Vec<SeedUser>,
}

/// One user in the seed format.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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

/// Graph's `phoneType` values of a phone method, in the order of their fixed method ids.
const PHONE_METHOD_TYPES: [&str; 3] = ["mobile", "alternateMobile", "office"];

/// Graph's `phoneType` values an itemPhone's `type` takes (no `unknownFutureValue`).
const PROFILE_PHONE_TYPES: [&str; 10] = [
    "home",
    "business",
    "mobile",
    "other",
    "assistant",
    "homeFax",
    "businessFax",
    "otherFax",
    "pager",
    "radio",
];

impl Resource {
    /// Every collection.
    const ALL: [Resource; 2] = [Resource::PhoneMethods, Resource::ProfilePhones];

    /// The types a phone of this collection can have, as Graph names them (a profile phone may
    /// also have none: `""` in a [`Change`]).
    pub(crate) fn phone_types(self) -> &'static [&'static str] {
        match self {
            Resource::PhoneMethods => &PHONE_METHOD_TYPES,
            Resource::ProfilePhones => &PROFILE_PHONE_TYPES,
        }
    }

    /// How a change names its phone: `mobile`, or `profile phone business`.
    pub(crate) fn phone_label(self, phone_type: &str) -> String {
        match (self, phone_type) {
            (Resource::PhoneMethods, t) => t.to_string(),
            (Resource::ProfilePhones, "") => "profile phone (no type)".into(),
            (Resource::ProfilePhones, t) => format!("profile phone {t}"),
        }
    }
}

/// Reads [`Change::op`], which names one of [`OPS`].
fn known_op<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
    let name = String::deserialize(d)?;
    OPS.into_iter()
        .find(|op| *op == name)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown change op '{name}'")))
}

/// Reads [`Change::phone_type`], which names a type of one of the collections, or is empty (a
/// profile phone without a type).
fn known_type<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
    let name = String::deserialize(d)?;
    Resource::ALL
        .into_iter()
        .flat_map(Resource::phone_types)
        .copied()
        .find(|t| *t == name)
        .or_else(|| name.is_empty().then_some(""))
        .ok_or_else(|| serde::de::Error::custom(format!("unknown phoneType '{name}'")))
}

/// What one resource keeps about every user (row `u` is user `u`'s), held by the tenant without
/// knowing its type, so that the tenant names no resource and a new resource brings its own.
pub trait Table: Any + Send + fmt::Debug {
    /// Adds the row of the next user from the user's seed entry, refusing what Graph could not
    /// hold (the message says what; the tenant adds which user).
    fn load(&mut self, user: &SeedUser) -> Result<(), String>;

    /// Writes user `u`'s row into the user's seed entry.
    fn save(&self, u: usize, user: &mut SeedUser);
}

/// A user's identity; what resources know of the user is in their tables.
#[derive(Debug, Clone)]
struct User {
    id: String,
    upn: String,
}

/// The tenant's users, addressable by id or UPN (case-insensitively), the resources' tables, and
/// the changes not yet journaled.
#[derive(Debug)]
pub struct Tenant {
    users: Vec<User>,
    index: HashMap<String, usize>,
    tables: Vec<Box<dyn Table>>,
    changes: Vec<Change>,
}

impl Tenant {
    /// Builds a tenant from a seed, each user's entry read by every one of `tables` (empty, one
    /// per resource that keeps data, in the order their checks run), refusing a seed Graph could
    /// never hold.
    pub fn from_seed(seed: &Seed, mut tables: Vec<Box<dyn Table>>) -> Result<Tenant, String> {
        let mut users = Vec::with_capacity(seed.users.len());
        let mut index = HashMap::new();
        for (n, u) in seed.users.iter().enumerate() {
            let at = |what: String| format!("users[{n}] ({}): {what}", u.user_principal_name);
            if u.id.is_empty() || u.user_principal_name.is_empty() {
                return Err(at("id and userPrincipalName are required".into()));
            }
            for table in &mut tables {
                table.load(u).map_err(at)?;
            }
            let slot = users.len();
            for key in [&u.id, &u.user_principal_name] {
                if index.insert(key.to_lowercase(), slot).is_some() {
                    return Err(at(format!("'{key}' is used by two users")));
                }
            }
            users.push(User {
                id: u.id.clone(),
                upn: u.user_principal_name.clone(),
            });
        }
        Ok(Tenant {
            users,
            index,
            tables,
            changes: Vec::new(),
        })
    }

    /// The tenant in the seed format.
    pub fn to_seed(&self) -> Seed {
        let users = self
            .users
            .iter()
            .enumerate()
            .map(|(u, user)| {
                let mut seed = SeedUser {
                    id: user.id.clone(),
                    user_principal_name: user.upn.clone(),
                    ..SeedUser::default()
                };
                for table in &self.tables {
                    table.save(u, &mut seed);
                }
                seed
            })
            .collect();
        Seed { users }
    }

    /// The table of type `T`. Panics when the tenant was built without one: every resource's
    /// table is in the list the emulator builds its tenant with.
    pub fn table<T: Table>(&self) -> &T {
        self.tables
            .iter()
            .find_map(|t| (t.as_ref() as &dyn Any).downcast_ref())
            .expect("the tenant holds a table of this type")
    }

    /// The table of type `T`, to change; changes go to [`Tenant::record`].
    pub fn table_mut<T: Table>(&mut self) -> &mut T {
        self.tables
            .iter_mut()
            .find_map(|t| (t.as_mut() as &mut dyn Any).downcast_mut())
            .expect("the tenant holds a table of this type")
    }

    /// Records a change for the journal.
    pub fn record(&mut self, change: Change) {
        self.changes.push(change);
    }

    /// The changes made since the last call.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A table that remembers the seed users it read, and refuses one named `refused`.
    #[derive(Debug, Default)]
    struct Names(Vec<String>);

    impl Table for Names {
        fn load(&mut self, user: &SeedUser) -> Result<(), String> {
            if user.id == "refused" {
                return Err("not this one".into());
            }
            self.0.push(user.id.clone());
            Ok(())
        }

        fn save(&self, u: usize, user: &mut SeedUser) {
            user.default_method = Some(self.0[u].clone());
        }
    }

    fn seed(users: serde_json::Value) -> Seed {
        serde_json::from_value(json!({ "users": users })).unwrap()
    }

    #[test]
    fn users_are_found_by_id_or_upn_without_case_and_tables_round_trip() {
        let t = Tenant::from_seed(
            &seed(json!([{"id": "1", "userPrincipalName": "Kim@contoso.com"}, {"id": "2", "userPrincipalName": "lee@contoso.com"}])),
            vec![Box::new(Names::default())],
        )
        .unwrap();
        assert_eq!((t.user("kim@CONTOSO.com"), t.user("2")), (Ok(0), Ok(1)));
        assert_eq!(t.user("nobody").unwrap_err().code, "Request_ResourceNotFound");
        assert_eq!(t.table::<Names>().0, ["1", "2"]);
        let saved = t.to_seed();
        assert_eq!(
            saved.users[1].default_method.as_deref(),
            Some("2"),
            "each table writes its rows back"
        );
        assert_eq!(saved.users[0].user_principal_name, "Kim@contoso.com");
    }

    #[test]
    fn seeds_graph_could_not_hold_are_refused_naming_the_user() {
        let refused = |users| Tenant::from_seed(&seed(users), vec![Box::new(Names::default())]).unwrap_err();
        assert_eq!(
            refused(json!([{"id": "refused", "userPrincipalName": "a@b"}])),
            "users[0] (a@b): not this one"
        );
        assert!(refused(json!([{"id": "", "userPrincipalName": "a@b"}])).contains("required"));
        assert!(
            refused(json!([{"id": "1", "userPrincipalName": "a@b"}, {"id": "A@B", "userPrincipalName": "c@d"}]))
                .contains("used by two users")
        );
    }

    #[test]
    fn change_types_are_read_from_every_collection() {
        let read = |t: &str| {
            serde_json::from_value::<Change>(
                json!({"userId": "u", "op": "add", "phoneType": t, "before": null, "after": null, "methodsBefore": 0, "methodsAfter": 1}),
            )
        };
        for t in ["office", "pager", ""] {
            assert_eq!(read(t).unwrap().phone_type, t);
        }
        assert!(read("fax").unwrap_err().to_string().contains("unknown phoneType 'fax'"));
    }
}
