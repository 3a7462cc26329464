//! Maven version ordering (`ComparableVersion`, "Version Order Specification" of the POM
//! reference).
//!
//! Tokens split at `.` and `-` and at digit/letter transitions (a transition acts as `-`);
//! each `-` opens a nested list. Trailing "null" items (`0`, `""`, `final`, `ga`, `release`)
//! are dropped. Qualifiers order `alpha` < `beta` < `milestone` < `rc` = `cr` < `snapshot` <
//! `""` = `ga` = `final` < `sp` < other strings (lexically); numbers sort above qualifiers.
//!
//! Maven compares an item with a missing one (the shorter version's padding) by value, but two
//! present items of different kinds by kind alone, and the two rules disagree: `1.0-alpha` <
//! `1` < `1.sp`, yet `1.0-alpha` > `1.sp` (the number `0` above the word `sp`). A sort over
//! such a cycle panics. Here two items that fall on different sides of "missing" (below it,
//! equal to it, above it) compare by that side; kinds decide only between items on the same
//! side, so the order is total. A list compares with "missing" by all its items (MNG-6964).

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Int(u64),
    Str(String),
    List(Vec<Item>),
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Int(n) => *n == 0,
            Item::Str(s) => s.is_empty(),
            Item::List(l) => l.is_empty(),
        }
    }
}

fn qualifier_key(q: &str) -> String {
    let q = match q {
        "a" => "alpha",
        "b" => "beta",
        "m" => "milestone",
        "cr" => "rc",
        "ga" | "final" | "release" => "",
        other => other,
    };
    const ORDER: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
    match ORDER.iter().position(|k| *k == q) {
        Some(i) => i.to_string(),
        None => format!("7-{q}"),
    }
}

fn string_item(s: &str, followed_by_digit: bool) -> Item {
    // A lone `a`, `b` or `m` is an abbreviation only when a number follows (`1a1` = `1-alpha-1`).
    let s = if followed_by_digit || s.len() > 1 {
        s.to_string()
    } else {
        match s {
            "a" | "b" | "m" => format!("{s}_"),
            _ => s.to_string(),
        }
    };
    Item::Str(s)
}

fn normalize(list: &mut Vec<Item>) {
    while list.last().is_some_and(Item::is_null) {
        list.pop();
    }
}

fn parse(version: &str) -> Vec<Item> {
    let v = version.trim().to_ascii_lowercase();
    // Stack of open lists; each `-` (or digit/letter transition) nests a new one.
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let bytes = v.as_bytes();
    let mut start = 0;
    let mut is_digit = false;
    let push_token = |stack: &mut Vec<Vec<Item>>, tok: &str, digit: bool, next_digit: bool| {
        let item = if tok.is_empty() {
            Item::Int(0)
        } else if digit {
            Item::Int(tok.parse().unwrap_or(u64::MAX))
        } else {
            string_item(tok, next_digit)
        };
        stack.last_mut().expect("root list").push(item);
    };
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'.' || c == b'-' {
            if i == start {
                push_token(&mut stack, "", true, false);
            } else {
                push_token(&mut stack, &v[start..i], is_digit, false);
            }
            start = i + 1;
            if c == b'-' {
                stack.push(Vec::new());
            }
        } else if c.is_ascii_digit() {
            if !is_digit && i > start {
                push_token(&mut stack, &v[start..i], false, true);
                start = i;
                stack.push(Vec::new());
            }
            is_digit = true;
        } else {
            if is_digit && i > start {
                push_token(&mut stack, &v[start..i], true, false);
                start = i;
                stack.push(Vec::new());
            }
            is_digit = false;
        }
        i += 1;
    }
    if bytes.len() > start {
        push_token(&mut stack, &v[start..], is_digit, false);
    }
    while stack.len() > 1 {
        let mut inner = stack.pop().expect("nested list");
        normalize(&mut inner);
        stack.last_mut().expect("root list").push(Item::List(inner));
    }
    let mut root = stack.pop().expect("root list");
    normalize(&mut root);
    root
}

fn cmp_item(a: Option<&Item>, b: Option<&Item>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (Some(x), None) => cmp_null(x),
        (None, Some(y)) => cmp_null(y).reverse(),
        (Some(x), Some(y)) => {
            // The side of "missing" first (see the module comment), then Maven's kind rules.
            let (sx, sy) = (cmp_null(x), cmp_null(y));
            if sx != sy || sx == Ordering::Equal {
                return sx.cmp(&sy);
            }
            match (x, y) {
                (Item::Int(m), Item::Int(n)) => m.cmp(n),
                (Item::Int(_), _) => Ordering::Greater,
                (_, Item::Int(_)) => Ordering::Less,
                (Item::Str(s), Item::Str(t)) => qualifier_key(s).cmp(&qualifier_key(t)),
                (Item::Str(_), Item::List(_)) => Ordering::Less,
                (Item::List(_), Item::Str(_)) => Ordering::Greater,
                (Item::List(l), Item::List(r)) => cmp_lists(l, r),
            }
        }
    }
}

/// How an item compares with a missing one (the padding Maven uses).
fn cmp_null(x: &Item) -> Ordering {
    match x {
        Item::Int(n) => n.cmp(&0),
        Item::Str(s) => qualifier_key(s).cmp(&qualifier_key("")),
        Item::List(l) => cmp_lists(l, &[]),
    }
}

fn cmp_lists(l: &[Item], r: &[Item]) -> Ordering {
    for i in 0..l.len().max(r.len()) {
        let o = cmp_item(l.get(i), r.get(i));
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Compares two Maven versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    cmp_lists(&parse(a), &parse(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::assert_increasing;

    #[test]
    fn pom_reference_examples() {
        // maven.apache.org/pom.html, Version Order Specification.
        assert_eq!(compare("1", "1.0"), Ordering::Equal);
        assert_eq!(compare("1.ga", "1"), Ordering::Equal);
        assert_eq!(compare("1-final", "1"), Ordering::Equal);
        assert_eq!(compare("1-cr1", "1-rc1"), Ordering::Equal);
        assert_eq!(compare("1a1", "1-alpha-1"), Ordering::Equal);
        assert_increasing(
            compare,
            &[
                "1-alpha",
                "1-beta",
                "1-milestone",
                "1-rc",
                "1-snapshot",
                "1",
                "1-sp",
                "1-abc",
                "1.1",
            ],
        );
        assert_increasing(compare, &["1-1", "1-2", "1-123"]);
        assert_increasing(compare, &["1-foo", "1-1", "1.1"]);
        assert_eq!(compare("1.0.0.RELEASE", "1.0.0"), Ordering::Equal);
        assert_eq!(compare("2.12.1", "2.9.10.8"), Ordering::Greater);
    }

    /// Found by the `version_order` fuzz target: number-above-word and word-above-missing made
    /// a cycle, and a range of a few dozen such events made `sort_by` panic on import.
    #[test]
    fn mixed_kinds_still_order_totally() {
        assert_increasing(compare, &["1.0-alpha", "1", "1.sp"]);
        assert_increasing(compare, &["-a1", "", "`"]);
        // A list is compared with padding by all its items, not only its first.
        assert_increasing(compare, &["1", "1-0-1", "1-0-2"]);
        assert_eq!(compare("1.0.0.Alpha1", "1"), Ordering::Less);
        assert_eq!(compare("1.0.0.Final", "1.0"), Ordering::Equal);
    }
}
