//! One request object: which version it speaks, its id, method and params, and its answer
//! (or none, for a notification) in the matching envelope.

use serde_json::{Map, Value};

use crate::{
    dialect::Dialect,
    envelope::{failure, success, Version},
    error::{RpcError, INVALID_REQUEST},
};

/// What one request object is answered with.
pub(crate) struct Answer {
    /// The response; `None` for a notification.
    pub(crate) response: Option<Value>,
    /// The error code when the response is a JSON-RPC 1.0 error (Core maps it to a status).
    pub(crate) legacy_error: Option<i64>,
}

/// Reads one request object and answers it with `call(method, params)` (`params` as sent,
/// `null` when absent).
pub(crate) fn answer(
    dialect: Dialect,
    request: &Value,
    call: impl FnOnce(&str, Value) -> Result<Value, RpcError>,
) -> Answer {
    let Value::Object(object) = request else {
        let error = RpcError::new(INVALID_REQUEST, dialect.not_an_object_message());
        return Answer {
            response: Some(failure(Version::One, Value::Null, &error)),
            legacy_error: Some(error.code),
        };
    };
    let version = if object.get("jsonrpc").and_then(Value::as_str) == Some("2.0") {
        Version::Two
    } else {
        Version::One
    };
    let notification =
        dialect.has_notifications() && version == Version::Two && !object.contains_key("id");
    let result = dispatch(dialect, object, call);
    if notification {
        return Answer {
            response: None,
            legacy_error: None,
        };
    }
    let id = object.get("id").cloned().unwrap_or(Value::Null);
    match result {
        Ok(result) => Answer {
            response: Some(success(version, id, result)),
            legacy_error: None,
        },
        Err(error) => Answer {
            response: Some(failure(version, id, &error)),
            legacy_error: (version == Version::One).then_some(error.code),
        },
    }
}

fn dispatch(
    dialect: Dialect,
    object: &Map<String, Value>,
    call: impl FnOnce(&str, Value) -> Result<Value, RpcError>,
) -> Result<Value, RpcError> {
    match object.get("method") {
        Some(Value::String(method)) => {
            call(method, object.get("params").cloned().unwrap_or(Value::Null))
        }
        None => Err(RpcError::new(
            INVALID_REQUEST,
            dialect.missing_method_message(),
        )),
        Some(_) => Err(RpcError::new(
            INVALID_REQUEST,
            dialect.method_not_string_message(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn echo(method: &str, params: Value) -> Result<Value, RpcError> {
        match method {
            "echo" => Ok(params),
            _ => Err(RpcError::method_not_found()),
        }
    }

    #[test]
    fn answers_in_the_envelope_it_was_sent_in() {
        let one = answer(
            Dialect::Plain,
            &json!({"method": "echo", "params": [1], "id": 7}),
            echo,
        );
        assert_eq!(
            one.response,
            Some(json!({"result": [1], "error": null, "id": 7}))
        );
        let two = answer(
            Dialect::Plain,
            &json!({"jsonrpc": "2.0", "method": "echo", "id": "a"}),
            echo,
        );
        assert_eq!(
            two.response,
            Some(json!({"jsonrpc": "2.0", "result": null, "id": "a"}))
        );
    }

    #[test]
    fn a_legacy_error_reports_its_code_and_a_2_0_error_does_not() {
        let one = answer(
            Dialect::BitcoinCore,
            &json!({"method": "nope", "id": 1}),
            echo,
        );
        assert_eq!(one.legacy_error, Some(-32601));
        let two = answer(
            Dialect::BitcoinCore,
            &json!({"jsonrpc": "2.0", "method": "nope", "id": 1}),
            echo,
        );
        assert_eq!(two.legacy_error, None);
        assert_eq!(
            two.response,
            Some(
                json!({"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": 1})
            )
        );
    }

    #[test]
    fn malformed_request_objects_are_invalid_requests() {
        for (request, message) in [
            (json!(5), "Invalid Request object"),
            (json!({"id": 1}), "Missing method"),
            (json!({"method": 3, "id": 1}), "Method must be a string"),
        ] {
            let a = answer(Dialect::BitcoinCore, &request, echo);
            assert_eq!(a.legacy_error, Some(-32600), "{request}");
            let error = &a.response.expect("a response")["error"];
            assert_eq!(error["code"], -32600);
            assert_eq!(error["message"], message);
        }
    }

    #[test]
    fn notifications_only_in_the_core_dialect() {
        let request = json!({"jsonrpc": "2.0", "method": "echo"});
        let mut called = false;
        let core = answer(Dialect::BitcoinCore, &request, |m, p| {
            called = true;
            echo(m, p)
        });
        assert!(called, "a notification is still executed");
        assert!(core.response.is_none());
        let plain = answer(Dialect::Plain, &request, echo);
        assert_eq!(
            plain.response,
            Some(json!({"jsonrpc": "2.0", "result": null, "id": null}))
        );
    }
}
