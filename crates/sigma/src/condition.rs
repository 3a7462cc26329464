//! The condition grammar: `and`, `or`, `not`, parentheses, `1 of`/`all of`/`N of` with
//! wildcards or `them`, compiled into a tree over search indices.

use crate::error::Refusal;

/// A compiled condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    /// The search at this index matches.
    Search(usize),
    /// All of them hold.
    And(Vec<Cond>),
    /// Any of them holds.
    Or(Vec<Cond>),
    /// At least `n` of them hold.
    AtLeast(usize, Vec<Cond>),
    /// The inner condition does not hold.
    Not(Box<Cond>),
}

impl Cond {
    /// Evaluates with `search(i)` answering whether search `i` matches.
    pub(crate) fn eval(&self, search: &mut dyn FnMut(usize) -> bool) -> bool {
        match self {
            Cond::Search(i) => search(*i),
            Cond::And(c) => c.iter().all(|c| c.eval(search)),
            Cond::Or(c) => c.iter().any(|c| c.eval(search)),
            Cond::AtLeast(n, c) => {
                let mut hits = 0;
                for c in c {
                    if c.eval(search) {
                        hits += 1;
                        if hits >= *n {
                            return true;
                        }
                    }
                }
                false
            }
            Cond::Not(c) => !c.eval(search),
        }
    }

    /// Shifts every search index by `offset` (used when a filter's searches are appended).
    pub(crate) fn shifted(&self, offset: usize) -> Cond {
        match self {
            Cond::Search(i) => Cond::Search(i + offset),
            Cond::And(c) => Cond::And(c.iter().map(|c| c.shifted(offset)).collect()),
            Cond::Or(c) => Cond::Or(c.iter().map(|c| c.shifted(offset)).collect()),
            Cond::AtLeast(n, c) => Cond::AtLeast(*n, c.iter().map(|c| c.shifted(offset)).collect()),
            Cond::Not(c) => Cond::Not(Box::new(c.shifted(offset))),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    And,
    Or,
    Not,
    Open,
    Close,
    Of(Quant),
    Pipe,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Quant {
    All,
    N(usize),
}

fn tokenize(text: &str) -> Result<Vec<Tok>, Refusal> {
    let mut words = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        match c {
            '(' | ')' | '|' => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                words.push(c.to_string());
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    let mut toks = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        let next_is_of = words.get(i + 1).is_some_and(|n| n == "of");
        let tok = match w.as_str() {
            "and" => Tok::And,
            "or" => Tok::Or,
            "not" => Tok::Not,
            "(" => Tok::Open,
            ")" => Tok::Close,
            "|" => Tok::Pipe,
            "all" if next_is_of => {
                i += 1;
                Tok::Of(Quant::All)
            }
            n if next_is_of && n.parse::<usize>().is_ok() => {
                i += 1;
                Tok::Of(Quant::N(n.parse().unwrap_or(1)))
            }
            "of" => {
                return Err(Refusal::invalid(format!(
                    "condition `{text}`: `of` must follow `1`, `all` or a number"
                )));
            }
            other => Tok::Ident(other.to_owned()),
        };
        toks.push(tok);
        i += 1;
    }
    Ok(toks)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    text: &'a str,
    names: &'a [String],
}

fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(&p, &n)
}

impl Parser<'_> {
    fn err(&self, what: &str) -> Refusal {
        Refusal::invalid(format!("condition `{}`: {what}", self.text))
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn or(&mut self) -> Result<Cond, Refusal> {
        let mut items = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Cond::Or(Vec::new()))
        } else {
            Cond::Or(items)
        })
    }

    fn and(&mut self) -> Result<Cond, Refusal> {
        let mut items = vec![self.not()?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Cond::And(Vec::new()))
        } else {
            Cond::And(items)
        })
    }

    fn not(&mut self) -> Result<Cond, Refusal> {
        if self.peek() == Some(&Tok::Not) {
            self.pos += 1;
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Cond, Refusal> {
        let tok = self
            .toks
            .get(self.pos)
            .cloned()
            .ok_or_else(|| self.err("ends too early"))?;
        self.pos += 1;
        match tok {
            Tok::Open => {
                let inner = self.or()?;
                if self.peek() != Some(&Tok::Close) {
                    return Err(self.err("missing `)`"));
                }
                self.pos += 1;
                Ok(inner)
            }
            Tok::Of(q) => {
                let Some(Tok::Ident(pattern)) = self.toks.get(self.pos).cloned() else {
                    return Err(self.err("`of` needs a search name pattern or `them`"));
                };
                self.pos += 1;
                let hits: Vec<Cond> = self
                    .names
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| {
                        if pattern == "them" {
                            !n.starts_with('_')
                        } else {
                            glob_match(&pattern, n)
                        }
                    })
                    .map(|(i, _)| Cond::Search(i))
                    .collect();
                if hits.is_empty() {
                    return Err(self.err(&format!("`{pattern}` matches no search identifier")));
                }
                Ok(match q {
                    Quant::All => Cond::And(hits),
                    Quant::N(1) => Cond::Or(hits),
                    Quant::N(n) => Cond::AtLeast(n, hits),
                })
            }
            Tok::Ident(name) => match self.names.iter().position(|n| *n == name) {
                Some(i) => Ok(Cond::Search(i)),
                None => Err(self.err(&format!("unknown search identifier `{name}`"))),
            },
            Tok::Pipe => Err(Refusal::unsupported(format!(
                "condition `{}`: the `|` aggregation syntax is deprecated; use a correlation rule",
                self.text
            ))),
            other => Err(self.err(&format!("unexpected {other:?}"))),
        }
    }
}

