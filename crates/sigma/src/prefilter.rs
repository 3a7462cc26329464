//! A literal prefilter: most rules can only match when some literals appear in some fields, so
//! one Aho-Corasick pass per field (folding ASCII case) picks the few rules worth
//! evaluating, instead of evaluating every routed rule on every event.
//!
//! For each rule, clauses of necessary literals are derived from its condition: if the rule
//! matches, every clause has at least one literal occurring in the lowercased text of its
//! field. A selection contributes one clause per field test (`type: EXECVE` and `a0: getcap`
//! are both needed), `A or B` one clause per pair of clauses of A and B. Rules with no clause
//! (negations alone, regexes, numbers, CIDR...) are always evaluated. The prefilter only skips
//! work; the full detection still decides every match.

use std::collections::BTreeMap;

use aho_corasick::automaton::Automaton;
use aho_corasick::automaton::StateID;
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};

use crate::condition::Cond;
use crate::matcher::{FieldTest, Matcher};
use crate::rule::Detection;

/// A literal that must appear in a field: (field slot, field name or keyword text, literal).
pub(crate) type Needle = (usize, Option<String>, String);

fn matcher_literal(m: &Matcher) -> Option<String> {
    let (text, cased) = match m {
        // Exact, prefix and suffix values all occur in the text they match.
        Matcher::Str { pat, cased, .. } => (pat.clone(), *cased),
        Matcher::Contains { finder, cased } => {
            (String::from_utf8(finder.needle().to_vec()).ok()?, *cased)
        }
        Matcher::Glob { pieces, cased, .. } => {
            let longest = pieces.iter().max_by_key(|p| p.needle().len())?;
            (String::from_utf8(longest.needle().to_vec()).ok()?, *cased)
        }
        _ => return None,
    };
    // The automaton folds ASCII case only, so only ASCII literals are sound filters.
    if text.is_empty() || !text.is_ascii() {
        return None;
    }
    // A case-sensitive pattern occurs lowercased in the lowercased text when it is ASCII.
    if cased {
        if !text.is_ascii() {
            return None;
        }
        return Some(text.to_ascii_lowercase());
    }
    Some(text)
}

fn test_needles(t: &FieldTest) -> Option<Vec<Needle>> {
    let lits: Vec<Option<String>> = t.matchers.iter().map(matcher_literal).collect();
    if t.all {
        // Every value must match: any one of them is necessary; take the longest.
        let best = lits.into_iter().flatten().max_by_key(String::len)?;
        return Some(vec![(t.slot, t.field.clone(), best)]);
    }
    if lits.is_empty() {
        return None;
    }
    lits.into_iter()
        .map(|l| l.map(|l| (t.slot, t.field.clone(), l)))
        .collect()
}

/// Needles of which at least one occurs in any event the rule matches.
type Clause = Vec<Needle>;

/// Clauses that all hold on any event the rule matches (a conjunctive normal form).
type Cnf = Vec<Clause>;

/// The most clauses kept per rule: the hit set of a plan position is a 64-bit mask, and past a
/// few clauses a rule is already rarely a false candidate. Dropping clauses is always sound.
const MAX_CLAUSES: usize = 16;

/// Prefers the alternative with the fewest needles, then the longest shortest needle.
fn better(a: Clause, b: Clause) -> Clause {
    let score = |v: &Clause| {
        (
            v.len(),
            usize::MAX - v.iter().map(|n| n.2.len()).min().unwrap_or(0),
        )
    };
    if score(&b) < score(&a) { b } else { a }
}

/// Appends the needles of `b` missing from `a`.
fn union(mut a: Clause, b: Clause) -> Clause {
    for n in b {
        if !a.contains(&n) {
            a.push(n);
        }
    }
    a
}

/// Adds the clauses of `b` missing from `a`, up to [`MAX_CLAUSES`].
fn and_cnf(mut a: Cnf, b: Cnf) -> Cnf {
    for c in b {
        if a.len() < MAX_CLAUSES && !a.contains(&c) {
            a.push(c);
        }
    }
    a
}

