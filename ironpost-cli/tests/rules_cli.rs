//! `ironpost rules validate|test` end to end, on the shipped pack and the shared OpenSSH log.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

const PACK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules");
const OPENSSH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/logs/loghub/OpenSSH_2k.log"
);
const BRUTE_FORCE_ID: &str = "8d9890eb-becf-4a6d-89ba-672c0a23489d";

fn ironpost(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ironpost"))
        .args(args)
        .env("IRONPOST_CONFIG", "/nonexistent/ironpost.toml")
        .output()
        .expect("run ironpost");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_reports_per_file_and_exit_code() {
    let (code, out, err) = ironpost(&["rules", "validate", "--json", PACK]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["loaded"].as_u64().unwrap() >= 10);
    assert_eq!(v["invalid"], 0);
    assert_eq!(v["files"][0]["status"], "loaded");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "title: x\nlogsource: {product: linux}\ndetection:\n  sel: {a|bogus: 1}\n  condition: sel\n").unwrap();
    let (code, out, _) = ironpost(&["rules", "validate", "--json", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["invalid"], 1);
    assert_eq!(v["files"][0]["status"], "invalid");
    assert!(
        v["files"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("unknown modifier `bogus`")
    );
    let (_, text, _) = ironpost(&["rules", "validate", bad.to_str().unwrap()]);
    assert!(
        text.contains("invalid") && text.contains("bad.yml"),
        "{text}"
    );
}

/// Seconds since the start of the month of a `Dec 10 06:55:46` syslog stamp.
fn stamp_secs(line: &str) -> Option<i64> {
    let day: i64 = line.get(4..6)?.trim().parse().ok()?;
    let t = line.get(7..15)?;
    let mut p = t.split(':').map(|x| x.parse::<i64>());
    let (h, m, s) = (p.next()?.ok()?, p.next()?.ok()?, p.next()?.ok()?);
    Some(day * 86_400 + h * 3600 + m * 60 + s)
}

/// The sources with at least 5 failed authentications within 120 seconds, computed from the raw
/// text without the parser or the engine.
fn brute_force_sources(text: &str) -> BTreeSet<String> {
    let mut times: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for line in text.lines() {
        let Some(msg) = line.split_once("]: ").map(|(_, m)| m) else {
            continue;
        };
        let src = if [
            "Failed password for ",
            "Failed keyboard-interactive/pam for ",
            "Failed none for ",
        ]
        .iter()
        .any(|p| msg.starts_with(p))
        {
            msg.split(" from ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
        } else if msg.contains("pam_unix(sshd:auth): authentication failure") {
            msg.split("rhost=")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
        } else {
            None
        };
        if let (Some(src), Some(t)) = (src, stamp_secs(line)) {
            times.entry(src.to_owned()).or_default().push(t);
        }
    }
    times
        .into_iter()
        .filter(|(_, ts)| ts.windows(5).any(|w| w[4] - w[0] <= 120))
        .map(|(src, _)| src)
        .collect()
}

#[test]
fn brute_force_rule_flags_exactly_the_expected_sources_in_openssh_2k() {
    let text = std::fs::read_to_string(OPENSSH).unwrap();
    let expected = brute_force_sources(&text);
    assert!(expected.len() >= 5, "{expected:?}");

    let (code, out, err) = ironpost(&[
        "rules",
        "test",
        "--rules",
        PACK,
        "--input",
        OPENSSH,
        "--format",
        "rfc3164",
        "--json",
        "--suppression",
        "0",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("events/s"), "{err}");
    let mut flagged = BTreeSet::new();
    for line in out.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        for key in [
            "rule_id",
            "title",
            "level",
            "group",
            "count",
            "first_seen",
            "last_seen",
        ] {
            assert!(v.get(key).is_some(), "{key} missing in {line}");
        }
        if v["rule_id"] == BRUTE_FORCE_ID {
            assert!(v["count"].as_u64().unwrap() >= 5);
            flagged.insert(v["group"]["src"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(flagged, expected);
}
