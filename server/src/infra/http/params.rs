//! Query parameters documented by the type that parses them: a handler takes `Params<T>`,
//! where `T` derives `IntoParams` (its OpenAPI description) and `Deserialize`. Each value is
//! checked against the schema the document states (an integer within its `minimum` and
//! `maximum`, a string within its `maxLength`), a required one must be present, an unknown or
//! repeated one is refused, all with a 400 that names the parameter; only then is `T` built.
//! So a documented parameter is the parsed one by construction.

use axum::{extract::FromRequestParts, http::request::Parts};
use serde::de::DeserializeOwned;
use utoipa::openapi::{
    path::{Parameter, ParameterIn},
    schema::{Schema, SchemaType, Type},
    RefOr, Required,
};
use utoipa::{IntoParams, Number};

use super::error::ApiError;
use app::filter::percent_decode;

/// The query string of a request, parsed into `T` as its documentation states.
pub struct Params<T>(pub T);

impl<T, S> FromRequestParts<S> for Params<T>
where
    T: IntoParams + DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse(parts.uri.query()).map(Params)
    }
}

/// Parses `raw` into `T` under `T`'s documented parameters.
pub fn parse<T: IntoParams + DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    let documented = T::into_params(|| Some(ParameterIn::Query));
    let names: Vec<&str> = documented.iter().map(|p| p.name.as_str()).collect();
    let given = simple_params(raw, &names)?;
    for p in &documented {
        let value = given.iter().find(|(k, _)| *k == p.name).map(|(_, v)| v);
        match value {
            Some(v) => check(p, v)?,
            None if matches!(p.required, Required::True) => {
                return Err(
                    ApiError::bad_request(format!("{}: required", p.name)).with_param(&p.name)
                )
            }
            None => {}
        }
    }
    let encoded = serde_urlencoded::to_string(&given).expect("pairs of strings encode");
    serde_urlencoded::from_str(&encoded)
        .map_err(|e| ApiError::bad_request(format!("the query string: {e}")))
}

/// [`parse`] for pairs already split off the query string (beside a filter's).
pub fn parse_pairs<T: IntoParams + DeserializeOwned>(
    pairs: &[(String, String)],
) -> Result<T, ApiError> {
    let raw = serde_urlencoded::to_string(pairs).expect("pairs of strings encode");
    parse(Some(&raw))
}

/// Checks one value against its documented schema.
fn check(p: &Parameter, value: &str) -> Result<(), ApiError> {
    let Some(RefOr::T(Schema::Object(schema))) = &p.schema else {
        return Ok(());
    };
    let as_i64 = |n: &Number| match *n {
        Number::Int(i) => i as i64,
        Number::UInt(u) => u as i64,
        Number::Float(f) => f as i64,
    };
    if let Some(values) = &schema.enum_values {
        if !values.iter().any(|v| v.as_str() == Some(value)) {
            let names: Vec<&str> = values.iter().filter_map(|v| v.as_str()).collect();
            return Err(ApiError::bad_request(format!(
                "{}: {value:?} is not one of {}",
                p.name,
                names.join(", ")
            ))
            .with_param(&p.name));
        }
    }
    match &schema.schema_type {
        SchemaType::Type(Type::Integer) => {
            let min = schema.minimum.as_ref().map_or(i64::MIN, as_i64);
            let max = schema.maximum.as_ref().map_or(i64::MAX, as_i64);
            number(&p.name, value, min, max).map(|_| ())
        }
        SchemaType::Type(Type::String) => {
            let n = value.chars().count();
            let refuse = |why: String| {
                Err(ApiError::bad_request(format!("{}: {why}", p.name)).with_param(&p.name))
            };
            match (schema.min_length, schema.max_length) {
                (_, Some(max)) if n > max => refuse(format!("at most {max} characters")),
                (Some(min), _) if n < min => refuse(format!("at least {min} characters")),
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// A whole number within `min..=max`, or a 400 naming `param`.
pub(super) fn number(param: &str, value: &str, min: i64, max: i64) -> Result<i64, ApiError> {
    value
        .parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{param}: must be a whole number from {min} to {max}"
            ))
            .with_param(param)
        })
}

/// Parses `key=value` pairs where only `allowed` keys may appear, each at most once.
pub(super) fn simple_params(
    raw: Option<&str>,
    allowed: &[&str],
) -> Result<Vec<(String, String)>, ApiError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(k)
            .ok_or_else(|| ApiError::bad_request("the query string is not valid UTF-8"))?;
        let v = percent_decode(v)
            .ok_or_else(|| ApiError::bad_request(format!("{k}: not valid UTF-8")).with_param(&k))?;
        if !allowed.contains(&k.as_str()) {
            return Err(ApiError::bad_request(format!(
                "{k}: unknown parameter (known: {})",
                allowed.join(", ")
            ))
            .with_param(&k));
        }
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(
                ApiError::bad_request(format!("{k}: may be given only once")).with_param(&k),
            );
        }
        out.push((k, v));
    }
    Ok(out)
}

/// The most a JSON request body of the configuration endpoints may hold.
pub const BODY_MAX: usize = 64 * 1024;

/// A JSON request body, read as `T`: refused with a JSON 400 that says what is wrong (or 415
/// when it is not JSON), never axum's plain-text rejection.
pub struct JsonBody<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, _: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as JSON: Content-Type: application/json",
            ));
        }
        let bytes = axum::body::to_bytes(req.into_body(), BODY_MAX)
            .await
            .map_err(|_| {
                ApiError::new(
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is larger than {BODY_MAX} bytes"),
                )
            })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("the body does not read: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, IntoParams)]
    #[into_params(parameter_in = Query)]
    #[allow(dead_code)]
    struct Example {
        #[param(minimum = 1, maximum = 10)]
        size: u64,
        #[param(max_length = 3)]
        q: Option<String>,
    }

    #[test]
    fn values_are_held_to_their_documentation() {
        let ok: Example = parse(Some("size=3&q=ab")).unwrap();
        assert_eq!((ok.size, ok.q.as_deref()), (3, Some("ab")));
        for (raw, param) in [
            ("size=0", "size"),
            ("size=11", "size"),
            ("size=x", "size"),
            ("q=a", "size"),
            ("size=2&q=abcd", "q"),
            ("size=2&size=3", "size"),
            ("size=2&other=1", "other"),
        ] {
            let e = parse::<Example>(Some(raw)).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param), "{raw}: {}", e.message);
        }
    }
}
