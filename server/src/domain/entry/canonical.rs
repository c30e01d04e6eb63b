//! RFC 8785 (JSON Canonicalization Scheme) serialisation, used for the hashed bytes of an entry.
//!
//! - objects: members sorted by the UTF-16 code units of their names, no whitespace;
//! - strings: `"` and `\` escaped, U+0000..U+001F as `\b \t \n \f \r` or `\u00xx` (lower-case
//!   hex), everything else as literal UTF-8;
//! - numbers: the ECMAScript `Number.prototype.toString` form of the IEEE-754 double.
//!
//! Ingest refuses integers outside ±2^53, so every stored number is exactly a double and the
//! canonical form loses nothing.

use serde_json::Value;

/// The canonical bytes of `value`.
pub fn to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out);
    out
}

fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (i, (name, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(name, out);
                out.push(b':');
                write_value(item, out);
            }
            out.push(b'}');
        }
    }
}

fn write_number(n: &serde_json::Number, out: &mut Vec<u8>) {
    // Integers within ±2^53 and all finite doubles convert exactly; ingest rejects the rest.
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f == 0.0 {
        out.push(b'0'); // also for -0, as ECMAScript prints it
        return;
    }
    let mut buf = ryu_js::Buffer::new();
    out.extend_from_slice(buf.format_finite(f).as_bytes());
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for ch in s.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\r' => out.extend_from_slice(b"\\r"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// Largest integer magnitude a double holds exactly (I-JSON, RFC 7493).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Whether every number in `value` is exactly representable as a double, and every integer
/// (as JSON Schema counts them: any number without a fraction, `1e20` too) is within
/// ±[`MAX_SAFE_INTEGER`], the rule the OpenAPI document states.
pub fn numbers_are_exact(value: &Value) -> bool {
    match value {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                u <= MAX_SAFE_INTEGER
            } else if let Some(i) = n.as_i64() {
                i.unsigned_abs() <= MAX_SAFE_INTEGER
            } else {
                n.as_f64().is_some_and(|f| {
                    f.is_finite() && (f.fract() != 0.0 || f.abs() <= MAX_SAFE_INTEGER as f64)
                })
            }
        }
        Value::Array(items) => items.iter().all(numbers_are_exact),
        Value::Object(map) => map.values().all(numbers_are_exact),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(v: &Value) -> String {
        String::from_utf8(to_vec(v)).unwrap()
    }

    #[test]
    fn rfc8785_sorting_example() {
        // Appendix of RFC 8785, section 3.2.3: sorted by UTF-16 code units.
        let v: Value = serde_json::from_str(
            r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#,
        )
        .unwrap();
        assert_eq!(
            canon(&v),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
             \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
             \"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
    }

    #[test]
    fn rfc8785_number_examples() {
        let cases = [
            (json!(0.0), "0"),
            (json!(-0.0), "0"),
            (json!(1.0), "1"),
            (json!(-1.5), "-1.5"),
            (json!(1e21), "1e+21"),
            (json!(1e-7), "1e-7"),
            (json!(123456789012345680000.0), "123456789012345680000"),
            (json!(0.000001), "0.000001"),
            (json!(9007199254740991u64), "9007199254740991"),
            (json!(5e-324), "5e-324"),
            (json!(1.7976931348623157e308), "1.7976931348623157e+308"),
            (json!(333333333.3333333), "333333333.3333333"),
        ];
        for (v, want) in cases {
            assert_eq!(canon(&v), want, "{v}");
        }
    }

    #[test]
    fn strings_escape_minimally() {
        let v = json!({"s": "a\"b\\c\u{1}\n\t\u{1f}é€😀</script>"});
        assert_eq!(
            canon(&v),
            "{\"s\":\"a\\\"b\\\\c\\u0001\\n\\t\\u001fé€😀</script>\"}"
        );
    }

    #[test]
    fn nested_objects_sort_at_every_level() {
        let v = json!({"b": {"z": 1, "a": [ {"y": true, "x": null} ]}, "a": ""});
        assert_eq!(
            canon(&v),
            r#"{"a":"","b":{"a":[{"x":null,"y":true}],"z":1}}"#
        );
    }

    #[test]
    fn unsafe_integers_are_detected() {
        assert!(numbers_are_exact(
            &json!({"a": [9007199254740991u64, -9007199254740991i64, 0.1]})
        ));
        assert!(!numbers_are_exact(&json!({"a": 9007199254740992u64})));
        assert!(!numbers_are_exact(&json!([-9007199254740993i64])));
        // Integers by value, as JSON Schema counts them, whatever their notation.
        assert!(!numbers_are_exact(&json!({"a": 1e21})));
        assert!(!numbers_are_exact(&json!({"a": -9007199254740992.0})));
        assert!(numbers_are_exact(
            &json!({"a": 9007199254740991.0, "b": 1.5e-300})
        ));
    }
}
