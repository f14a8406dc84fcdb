//! Phone methods, the sign-in phones (docs/graph.md#phone-methods): `…/authentication/phoneMethods`
//! with its fixed ids, Graph's rules for changing them (one per type, mobile before
//! alternateMobile, the default method kept), the numbers Graph accepts and echoes, and SMS
//! sign-in with its actions; also the views built on them, `…/authentication/methods` and beta
//! `…/authentication/signInPreferences`. What it keeps about every user is its
//! [`PhoneMethodTable`]; each write is journaled as a [`Change`] of `resource` `phoneMethods`.

use crate::answer::Answer;
use crate::call::{Call, Operation};
use crate::number;
use crate::options::{Options, UpdateResponse};
use crate::tenant::{Change, Failure, Resource, SeedPhone, SeedUser, Table, Tenant};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The three phone types and their fixed method ids (docs/graph.md#fixed-method-ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
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

    /// Graph's name of the type, as the journal's vocabulary has it.
    pub fn name(self) -> &'static str {
        Resource::PhoneMethods.phone_types()[self as usize]
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

/// One user's phone methods.
#[derive(Debug, Clone)]
struct Row {
    /// The number of each type, by [`Kind`].
    phones: [Option<String>; 3],
    default_method: Option<Kind>,
    /// Whether the mobile number is registered for SMS sign-in.
    sms_enabled: bool,
}

impl Row {
    fn count(&self) -> usize {
        self.phones.iter().flatten().count()
    }
}

/// Every user's phone methods, and how many users hold each mobile number (SMS sign-in needs it
/// unique).
#[derive(Debug, Default)]
pub(crate) struct PhoneMethodTable {
    rows: Vec<Row>,
    mobiles: HashMap<String, usize>,
}

impl Table for PhoneMethodTable {
    fn load(&mut self, user: &SeedUser) -> Result<(), String> {
        let mut phones: [Option<String>; 3] = Default::default();
        for p in &user.phone_methods {
            let kind = Kind::from_name(&p.phone_type).ok_or_else(|| format!("unknown phoneType '{}'", p.phone_type))?;
            if phones[kind as usize].replace(p.phone_number.clone()).is_some() {
                return Err(format!("two {} phones", kind.name()));
            }
        }
        if phones[Kind::AlternateMobile as usize].is_some() && phones[Kind::Mobile as usize].is_none() {
            return Err("alternateMobile without mobile".into());
        }
        let default_method = match &user.default_method {
            Some(d) => Some(Kind::from_name(d).ok_or_else(|| format!("unknown defaultMethod '{d}'"))?),
            None => None,
        };
        if let Some(m) = &phones[Kind::Mobile as usize] {
            *self.mobiles.entry(number::identity(m)).or_default() += 1;
        }
        self.rows.push(Row {
            phones,
            default_method,
            sms_enabled: true,
        });
        Ok(())
    }

    fn save(&self, u: usize, user: &mut SeedUser) {
        let row = &self.rows[u];
        user.phone_methods = Kind::ALL
            .into_iter()
            .filter_map(|k| {
                row.phones[k as usize].as_ref().map(|n| SeedPhone {
                    phone_type: k.name().into(),
                    phone_number: n.clone(),
                })
            })
            .collect();
        user.default_method = row.default_method.map(|k| k.name().to_string());
    }
}

/// `…/authentication/phoneMethods[/{id}[/{action}]]`: list, create, get, update, delete, and the
/// SMS sign-in actions (bare or `microsoft.graph.`-qualified); 405 for another method on those
/// paths.
pub(crate) fn serve(call: &mut Call, rest: &[&str]) -> Option<Result<Answer, Failure>> {
    Some(match (call.op.method, rest) {
        ("GET", []) => list(call),
        ("GET", [id]) => get(call, id),
        ("POST", []) => create(call),
        ("PATCH", [id]) => update(call, id),
        ("DELETE", [id]) => UserMethods::of(call).delete(id).map(|()| Answer::ok(204, None)),
        ("POST", [id, a]) if is_action(a, "enableSmsSignIn") => UserMethods::of(call).sms_sign_in(id, true).map(|()| Answer::ok(204, None)),
        ("POST", [id, a]) if is_action(a, "disableSmsSignIn") => {
            UserMethods::of(call).sms_sign_in(id, false).map(|()| Answer::ok(204, None))
        }
        (_, [] | [_] | [_, _]) => Ok(call.not_allowed()),
        _ => return None,
    })
}

/// Whether `segment` names the action `name`, bare or qualified (`microsoft.graph.{name}`).
fn is_action(segment: &str, name: &str) -> bool {
    segment.eq_ignore_ascii_case(name) || segment.eq_ignore_ascii_case(&format!("microsoft.graph.{name}"))
}

/// `GET …/phoneMethods`.
fn list(call: &mut Call) -> Result<Answer, Failure> {
    let value = UserMethods::of(call).list();
    let context = call.context("authentication/phoneMethods");
    Ok(Answer::ok(200, Some(json!({"@odata.context": context, "value": value}))))
}

/// `GET …/phoneMethods/{id}`.
fn get(call: &mut Call, id: &str) -> Result<Answer, Failure> {
    let mut v = UserMethods::of(call).get(id)?;
    v["@odata.context"] = json!(call.context("authentication/phoneMethods/$entity"));
    Ok(Answer::ok(200, Some(v)))
}

/// `POST …/phoneMethods`, answered with the configured status.
fn create(call: &mut Call) -> Result<Answer, Failure> {
    let body = call.json_body()?;
    let v = UserMethods::of(call).create(&body)?;
    Ok(Answer::ok(call.options.create_status, Some(v)))
}

/// `PATCH …/phoneMethods/{id}`, answered in the configured way.
fn update(call: &mut Call, id: &str) -> Result<Answer, Failure> {
    let body = call.json_body()?;
    let v = UserMethods::of(call).update(id, &body)?;
    Ok(match call.options.update_response {
        UpdateResponse::Empty => Answer::ok(204, None),
        UpdateResponse::Body => Answer::ok(200, Some(v)),
    })
}

/// `GET …/authentication/methods`: every method, each with `@odata.type`
/// (docs/graph.md#phone-methods). Another method or a longer path: `None`.
pub(crate) fn serve_all_methods(call: &mut Call, rest: &[&str]) -> Option<Result<Answer, Failure>> {
    if !(call.op.method == "GET" && rest.is_empty()) {
        return None;
    }
    let value = UserMethods::of(call).all_methods();
    let context = call.context("authentication/methods");
    Some(Ok(Answer::ok(200, Some(json!({"@odata.context": context, "value": value})))))
}

/// With `--sign-in-preferences-forbidden`, beta `…/authentication/signInPreferences` is refused
/// 403 whatever the method, before the user is looked up.
pub(crate) fn guard_sign_in_preferences(options: &Options, _op: &Operation, rest: &[&str]) -> Option<Answer> {
    (rest.is_empty() && options.sign_in_preferences_forbidden).then(Answer::insufficient_privileges)
}

/// Beta `GET …/authentication/signInPreferences` (docs/graph.md#default-sign-in-method); other
/// methods 405; a longer path `None`.
pub(crate) fn serve_sign_in_preferences(call: &mut Call, rest: &[&str]) -> Option<Result<Answer, Failure>> {
    match (call.op.method, rest) {
        ("GET", []) => {
            let preferred = UserMethods::of(call).preferred_method();
            Some(Ok(Answer::ok(
                200,
                Some(json!({
                    "@odata.context": call.context("authentication/signInPreferences"),
                    "@odata.type": "#microsoft.graph.signInPreferences",
                    "isSystemPreferredAuthenticationMethodEnabled": false,
                    "userPreferredMethodForSecondaryAuthentication": preferred,
                })),
            )))
        }
        (_, []) => Some(Ok(call.not_allowed())),
        _ => None,
    }
}

/// One user's phone methods in a locked tenant, with Graph's rules for reading and changing
/// them; every change is recorded on the tenant.
struct UserMethods<'a> {
    tenant: &'a mut Tenant,
    options: &'a Options,
    u: usize,
}

