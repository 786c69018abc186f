//! A JSON value for the `--json` report, built in the report's order and written by
//! `serde_json`.
//!
//! Numbers that are not finite (a figure that could not be measured, a ratio with a zero
//! denominator) are written as `null`, never as the invalid tokens `NaN` / `inf`.

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

    /// Renders with two-space indentation and a trailing newline (through `serde_json`).
    pub fn to_pretty_string(&self) -> String {
        // Serializing a tree of strings, numbers and maps into a String cannot fail.
        let mut out = serde_json::to_string_pretty(self).unwrap_or_else(|_| "null".into());
        out.push('\n');
        out
    }
}

impl serde::Serialize for Json {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            // Not finite: `null` (JSON has no NaN or infinity).
            Json::Num(n) if !n.is_finite() => s.serialize_unit(),
            // Whole numbers below 2^53 print without a fraction (exactly representable).
            Json::Num(n) if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 => {
                s.serialize_i64(*n as i64)
            }
            Json::Num(n) => s.serialize_f64(*n),
            Json::Str(text) => s.serialize_str(text),
            Json::Arr(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            // In insertion order, so the report reads top to bottom.
            Json::Obj(pairs) => {
                let mut map = s.serialize_map(Some(pairs.len()))?;
                for (key, value) in pairs {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
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
        assert_eq!(render(1.25e-7), "1.25e-7");
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
