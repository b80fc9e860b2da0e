//! The OpenAPI 3.1 document of the API, generated from the wire types and the handlers'
//! `#[utoipa::path]` attributes. `openapi.yaml` at the repository root is this document;
//! tests/tests/layout.rs fails when the two differ or when a template route is missing.

use utoipa::Modify;
use utoipa::OpenApi as _;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, ResponseBuilder, path::Operation};

use crate::handlers::{bots, channels, client, member_state, members, messages, peer_mute, users};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "TalkPlus-compatible admin and client API",
        version = "1.4",
        description = "The TalkPlus REST API (`/v1.4/api/...`) and the client API the TalkPlus \
SDKs call (`/v1.4/...`, tag `client`) as this server implements them. An admin request \
carries `app-id` and `api-key`; a client request `app-id` and, after login, \
`Authorization: Bearer <sessionToken>`. Success is HTTP 200 with the body wrapped by \
resource name; every failure is the TalkPlus error body with the code named in the \
response's description, under the status the admin API answers with; the client API \
answers every failure with HTTP 500."
    ),
    paths(
        users::create,
        users::get,
        users::list,
        users::update,
        users::login,
        users::password,
        users::activate,
        users::deactivate,
        users::push_enable,
        users::push_disable,
        users::register_fcm,
        users::delete,
        users::block,
        users::unblock,
        users::blocked,
        channels::create,
        channels::get,
        channels::user_channels,
        channels::update,
        channels::delete,
        channels::list,
        channels::freeze,
        channels::unfreeze,
        members::list,
        members::get,
        members::add,
        members::remove,
        members::ban,
        members::unban,
        members::banned,
        members::mute,
        members::unmute,
        members::muted,
        bots::create,
        bots::list,
        bots::get,
        bots::update,
        bots::delete,
        bots::join,
        bots::leave,
        bots::channels,
        messages::send,
        messages::bot_send,
        messages::list,
        messages::get,
        messages::get_singular,
        messages::delete,
        client::login_token,
        client::login_anonymous,
        client::logout,
        client::user_update,
        client::user_delete,
        client::register_fcm,
        client::register_pushkit,
        client::push_enable,
        client::push_disable,
        client::block,
        client::unblock,
        client::blocked,
        client::channel_list,
        client::channel_create,
        client::channel_get,
        client::channel_update,
        client::channel_delete,
        client::freeze,
        client::unfreeze,
        client::member_list,
        client::member_get,
        client::member_add,
        client::member_remove,
        client::member_ban,
        client::member_unban,
        client::member_mute,
        client::member_unmute,
        client::banned,
        client::muted,
        client::join,
        client::join_invitation,
        client::leave,
        client::transfer_ownership,
        client::mark_read,
        client::mark_read_all,
        client::message_update,
        client::react,
        client::unreact,
        client::unreact_body,
        client::reactions,
        member_state::hide,
        member_state::show,
        member_state::push_enable,
        member_state::push_disable,
        member_state::push_settings,
        member_state::client_hide,
        member_state::client_hide_all,
        member_state::client_show,
        member_state::client_push_enable,
        member_state::client_push_disable,
        member_state::client_push_settings,
        member_state::client_push_settings_get,
        member_state::set_private_tag,
        member_state::set_private_data,
        member_state::set_member_info,
        peer_mute::mute,
        peer_mute::unmute,
        peer_mute::muted,
        client::unread_count,
        client::notification,
        client::message_send,
        client::message_list,
        client::message_files,
        client::message_get,
        client::message_delete,
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&Conventions),
    security(("app-id" = [], "api-key" = []))
)]
struct ApiDoc;

/// What every operation shares: the two credential headers, and the answers any request may
/// get whatever its route (bad credentials, a deactivated app, rate limiting, faults).
struct Conventions;

const COMMON: &[(&str, &str)] = &[
    (
        "401",
        "`1006` `app-id` or `api-key` missing, unknown app, or wrong key",
    ),
    ("403", "`1012` the app is deactivated"),
    (
        "429",
        "`1010` the app's request rate limit was reached; see `Retry-After`",
    ),
    ("500", "`1003` a server fault"),
    (
        "503",
        "`1003` storage unavailable or throttled after retries; retry later",
    ),
];

/// What every client API operation may answer besides its own codes, all with HTTP 500.
const CLIENT_COMMON: &str = "`1006` `app-id` missing or unknown; `1012` the app is deactivated; \
`1007` no session token; `3002` not a valid session token of the app (or expired); `3001` the \
session has ended (logout, password change, user deleted); `3010` the user is deactivated; \
`1010` the session's request rate limit was reached; `1003` a server fault or storage \
unavailable";