impl<'a> UserMethods<'a> {
    /// The phone methods of the user `call` addresses.
    fn of(call: &'a mut Call) -> UserMethods<'a> {
        UserMethods {
            tenant: call.tenant,
            options: call.options,
            u: call.user,
        }
    }

    fn table(&self) -> &PhoneMethodTable {
        self.tenant.table()
    }

    fn row(&self) -> &Row {
        &self.table().rows[self.u]
    }

    fn rule(&self, message: impl Into<String>) -> Failure {
        Failure {
            status: self.options.rule_error_status,
            code: self.options.rule_error_code.clone(),
            message: message.into(),
        }
    }

    /// The user's `userPreferredMethodForSecondaryAuthentication` (beta `signInPreferences`,
    /// docs/graph.md#default-sign-in-method), read from the seed's default method: a mobile default
    /// is `sms`, the others `voiceAlternateMobile` and `voiceOffice`; without a default phone,
    /// `push`.
    fn preferred_method(&self) -> &'static str {
        match self.row().default_method {
            Some(Kind::Mobile) => "sms",
            Some(Kind::AlternateMobile) => "voiceAlternateMobile",
            Some(Kind::Office) => "voiceOffice",
            None => "push",
        }
    }

    fn method(&self, id: &str) -> Result<Kind, Failure> {
        let not_found = || Failure {
            status: 404,
            code: "itemNotFound".into(),
            message: format!("The phone method '{id}' was not found for this user."),
        };
        let kind = Kind::from_id(id).ok_or_else(not_found)?;
        self.row().phones[kind as usize].as_ref().map(|_| kind).ok_or_else(not_found)
    }

