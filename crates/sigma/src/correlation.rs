//! Correlation windows: per (correlation, group key) state on event time, in sliding windows,
//! kept under a memory cap by evicting the least recently used group.
//!
//! Eviction drops one group at a time and counts it; nothing ever clears the whole state, so a
//! flood of distinct keys costs an attacker their own oldest groups, not everyone's windows.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use ironpost_core::Event;
use ironpost_core::alert::MAX_EVIDENCE;

use crate::rule::{CorrelationRule, CorrelationType};

/// What one correlation group remembers.
#[derive(Debug, Clone)]
pub(crate) enum Window {
    /// Event times (nanoseconds) of matches, oldest first.
    Count(VecDeque<i64>),
    /// Distinct values with the time each was last seen, and the times of every match.
    Values(Box<ValueWindow>),
    /// Times and numbers, oldest first, and their running sum.
    Numbers(VecDeque<(i64, f64)>, f64),
    /// Per referenced rule, the last time it matched.
    Temporal(Vec<Option<i64>>),
    /// Per step, the start time of the earliest-possible ordered chain that reached it.
    Ordered(Vec<Option<i64>>),
}

/// The state of a `value_count` group: every update costs O(log distinct values), whatever the
/// number of matches in the window (rebuilding the set of values on each match made a source
/// that matches often but stays under the threshold cost more and more).
#[derive(Debug, Clone, Default)]
pub(crate) struct ValueWindow {
    /// Each distinct value and the time it was last seen.
    latest: HashMap<String, i64>,
    /// The same, ordered by time, so that values seen only before the window leave it first.
    by_time: BTreeSet<(i64, String)>,
    /// Bytes of the distinct values: the memory of the group does not grow with the number of
    /// matches, only with the number of distinct values.
    value_bytes: usize,
}

impl ValueWindow {
    fn add(&mut self, t: i64, value: String) {
        match self.latest.get_mut(&value) {
            Some(last) if *last >= t => {}
            Some(last) => {
                self.by_time.remove(&(*last, value.clone()));
                *last = t;
                self.by_time.insert((t, value));
            }
            None => {
                self.value_bytes += 32 + value.len();
                self.latest.insert(value.clone(), t);
                self.by_time.insert((t, value));
            }
        }
    }

    fn expire(&mut self, horizon: i64) {
        while let Some((t, _)) = self.by_time.first()
            && *t < horizon
        {
            if let Some((_, v)) = self.by_time.pop_first() {
                self.value_bytes = self.value_bytes.saturating_sub(32 + v.len());
                self.latest.remove(&v);
            }
        }
    }
}

/// One group's state.
#[derive(Debug, Clone)]
pub(crate) struct GroupState {
    pub window: Window,
    /// The latest matches, oldest first; a deque so that dropping the oldest moves nothing.
    pub evidence: VecDeque<Event>,
    pub last_seen: i64,
    tick: u64,
    cost: usize,
}

/// The outcome of feeding a match into a group.
#[derive(Debug, Clone)]
pub(crate) struct Fired {
    pub count: u64,
    pub window_start: i64,
    pub last_seen: i64,
    pub evidence: Vec<Event>,
}

const ENTRY_OVERHEAD: usize = 128;
const EVIDENCE_COST: usize = 512;

fn cost_of(key: &(usize, String), s: &GroupState) -> usize {
    let w = match &s.window {
        Window::Count(d) => d.len() * 8,
        Window::Values(w) => w.value_bytes * 2,
        Window::Numbers(d, _) => d.len() * 16,
        Window::Temporal(v) | Window::Ordered(v) => v.len() * 16,
    };
    ENTRY_OVERHEAD + key.1.len() + w + s.evidence.len() * EVIDENCE_COST
}

/// All correlation groups, bounded by `cap_bytes`.
#[derive(Debug)]
pub(crate) struct CorrelationState {
    groups: HashMap<(usize, String), GroupState>,
    lru: BTreeMap<u64, (usize, String)>,
    tick: u64,
    bytes: usize,
    cap_bytes: usize,
    evictions: u64,
}

impl CorrelationState {
    pub(crate) fn new(cap_bytes: usize) -> CorrelationState {
        CorrelationState {
            groups: HashMap::new(),
            lru: BTreeMap::new(),
            tick: 0,
            bytes: 0,
            cap_bytes,
            evictions: 0,
        }
    }

