//! Web server access records that arrive as JSON (nginx `log_format` JSON, Caddy, Traefik).

use ironpost_core::event::{LogRecord, Value};

/// Maps common access-log JSON keys to Sigma webserver names; sets `service` `webserver`
/// when the record is an access record.
pub(super) fn from_json(rec: &mut LogRecord) {
    const MAP: &[(&[&str], &str)] = &[
        (
            &[
                "remote_addr",
                "client_ip",
                "clientip",
                "remote_ip",
                "request.remote_ip",
                "ClientHost",
            ],
            "c-ip",
        ),
        (
            &[
                "request_method",
                "method",
                "request.method",
                "RequestMethod",
            ],
            "cs-method",
        ),
        (
            &[
                "status",
                "response_status",
                "status_code",
                "DownstreamStatus",
            ],
            "sc-status",
        ),
        (
            &[
                "http_user_agent",
                "user_agent",
                "request.headers.User-Agent.0",
                "request_User-Agent",
            ],
            "cs-user-agent",
        ),
        (
            &[
                "http_referer",
                "referer",
                "referrer",
                "request.headers.Referer.0",
            ],
            "cs-referer",
        ),
        (
            &["host", "http_host", "request.host", "RequestHost"],
            "cs-host",
        ),
        (&["remote_user"], "cs-username"),
        (&["body_bytes_sent", "bytes_sent", "size"], "sc-bytes"),
    ];
    let mut found = Vec::new();
    for (keys, name) in MAP {
        if let Some(v) = keys
            .iter()
            .find_map(|k| rec.fields.get(k).filter(|v| !matches!(v, Value::Null)))
        {
            found.push((*name, v.clone()));
        }
    }
    let uri = ["request_uri", "uri", "request.uri", "RequestPath", "path"]
        .iter()
        .find_map(|k| match rec.fields.get(k) {
            Some(Value::Str(s)) => Some(s.clone()),
            _ => None,
        })
        .or_else(|| match rec.fields.get("request") {
            // nginx's `$request`: `GET /x?y HTTP/1.1`.
            Some(Value::Str(r)) => r.split(' ').nth(1).map(Into::into),
            _ => None,
        });
    let is_access = uri.is_some()
        && found
            .iter()
            .any(|(n, _)| *n == "sc-status" || *n == "cs-method");
    if !is_access {
        return;
    }
    for (name, v) in found {
        let v = match (name, v) {
            ("sc-status" | "sc-bytes", Value::Str(s)) => {
                s.parse::<i64>().map(Value::Int).unwrap_or(Value::Str(s))
            }
            (_, v) => v,
        };
        if name == "cs-user-agent" {
            rec.fields.insert("c-useragent", v.clone());
        }
        rec.fields.insert(name, v);
    }
    if rec.fields.get("cs-method").is_none()
        && let Some(Value::Str(r)) = rec.fields.get("request")
        && let Some(m) = r.split(' ').next()
    {
        let m = m.to_owned();
        rec.fields.insert("cs-method", m);
    }
    if let Some(uri) = uri {
        let (stem, query) = uri.split_once('?').unwrap_or((&uri, ""));
        rec.fields.insert("cs-uri-stem", stem);
        rec.fields.insert("cs-uri-query", query);
        if let Some(ext) = stem
            .rsplit('/')
            .next()
            .and_then(|f| f.rsplit_once('.'))
            .map(|x| x.1)
        {
            rec.fields.insert("c-uri-extension", ext);
        }
        rec.fields.insert("c-uri", uri.clone());
    }
    if rec.service.is_none() {
        rec.service = Some("webserver".into());
    }
}

#[cfg(test)]
mod tests {
    use ironpost_core::event::Value;

    use crate::{Format, parse_line};

    #[test]
    fn nginx_json_access_record() {
        let r = parse_line(r#"{"time":"2024-01-01T00:00:00Z","remote_addr":"198.51.100.7","request":"GET /wp-login.php?x=1 HTTP/1.1","status":"404","http_user_agent":"sqlmap/1.7","http_referer":"-"}"#, Format::Json, "w").unwrap();
        assert_eq!(r.service.as_deref(), Some("webserver"));
        assert_eq!(
            r.fields.get("c-ip"),
            Some(&Value::Str("198.51.100.7".into()))
        );
        assert_eq!(r.fields.get("cs-method"), Some(&Value::Str("GET".into())));
        assert_eq!(
            r.fields.get("cs-uri-stem"),
            Some(&Value::Str("/wp-login.php".into()))
        );
        assert_eq!(
            r.fields.get("cs-uri-query"),
            Some(&Value::Str("x=1".into()))
        );
        assert_eq!(r.fields.get("sc-status"), Some(&Value::Int(404)));
        assert_eq!(
            r.fields.get("c-useragent"),
            Some(&Value::Str("sqlmap/1.7".into()))
        );
    }
}
