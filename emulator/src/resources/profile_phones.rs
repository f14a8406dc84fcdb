//! Profile phones: beta `itemPhone`, the contact numbers on a user's profile under
//! `/beta/users/{user}/profile/phones` (docs/graph.md#profile-phones). They are a different
//! collection from phone methods, with other rules: server-assigned ids, a free-text `number`,
//! any number of items of any `type`, timestamps and `createdBy` / `lastModifiedBy` naming the
//! caller. A list pages with `$top` and `$skip` (and, unasked, by `--profile-page-size`), each
//! page but the last with an `@odata.nextLink`. What it keeps about every user is its
//! [`ProfilePhoneTable`]; each write is journaled as a [`Change`] with `resource`
//! `profilePhones`. With `--profile-app-only-forbidden`, an app-only token may read them but not
//! write them.

use crate::access::Issued;
use crate::answer::Answer;
use crate::call::{Call, Operation, bad_page_size};
use crate::options::{MAX_PAGE_SIZE, Options};
use crate::tenant::{Change, Failure, Resource, SeedProfilePhone, SeedUser, Table, Tenant};
use serde_json::{Value, json};

/// Graph's `phoneType` values an itemPhone's `type` takes, as the journal's vocabulary has them.
fn types() -> &'static [&'static str] {
    Resource::ProfilePhones.phone_types()
}

/// The `allowedAudiences` values a client may set.
const AUDIENCES: [&str; 7] = [
    "me",
    "family",
    "contacts",
    "groupMembers",
    "organization",
    "federatedOrganizations",
    "everyone",
];

/// `allowedAudiences` of an item created without one.
const DEFAULT_AUDIENCE: &str = "organization";

/// itemPhone properties only the server sets.
const READ_ONLY: [&str; 9] = [
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "createdBy",
    "lastModifiedBy",
    "source",
    "sources",
    "inference",
    "isSearchable",
];

/// The profile phone type named `name` (matched exactly, as Graph matches enum values).
fn type_name(name: &str) -> Option<&'static str> {
    types().iter().copied().find(|t| *t == name)
}

fn audience_name(name: &str) -> Option<&'static str> {
    AUDIENCES.into_iter().find(|a| *a == name)
}

/// Now, as Graph writes timestamps: `2026-05-04T10:11:12.1234567Z`.
fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:7]Z"
        ))
        .unwrap_or_default()
}

/// The `identitySet` naming the caller: the application for an app-only token, the signed-in
/// user (whom the emulator does not know by id) for a delegated one.
fn identity(caller: &Issued) -> Value {
    if caller.delegated {
        json!({"user": {"id": null, "displayName": null}})
    } else {
        json!({"application": {"id": caller.app, "displayName": null}})
    }
}

/// One profile phone.
#[derive(Debug, Clone)]
struct Item {
    id: String,
    kind: Option<&'static str>,
    display_name: Option<String>,
    number: String,
    audience: &'static str,
    created: String,
    modified: String,
    created_by: Value,
    modified_by: Value,
}

impl Item {
    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "allowedAudiences": self.audience,
            "createdDateTime": self.created,
            "lastModifiedDateTime": self.modified,
            "createdBy": self.created_by,
            "lastModifiedBy": self.modified_by,
            "inference": null,
            "isSearchable": false,
            "source": {"type": ["User"]},
            "displayName": self.display_name,
            "type": self.kind,
            "number": self.number,
        })
    }
}

/// One user's profile phones, in the order they were created (seeded ones first, in seed
/// order): Graph's default order, `createdDateTime`.
#[derive(Debug, Clone, Default)]
struct UserPhones {
    items: Vec<Item>,
}

