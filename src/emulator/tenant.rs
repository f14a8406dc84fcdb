//! The emulated tenant: users, their phone methods, and Graph's rules for changing them
//! (graph-contract.md §1.2–§1.6). Deliberately shares no code with the client side, so a
//! misreading of the contract on one side is caught by the other.

use super::number;
use serde::{Deserialize, Serialize};
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

/// The three phone types and their fixed method ids (§1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `mobile`
    Mobile = 0,
    /// `alternateMobile`
    AlternateMobile = 1,
    /// `office`
    Office = 2,
}

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

    fn sms_state(self) -> &'static str {
        match self {
            Kind::Mobile => "ready",
            _ => "notSupported",
        }
    }
}

/// A refusal, shaped like a Graph error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// HTTP status.
    pub status: u16,
    /// `error.code`.
    pub code: &'static str,
    /// `error.message`.
    pub message: String,
}

impl Failure {
    fn bad(message: impl Into<String>) -> Failure {
        Failure {
            status: 400,
            code: "invalidRequest",
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone)]
struct User {
    id: String,
    upn: String,
    phones: [Option<String>; 3],
    default_method: Option<Kind>,
}

/// The tenant's users, addressable by id or UPN (case-insensitively).
#[derive(Debug, Default)]
pub struct Tenant {
    users: Vec<User>,
    index: HashMap<String, usize>,
}

impl Tenant {
    /// Builds a tenant from a seed, refusing a seed Graph could never hold.
    pub fn from_seed(seed: &Seed) -> Result<Tenant, String> {
        let mut tenant = Tenant::default();
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
            let slot = tenant.users.len();
            for key in [&u.id, &u.user_principal_name] {
                if tenant.index.insert(key.to_lowercase(), slot).is_some() {
                    return Err(at(format!("'{key}' is used by two users")));
                }
            }
            tenant.users.push(User {
                id: u.id.clone(),
                upn: u.user_principal_name.clone(),
                phones,
                default_method,
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
            })
            .collect();
        Seed { users }
    }

    fn user(&self, key: &str) -> Result<usize, Failure> {
        self.index.get(&key.to_lowercase()).copied().ok_or_else(|| Failure {
            status: 404,
            code: "Request_ResourceNotFound",
            message: format!("Resource '{key}' does not exist or one of its queried reference-property objects are not present."),
        })
    }

    fn method(&self, user: usize, id: &str) -> Result<Kind, Failure> {
        let not_found = || Failure {
            status: 404,
            code: "itemNotFound",
            message: format!("The phone method '{id}' was not found for this user."),
        };
        let kind = Kind::from_id(id).ok_or_else(not_found)?;
        self.users[user].phones[kind as usize].as_ref().map(|_| kind).ok_or_else(not_found)
    }

    fn object(&self, user: usize, kind: Kind) -> serde_json::Value {
        serde_json::json!({
            "id": kind.id(),
            "phoneNumber": self.users[user].phones[kind as usize],
            "phoneType": kind.name(),
            "smsSignInState": kind.sms_state(),
        })
    }

    /// `GET …/phoneMethods`: the user's phones, not ordered by type (the tutorial lists office first).
    pub fn list(&self, user: &str) -> Result<Vec<serde_json::Value>, Failure> {
        let u = self.user(user)?;
        Ok([Kind::Office, Kind::Mobile, Kind::AlternateMobile]
            .into_iter()
            .filter(|k| self.users[u].phones[*k as usize].is_some())
            .map(|k| self.object(u, k))
            .collect())
    }

    /// `GET …/phoneMethods/{id}`.
    pub fn get(&self, user: &str, id: &str) -> Result<serde_json::Value, Failure> {
        let u = self.user(user)?;
        let kind = self.method(u, id)?;
        Ok(self.object(u, kind))
    }

    /// `POST …/phoneMethods`: 201 with the new object.
    pub fn create(&mut self, user: &str, body: &serde_json::Value) -> Result<serde_json::Value, Failure> {
        let u = self.user(user)?;
        let obj = body
            .as_object()
            .ok_or_else(|| Failure::bad("The request body must be a JSON object."))?;
        if obj.contains_key("smsSignInState") {
            return Err(Failure::bad("smsSignInState is read-only and cannot be set."));
        }
        let number = obj
            .get("phoneNumber")
            .and_then(|v| v.as_str())
            .ok_or_else(|| Failure::bad("phoneNumber is required."))?;
        let type_name = obj
            .get("phoneType")
            .and_then(|v| v.as_str())
            .ok_or_else(|| Failure::bad("phoneType is required."))?;
        let kind = Kind::from_name(type_name).ok_or_else(|| Failure::bad(format!("Invalid phoneType '{type_name}'.")))?;
        number::check(number).map_err(Failure::bad)?;
        let phones = &mut self.users[u].phones;
        if phones[kind as usize].is_some() {
            return Err(Failure::bad(format!(
                "The user already has a {} phone method; only one of each type is allowed.",
                kind.name()
            )));
        }
        if kind == Kind::AlternateMobile && phones[Kind::Mobile as usize].is_none() {
            return Err(Failure::bad(
                "A user must have a mobile phone method before an alternateMobile phone method can be added.",
            ));
        }
        phones[kind as usize] = Some(number.to_string());
        Ok(self.object(u, kind))
    }