/// A necessary condition of `A or B`: `(A1 and A2) or (B1 and B2)` implies `Ai or Bj` for every
/// pair; past [`MAX_CLAUSES`] pairs, only the best clause of each side is kept.
fn or_cnf(a: Cnf, b: Cnf) -> Cnf {
    if a.len() * b.len() > MAX_CLAUSES {
        let best = |c: Cnf| c.into_iter().reduce(better).unwrap_or_default();
        return vec![union(best(a), best(b))];
    }
    let mut out: Cnf = Vec::new();
    for x in &a {
        for y in &b {
            let c = union(x.clone(), y.clone());
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

fn group_cnf(group: &[FieldTest]) -> Option<Cnf> {
    let cnf = group
        .iter()
        .filter_map(test_needles)
        .fold(Vec::new(), |acc, c| and_cnf(acc, vec![c]));
    (!cnf.is_empty()).then_some(cnf)
}

fn search_cnf(groups: &[Vec<FieldTest>]) -> Option<Cnf> {
    let mut out: Option<Cnf> = None;
    for g in groups {
        let c = group_cnf(g)?;
        out = Some(match out {
            None => c,
            Some(o) => or_cnf(o, c),
        });
    }
    out
}

fn cond_cnf(c: &Cond, searches: &[Vec<Vec<FieldTest>>]) -> Option<Cnf> {
    match c {
        Cond::Search(i) => search_cnf(&searches[*i]),
        Cond::And(cs) => cs
            .iter()
            .filter_map(|c| cond_cnf(c, searches))
            .reduce(and_cnf),
        // `0 of` holds on any event: nothing is necessary.
        Cond::AtLeast(0, _) => None,
        Cond::Or(cs) | Cond::AtLeast(_, cs) => {
            let mut out: Option<Cnf> = None;
            for c in cs {
                let c = cond_cnf(c, searches)?;
                out = Some(match out {
                    None => c,
                    Some(o) => or_cnf(o, c),
                });
            }
            out
        }
        Cond::Not(_) => None,
    }
}

/// The necessary literals of a detection as clauses that must all hold, or `None` when it must
/// always be evaluated.
pub(crate) fn necessary_literals(d: &Detection) -> Option<Cnf> {
    let (searches, cond) = d.parts();
    cond_cnf(cond, searches).filter(|v| !v.is_empty() && v.iter().all(|c| !c.is_empty()))
}

/// A plan position with the bits of its clauses that a pattern satisfies.
pub(crate) type Owner = (u32, u64);

/// One field's automaton over the rules of a plan.
#[derive(Debug)]
pub(crate) struct FieldScan {
    pub field: Option<String>,
    /// The concrete DFA rather than `AhoCorasick`, whose searches go through a trait object:
    /// a virtual call per byte was most of the prefilter's cost.
    pub automaton: DFA,
    /// The (lowercased) patterns of the automaton, kept to build merged scans.
    patterns: Vec<String>,
    /// Pattern index → (plan position, bits of the position's clauses the pattern satisfies).
    pub owners: Vec<Vec<Owner>>,
}

/// An ASCII case-folding DFA over `patterns` that the scan walks without a prefilter, or `None`
/// when it would be too large.
fn automaton(patterns: &[String]) -> Option<DFA> {
    DFA::builder()
        .match_kind(MatchKind::Standard)
        .ascii_case_insensitive(true)
        // The scan walks the DFA itself (see `FieldScan::scan`), byte by byte.
        .prefilter(false)
        .build(patterns)
        .ok()
}

impl FieldScan {
    /// One scan reporting what `self` and `other` report, for an event where both read the
    /// same text (the keyword text is also a field: a log line's `message`, a process's
    /// `CommandLine`). `None` when the merged automaton cannot be built.
    pub(crate) fn merged(&self, other: &FieldScan) -> Option<FieldScan> {
        let mut patterns = self.patterns.clone();
        let mut owners = self.owners.clone();
        for (p, o) in other.patterns.iter().zip(&other.owners) {
            match patterns.iter().position(|q| q == p) {
                Some(i) => owners[i].extend_from_slice(o),
                None => {
                    patterns.push(p.clone());
                    owners.push(o.clone());
                }
            }
        }
        Some(FieldScan {
            field: self.field.clone(),
            automaton: automaton(&patterns)?,
            patterns,
            owners,
        })
    }

    /// Calls `hit` with the owners of every pattern occurring in `text` (once per occurrence).
    ///
    /// A plain walk of the DFA: without a prefilter the only special states are match states
    /// (an unanchored standard automaton has no reachable dead state), so each byte costs one
    /// table lookup and one comparison.
    pub(crate) fn scan(&self, text: &str, hit: &mut dyn FnMut(&[Owner])) {
        let dfa = &self.automaton;
        let Ok(mut sid) = dfa.start_state(Anchored::No) else {
            // Cannot happen for a DFA built unanchored; if it did, assume every pattern occurs.
            self.owners.iter().for_each(|o| hit(o));
            return;
        };
        for &b in text.as_bytes() {
            sid = dfa.next_state(Anchored::No, sid, b);
            if dfa.is_special(sid) && !self.report(sid, hit) {
                return;
            }
        }
    }

    /// Reports the patterns of match state `sid`; false at a dead state. Kept out of line so
    /// that the byte loop of [`FieldScan::scan`] holds its state in registers.
    #[inline(never)]
    fn report(&self, sid: StateID, hit: &mut dyn FnMut(&[Owner])) -> bool {
        let dfa = &self.automaton;
        if dfa.is_dead(sid) {
            return false;
        }
        for i in 0..dfa.match_len(sid) {
            hit(&self.owners[dfa.match_pattern(sid, i).as_usize()]);
        }
        true
    }
}

/// The prefilter of one plan.
#[derive(Debug, Default)]
pub(crate) struct Prefilter {
    /// Per plan position, the bits of its clauses: it is evaluated when every bit was hit
    /// (0: always evaluated).
    pub need: Vec<u64>,
    /// The positions with `need == 0`, in order.
    pub always: Vec<u32>,
    pub scans: Vec<FieldScan>,
}

impl Prefilter {
    /// Builds the prefilter of a plan whose detections are `dets` (in plan order).
    pub(crate) fn build(dets: &[&Detection]) -> Prefilter {
        let mut need = vec![0u64; dets.len()];
        // Per field: distinct literals, each with every plan position that needs it.
        type Literals = (
            Option<String>,
            BTreeMap<String, usize>,
            Vec<String>,
            Vec<Vec<Owner>>,
        );
        let mut by_slot: BTreeMap<usize, Literals> = BTreeMap::new();
        for (pos, d) in dets.iter().enumerate() {
            let Some(cnf) = necessary_literals(d) else {
                continue;
            };
            need[pos] = (1u64 << cnf.len()) - 1;
            for (k, clause) in cnf.into_iter().enumerate() {
                let bit = 1u64 << k;
                for (slot, field, lit) in clause {
                    let e = by_slot
                        .entry(slot)
                        .or_insert_with(|| (field, BTreeMap::new(), Vec::new(), Vec::new()));
                    let lit = lit.to_ascii_lowercase();
                    let i = match e.1.get(&lit) {
                        Some(&i) => i,
                        None => {
                            e.1.insert(lit.clone(), e.2.len());
                            e.2.push(lit);
                            e.3.push(Vec::new());
                            e.2.len() - 1
                        }
                    };
                    // Entries of one position are adjacent: positions are visited in order.
                    match e.3[i].last_mut() {
                        Some((p, bits)) if *p == pos as u32 => *bits |= bit,
                        _ => e.3[i].push((pos as u32, bit)),
                    }
                }
            }
        }
        let mut scans = Vec::new();
        for (_, (field, _, patterns, owners)) in by_slot {
            match automaton(&patterns) {
                Some(automaton) => scans.push(FieldScan {
                    field,
                    automaton,
                    patterns,
                    owners,
                }),
                // Too large an automaton: evaluate these rules unconditionally instead.
                None => {
                    for (o, _) in owners.into_iter().flatten() {
                        need[o as usize] = 0;
                    }
                }
            }
        }
        let always = (0..need.len() as u32)
            .filter(|&p| need[p as usize] == 0)
            .collect();
        Prefilter {
            need,
            always,
            scans,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(field: Option<&str>, patterns: &[&str], first_pos: u32) -> FieldScan {
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        let owners = (0..patterns.len() as u32)
            .map(|i| vec![(first_pos + i, 1u64 << i)])
            .collect();
        FieldScan {
            field: field.map(str::to_owned),
            automaton: automaton(&patterns).unwrap(),
            patterns,
            owners,
        }
    }

    /// Every (position, bits) a scan reports on `text`, sorted.
    fn hits(scans: &[&FieldScan], text: &str) -> Vec<Owner> {
        let mut out = Vec::new();
        for s in scans {
            s.scan(text, &mut |o| out.extend_from_slice(o));
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    #[test]
    fn a_merged_scan_reports_what_both_scans_report() {
        let keyword = scan(None, &["failed", "root", "sh", ":"], 0);
        let message = scan(Some("message"), &["invalid user", "root", "ssh"], 10);
        let merged = keyword.merged(&message).unwrap();
        for text in [
            "",
            "Failed password for ROOT from 10.0.0.1 port 22 ssh2",
            "Invalid user admin from 10.0.0.2",
            "pam_unix(sshd:auth): authentication failure; user=root",
            "nothing to see",
            "sssh: rootroot",
        ] {
            assert_eq!(
                hits(&[&merged], text),
                hits(&[&keyword, &message], text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn or_keeps_one_clause_per_pair_of_alternatives() {
        let n = |l: &str| (1usize, Some("f".to_owned()), l.to_owned());
        let a = vec![vec![n("execve")], vec![n("getcap")]];
        let b = vec![vec![n("path")], vec![n("/etc/shadow"), n("/etc/passwd")]];
        let or = or_cnf(a, b);
        // (execve and getcap) or (path and shadow-or-passwd) implies each of the four pairs.
        assert_eq!(or.len(), 4);
        assert!(or.contains(&vec![n("execve"), n("path")]));
        assert!(or.contains(&vec![n("getcap"), n("/etc/shadow"), n("/etc/passwd")]));
        // Past the cap, the best clause of each side is kept, as one clause.
        let wide: Cnf = (0..5).map(|i| vec![n(&format!("lit{i}"))]).collect();
        let or = or_cnf(wide.clone(), wide);
        assert_eq!(or.len(), 1);
    }
}