    pub(crate) fn evictions(&self) -> u64 {
        self.evictions
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn groups(&self) -> usize {
        self.groups.len()
    }

    /// Feeds a match of reference `step` of correlation `ci` at `t` (ns) for `group`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn feed(
        &mut self,
        ci: usize,
        corr: &CorrelationRule,
        step: usize,
        group: String,
        t: i64,
        value: Option<String>,
        evidence: &Event,
    ) -> Option<Fired> {
        let span = corr.timespan_secs.saturating_mul(1_000_000_000);
        let key = (ci, group);
        self.tick += 1;
        let tick = self.tick;
        let state = match self.groups.get_mut(&key) {
            Some(s) => {
                self.lru.remove(&s.tick);
                s
            }
            None => {
                let window = match corr.kind {
                    CorrelationType::EventCount => Window::Count(VecDeque::new()),
                    CorrelationType::ValueCount => Window::Values(Box::default()),
                    CorrelationType::ValueSum | CorrelationType::ValueAvg => {
                        Window::Numbers(VecDeque::new(), 0.0)
                    }
                    CorrelationType::Temporal => Window::Temporal(vec![None; corr.rules.len()]),
                    CorrelationType::TemporalOrdered => {
                        Window::Ordered(vec![None; corr.rules.len()])
                    }
                };
                self.groups.entry(key.clone()).or_insert(GroupState {
                    window,
                    evidence: VecDeque::new(),
                    last_seen: t,
                    tick,
                    cost: 0,
                })
            }
        };
        state.tick = tick;
        // Late events do not move the window back.
        let now = t.max(state.last_seen);
        state.last_seen = now;
        let horizon = now.saturating_sub(span);
        // Evidence: the earliest matches still in the window, up to MAX_EVIDENCE. Once a group
        // holds that many, further matches are not copied (a copy allocates as much as the
        // event itself), until its oldest ones leave the window.
        while state.evidence.front().is_some_and(|e| {
            e.timestamp()
                .timestamp_nanos_opt()
                .is_some_and(|n| n < horizon)
        }) {
            state.evidence.pop_front();
        }
        if state.evidence.len() < MAX_EVIDENCE {
            state.evidence.push_back(evidence.clone());
        }
        let fired: Option<(u64, i64)> = match &mut state.window {
            Window::Count(d) => {
                d.push_back(t);
                while d.front().is_some_and(|&x| x < horizon) {
                    d.pop_front();
                }
                let n = d.len() as u64;
                corr.condition
                    .holds(n as f64)
                    .then(|| (n, d.iter().copied().min().unwrap_or(t)))
            }
            Window::Values(w) => {
                if let Some(v) = value {
                    w.add(t, v);
                }
                w.expire(horizon);
                // The alert counts the distinct values; its window starts at the earliest time
                // a value still in the window was last seen.
                let n = w.latest.len() as u64;
                corr.condition
                    .holds(n as f64)
                    .then(|| (n, w.by_time.first().map_or(t, |(x, _)| *x)))
            }
            Window::Numbers(d, sum) => {
                if let Some(x) = value.and_then(|v| v.trim().parse::<f64>().ok()) {
                    d.push_back((t, x));
                    *sum += x;
                }
                while d.front().is_some_and(|(x, _)| *x < horizon) {
                    if let Some((_, x)) = d.pop_front() {
                        *sum -= x;
                    }
                }
                if d.is_empty() {
                    // No drift from a long run of additions and removals.
                    *sum = 0.0;
                }
                let metric = match corr.kind {
                    CorrelationType::ValueAvg if !d.is_empty() => *sum / d.len() as f64,
                    CorrelationType::ValueAvg => f64::NAN,
                    _ => *sum,
                };
                corr.condition
                    .holds(metric)
                    .then(|| (d.len() as u64, d.iter().map(|(x, _)| *x).min().unwrap_or(t)))
            }
            Window::Temporal(seen) => {
                seen[step] = Some(t);
                let live: Vec<i64> = seen
                    .iter()
                    .flatten()
                    .copied()
                    .filter(|&x| x >= horizon)
                    .collect();
                let n = live.len();
                let enough = if corr.condition == Default::default() {
                    n == seen.len()
                } else {
                    corr.condition.holds(n as f64)
                };
                enough.then(|| (n as u64, live.iter().copied().min().unwrap_or(t)))
            }
            Window::Ordered(chain) => {
                // The same rule may sit at several steps: advance the latest step first so one
                // event never counts for two consecutive steps.
                let steps: Vec<usize> = (0..corr.rules.len())
                    .rev()
                    .filter(|&i| corr.rules[i] == corr.rules[step])
                    .collect();
                for i in steps {
                    if i == 0 {
                        chain[0] = Some(t);
                    } else if let Some(start) = chain[i - 1].filter(|&s| s >= horizon && s <= t) {
                        chain[i] = Some(chain[i].map_or(start, |c| c.max(start)));
                    }
                }
                let last = chain.len() - 1;
                chain[last]
                    .filter(|&s| s >= horizon)
                    .map(|s| (chain.len() as u64, s))
            }
        };
        match fired {
            Some((count, start)) => {
                // The window is consumed: the next alert needs a fresh set of matches.
                let s = self.groups.remove(&key)?;
                self.bytes = self.bytes.saturating_sub(s.cost);
                let evidence = s
                    .evidence
                    .into_iter()
                    .filter(|e| {
                        e.timestamp()
                            .timestamp_nanos_opt()
                            .is_some_and(|n| n >= start)
                    })
                    .collect();
                Some(Fired {
                    count,
                    window_start: start,
                    last_seen: s.last_seen,
                    evidence,
                })
            }
            None => {
                let new_cost = cost_of(&key, state);
                self.bytes = self.bytes.saturating_sub(state.cost) + new_cost;
                state.cost = new_cost;
                self.lru.insert(tick, key);
                self.evict_over_cap(tick);
                None
            }
        }
    }

    fn evict_over_cap(&mut self, keep: u64) {
        while self.bytes > self.cap_bytes {
            let Some((&oldest, _)) = self.lru.iter().next() else {
                break;
            };
            if oldest == keep {
                break;
            }
            if let Some(key) = self.lru.remove(&oldest)
                && let Some(s) = self.groups.remove(&key)
            {
                self.bytes = self.bytes.saturating_sub(s.cost);
                self.evictions += 1;
            }
        }
    }
}