impl UserPhones {
    /// The phones of user `user_id` from the seed, refusing values Graph could not hold. Seeded
    /// phones count as entered by the user.
    fn from_seed(user_id: &str, seed: &[SeedProfilePhone]) -> Result<UserPhones, String> {
        let loaded = now();
        let by = json!({"user": {"id": user_id, "displayName": null}});
        let mut items: Vec<Item> = Vec::with_capacity(seed.len());
        for (n, p) in seed.iter().enumerate() {
            let at = |what: String| format!("profilePhones[{n}]: {what}");
            let kind = match &p.phone_type {
                Some(t) => Some(type_name(t).ok_or_else(|| at(format!("unknown type '{t}' (one of {})", types().join(", "))))?),
                None => None,
            };
            let audience = match &p.allowed_audiences {
                Some(a) => {
                    audience_name(a).ok_or_else(|| at(format!("unknown allowedAudiences '{a}' (one of {})", AUDIENCES.join(", "))))?
                }
                None => DEFAULT_AUDIENCE,
            };
            if p.number.trim().is_empty() {
                return Err(at("number is required".into()));
            }
            let id = match &p.id {
                Some(id) if id.trim().is_empty() => return Err(at("id is empty".into())),
                Some(id) => id.clone(),
                None => uuid::Uuid::new_v4().to_string(),
            };
            if items.iter().any(|i| i.id.eq_ignore_ascii_case(&id)) {
                return Err(at(format!("id '{id}' is used by two profile phones")));
            }
            let created = p.created_date_time.clone().unwrap_or_else(|| loaded.clone());
            items.push(Item {
                id,
                kind,
                display_name: p.display_name.clone(),
                number: p.number.clone(),
                audience,
                modified: p.last_modified_date_time.clone().unwrap_or_else(|| created.clone()),
                created,
                created_by: by.clone(),
                modified_by: by.clone(),
            });
        }
        Ok(UserPhones { items })
    }

    /// The phones in the seed format, ids and timestamps kept.
    fn to_seed(&self) -> Vec<SeedProfilePhone> {
        self.items
            .iter()
            .map(|i| SeedProfilePhone {
                id: Some(i.id.clone()),
                phone_type: i.kind.map(str::to_string),
                number: i.number.clone(),
                display_name: i.display_name.clone(),
                allowed_audiences: Some(i.audience.to_string()),
                created_date_time: Some(i.created.clone()),
                last_modified_date_time: Some(i.modified.clone()),
            })
            .collect()
    }

    /// `GET …/profile/phones`: the items from `from`, at most `size` of them (every one when
    /// `None`), and whether more remain after them.
    fn page(&self, from: usize, size: Option<usize>) -> (Vec<Value>, bool) {
        let from = from.min(self.items.len());
        let to = size.map_or(self.items.len(), |n| from.saturating_add(n).min(self.items.len()));
        (self.items[from..to].iter().map(Item::json).collect(), to < self.items.len())
    }

    /// `GET …/profile/phones/{id}`.
    fn get(&self, id: &str) -> Result<Value, Failure> {
        self.find(id).map(|n| self.items[n].json())
    }

    fn find(&self, id: &str) -> Result<usize, Failure> {
        self.items
            .iter()
            .position(|i| i.id.eq_ignore_ascii_case(id))
            .ok_or_else(|| Failure {
                status: 404,
                code: "itemNotFound".into(),
                message: format!("The profile phone '{id}' was not found for this user."),
            })
    }
}

/// Every user's profile phones.
#[derive(Debug, Default)]
pub(crate) struct ProfilePhoneTable {
    rows: Vec<UserPhones>,
}

impl Table for ProfilePhoneTable {
    fn load(&mut self, user: &SeedUser) -> Result<(), String> {
        self.rows.push(UserPhones::from_seed(&user.id, &user.profile_phones)?);
        Ok(())
    }

    fn save(&self, u: usize, user: &mut SeedUser) {
        user.profile_phones = self.rows[u].to_seed();
    }
}

/// User `u`'s profile phones.
fn phones(tenant: &Tenant, u: usize) -> &UserPhones {
    &tenant.table::<ProfilePhoneTable>().rows[u]
}

/// User `u`'s profile phones, to change; the change goes to [`Tenant::record`].
fn phones_mut(tenant: &mut Tenant, u: usize) -> &mut UserPhones {
    &mut tenant.table_mut::<ProfilePhoneTable>().rows[u]
}

/// With `--profile-app-only-forbidden`, a write with an app-only token is refused 403 before
/// the user is looked up.
pub(crate) fn guard(options: &Options, op: &Operation, _rest: &[&str]) -> Option<Answer> {
    let write = matches!(op.method, "POST" | "PATCH" | "PUT" | "DELETE");
    (options.profile_app_only_forbidden && !op.caller.delegated && write).then(Answer::insufficient_privileges)
}