/// Parses `text` over the search identifiers `names` (their positions are the indices).
pub(crate) fn parse(text: &str, names: &[String]) -> Result<Cond, Refusal> {
    let toks = tokenize(text)?;
    if toks.contains(&Tok::Pipe) {
        return Err(Refusal::unsupported(format!(
            "condition `{text}`: the `|` aggregation syntax is deprecated; use a correlation rule"
        )));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        text,
        names,
    };
    let cond = p.or()?;
    if p.pos != p.toks.len() {
        return Err(p.err("unexpected text after the end"));
    }
    Ok(cond)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn precedence_is_not_and_or() {
        let n = names(&["a", "b", "c"]);
        let c = parse("a or b and not c", &n).unwrap();
        assert_eq!(
            c,
            Cond::Or(vec![
                Cond::Search(0),
                Cond::And(vec![Cond::Search(1), Cond::Not(Box::new(Cond::Search(2)))])
            ])
        );
        let mut truth = |i: usize| [false, true, false][i];
        assert!(c.eval(&mut truth));
    }

    #[test]
    fn of_expands_wildcards_and_them() {
        let n = names(&["selection_a", "selection_b", "filter", "_hidden"]);
        assert_eq!(
            parse("1 of selection_*", &n).unwrap(),
            Cond::Or(vec![Cond::Search(0), Cond::Search(1)])
        );
        assert_eq!(
            parse("all of them", &n).unwrap(),
            Cond::And(vec![Cond::Search(0), Cond::Search(1), Cond::Search(2)])
        );
        let c = parse("selection_a and not (filter or _hidden)", &n).unwrap();
        let mut truth = |i: usize| i == 0;
        assert!(c.eval(&mut truth));
    }

    #[test]
    fn errors_are_precise() {
        let n = names(&["a"]);
        assert!(
            parse("a and b", &n)
                .unwrap_err()
                .reason
                .contains("unknown search identifier `b`")
        );
        assert!(parse("(a", &n).unwrap_err().reason.contains("missing `)`"));
        assert!(
            parse("1 of x*", &n)
                .unwrap_err()
                .reason
                .contains("matches no search")
        );
        assert_eq!(
            parse("a | count() > 5", &n).unwrap_err().kind,
            crate::error::RefusalKind::Unsupported
        );
    }
}