/// A client API path (not under `/v1.4/api/`).
pub fn is_client_path(path: &str) -> bool {
    !path.starts_with("/v1.4/api/")
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

fn add_client_common(op: &mut Operation, login: bool) {
    let responses = &mut op.responses.responses;
    let common = if login {
        "`1006` `app-id` missing or unknown; `1012` the app is deactivated; `1010` the app's \
         login rate limit was reached; `1003` a server fault or storage unavailable"
    } else {
        CLIENT_COMMON
    };
    match responses.get_mut("500") {
        Some(utoipa::openapi::RefOr::T(r)) => {
            r.description = format!("{}; {common}", r.description);
        }
        _ => {
            responses.insert("500".to_owned(), error_response(common).into());
        }
    }
    let mut scheme =
        utoipa::openapi::security::SecurityRequirement::new("app-id", Vec::<String>::new());
    if !login {
        scheme = scheme.add("session", Vec::<String>::new());
    }
    op.security = Some(vec![scheme]);
}

fn add_common(op: &mut Operation, has_body: bool) {
    let responses = &mut op.responses.responses;
    for (status, description) in COMMON {
        // A route's own description of a status (e.g. 403 `2029`) gets the common codes
        // appended, so one status lists every code it can carry.
        match responses.get_mut(*status) {
            Some(utoipa::openapi::RefOr::T(r)) => {
                r.description = format!("{}; {description}", r.description);
            }
            _ => {
                responses.insert((*status).to_owned(), error_response(description).into());
            }
        }
    }
    if has_body {
        responses.insert(
            "413".to_owned(),
            error_response("`1001` the body is larger than 256 KiB").into(),
        );
    }
}

/// The admin operations that take a file in a multipart body as their client counterparts
/// do (`UPLOAD_FORMS`): their file's own codes.
fn add_upload_codes(op: &mut Operation) {
    let responses = &mut op.responses.responses;
    responses.insert(
        "413".to_owned(),
        error_response(
            "`1001` the body is larger than 256 KiB; `6001` a multipart body's `file` is larger \
             than 4 MB",
        )
        .into(),
    );
    if let Some(utoipa::openapi::RefOr::T(r)) = responses.get_mut("503") {
        r.description = format!("{}; `6000` the file could not be stored", r.description);
    }
}

/// (method, path) of the admin operations that take a file (see `add_upload_codes`).
const ADMIN_UPLOADS: [(&str, &str); 3] = [
    ("POST", "/v1.4/api/users/create"),
    ("PUT", "/v1.4/api/users/{userId}"),
    ("POST", "/v1.4/api/channels/{channelId}/messages/send"),
];

impl Modify for Conventions {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        for name in ["app-id", "api-key"] {
            components.add_security_scheme(
                name,
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(name))),
            );
        }
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(
                utoipa::openapi::security::HttpBuilder::new()
                    .scheme(utoipa::openapi::security::HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            add_upload_form(path, item);
            let client = is_client_path(path);
            let login = path.starts_with("/v1.4/users/login/");
            // A PUT is a partial update: no body (or `{}`) changes nothing but `updatedAt`.
            if let Some(utoipa::openapi::RefOr::T(body)) =
                item.put.as_mut().and_then(|op| op.request_body.as_mut())
            {
                body.required = Some(utoipa::openapi::Required::False);
            }
            for (method, op) in [
                ("GET", &mut item.get),
                ("PUT", &mut item.put),
                ("POST", &mut item.post),
                ("DELETE", &mut item.delete),
            ] {
                let Some(op) = op.as_mut() else {
                    continue;
                };
                let has_body = op.request_body.is_some();
                if client {
                    add_client_common(op, login);
                } else {
                    add_common(op, has_body);
                    if ADMIN_UPLOADS.contains(&(method, path.as_str())) {
                        add_upload_codes(op);
                    }
                }
            }
        }
    }
}

/// The client operations that take a file: their body may be `multipart/form-data` (the
/// SDKs' uploads, `http::form_body`), with these fields beside `file`. The admin API's user
/// create and update and message send take the same form; only the client's are listed
/// here, to keep the admin contract the fuzzer checks strictly JSON.
const UPLOAD_FORMS: [(&str, &[&str]); 2] = [
    (
        "/v1.4/users/update",
        &["username", "profileImageUrl", "data"],
    ),
    (
        "/v1.4/channels/{channelId}/messages/send",
        &["type", "text", "data", "mentions", "parentMessageId"],
    ),
];