/// Beta `…/profile/phones[/{id}]`: list, create, get, update, delete; 405 for another method on
/// those paths, and Graph's 400 for a segment beyond an item.
pub(crate) fn serve(call: &mut Call, rest: &[&str]) -> Option<Result<Answer, Failure>> {
    let u = call.user;
    Some(match (call.op.method, rest) {
        ("GET", []) => list(call),
        ("GET", [id]) => phones(call.tenant, u).get(id).map(|v| Answer::ok(200, Some(entity(call, v)))),
        ("POST", []) => post(call),
        ("PATCH", [id]) => patch(call, id),
        ("DELETE", [id]) => delete(call.tenant, u, id).map(|()| Answer::ok(204, None)),
        (_, [] | [_]) => Ok(call.not_allowed()),
        (_, [_, segment, ..]) => Ok(Answer::error(
            400,
            "BadRequest",
            format!("Resource not found for the segment '{segment}'."),
        )),
    })
}

/// Characters escaped in a query option kept in a next link (the rest of a query is sent as is).
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'=')
    .add(b'>');

/// How a list request pages (docs/graph.md#profile-phones): `$top` items a page (else
/// `--profile-page-size`, else every item), from item `$skip`.
struct Paging {
    /// Items a page holds; every item when `None`.
    size: Option<usize>,
    /// Whether the request gave `$top`, which a next link then repeats.
    top_given: bool,
    /// Items skipped before the page.
    skip: usize,
    /// The request's other query options, decoded, which a next link keeps.
    others: Vec<(String, String)>,
}

impl Paging {
    /// Reads a list request's query; `$top` outside 1 to 999 and a `$skip` that is not a count
    /// are refused with 400. Options are named without case, as the users listing reads them.
    fn read(query: &str, page_size: Option<usize>) -> Result<Paging, Failure> {
        let mut p = Paging {
            size: page_size,
            top_given: false,
            skip: 0,
            others: Vec::new(),
        };
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()).into_owned() {
            if key.eq_ignore_ascii_case("$top") {
                match value.parse::<usize>() {
                    Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => (p.size, p.top_given) = (Some(n), true),
                    _ => return Err(bad_page_size()),
                }
            } else if key.eq_ignore_ascii_case("$skip") {
                p.skip = value.parse().map_err(|_| {
                    Failure::bad_request(format!(
                        "Invalid value '{value}' for $skip: it must be a whole number of items, 0 or more."
                    ))
                })?;
            } else {
                p.others.push((key, value));
            }
        }
        Ok(p)
    }

    /// The query of the page that starts at item `from`: the other options as sent, then
    /// `$top` if the request gave it, then `$skip`.
    fn next(&self, from: usize) -> String {
        let encode = |text: &str| percent_encoding::utf8_percent_encode(text, QUERY_VALUE).to_string();
        let mut parts: Vec<String> = self.others.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        if let (true, Some(n)) = (self.top_given, self.size) {
            parts.push(format!("$top={n}"));
        }
        parts.push(format!("$skip={from}"));
        parts.join("&")
    }
}

/// `GET …/profile/phones`: a page of the user's items in creation order (Graph's default
/// order, `createdDateTime`), with an `@odata.nextLink` to the next page while more remain.
fn list(call: &Call) -> Result<Answer, Failure> {
    let paging = Paging::read(call.op.query, call.options.profile_page_size)?;
    let (value, more) = phones(call.tenant, call.user).page(paging.skip, paging.size);
    let shown = value.len();
    let mut body = json!({"@odata.context": call.context("profile/phones"), "value": value});
    if more {
        let next = paging.next(paging.skip + shown);
        body["@odata.nextLink"] = json!(call.link(&format!("profile/phones?{next}")));
    }
    Ok(Answer::ok(200, Some(body)))
}

/// `item` with the `@odata.context` of one profile phone of the user `call` addresses.
fn entity(call: &Call, mut item: Value) -> Value {
    item["@odata.context"] = json!(call.context("profile/phones/$entity"));
    item
}

/// `POST …/profile/phones`: 201 with the new item.
fn post(call: &mut Call) -> Result<Answer, Failure> {
    let body = call.json_body()?;
    let item = create(call.tenant, call.user, &body, call.op.caller)?;
    Ok(Answer::ok(201, Some(entity(call, item))))
}

/// `PATCH …/profile/phones/{id}`: 200 with the updated item.
fn patch(call: &mut Call, id: &str) -> Result<Answer, Failure> {
    let body = call.json_body()?;
    let item = update(call.tenant, call.user, id, &body, call.op.caller)?;
    Ok(Answer::ok(200, Some(entity(call, item))))
}