    /// `PATCH …/phoneMethods/{id}`: 204.
    pub fn update(&mut self, user: &str, id: &str, body: &serde_json::Value) -> Result<(), Failure> {
        let u = self.user(user)?;
        let kind = self.method(u, id)?;
        let obj = body
            .as_object()
            .ok_or_else(|| Failure::bad("The request body must be a JSON object."))?;
        if let Some(t) = obj.get("phoneType")
            && t.as_str() != Some(kind.name())
        {
            return Err(Failure::bad(
                "The phoneType of a phone method cannot be changed; add a method of the new type and delete this one.",
            ));
        }
        if let Some(n) = obj.get("phoneNumber") {
            let n = n.as_str().ok_or_else(|| Failure::bad("phoneNumber must be a string."))?;
            number::check(n).map_err(Failure::bad)?;
            self.users[u].phones[kind as usize] = Some(n.to_string());
        }
        Ok(())
    }

    /// `DELETE …/phoneMethods/{id}`: 204.
    pub fn delete(&mut self, user: &str, id: &str) -> Result<(), Failure> {
        let u = self.user(user)?;
        let kind = self.method(u, id)?;
        let rec = &mut self.users[u];
        if kind == Kind::Mobile && rec.phones[Kind::AlternateMobile as usize].is_some() {
            return Err(Failure::bad(
                "A user can't have an alternateMobile without a mobile: delete the alternateMobile phone method first.",
            ));
        }
        if rec.default_method == Some(kind) {
            return Err(Failure::bad(
                "This phone method is the user's default sign-in method and can't be deleted; change the default first.",
            ));
        }
        rec.phones[kind as usize] = None;
        Ok(())
    }

    /// The phones of one user by type name (for the journal's invariant checks).
    pub fn phone_count(&self, user: &str) -> Option<usize> {
        self.user(user).ok().map(|u| self.users[u].phones.iter().flatten().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tenant() -> Tenant {
        let seed: Seed = serde_json::from_value(json!({"users": [
            {"id": "1", "userPrincipalName": "kim@contoso.com", "phoneMethods": [{"phoneType": "mobile", "phoneNumber": "+1 2065555555"}], "defaultMethod": "mobile"},
            {"id": "2", "userPrincipalName": "lee@contoso.com"}
        ]}))
        .unwrap();
        Tenant::from_seed(&seed).unwrap()
    }

    #[test]
    fn enforces_one_per_type_and_mobile_first() {
        let mut t = tenant();
        let dup = t
            .create("kim@contoso.com", &json!({"phoneNumber": "+1 2065550100", "phoneType": "mobile"}))
            .unwrap_err();
        assert_eq!(dup.status, 400);
        let alt = t
            .create(
                "LEE@contoso.com",
                &json!({"phoneNumber": "+1 2065550100", "phoneType": "alternateMobile"}),
            )
            .unwrap_err();
        assert!(alt.message.contains("mobile phone method before"));
        let ok = t
            .create("2", &json!({"phoneNumber": "+1 2065550100", "phoneType": "mobile"}))
            .unwrap();
        assert_eq!(ok["id"], Kind::Mobile.id());
    }

    #[test]
    fn refuses_deletes_graph_refuses() {
        let mut t = tenant();
        t.create("1", &json!({"phoneNumber": "+1 2065550100", "phoneType": "alternateMobile"}))
            .unwrap();
        t.users[0].default_method = None;
        assert!(t.delete("1", Kind::Mobile.id()).unwrap_err().message.contains("alternateMobile"));
        t.delete("1", Kind::AlternateMobile.id()).unwrap();
        t.users[0].default_method = Some(Kind::Mobile);
        assert!(t.delete("1", Kind::Mobile.id()).unwrap_err().message.contains("default"));
        assert_eq!(t.delete("1", Kind::Office.id()).unwrap_err().status, 404);
        assert_eq!(t.delete("nobody", Kind::Office.id()).unwrap_err().code, "Request_ResourceNotFound");
    }

    #[test]
    fn refuses_type_change_and_bad_numbers_in_patch() {
        let mut t = tenant();
        assert!(t.update("1", Kind::Mobile.id(), &json!({"phoneType": "office"})).is_err());
        assert!(t.update("1", Kind::Mobile.id(), &json!({"phoneNumber": "2065555555"})).is_err());
        t.update("1", Kind::Mobile.id(), &json!({"phoneNumber": "+1 2065550199"})).unwrap();
        assert_eq!(t.to_seed().users[0].phone_methods[0].phone_number, "+1 2065550199");
    }

    #[test]
    fn seeds_graph_could_not_hold_are_refused() {
        let seed: Seed = serde_json::from_value(json!({"users": [{"id": "1", "userPrincipalName": "a@b", "phoneMethods": [{"phoneType": "alternateMobile", "phoneNumber": "+1 2065555555"}]}]})).unwrap();
        assert!(Tenant::from_seed(&seed).unwrap_err().contains("alternateMobile without mobile"));
    }
}