fn add_upload_form(path: &str, item: &mut utoipa::openapi::PathItem) {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    let Some((_, fields)) = UPLOAD_FORMS.iter().find(|(p, _)| *p == path) else {
        return;
    };
    let Some(utoipa::openapi::RefOr::T(body)) = [&mut item.put, &mut item.post]
        .into_iter()
        .flatten()
        .find_map(|op| op.request_body.as_mut())
    else {
        return;
    };
    let text = |description: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
            .build()
    };
    let mut form = ObjectBuilder::new().property(
        "file",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some(
                "The file (at most 4 MB): stored, and its URL becomes the user's \
                 profileImageUrl or the message's fileUrl",
            ))
            .build(),
    );
    for field in *fields {
        let described = match *field {
            "data" => text("A JSON object, as text"),
            "mentions" => text("User ids, comma-joined"),
            _ => text("As in the JSON body"),
        };
        form = form.property(*field, described);
    }
    body.content.insert(
        "multipart/form-data".to_owned(),
        utoipa::openapi::RefOr::T(utoipa::openapi::Content::new(Some(form.build()))),
    );
}

/// The document, as `openapi.yaml` holds it.
pub fn document() -> OpenApi {
    ApiDoc::openapi()
}

/// (method, path, operationId) of every operation, for checks against template.yaml.
pub fn operations(doc: &OpenApi) -> Vec<(String, String, String)> {
    let mut ops = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (method, op) in [
            ("GET", &item.get),
            ("PUT", &item.put),
            ("POST", &item.post),
            ("DELETE", &item.delete),
        ] {
            if let Some(op) = op {
                // A client route's id is `client.{function}`, or `client.{function}.{variant}`
                // where a function serves two client paths.
                let id = op.operation_id.clone().unwrap_or_default();
                let function = match id.strip_prefix("client.") {
                    Some(rest) => rest.split('.').next().unwrap_or_default().to_owned(),
                    None => id,
                };
                ops.push((method.to_owned(), path.clone(), function));
            }
        }
    }
    ops.sort();
    ops
}

/// A `data` map: at most 5 pairs of strings, keys 1–128 and values up to 1,024 characters.
pub fn data_schema() -> utoipa::openapi::Object {
    data_schema_of(crate::validate::MAX_DATA_PAIRS)
}

/// A message's `data`: as `data_schema`, with up to 10 pairs.
pub fn message_data_schema() -> utoipa::openapi::Object {
    data_schema_of(crate::domain::messages::MAX_MESSAGE_DATA_PAIRS)
}

fn data_schema_of(max_pairs: usize) -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .max_properties(Some(max_pairs))
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(crate::validate::MAX_DATA_KEY_CHARS)),
        ))
        .additional_properties(Some(AdditionalProperties::RefOr(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(crate::validate::MAX_DATA_VALUE_CHARS))
                .into(),
        )))
        .description(Some(
            "At most 5 pairs of strings: keys 1–128, values up to 1,024 characters (`1011`)",
        ))
        .build()
}

/// The seven channel types.
pub fn channel_type_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(crate::model::ChannelType::ALL.map(|t| t.as_str())))
        .build()
}

/// The channel types as a list filter, where an empty value (`type=`) means no filter.
pub fn channel_type_filter_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let mut values = vec![""];
    values.extend(crate::model::ChannelType::ALL.map(|t| t.as_str()));
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .build()
}

/// The message types.
pub fn message_type_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(crate::model::MessageType::ALL.map(|t| t.as_str())))
        .build()
}

/// A channel's initial members: user ids, at most 100 a request.
pub fn member_ids_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[A-Za-z0-9._~-]{1,68}$")),
        )
        .max_items(Some(crate::domain::channels::MAX_INITIAL_MEMBERS))
        .build()
}

/// The users a membership change names: 1 to 100 user ids.
pub fn member_change_ids_schema() -> utoipa::openapi::schema::Array {
    let mut schema = member_ids_schema();
    schema.min_items = Some(1);
    schema.max_items = Some(crate::domain::channels::MAX_MEMBER_IDS);
    schema
}

/// Path and query parameters, declared once for every route that takes them. Nothing builds
/// these; they exist for the document (`params(...)` in the handlers' `#[utoipa::path]`).
pub mod params {
    #![allow(dead_code)]
    use utoipa::IntoParams;