/// The properties a create or update body sets; `None` for absent, `Some(None)` for `null`.
#[derive(Default)]
struct Fields {
    kind: Option<Option<&'static str>>,
    display_name: Option<Option<String>>,
    number: Option<String>,
    audience: Option<&'static str>,
}

/// Graph's refusal of a value that is not of a property's type.
fn not_convertible(value: &Value, to: &str) -> Failure {
    Failure::bad_request(format!("Cannot convert the literal '{value}' to the expected type '{to}'."))
}

/// Graph's refusal of a string that is not one of an enum's values.
fn not_found_value(value: &str) -> Failure {
    Failure::bad_request(format!("Requested value '{value}' was not found."))
}

fn number_required() -> Failure {
    Failure {
        status: 400,
        code: "invalidRequest".into(),
        message: "number is required and must not be empty.".into(),
    }
}

impl Fields {
    /// Reads a body: a JSON object of writable properties (`@odata.*` annotations are ignored);
    /// a read-only or unknown property, or a value of the wrong type, is refused with 400.
    fn read(body: &Value) -> Result<Fields, Failure> {
        let obj = body
            .as_object()
            .ok_or_else(|| Failure::bad_request("The request body must be a JSON object."))?;
        let mut f = Fields::default();
        for (key, value) in obj {
            match key.as_str() {
                k if k.starts_with('@') => {}
                "type" => {
                    f.kind = Some(match value {
                        Value::Null => None,
                        Value::String(t) => Some(type_name(t).ok_or_else(|| not_found_value(t))?),
                        other => return Err(not_convertible(other, "microsoft.graph.phoneType")),
                    })
                }
                "displayName" => {
                    f.display_name = Some(match value {
                        Value::Null => None,
                        Value::String(d) => Some(d.clone()),
                        other => return Err(not_convertible(other, "Edm.String")),
                    })
                }
                "number" => {
                    f.number = Some(match value {
                        Value::String(n) if !n.trim().is_empty() => n.clone(),
                        Value::String(_) | Value::Null => return Err(number_required()),
                        other => return Err(not_convertible(other, "Edm.String")),
                    })
                }
                "allowedAudiences" => {
                    f.audience = Some(match value {
                        Value::String(a) => audience_name(a).ok_or_else(|| not_found_value(a))?,
                        other => return Err(not_convertible(other, "microsoft.graph.allowedAudiences")),
                    })
                }
                k if READ_ONLY.contains(&k) => {
                    return Err(Failure::bad_request(format!("The property '{k}' is read-only and cannot be set.")));
                }
                k => {
                    return Err(Failure::bad_request(format!(
                        "The property '{k}' does not exist on type 'microsoft.graph.itemPhone'. Make sure to only use property names that are defined by the type or mark the type as open type."
                    )));
                }
            }
        }
        Ok(f)
    }
}

/// The journal's record of a change to `item`; `gone` when it was deleted.
fn change(tenant: &Tenant, u: usize, op: &'static str, item: &Item, before: Option<String>, gone: bool, counts: (usize, usize)) -> Change {
    Change {
        user_id: tenant.identity(u).0.to_string(),
        op,
        resource: Resource::ProfilePhones,
        phone_type: item.kind.unwrap_or(""),
        item_id: Some(item.id.clone()),
        display_name: if gone { None } else { item.display_name.clone() },
        before,
        after: (!gone).then(|| item.number.clone()),
        methods_before: counts.0,
        methods_after: counts.1,
    }
}

/// `POST …/profile/phones`: the new item. `number` is required; many items may share a type
/// or a number.
fn create(tenant: &mut Tenant, u: usize, body: &Value, caller: &Issued) -> Result<Value, Failure> {
    let f = Fields::read(body)?;
    let number = f.number.ok_or_else(number_required)?;
    let (stamp, by) = (now(), identity(caller));
    let item = Item {
        id: uuid::Uuid::new_v4().to_string(),
        kind: f.kind.flatten(),
        display_name: f.display_name.flatten(),
        number,
        audience: f.audience.unwrap_or(DEFAULT_AUDIENCE),
        created: stamp.clone(),
        modified: stamp,
        created_by: by.clone(),
        modified_by: by,
    };
    let phones = phones_mut(tenant, u);
    let count = phones.items.len();
    phones.items.push(item.clone());
    let c = change(tenant, u, "add", &item, None, false, (count, count + 1));
    tenant.record(c);
    Ok(item.json())
}

