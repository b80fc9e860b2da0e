//! The HTTP edge: reading requests and writing responses. The only module that knows statuses.

use lambda_http::http::header::{CONTENT_TYPE, RETRY_AFTER};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// Largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Parses a JSON body into `T`. The body is read as JSON whatever the content-type says
/// (curl's `-d` labels JSON as a form, and TalkPlus clients omit the header), so only the
/// body decides; a body that is not a JSON object, or a field of the wrong type, is `1001`.
/// An empty body reads as `{}` so that required fields report `1002`.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, Error> {
    let bytes = match raw_body(req) {
        b"" => b"{}",
        b => b,
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Error::BodyTooLarge(MAX_BODY_BYTES));
    }
    let not_json = |detail: String| {
        let ct = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = ct.split(';').next().unwrap_or_default().trim();
        if ct.is_empty() || essence.eq_ignore_ascii_case("application/json") {
            Error::InvalidParam(detail)
        } else {
            Error::InvalidParam(format!(
                "{detail} (bodies are JSON; content-type was {ct:?})"
            ))
        }
    };
    // JSON's own whitespace only: a form feed is not JSON, so a body of one is not empty.
    let json_whitespace = |b: &&u8| matches!(**b, b' ' | b'\t' | b'\n' | b'\r');
    let bytes: &[u8] = match bytes.iter().find(|b| !json_whitespace(b)) {
        None => b"{}",
        Some(b'{') => bytes,
        // serde would read a struct from a positional array; TalkPlus bodies are objects.
        Some(_) => return Err(not_json("the body must be a JSON object".into())),
    };
    reject_duplicate_keys(bytes).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            not_json(format!("malformed JSON body: {e}"))
        } else {
            Error::InvalidParam(e.to_string())
        }
    })?;
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            not_json(format!("malformed JSON body: {inner}"))
        } else if path == "." || path.is_empty() {
            Error::InvalidParam(format!("invalid body: {inner}"))
        } else {
            Error::InvalidParam(format!("{path}: {inner}"))
        }
    })
}

/// Fields of a form that hold arrays: the SDKs join them with commas.
const FORM_ARRAYS: [&str; 3] = ["mentions", "members", "translationTargetLanguages"];
/// Fields of a form that hold a JSON object, as text.
const FORM_OBJECTS: [&str; 1] = ["data"];

/// Whether the request is `multipart/form-data` (the SDKs' uploads).
pub fn is_multipart(req: &Request) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// Parses a body that may carry a file: `multipart/form-data` as the SDKs send an upload (a
/// `file` part, the other fields as form values: `data` a JSON string, arrays comma-joined),
/// read into `T` as its JSON form would be; any other body as `json_body`. A file over
/// `files::MAX_FILE_BYTES` is `6001`; a malformed form `1001`.
pub async fn form_body<T: DeserializeOwned>(
    req: &Request,
) -> Result<(T, Option<crate::files::Upload>), Error> {
    if !is_multipart(req) {
        return Ok((json_body(req)?, None));
    }
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let malformed =
        |e: multer::Error| Error::InvalidParam(format!("malformed multipart body: {e}"));
    let boundary = multer::parse_boundary(content_type).map_err(malformed)?;
    let body = raw_body(req).to_vec();
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut fields = serde_json::Map::new();
    let mut upload = None;
    while let Some(field) = form.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let content_type = field
                .content_type()
                .map(|m| m.essence_str().to_owned())
                .unwrap_or_else(|| "application/octet-stream".to_owned());
            let bytes = field.bytes().await.map_err(malformed)?;
            if bytes.len() > crate::files::MAX_FILE_BYTES {
                return Err(Error::FileTooLarge(crate::files::MAX_FILE_BYTES));
            }
            if upload.is_some() {
                return Err(Error::InvalidParam("a request may carry one file".into()));
            }
            upload = Some(crate::files::Upload {
                file_name,
                content_type,
                bytes: bytes.to_vec(),
            });
            continue;
        }
        let text = field.text().await.map_err(malformed)?;
        if text.len() > MAX_BODY_BYTES {
            return Err(Error::BodyTooLarge(MAX_BODY_BYTES));
        }
        if fields.contains_key(&name) {
            return Err(Error::InvalidParam(format!("{name}: given twice")));
        }
        if let Some(value) = form_value(&name, text)? {
            fields.insert(name, value);
        }
    }
    let fields = serde_json::Value::Object(fields);
    let parsed = serde_path_to_error::deserialize(fields).map_err(|e| {
        let path = e.path().to_string();
        Error::InvalidParam(format!("{path}: {}", e.into_inner()))
    })?;
    Ok((parsed, upload))
}