    #[derive(IntoParams)]
    #[into_params(parameter_in = Path)]
    pub struct UserId {
        /// A user id (1–68 URI-safe characters)
        #[param(rename = "userId", pattern = "^[A-Za-z0-9._~-]{1,68}$")]
        user_id: String,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Path)]
    pub struct BotId {
        /// A bot id (1–68 URI-safe characters)
        #[param(rename = "botId", pattern = "^[A-Za-z0-9._~-]{1,68}$")]
        bot_id: String,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Path)]
    pub struct NotificationId {
        /// A push notification's id: the event's time (ms) and uid, as its link gives them
        #[param(rename = "notificationId", pattern = "^[0-9]{1,13}-[0-9a-f]{1,64}$")]
        notification_id: String,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Path)]
    pub struct ChannelId {
        /// A channel id (1–128 URI-safe characters)
        #[param(rename = "channelId", pattern = "^[A-Za-z0-9._~-]{1,128}$")]
        channel_id: String,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct UserPage {
        /// Cursor: the last user id of the previous page
        #[param(rename = "lastUserId", pattern = "^[A-Za-z0-9._~-]{0,68}$")]
        last_user_id: Option<String>,
        /// Page size, default 50
        #[param(minimum = 1, maximum = 100)]
        limit: Option<u32>,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct BotPage {
        /// Cursor: the last bot id of the previous page
        #[param(rename = "lastBotId", pattern = "^[A-Za-z0-9._~-]{0,68}$")]
        last_bot_id: Option<String>,
        /// Page size, default 50
        #[param(minimum = 1, maximum = 100)]
        limit: Option<u32>,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Path)]
    pub struct MemberId {
        /// A member's user id (1–68 URI-safe characters)
        #[param(rename = "memberId", pattern = "^[A-Za-z0-9._~-]{1,68}$")]
        member_id: String,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Path)]
    pub struct MessageId {
        /// A message id (a 26-character ULID)
        #[param(rename = "messageId", pattern = "^[0-9A-HJKMNP-TV-Z]{26}$")]
        message_id: String,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Path)]
    pub struct Reaction {
        /// A reaction (1–64 characters; percent-encoded when it is an emoji)
        reaction: String,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct MessagePage {
        /// Cursor: a message id; the page holds the messages before it (`latest`) or after
        /// it (`oldest`), itself excluded
        #[param(rename = "lastMessageId", pattern = "^([0-9A-HJKMNP-TV-Z]{26})?$")]
        last_message_id: Option<String>,
        /// `latest` (default: newest first) or `oldest` (oldest first)
        #[param(pattern = "^(latest|oldest)?$")]
        order: Option<String>,
        /// Page size, default 20
        #[param(minimum = 1, maximum = 50)]
        limit: Option<u32>,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Header)]
    pub struct IdempotencyKey {
        /// Retries with the same key and body within 24 hours answer the first result
        /// without a second message; the same key with another body is `1001`
        #[param(rename = "Idempotency-Key", min_length = 1, max_length = 255)]
        idempotency_key: Option<String>,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct ChannelFilters {
        /// Only channels of this category
        #[param(max_length = 32)]
        category: Option<String>,
        /// Only channels of this subcategory
        #[param(max_length = 32)]
        subcategory: Option<String>,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct ClientChannelFilters {
        /// `default` (the caller's channels), `public` or `hidden`
        #[param(rename = "type", pattern = "^(default|public|hidden)?$")]
        channel_type: Option<String>,
        /// Only channels of this category
        #[param(max_length = 32)]
        category: Option<String>,
        /// Only channels of this subcategory
        #[param(max_length = 32)]
        subcategory: Option<String>,
        /// `name`: filter by `query`
        #[param(pattern = "^(name)?$")]
        filter: Option<String>,
        /// With `filter=name`: channels whose name contains it (ignoring case)
        #[param(max_length = 128)]
        query: Option<String>,
        /// Channels with every one of these members (repeated, or comma-joined)
        members: Option<String>,
        /// Channels the caller tagged so
        #[param(rename = "privateTag", max_length = 128)]
        private_tag: Option<String>,
        /// Channels with (or without) unread messages for the caller
        #[param(rename = "hasUnread")]
        has_unread: Option<bool>,
        /// Frozen (or not) channels
        #[param(rename = "isFrozen")]
        is_frozen: Option<bool>,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct ChannelTypeFilter {
        /// Only channels of this type (empty: every type)
        #[param(rename = "type", schema_with = crate::openapi::channel_type_filter_schema)]
        channel_type: Option<String>,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct ChannelPage {
        /// Cursor: the last channel id of the previous page
        #[param(rename = "lastChannelId", pattern = "^[A-Za-z0-9._~-]{0,128}$")]
        last_channel_id: Option<String>,
        /// Page size, default 20
        #[param(minimum = 1, maximum = 50)]
        limit: Option<u32>,
    }
}
