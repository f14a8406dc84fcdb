//! One Graph operation (a plain request or a `$batch` item) and what a resource's handler is
//! given to serve it ([`Call`]): the operation, the options, the tenant (locked for the whole
//! operation, so its changes are journaled in the order they were made) and the user it
//! addresses, with the shapes every resource answers in: its JSON body or Graph's 400 for one
//! that is not JSON, `@odata.context` under the user, links under the user as it was addressed
//! (a next page's `@odata.nextLink`), Graph's 400 for a page size out of range, and 405.

use crate::access::Issued;
use crate::answer::Answer;
use crate::options::{MAX_PAGE_SIZE, Options};
use crate::tenant::{Failure, Tenant};
use serde_json::Value;

/// Characters escaped in the user part of `@odata.context` (Graph writes `users('kim%40contoso.com')`).
const CONTEXT_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'_')
    .remove(b'~');

/// One Graph operation: a plain request or a `$batch` item.
pub(crate) struct Operation<'a> {
    /// `v1.0` or `beta`.
    pub version: &'a str,
    /// HTTP method, upper case.
    pub method: &'a str,
    /// Decoded path segments after the version.
    pub rest: &'a [String],
    /// The query string, without `?` (empty when none).
    pub query: &'a str,
    /// The request body.
    pub body: &'a [u8],
    /// The `client-request-id` (op id) that changes are journaled as made by.
    pub by: Option<&'a str>,
    /// Whom the bearer token was issued to.
    pub caller: &'a Issued,
}

/// An operation on one user, as a resource's handler serves it.
pub(crate) struct Call<'a> {
    /// The operation.
    pub op: &'a Operation<'a>,
    /// How the emulator behaves.
    pub options: &'a Options,
    /// The tenant, locked; changes go to [`Tenant::record`].
    pub tenant: &'a mut Tenant,
    /// The user addressed, as an index into the tenant.
    pub user: usize,
    /// `https://graph.microsoft.com/{version}/$metadata#users('{user}')`, the user as addressed.
    user_context: String,
    /// `https://graph.microsoft.com/{version}/users/{user}`, the user as addressed.
    user_url: String,
}

/// Graph's 400 for a `$top` that is not a page size (1 to 999), as the users listing gives it.
pub(crate) fn bad_page_size() -> Failure {
    Failure {
        status: 400,
        code: "Request_BadRequest".into(),
        message: format!("Invalid page size specified: the $top value must be between 1 and {MAX_PAGE_SIZE}."),
    }
}

impl<'a> Call<'a> {
    /// A call of `op` on user `user` of `tenant`, who was addressed as `addressed` (an id or UPN
    /// as the path spelled it).
    pub fn new(op: &'a Operation<'a>, options: &'a Options, tenant: &'a mut Tenant, user: usize, addressed: &str) -> Call<'a> {
        let encoded = percent_encoding::utf8_percent_encode(addressed, CONTEXT_SEGMENT);
        let user_context = format!("https://graph.microsoft.com/{}/$metadata#users('{encoded}')", op.version);
        // A name starting with `$` is addressed as `users('…')` (docs/graph.md#addressing-users).
        let user_url = if addressed.starts_with('$') {
            let quoted = addressed.replace('\'', "''");
            let quoted = percent_encoding::utf8_percent_encode(&quoted, CONTEXT_SEGMENT);
            format!("https://graph.microsoft.com/{}/users('{quoted}')", op.version)
        } else {
            format!("https://graph.microsoft.com/{}/users/{encoded}", op.version)
        };
        Call {
            op,
            options,
            tenant,
            user,
            user_context,
            user_url,
        }
    }

    /// The `@odata.context` of `path` under the user, e.g. `authentication/phoneMethods`.
    pub fn context(&self, path: &str) -> String {
        format!("{}/{path}", self.user_context)
    }

    /// The absolute URL of `path` under the user as the request addressed it, on Graph's host
    /// (as Graph writes `@odata.nextLink`), e.g. `profile/phones?$skip=2`.
    pub fn link(&self, path: &str) -> String {
        format!("{}/{path}", self.user_url)
    }

    /// The request body as JSON, or the 400 Graph gives for a body that is not.
    pub fn json_body(&self) -> Result<Value, Failure> {
        serde_json::from_slice(self.op.body).map_err(|_| {
            Failure::bad_request(
                "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
            )
        })
    }

    /// The 405 for a method the path does not take.
    pub fn not_allowed(&self) -> Answer {
        Answer::error(
            405,
            "Request_BadRequest",
            format!("The HTTP method '{}' is not allowed on this resource.", self.op.method),
        )
    }
}