/// A form value as its JSON counterpart: arrays split at commas, an object field (`data`)
/// parsed as JSON (empty: as if absent), anything else a string, as it is.
fn form_value(name: &str, text: String) -> Result<Option<serde_json::Value>, Error> {
    use serde_json::Value;
    if FORM_ARRAYS.contains(&name) {
        return Ok(Some(Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        )));
    }
    if !FORM_OBJECTS.contains(&name) {
        return Ok(Some(Value::String(text)));
    }
    if text.trim().is_empty() {
        return Ok(None);
    }
    reject_duplicate_keys(text.as_bytes())
        .and_then(|()| serde_json::from_str(&text))
        .map(Some)
        .map_err(|e| Error::InvalidParam(format!("{name}: malformed JSON: {e}")))
}

/// Fails when an object anywhere in `bytes` names a key twice. serde would take the last
/// value for a map (`data`) and refuse a struct field only at the top level; one rule for
/// the whole body means no two readers of it (a proxy, a logger, us) can disagree on what
/// it says. serde_json's recursion limit (128 levels) bounds the walk.
fn reject_duplicate_keys(bytes: &[u8]) -> Result<(), serde_json::Error> {
    use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess};

    struct Walk;
    impl<'de> DeserializeSeed<'de> for Walk {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> serde::de::Visitor<'de> for Walk {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(Walk)?.is_some() {}
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key.clone()) {
                    return Err(A::Error::custom(format!("duplicate key {key:?}")));
                }
                map.next_value_seed(Walk)?;
            }
            Ok(())
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Walk.deserialize(&mut de)?;
    de.end()?;
    Ok(())
}

/// The body's bytes as received ("" for none).
pub fn raw_body(req: &Request) -> &[u8] {
    match req.body() {
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        // Empty, or not produced for API Gateway requests: no body.
        _ => b"",
    }
}

/// A path parameter the route defines, e.g. `userId` in `/v1.4/api/users/{userId}`.
pub fn path_param<'a>(req: &'a Request, name: &'static str) -> Result<&'a str, Error> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .filter(|v| !v.is_empty())
        .ok_or(Error::MissingParam(name))
}

pub fn query_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
}

/// Every value of a query parameter that may repeat (`members=a&members=b`).
pub fn query_params<'a>(req: &'a Request, name: &str) -> Vec<&'a str> {
    req.query_string_parameters_ref()
        .and_then(|q| q.all(name))
        .unwrap_or_default()
}