    fn sms_state(&self, kind: Kind) -> &'static str {
        let row = self.row();
        match (kind, &row.phones[kind as usize]) {
            (Kind::Mobile, Some(_)) if self.options.sms_sign_in_disabled => "notAllowedByPolicy",
            (Kind::Mobile, Some(n)) if self.table().mobiles.get(&number::identity(n)).copied().unwrap_or(0) > 1 => "phoneNumberNotUnique",
            (Kind::Mobile, Some(_)) if row.sms_enabled => "ready",
            (Kind::Mobile, Some(_)) => "notEnabled",
            _ => "notSupported",
        }
    }

    fn object(&self, kind: Kind) -> Value {
        json!({
            "id": kind.id(),
            "phoneNumber": self.row().phones[kind as usize],
            "phoneType": kind.name(),
            "smsSignInState": self.sms_state(kind),
        })
    }

    /// `GET …/phoneMethods`: the user's phones, not ordered by type (the tutorial lists office first).
    fn list(&self) -> Vec<Value> {
        [Kind::Office, Kind::Mobile, Kind::AlternateMobile]
            .into_iter()
            .filter(|k| self.row().phones[*k as usize].is_some())
            .map(|k| self.object(k))
            .collect()
    }

    /// `GET …/authentication/methods`: the password method and the phones, each with `@odata.type`.
    fn all_methods(&self) -> Vec<Value> {
        let mut v = vec![
            json!({"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": PASSWORD_METHOD_ID, "password": null, "createdDateTime": null}),
        ];
        for mut phone in self.list() {
            phone["@odata.type"] = json!("#microsoft.graph.phoneAuthenticationMethod");
            v.push(phone);
        }
        v
    }

    /// `GET …/phoneMethods/{id}`.
    fn get(&self, id: &str) -> Result<Value, Failure> {
        let kind = self.method(id)?;
        Ok(self.object(kind))
    }

    fn accept_number(&self, value: &Value) -> Result<String, Failure> {
        let n = value
            .as_str()
            .ok_or_else(|| Failure::bad_request("phoneNumber must be a string."))?;
        number::accept(n, self.options.number_input, self.options.number_echo).map_err(|m| self.rule(m))
    }

    /// Sets the user's `kind` phone to `number` (none: deletes it) and records the change.
    fn set(&mut self, kind: Kind, op: &'static str, number: Option<String>) {
        let u = self.u;
        let table = self.tenant.table_mut::<PhoneMethodTable>();
        let methods_before = table.rows[u].count();
        let before = std::mem::replace(&mut table.rows[u].phones[kind as usize], number.clone());
        if kind == Kind::Mobile {
            if let Some(b) = &before
                && let Some(c) = table.mobiles.get_mut(&number::identity(b))
            {
                *c = c.saturating_sub(1);
            }
            if let Some(a) = &number {
                *table.mobiles.entry(number::identity(a)).or_default() += 1;
                // Adding or changing a mobile registers it for SMS sign-in where policy allows (docs/graph.md#phone-method-rules).
                table.rows[u].sms_enabled = true;
            }
        }
        let methods_after = table.rows[u].count();
        let user_id = self.tenant.identity(u).0.to_string();
        self.tenant.record(Change {
            user_id,
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
    fn create(&mut self, body: &Value) -> Result<Value, Failure> {
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
        let phones = &self.row().phones;
        if phones[kind as usize].is_some() {
            return Err(self.rule(format!(
                "The user already has a {} phone method; only one of each type is allowed.",
                kind.name()
            )));
        }
        if kind == Kind::AlternateMobile && phones[Kind::Mobile as usize].is_none() {
            return Err(self.rule("A user must have a mobile phone method before an alternateMobile phone method can be added."));
        }
        self.set(kind, "add", Some(stored));
        Ok(self.object(kind))
    }

    /// `PATCH …/phoneMethods/{id}`: the updated object (sent back only in one response mode).
    fn update(&mut self, id: &str, body: &Value) -> Result<Value, Failure> {
        let kind = self.method(id)?;
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
            self.set(kind, "update", Some(stored));
        }
        Ok(self.object(kind))
    }

    /// `DELETE …/phoneMethods/{id}`.
    fn delete(&mut self, id: &str) -> Result<(), Failure> {
        let kind = self.method(id)?;
        let row = self.row();
        if kind == Kind::Mobile && row.phones[Kind::AlternateMobile as usize].is_some() {
            return Err(self.rule("A user can't have an alternateMobile without a mobile: delete the alternateMobile phone method first, or update the mobile instead."));
        }
        if row.default_method == Some(kind) {
            return Err(self.rule("This phone method is the user's default sign-in method and can't be deleted; change the default first."));
        }
        self.set(kind, "delete", None);
        Ok(())
    }

    /// `POST …/phoneMethods/{id}/enableSmsSignIn` and `disableSmsSignIn` (docs/graph.md#phone-methods).
    fn sms_sign_in(&mut self, id: &str, enable: bool) -> Result<(), Failure> {
        let kind = self.method(id)?;
        if enable {
            if kind != Kind::Mobile {
                return Err(self.rule("SMS sign-in can only be enabled for a mobile phone method."));
            }
            match self.sms_state(kind) {
                "notAllowedByPolicy" => {
                    return Err(self.rule("The user is not enabled for SMS sign-in by the authentication methods policy."));
                }
                "phoneNumberNotUnique" => return Err(self.rule("The phone number is not unique in the SMS sign-in system.")),
                _ => {}
            }
        }
        let u = self.u;
        let row = &mut self.tenant.table_mut::<PhoneMethodTable>().rows[u];
        if kind == Kind::Mobile {
            row.sms_enabled = enable;
        }
        let n = row.count();
        let number = row.phones[kind as usize].clone();
        let op = if enable { "enableSmsSignIn" } else { "disableSmsSignIn" };
        let user_id = self.tenant.identity(u).0.to_string();
        self.tenant.record(Change {
            user_id,
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

    fn tenant() -> Tenant {
        let seed = serde_json::from_value(json!({"users": [
            {"id": "1", "userPrincipalName": "kim@contoso.com", "phoneMethods": [{"phoneType": "mobile", "phoneNumber": "+1 2065555555"}], "defaultMethod": "mobile"},
            {"id": "2", "userPrincipalName": "lee@contoso.com"}
        ]}))
        .unwrap();
        Tenant::from_seed(&seed, vec![Box::new(PhoneMethodTable::default())]).unwrap()
    }

    /// User `u`'s phone methods in `t` under `options`.
    fn methods<'a>(t: &'a mut Tenant, options: &'a Options, u: usize) -> UserMethods<'a> {
        UserMethods { tenant: t, options, u }
    }

    #[test]
    fn enforces_one_per_type_and_mobile_first() {
        let (mut t, o) = (tenant(), Options::default());
        let dup = methods(&mut t, &o, 0)
            .create(&json!({"phoneNumber": "+1 2065550100", "phoneType": "mobile"}))
            .unwrap_err();
        assert_eq!((dup.status, dup.code.as_str()), (400, "invalidRequest"));
        let alt = methods(&mut t, &o, 1)
            .create(&json!({"phoneNumber": "+1 2065550100", "phoneType": "alternateMobile"}))
            .unwrap_err();
        assert!(alt.message.contains("mobile phone method before"));
        let ok = methods(&mut t, &o, 1)
            .create(&json!({"phoneNumber": "+1 2065550100", "phoneType": "mobile"}))
            .unwrap();
        assert_eq!(ok["id"], Kind::Mobile.id());
        let changes = t.take_changes();
        assert_eq!(changes.len(), 1);
        assert_eq!((changes[0].methods_before, changes[0].methods_after), (0, 1));
    }

    #[test]
    fn rule_errors_are_configurable() {
        let mut t = tenant();
        let o = Options {
            rule_error_status: 409,
            rule_error_code: "conflict".into(),
            ..Options::default()
        };
        let e = methods(&mut t, &o, 0)
            .create(&json!({"phoneNumber": "+1 2065550100", "phoneType": "mobile"}))
            .unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (409, "conflict"));
    }

    #[test]
    fn sms_sign_in_needs_a_unique_mobile() {
        let (mut t, o) = (tenant(), Options::default());
        let state = |t: &mut Tenant, o: &Options, u| methods(t, o, u).get(Kind::Mobile.id()).unwrap()["smsSignInState"].clone();
        assert_eq!(state(&mut t, &o, 0), "ready");
        methods(&mut t, &o, 1)
            .create(&json!({"phoneNumber": "+1 2065555555", "phoneType": "mobile"}))
            .unwrap();
        assert_eq!(state(&mut t, &o, 0), "phoneNumberNotUnique");
        assert!(
            methods(&mut t, &o, 1)
                .sms_sign_in(Kind::Mobile.id(), true)
                .unwrap_err()
                .message
                .contains("not unique")
        );
        methods(&mut t, &o, 1)
            .update(Kind::Mobile.id(), &json!({"phoneNumber": "+1 2065550199"}))
            .unwrap();
        assert_eq!(state(&mut t, &o, 0), "ready");
        methods(&mut t, &o, 0).sms_sign_in(Kind::Mobile.id(), false).unwrap();
        assert_eq!(state(&mut t, &o, 0), "notEnabled");
        let disabled = Options {
            sms_sign_in_disabled: true,
            ..Options::default()
        };
        assert_eq!(state(&mut tenant(), &disabled, 0), "notAllowedByPolicy");
    }

    #[test]
    fn seeds_graph_could_not_hold_are_refused() {
        let seed = serde_json::from_value(
            json!({"users": [{"id": "1", "userPrincipalName": "a@b", "phoneMethods": [{"phoneType": "alternateMobile", "phoneNumber": "+1 2065555555"}]}]}),
        )
        .unwrap();
        assert!(
            Tenant::from_seed(&seed, vec![Box::new(PhoneMethodTable::default())])
                .unwrap_err()
                .contains("alternateMobile without mobile")
        );
    }

    #[test]
    fn kinds_are_named_as_the_journal_names_them() {
        let names: Vec<&str> = Kind::ALL.into_iter().map(Kind::name).collect();
        assert_eq!(names, ["mobile", "alternateMobile", "office"]);
        assert!(
            Kind::ALL
                .into_iter()
                .all(|k| Kind::from_name(k.name()) == Some(k) && Kind::from_id(k.id()) == Some(k))
        );
    }
}
