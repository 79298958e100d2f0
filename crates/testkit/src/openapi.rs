//! Checks an HTTP answer against an OpenAPI 3.0 document, for the daemon's
//! API tests: the status must be documented for the route and the JSON body
//! must fit the documented schema. A failed check panics with the path of
//! the offending value (this is test code).

use serde_json::{json, Value};

/// Checks `value` against `schema` of the document `doc`: `$ref`s,
/// discriminators, types, nullable, enums, required keys, properties,
/// items, and numeric `minimum`/`maximum`.
///
/// # Panics
/// When `value` does not fit, naming where (`at`, extended per level).
pub fn check_schema(doc: &Value, schema: &Value, value: &Value, at: &str) {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{at}: reference {r} outside the components"));
        return check_schema(doc, &doc["components"]["schemas"][name], value, at);
    }
    if let Some(d) = schema.get("discriminator") {
        let prop = d["propertyName"]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: discriminator without propertyName"));
        let kind = value[prop]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: no {prop} in {value}"));
        let target = &d["mapping"][kind];
        assert!(
            target.is_string(),
            "{at}: {prop} {kind} is not in the mapping"
        );
        return check_schema(doc, &json!({ "$ref": target }), value, at);
    }
    if value.is_null() {
        assert!(
            schema["nullable"] == true || schema.get("type").is_none(),
            "{at}: null where {schema} is not nullable"
        );
        return;
    }
    if let Some(ty) = schema["type"].as_str() {
        let ok = match ty {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => panic!("{at}: type {ty}"),
        };
        assert!(ok, "{at}: {value} is not {ty}");
    }
    if let Some(v) = value.as_f64() {
        if let Some(min) = schema["minimum"].as_f64() {
            assert!(v >= min, "{at}: {value} is below the minimum {min}");
        }
        if let Some(max) = schema["maximum"].as_f64() {
            assert!(v <= max, "{at}: {value} is above the maximum {max}");
        }
    }
    if let Some(e) = schema["enum"].as_array() {
        assert!(e.contains(value), "{at}: {value} not in {e:?}");
    }
    for key in schema["required"].as_array().into_iter().flatten() {
        let key = key
            .as_str()
            .unwrap_or_else(|| panic!("{at}: a required key that is not a string"));
        assert!(value.get(key).is_some(), "{at}: no {key} in {value}");
    }
    if let Some(props) = schema["properties"].as_object() {
        for (k, sub) in props {
            if let Some(v) = value.get(k) {
                check_schema(doc, sub, v, &format!("{at}.{k}"));
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for (i, v) in list.iter().enumerate() {
            check_schema(doc, items, v, &format!("{at}[{i}]"));
        }
    }
}

/// The answer (`status`, JSON `body`) to `method` (lower case, as the
/// document writes it) on `route` (a path template of the document) must
/// be documented, and its body must fit the documented schema.
///
/// # Panics
/// When it is not documented or does not fit.
pub fn conforms(doc: &Value, method: &str, route: &str, status: u16, body: &Value) {
    let documented = &doc["paths"][route][method]["responses"][status.to_string()];
    assert!(
        documented.is_object(),
        "{method} {route}: status {status} is not documented ({body})"
    );
    if let Some(schema) = documented
        .get("content")
        .and_then(|c| c.get("application/json"))
        .map(|c| &c["schema"])
    {
        check_schema(doc, schema, body, &format!("{method} {route} {status}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        json!({
            "paths": { "/x": { "get": { "responses": { "200": { "content": { "application/json": {
                "schema": { "$ref": "#/components/schemas/X" } } } } } } } },
            "components": { "schemas": { "X": {
                "type": "object", "required": ["n"],
                "properties": {
                    "n": { "type": "integer", "minimum": 0, "maximum": 10 },
                    "s": { "type": "string", "nullable": true, "enum": ["a", "b", null] }
                }
            } } }
        })
    }

    #[test]
    fn a_fitting_answer_passes() {
        conforms(&doc(), "get", "/x", 200, &json!({ "n": 3, "s": null }));
        conforms(&doc(), "get", "/x", 200, &json!({ "n": 10, "s": "a" }));
    }

    #[test]
    #[should_panic(expected = "above the maximum")]
    fn a_number_past_the_maximum_fails() {
        conforms(&doc(), "get", "/x", 200, &json!({ "n": 11 }));
    }

    #[test]
    #[should_panic(expected = "no n in")]
    fn a_missing_required_key_fails() {
        conforms(&doc(), "get", "/x", 200, &json!({ "s": "a" }));
    }

    #[test]
    #[should_panic(expected = "not documented")]
    fn an_undocumented_status_fails() {
        conforms(&doc(), "get", "/x", 404, &json!({}));
    }

    #[test]
    #[should_panic(expected = "not in")]
    fn a_value_outside_the_enum_fails() {
        conforms(&doc(), "get", "/x", 200, &json!({ "n": 1, "s": "c" }));
    }
}
