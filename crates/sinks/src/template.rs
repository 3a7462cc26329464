//! Webhook body templates: `{{field.path}}` replaced by that field of the record's JSON.
//!
//! A string is inserted JSON-escaped without its quotes, so a template may put it inside a JSON
//! string; numbers and booleans as written; objects and arrays as compact JSON; a missing field
//! as nothing. `{{.}}` is the whole record.

use serde_json::Value;

enum Part {
    Text(String),
    Field(Vec<String>),
}

/// A parsed template.
pub(crate) struct Template(Vec<Part>);

impl Template {
    pub(crate) fn parse(text: &str) -> Template {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            let Some(close) = rest[open + 2..].find("}}") else {
                break;
            };
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let name = rest[open + 2..open + 2 + close].trim();
            let path = if name == "." {
                Vec::new()
            } else {
                name.split('.').map(str::to_owned).collect()
            };
            parts.push(Part::Field(path));
            rest = &rest[open + 2 + close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Template(parts)
    }

    pub(crate) fn render(&self, record: &Value, out: &mut String) {
        for part in &self.0 {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field(path) => {
                    let mut v = record;
                    for key in path {
                        v = match v {
                            Value::Object(m) => m.get(key).unwrap_or(&Value::Null),
                            Value::Array(a) => key
                                .parse::<usize>()
                                .ok()
                                .and_then(|i| a.get(i))
                                .unwrap_or(&Value::Null),
                            _ => &Value::Null,
                        };
                    }
                    match v {
                        Value::Null => {}
                        Value::String(s) => {
                            let quoted = Value::String(s.clone()).to_string();
                            out.push_str(&quoted[1..quoted.len() - 1]);
                        }
                        other => out.push_str(&other.to_string()),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_substituted_and_escaped() {
        let t = Template::parse(
            r#"{"text": "[{{severity}}] {{title}} on {{attribution.host}} x{{count}} {{tags.0}}{{missing}}"}"#,
        );
        let v = serde_json::json!({"severity": "high", "title": "say \"hi\"", "count": 3,
            "attribution": {"host": "h1"}, "tags": ["a.b"]});
        let mut out = String::new();
        t.render(&v, &mut out);
        assert_eq!(out, r#"{"text": "[high] say \"hi\" on h1 x3 a.b"}"#);
        let parsed: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed["text"], "[high] say \"hi\" on h1 x3 a.b");
        let mut whole = String::new();
        Template::parse("{{.}}").render(&v, &mut whole);
        assert_eq!(serde_json::from_str::<Value>(&whole).unwrap(), v);
    }
}
