//! Severity from OSV data: CVSS v3.x base scores computed from the vector, GitHub's own
//! rating where present, and an approximation for CVSS v4 vectors.

use ironpost_core::alert::Severity;

fn metric<'a>(vector: &'a str, key: &str) -> Option<&'a str> {
    vector
        .split('/')
        .find_map(|part| part.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
}

/// CVSS v3.x "round up" to one decimal, as the v3.1 specification defines it.
fn roundup(x: f64) -> f64 {
    let i = (x * 100_000.0).round() as i64;
    if i % 10_000 == 0 {
        i as f64 / 100_000.0
    } else {
        ((i / 10_000) + 1) as f64 / 10.0
    }
}

/// The CVSS v3.x base score of `vector`; `None` when a base metric is missing or unknown.
pub fn cvss3_base_score(vector: &str) -> Option<f64> {
    let changed = match metric(vector, "S")? {
        "U" => false,
        "C" => true,
        _ => return None,
    };
    let av = match metric(vector, "AV")? {
        "N" => 0.85,
        "A" => 0.62,
        "L" => 0.55,
        "P" => 0.2,
        _ => return None,
    };
    let ac = match metric(vector, "AC")? {
        "L" => 0.77,
        "H" => 0.44,
        _ => return None,
    };
    let pr = match (metric(vector, "PR")?, changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        ("H", false) => 0.27,
        ("H", true) => 0.5,
        _ => return None,
    };
    let ui = match metric(vector, "UI")? {
        "N" => 0.85,
        "R" => 0.62,
        _ => return None,
    };
    let cia = |k: &str| -> Option<f64> {
        Some(match metric(vector, k)? {
            "H" => 0.56,
            "L" => 0.22,
            "N" => 0.0,
            _ => return None,
        })
    };
    let (c, i, a) = (cia("C")?, cia("I")?, cia("A")?);
    let iss = 1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a);
    let impact = if changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
    } else {
        6.42 * iss
    };
    if impact <= 0.0 {
        return Some(0.0);
    }
    let exploitability = 8.22 * av * ac * pr * ui;
    Some(if changed {
        roundup((1.08 * (impact + exploitability)).min(10.0))
    } else {
        roundup((impact + exploitability).min(10.0))
    })
}

/// An estimate of a CVSS v4 base score through the v3 formula.
///
/// The v4 score comes from a lookup table of macro-vectors this crate does not ship; mapping
/// the v4 metrics onto their v3 counterparts lands in the same qualitative band for the
/// common vectors, which is all a severity needs.
pub fn cvss4_estimate(vector: &str) -> Option<f64> {
    let ac = if metric(vector, "AC")? == "H" || metric(vector, "AT")? == "P" {
        "H"
    } else {
        "L"
    };
    let ui = if metric(vector, "UI")? == "N" {
        "N"
    } else {
        "R"
    };
    let sub_hit = ["SC", "SI", "SA"]
        .iter()
        .any(|k| metric(vector, k) == Some("H"));
    let v3 = format!(
        "CVSS:3.1/AV:{}/AC:{ac}/PR:{}/UI:{ui}/S:{}/C:{}/I:{}/A:{}",
        metric(vector, "AV")?,
        metric(vector, "PR")?,
        if sub_hit { "C" } else { "U" },
        metric(vector, "VC")?,
        metric(vector, "VI")?,
        metric(vector, "VA")?,
    );
    cvss3_base_score(&v3)
}

/// The qualitative rating of a CVSS score (0.0 counts as informational).
pub fn from_score(score: f64) -> Severity {
    match score {
        s if s >= 9.0 => Severity::Critical,
        s if s >= 7.0 => Severity::High,
        s if s >= 4.0 => Severity::Medium,
        s if s > 0.0 => Severity::Low,
        _ => Severity::Informational,
    }
}

/// GitHub's rating words (`LOW`, `MODERATE`, `HIGH`, `CRITICAL`).
pub fn from_word(word: &str) -> Option<Severity> {
    Some(match word.to_ascii_uppercase().as_str() {
        "LOW" => Severity::Low,
        "MODERATE" | "MEDIUM" => Severity::Medium,
        "HIGH" => Severity::High,
        "CRITICAL" => Severity::Critical,
        _ => return None,
    })
}

/// The severity of a record from its scores; `None` when it carries none.
pub fn from_scores<'a>(scores: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Severity> {
    scores
        .into_iter()
        .filter_map(|(kind, vector)| match kind {
            "CVSS_V3" => cvss3_base_score(vector),
            "CVSS_V4" => cvss4_estimate(vector),
            _ => None,
        })
        .map(from_score)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss3_reference_scores() {
        // Scores as computed by FIRST's CVSS v3.1 calculator.
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(9.8)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(8.1)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:H/A:L"),
            Some(7.6)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"),
            Some(6.1)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:N"),
            Some(0.0)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"),
            Some(10.0)
        );
        assert_eq!(cvss3_base_score("CVSS:3.1/AV:X"), None);
    }

    #[test]
    fn ratings() {
        assert_eq!(from_score(9.8), Severity::Critical);
        assert_eq!(from_score(6.1), Severity::Medium);
        assert_eq!(from_word("MODERATE"), Some(Severity::Medium));
        let v4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N";
        assert_eq!(from_scores([("CVSS_V4", v4)]), Some(Severity::Critical));
    }
}