fn json_response<T: Serialize>(status: u16, value: &T) -> Response<Body> {
    let body = serde_json::to_string(value).unwrap_or_else(|_| {
        r#"{"error":true,"code":"1003","message":"InternalServerError"}"#.to_owned()
    });
    let mut resp = Response::new(Body::Text(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// 200 with `value` as the JSON body.
pub fn ok<T: Serialize>(value: &T) -> Response<Body> {
    json_response(200, value)
}

/// Every error of the client API is HTTP 500: the JS SDK hands the TalkPlus body (and its
/// code) to the app only with exactly that status.
pub const CLIENT_ERROR_STATUS: u16 = 500;

/// The TalkPlus error body with the status from the error table (the client API: 500); a
/// rate-limited request also learns when to come back (the next one-second window).
pub fn error_response(err: &Error, request_id: &str, api: crate::lambda::Api) -> Response<Body> {
    let status = match api {
        crate::lambda::Api::Admin => err.spec().status,
        _ => CLIENT_ERROR_STATUS,
    };
    let mut resp = json_response(status, &err.body(request_id));
    if let Error::TooManyRequests { .. } = err {
        resp.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Body1 {
        user_id: Option<String>,
        #[allow(dead_code)]
        count: Option<u32>,
    }

    fn req(ct: Option<&str>, body: &str) -> Request {
        let mut r = Request::new(if body.is_empty() {
            Body::Empty
        } else {
            Body::Text(body.into())
        });
        if let Some(ct) = ct {
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        r
    }

    #[test]
    fn parses_with_or_without_content_type() {
        let cts = [
            None,
            Some("application/json"),
            Some("application/json; charset=utf-8"),
            // curl -d without -H labels the body this way.
            Some("application/x-www-form-urlencoded"),
        ];
        for ct in cts {
            let b: Body1 = json_body(&req(ct, r#"{"userId":"u1","unknown":[1]}"#)).unwrap();
            assert_eq!(b.user_id.as_deref(), Some("u1"));
        }
    }

    #[test]
    fn empty_body_reads_as_empty_object() {
        for empty in ["", " \t\r\n"] {
            let b: Body1 = json_body(&req(Some("application/json"), empty)).unwrap();
            assert!(b.user_id.is_none());
        }
        // A form feed is whitespace to ASCII but not to JSON: not an empty body.
        for not_json in ["\x0c", " \x0b "] {
            let e = json_body::<Body1>(&req(None, not_json)).unwrap_err();
            assert_eq!(e.spec().code, "1001", "{not_json:?}");
        }
    }

    #[test]
    fn bad_bodies_are_1001_and_name_the_field() {
        let e = json_body::<Body1>(&req(None, r#"{"userId": 5}"#)).unwrap_err();
        assert_eq!(e.spec().code, "1001");
        assert!(e.to_string().starts_with("userId:"), "{e}");
        for bad in ["{", "[]", "null", "\"x\""] {
            let e = json_body::<Body1>(&req(None, bad)).unwrap_err();
            assert_eq!((e.spec().code, e.spec().status), ("1001", 400), "{bad}");
        }
        let e = json_body::<Body1>(&req(Some("application/x-www-form-urlencoded"), "userId=u"))
            .unwrap_err();
        assert_eq!(e.spec().code, "1001");
        assert!(e.to_string().contains("content-type"), "{e}");
    }

    #[test]
    fn hostile_bodies_are_1001() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let deep_obj = format!(
            r#"{{"data":{}1{}}}"#,
            r#"{"a":"#.repeat(200),
            "}".repeat(200)
        );
        for bad in [
            r#"{"userId":"a","userId":"b"}"#.to_owned(),
            r#"{"userId":"a","data":{"k":"1","k":"2"}}"#.to_owned(),
            r#"{"x":[{"k":1,"k":2}]}"#.to_owned(),
            format!(r#"{{"userId":{deep}}}"#),
            deep_obj,
            r#"{"userId":"a"} trailing"#.to_owned(),
        ] {
            let e = json_body::<Body1>(&req(None, &bad)).unwrap_err();
            assert_eq!((e.spec().code, e.spec().status), ("1001", 400), "{bad:.60}");
        }
        let mut r = Request::new(Body::Binary(b"{\"userId\":\"\xff\xfe\"}".to_vec()));
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let e = json_body::<Body1>(&r).unwrap_err();
        assert_eq!(e.spec().code, "1001");
        // The same key in two different objects is fine.
        let b: Body1 = json_body(&req(None, r#"{"userId":"u","a":{"k":1},"b":{"k":2}}"#)).unwrap();
        assert_eq!(b.user_id.as_deref(), Some("u"));
    }

    #[test]
    fn oversized_body_is_413() {
        let big = format!(r#"{{"userId":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        let e = json_body::<Body1>(&req(None, &big)).unwrap_err();
        assert_eq!(e.spec().status, 413);
        let resp = error_response(&e, "rid", crate::lambda::Api::Admin);
        assert_eq!(resp.status(), 413);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::wire::{CreateChannelRequest, CreateUserRequest};
    use proptest::prelude::*;

    fn request(body: Vec<u8>) -> Request {
        Request::new(Body::Binary(body))
    }

    /// JSON-ish text: mostly the characters JSON is made of, so the parser gets far.
    fn jsonish() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            "[{}\\[\\]\":,0-9a-zA-Z \\\\ntrufalsel.eE+-]{0,300}".prop_map(String::into_bytes),
            "\\{(\"[a-zA-Z]{1,8}\":(\"\\PC{0,10}\"|[0-9]{1,3}|null|true|\\[\\]|\\{\\}),?){0,6}\\}"
                .prop_map(String::into_bytes),
        ]
    }

    proptest! {
        #[test]
        fn any_body_parses_or_is_a_400(body in jsonish()) {
            let errors = [
                json_body::<CreateUserRequest>(&request(body.clone())).err(),
                json_body::<CreateChannelRequest>(&request(body.clone())).err(),
            ];
            for e in errors.into_iter().flatten() {
                prop_assert_eq!((e.spec().code, e.spec().status), ("1001", 400));
                let resp = error_response(&e, "rid", crate::lambda::Api::Admin);
                prop_assert_eq!(resp.status(), 400);
            }
        }

        #[test]
        fn json_objects_with_unknown_fields_parse(
            fields in proptest::collection::btree_map("[a-z]{1,10}", "\\PC{0,20}", 0..10)
        ) {
            let body = serde_json::to_vec(&fields).unwrap();
            // Every lower-case field of the request takes a string, so all of these parse.
            let parsed = json_body::<CreateUserRequest>(&request(body));
            prop_assert!(parsed.is_ok(), "{:?}", parsed.err());
        }
    }
}
