//! A minimal JSON value and writer (RFC 8259), enough for the `--json` report.
//!
//! Numbers that are not finite (a figure that could not be measured, a ratio with a zero
//! denominator) are written as `null`, never as the invalid tokens `NaN` / `inf`.

use std::fmt::Write as _;

/// A JSON value. Objects keep their insertion order so the report reads top to bottom.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number (`null` when not finite).
    Num(f64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, in insertion order.
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// An optional number: `null` when absent.
    pub fn opt(value: Option<f64>) -> Json {
        value.map_or(Json::Null, Json::Num)
    }

    /// An object from `(key, value)` pairs.
    pub fn obj<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Json)>) -> Json {
        Json::Obj(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Looks up `key` in an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Renders with two-space indentation and a trailing newline.
    pub fn to_pretty_string(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn write(&self, out: &mut String, indent: usize) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) => write_number(out, *n),
            Json::Str(s) => write_string(out, s),
            Json::Arr(items) => {
                if items.is_empty() {
                    out.push_str("[]");
                    return;
                }
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    out.push_str(if i == 0 { "\n" } else { ",\n" });
                    push_indent(out, indent + 1);
                    item.write(out, indent + 1);
                }
                out.push('\n');
                push_indent(out, indent);
                out.push(']');
            }
            Json::Obj(pairs) => {
                if pairs.is_empty() {
                    out.push_str("{}");
                    return;
                }
                out.push('{');
                for (i, (key, value)) in pairs.iter().enumerate() {
                    out.push_str(if i == 0 { "\n" } else { ",\n" });
                    push_indent(out, indent + 1);
                    write_string(out, key);
                    out.push_str(": ");
                    value.write(out, indent + 1);
                }
                out.push('\n');
                push_indent(out, indent);
                out.push('}');
            }
        }
    }
}

fn push_indent(out: &mut String, indent: usize) {
    for _ in 0..indent {
        out.push_str("  ");
    }
}

fn write_number(out: &mut String, n: f64) {
    if !n.is_finite() {
        out.push_str("null");
    } else if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        // Whole numbers below 2^53 print without a fraction (exactly representable).
        let _ = write!(out, "{}", n as i64);
    } else {
        // Rust's shortest round-trip representation is valid JSON for finite values
        // (it never prints a leading '+', and uses 'e' only with an integer exponent).
        let _ = write!(out, "{n}");
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_nested_values_in_order() {
        let v = Json::obj([
            ("b", Json::Num(2.0)),
            (
                "a",
                Json::Arr(vec![Json::Bool(true), Json::Null, Json::Str("x".into())]),
            ),
            ("empty", Json::obj(Vec::<(String, Json)>::new())),
            ("none", Json::Arr(vec![])),
        ]);
        assert_eq!(
            v.to_pretty_string(),
            "{\n  \"b\": 2,\n  \"a\": [\n    true,\n    null,\n    \"x\"\n  ],\n  \"empty\": {},\n  \"none\": []\n}\n"
        );
        assert_eq!(v.get("b"), Some(&Json::Num(2.0)));
        assert_eq!(v.get("zz"), None);
    }

    #[test]
    fn numbers_are_valid_json() {
        let render = |n: f64| Json::Num(n).to_pretty_string().trim_end().to_string();
        assert_eq!(render(3.0), "3");
        assert_eq!(render(-0.5), "-0.5");
        assert_eq!(render(1.25e-7), "0.000000125");
        assert_eq!(render(f64::NAN), "null");
        assert_eq!(render(f64::INFINITY), "null");
        assert_eq!(Json::opt(None), Json::Null);
        // Every rendering parses back with a real JSON parser.
        for n in [
            0.0,
            1.5,
            -12345.678,
            6.02e23,
            1e-300,
            2f64.powi(53),
            123456789.0,
        ] {
            let text = render(n);
            let back: f64 = serde_json::from_str(&text).unwrap();
            assert_eq!(back, n, "{text}");
        }
    }

    #[test]
    fn strings_are_escaped() {
        let s = Json::Str("a\"b\\c\nd\u{1}é".into()).to_pretty_string();
        assert_eq!(s.trim_end(), "\"a\\\"b\\\\c\\nd\\u0001é\"");
        let back: String = serde_json::from_str(s.trim_end()).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é");
    }
}