/// `PATCH …/profile/phones/{id}`: the updated item. Every successful update is journaled,
/// whatever it changed.
fn update(tenant: &mut Tenant, u: usize, id: &str, body: &Value, caller: &Issued) -> Result<Value, Failure> {
    let n = phones(tenant, u).find(id)?;
    let f = Fields::read(body)?;
    let phones = phones_mut(tenant, u);
    let count = phones.items.len();
    let item = &mut phones.items[n];
    let before = item.number.clone();
    if let Some(k) = f.kind {
        item.kind = k;
    }
    if let Some(d) = f.display_name {
        item.display_name = d;
    }
    if let Some(number) = f.number {
        item.number = number;
    }
    if let Some(a) = f.audience {
        item.audience = a;
    }
    item.modified = now();
    item.modified_by = identity(caller);
    let item = item.clone();
    let c = change(tenant, u, "update", &item, Some(before), false, (count, count));
    tenant.record(c);
    Ok(item.json())
}

/// `DELETE …/profile/phones/{id}`.
fn delete(tenant: &mut Tenant, u: usize, id: &str) -> Result<(), Failure> {
    let n = phones(tenant, u).find(id)?;
    let phones = phones_mut(tenant, u);
    let count = phones.items.len();
    let item = phones.items.remove(n);
    let c = change(tenant, u, "delete", &item, Some(item.number.clone()), true, (count, count - 1));
    tenant.record(c);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::Seed;

    fn app() -> Issued {
        Issued {
            expiry: std::time::Instant::now(),
            app: "app-1".into(),
            tenant: "contoso".into(),
            delegated: false,
        }
    }

    fn tenant() -> Tenant {
        let seed: Seed = serde_json::from_value(json!({"users": [{"id": "1", "userPrincipalName": "kim@contoso.com"}]})).unwrap();
        Tenant::from_seed(&seed, vec![Box::new(ProfilePhoneTable::default())]).unwrap()
    }

    #[test]
    fn fields_refuse_what_graph_refuses() {
        let refused = |body: Value| Fields::read(&body).err().map(|f| (f.status, f.code, f.message));
        assert_eq!(refused(json!({"type": "fax"})).unwrap().2, "Requested value 'fax' was not found.");
        assert_eq!(refused(json!({"type": 3})).unwrap().1, "BadRequest");
        assert_eq!(refused(json!({"number": " "})).unwrap().1, "invalidRequest");
        assert!(refused(json!({"id": "x"})).unwrap().2.contains("read-only"));
        assert!(
            refused(json!({"phoneNumber": "+1 1"}))
                .unwrap()
                .2
                .contains("does not exist on type")
        );
        assert!(refused(json!({"allowedAudiences": "world"})).is_some());
        assert!(refused(json!(["x"])).is_some());
        assert!(
            refused(json!({"@odata.type": "#microsoft.graph.itemPhone", "type": null, "displayName": null, "allowedAudiences": "me"}))
                .is_none()
        );
    }

    #[test]
    fn writes_are_recorded_with_the_item_and_the_collection_count() {
        let mut t = tenant();
        let a = create(&mut t, 0, &json!({"number": "+1 1", "type": "business"}), &app()).unwrap();
        create(&mut t, 0, &json!({"number": "+1 1", "type": "business"}), &app()).unwrap();
        let id = a["id"].as_str().unwrap();
        update(&mut t, 0, id, &json!({"displayName": "Desk", "type": null}), &app()).unwrap();
        delete(&mut t, 0, id).unwrap();
        let c = t.take_changes();
        let summary: Vec<_> = c
            .iter()
            .map(|c| (c.op, c.phone_type, c.display_name.as_deref(), c.methods_before, c.methods_after))
            .collect();
        assert_eq!(
            summary,
            [
                ("add", "business", None, 0, 1),
                ("add", "business", None, 1, 2),
                ("update", "", Some("Desk"), 2, 2),
                ("delete", "", None, 2, 1)
            ]
        );
        assert!(c.iter().all(|c| c.resource == Resource::ProfilePhones && c.user_id == "1"));
        assert_eq!(c[3].item_id.as_deref(), Some(id));
        assert_eq!((c[3].before.as_deref(), c[3].after.as_deref()), (Some("+1 1"), None));
        assert_eq!(update(&mut t, 0, id, &json!({}), &app()).unwrap_err().status, 404);
    }
}
