//! The loaded XDP program and its typed maps.
//!
//! [`XdpProgram::load`] loads the object that `build.rs` compiled from `bpf/xdp.bpf.c` (embedded
//! in the binary), after which the program can be run on crafted frames with
//! [`XdpProgram::test_run`] (`BPF_PROG_TEST_RUN`) or attached to an interface with
//! [`XdpProgram::attach`].

use std::net::IpAddr;
use std::time::Duration;

use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{Array, HashMap, MapData, MapError, PerCpuArray, RingBuf};
use aya::programs::{ProgramError, TestRun, TestRunOptions, Xdp, XdpMode};
use aya::{Ebpf, EbpfLoader};

use super::abi::{ALLOW_V4, ALLOW_V6, Ip6Key, IpRule, KernelConfig, STAT_COUNT, SrcState, Stat};
use super::net::{IpNet, to_mapped_bytes};

/// The compiled XDP object, embedded at build time.
pub static XDP_OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/xdp.bpf.o"));

/// A program that transmits every frame it gets (`XDP_TX`): run in live-frames mode it is the
/// benchmark's traffic generator. Not part of the sensor.
pub static GENERATOR_OBJECT: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/xdp_generator.bpf.o"));

/// The name of the generator program in [`GENERATOR_OBJECT`].
pub const GENERATOR_PROGRAM_NAME: &str = "ironpost_xdp_generator";

/// The name of the sensor program in the object.
pub const PROGRAM_NAME: &str = "ironpost_xdp";
/// The name of the drop-everything program the benchmark compares against.
pub const BASELINE_PROGRAM_NAME: &str = "ironpost_xdp_baseline_drop";

/// XDP verdicts the program returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// `XDP_ABORTED`.
    Aborted,
    /// `XDP_DROP`.
    Drop,
    /// `XDP_PASS`.
    Pass,
    /// `XDP_TX`.
    Tx,
    /// `XDP_REDIRECT`.
    Redirect,
    /// Anything else.
    Other(u32),
}

impl From<u32> for Verdict {
    fn from(v: u32) -> Self {
        match v {
            0 => Verdict::Aborted,
            1 => Verdict::Drop,
            2 => Verdict::Pass,
            3 => Verdict::Tx,
            4 => Verdict::Redirect,
            n => Verdict::Other(n),
        }
    }
}

/// How the program is attached to an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachMode {
    /// In the driver (fastest; needs driver support, which veth has).
    Native,
    /// In the generic network stack (works everywhere, slower).
    Generic,
}

impl AttachMode {
    /// `native` or `generic`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachMode::Native => "native",
            AttachMode::Generic => "generic",
        }
    }

    fn xdp_mode(self) -> XdpMode {
        match self {
            AttachMode::Native => XdpMode::Driver,
            AttachMode::Generic => XdpMode::Skb,
        }
    }
}

/// What failed while loading, attaching or using the program.
#[derive(Debug, thiserror::Error)]
pub enum XdpError {
    /// The object did not load (verifier, missing privilege, unsuitable kernel).
    #[error("loading the XDP object: {0}")]
    Load(#[source] Box<aya::EbpfError>),
    /// The program was refused by the kernel.
    #[error("loading program `{name}`: {source}")]
    Program {
        /// The program name.
        name: &'static str,
        /// The cause.
        #[source]
        source: Box<ProgramError>,
    },
    /// A map the program declares is missing or has another type.
    #[error("map `{name}`: {source}")]
    Map {
        /// The map name.
        name: &'static str,
        /// The cause.
        #[source]
        source: Box<MapError>,
    },
    /// The object lacks something this code expects.
    #[error("the XDP object has no {0}")]
    Missing(&'static str),
    /// Attaching failed in every mode tried.
    #[error("attaching to interface `{interface}` ({tried}): {source}")]
    Attach {
        /// The interface.
        interface: String,
        /// The modes tried.
        tried: String,
        /// The last cause.
        #[source]
        source: Box<ProgramError>,
    },
    /// Polling the ring buffer failed.
    #[error("polling the XDP ring buffer: {0}")]
    Poll(#[source] std::io::Error),
    /// A test run failed.
    #[error("BPF_PROG_TEST_RUN of `{name}`: {source}")]
    TestRun {
        /// The program name.
        name: &'static str,
        /// The cause.
        #[source]
        source: Box<ProgramError>,
    },
}

impl XdpError {
    /// True when the cause is a missing privilege (EPERM or EACCES somewhere in the chain).
    pub fn is_permission(&self) -> bool {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = cur {
            if let Some(io) = e.downcast_ref::<std::io::Error>()
                && matches!(io.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES))
            {
                return true;
            }
            cur = e.source();
        }
        let text = format!("{self:?}");
        text.contains("EPERM") || text.contains("Operation not permitted")
    }
}

fn map_err(name: &'static str) -> impl Fn(MapError) -> XdpError {
    move |source| XdpError::Map {
        name,
        source: Box::new(source),
    }
}

/// Sizes of the maps whose capacity a deployment may want to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacities {
    /// Entries of each exact-address blocklist (IPv4 and IPv6).
    pub exact: u32,
    /// Entries of each prefix blocklist (IPv4 and IPv6).
    pub prefixes: u32,
    /// Sources tracked by the detectors (least recently used evicted first).
    pub sources: u32,
}

impl Default for Capacities {
    fn default() -> Self {
        Capacities {
            exact: 65_536,
            prefixes: 262_144,
            sources: 65_536,
        }
    }
}

/// Per-CPU statistics summed over every CPU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats(Vec<u64>);

impl Stats {
    /// The value of `stat`.
    pub fn get(&self, stat: Stat) -> u64 {
        self.0.get(stat as usize).copied().unwrap_or(0)
    }

    /// Every statistic by name.
    pub fn iter(&self) -> impl Iterator<Item = (Stat, u64)> + '_ {
        Stat::ALL.iter().map(|s| (*s, self.get(*s)))
    }
}

/// The XDP sensor program, loaded in the kernel, with its maps.
pub struct XdpProgram {
    ebpf: Ebpf,
    block_v4: HashMap<MapData, u32, IpRule>,
    block_v6: HashMap<MapData, Ip6Key, IpRule>,
    block_prefix_v4: LpmTrie<MapData, [u8; 4], IpRule>,
    block_prefix_v6: LpmTrie<MapData, [u8; 16], IpRule>,
    allow_v4: LpmTrie<MapData, [u8; 4], IpRule>,
    allow_v6: LpmTrie<MapData, [u8; 16], IpRule>,
    src_states: HashMap<MapData, Ip6Key, SrcState>,
    config: Array<MapData, KernelConfig>,
    /// `KernelConfig::allow_families` as the allowlists stand.
    allow_families: u32,
    stats: PerCpuArray<MapData, u64>,
    events: Option<RingBuf<MapData>>,
    attached: Option<(String, AttachMode)>,
}

impl std::fmt::Debug for XdpProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XdpProgram")
            .field("attached", &self.attached)
            .finish_non_exhaustive()
    }
}

impl XdpProgram {
    /// Loads the embedded object with default capacities.
    pub fn load() -> Result<XdpProgram, XdpError> {
        XdpProgram::load_with(Capacities::default())
    }

    /// Loads the embedded object with the map sizes of `caps`.
    pub fn load_with(caps: Capacities) -> Result<XdpProgram, XdpError> {
        let mut ebpf = EbpfLoader::new()
            .map_max_entries("block_v4", caps.exact)
            .map_max_entries("block_v6", caps.exact)
            .map_max_entries("block_prefix_v4", caps.prefixes)
            .map_max_entries("block_prefix_v6", caps.prefixes)
            .map_max_entries("src_states", caps.sources)
            .load(XDP_OBJECT)
            .map_err(|e| XdpError::Load(Box::new(e)))?;
        for name in [PROGRAM_NAME, BASELINE_PROGRAM_NAME] {
            let program: &mut Xdp = ebpf
                .program_mut(name)
                .ok_or(XdpError::Missing("sensor program"))?
                .try_into()
                .map_err(|e| XdpError::Program {
                    name: PROGRAM_NAME,
                    source: Box::new(e),
                })?;
            program.load().map_err(|e| XdpError::Program {
                name: PROGRAM_NAME,
                source: Box::new(e),
            })?;
        }
        macro_rules! take {
            ($name:literal, $ty:ty) => {{
                let map = ebpf.take_map($name).ok_or(XdpError::Missing($name))?;
                <$ty>::try_from(map).map_err(map_err($name))?
            }};
        }
        Ok(XdpProgram {
            block_v4: take!("block_v4", HashMap<MapData, u32, IpRule>),
            block_v6: take!("block_v6", HashMap<MapData, Ip6Key, IpRule>),
            block_prefix_v4: take!("block_prefix_v4", LpmTrie<MapData, [u8; 4], IpRule>),
            block_prefix_v6: take!("block_prefix_v6", LpmTrie<MapData, [u8; 16], IpRule>),
            allow_v4: take!("allow_v4", LpmTrie<MapData, [u8; 4], IpRule>),
            allow_v6: take!("allow_v6", LpmTrie<MapData, [u8; 16], IpRule>),
            src_states: take!("src_states", HashMap<MapData, Ip6Key, SrcState>),
            config: take!("config", Array<MapData, KernelConfig>),
            allow_families: 0,
            stats: take!("stats", PerCpuArray<MapData, u64>),
            events: Some(take!("events", RingBuf<MapData>)),
            ebpf,
            attached: None,
        })
    }

    fn program(&mut self, name: &'static str) -> Result<&mut Xdp, XdpError> {
        self.ebpf
            .program_mut(name)
            .ok_or(XdpError::Missing("sensor program"))?
            .try_into()
            .map_err(|e| XdpError::Program {
                name,
                source: Box::new(e),
            })
    }

    /// Writes the detection thresholds and clock (`allow_families` is the program's own).
    pub fn set_config(&mut self, config: &KernelConfig) -> Result<(), XdpError> {
        let config = KernelConfig {
            allow_families: self.allow_families,
            ..*config
        };
        self.config.set(0, config, 0).map_err(map_err("config"))
    }

    /// Sets or clears `bit` of the kernel's `allow_families` after an allowlist change.
    fn set_allow_family(&mut self, bit: u32, present: bool) -> Result<(), XdpError> {
        let families = if present {
            self.allow_families | bit
        } else {
            self.allow_families & !bit
        };
        if families != self.allow_families {
            self.allow_families = families;
            let config = self.config()?;
            self.set_config(&config)?;
        }
        Ok(())
    }

    /// The detection thresholds and clock in force.
    pub fn config(&self) -> Result<KernelConfig, XdpError> {
        self.config.get(&0, 0).map_err(map_err("config"))
    }

    /// Adds or replaces the block entry for `net` (an exact address goes to a hash map, a
    /// prefix to an LPM trie).
    pub fn insert_block(&mut self, net: IpNet, rule: IpRule) -> Result<(), XdpError> {
        match (net.addr(), net.is_host()) {
            (IpAddr::V4(a), true) => self
                .block_v4
                .insert(u32::from_ne_bytes(a.octets()), rule, 0)
                .map_err(map_err("block_v4")),
            (IpAddr::V6(a), true) => self
                .block_v6
                .insert(Ip6Key { addr: a.octets() }, rule, 0)
                .map_err(map_err("block_v6")),
            (IpAddr::V4(a), false) => self
                .block_prefix_v4
                .insert(&Key::new(u32::from(net.prefix_len()), a.octets()), rule, 0)
                .map_err(map_err("block_prefix_v4")),
            (IpAddr::V6(a), false) => self
                .block_prefix_v6
                .insert(&Key::new(u32::from(net.prefix_len()), a.octets()), rule, 0)
                .map_err(map_err("block_prefix_v6")),
        }
    }

    /// Removes the block entry for `net`; `Ok(false)` when there was none.
    pub fn remove_block(&mut self, net: IpNet) -> Result<bool, XdpError> {
        let r = match (net.addr(), net.is_host()) {
            (IpAddr::V4(a), true) => self
                .block_v4
                .remove(&u32::from_ne_bytes(a.octets()))
                .map_err(map_err("block_v4")),
            (IpAddr::V6(a), true) => self
                .block_v6
                .remove(&Ip6Key { addr: a.octets() })
                .map_err(map_err("block_v6")),
            (IpAddr::V4(a), false) => self
                .block_prefix_v4
                .remove(&Key::new(u32::from(net.prefix_len()), a.octets()))
                .map_err(map_err("block_prefix_v4")),
            (IpAddr::V6(a), false) => self
                .block_prefix_v6
                .remove(&Key::new(u32::from(net.prefix_len()), a.octets()))
                .map_err(map_err("block_prefix_v6")),
        };
        absent_is_false(r)
    }

    /// The block entry stored for exactly `net` (with the kernel's hit count), if any.
    pub fn block_rule(&self, net: IpNet) -> Result<Option<IpRule>, XdpError> {
        let r = match (net.addr(), net.is_host()) {
            (IpAddr::V4(a), true) => self
                .block_v4
                .get(&u32::from_ne_bytes(a.octets()), 0)
                .map_err(map_err("block_v4")),
            (IpAddr::V6(a), true) => self
                .block_v6
                .get(&Ip6Key { addr: a.octets() }, 0)
                .map_err(map_err("block_v6")),
            (IpAddr::V4(a), false) => self
                .block_prefix_v4
                .get(&Key::new(u32::from(net.prefix_len()), a.octets()), 0)
                .map_err(map_err("block_prefix_v4")),
            (IpAddr::V6(a), false) => self
                .block_prefix_v6
                .get(&Key::new(u32::from(net.prefix_len()), a.octets()), 0)
                .map_err(map_err("block_prefix_v6")),
        };
        absent_is_none(r)
    }

    /// Adds `net` to the allowlist, which is checked before the blocklist.
    pub fn insert_allow(&mut self, net: IpNet, expires_ns: u64) -> Result<(), XdpError> {
        let rule = IpRule {
            expires_ns,
            ..IpRule::default()
        };
        // The entry goes in before the program is told to look the family up.
        match net.addr() {
            IpAddr::V4(a) => {
                self.allow_v4
                    .insert(&Key::new(u32::from(net.prefix_len()), a.octets()), rule, 0)
                    .map_err(map_err("allow_v4"))?;
                self.set_allow_family(ALLOW_V4, true)
            }
            IpAddr::V6(a) => {
                self.allow_v6
                    .insert(&Key::new(u32::from(net.prefix_len()), a.octets()), rule, 0)
                    .map_err(map_err("allow_v6"))?;
                self.set_allow_family(ALLOW_V6, true)
            }
        }
    }

    /// Removes `net` from the allowlist; `Ok(false)` when it was not there.
    pub fn remove_allow(&mut self, net: IpNet) -> Result<bool, XdpError> {
        let r = match net.addr() {
            IpAddr::V4(a) => self
                .allow_v4
                .remove(&Key::new(u32::from(net.prefix_len()), a.octets()))
                .map_err(map_err("allow_v4")),
            IpAddr::V6(a) => self
                .allow_v6
                .remove(&Key::new(u32::from(net.prefix_len()), a.octets()))
                .map_err(map_err("allow_v6")),
        };
        let removed = absent_is_false(r)?;
        let v4 = self.allow_v4.keys().next().is_some();
        let v6 = self.allow_v6.keys().next().is_some();
        self.set_allow_family(ALLOW_V4, v4)?;
        self.set_allow_family(ALLOW_V6, v6)?;
        Ok(removed)
    }

    /// The detection state of source `ip`, if the detectors track it.
    pub fn source_state(&self, ip: IpAddr) -> Result<Option<SrcState>, XdpError> {
        absent_is_none(
            self.src_states
                .get(
                    &Ip6Key {
                        addr: to_mapped_bytes(ip),
                    },
                    0,
                )
                .map_err(map_err("src_states")),
        )
    }

    /// The statistics summed over every CPU.
    pub fn stats(&self) -> Result<Stats, XdpError> {
        let mut out = vec![0u64; STAT_COUNT as usize];
        for (i, slot) in out.iter_mut().enumerate() {
            let values = self.stats.get(&(i as u32), 0).map_err(map_err("stats"))?;
            *slot = values.iter().sum();
        }
        Ok(Stats(out))
    }

    /// Takes the ring buffer of events (once); the reader owns it from then on.
    pub fn take_events(&mut self) -> Option<RingBuf<MapData>> {
        self.events.take()
    }

    /// Runs the sensor once on `frame` with `BPF_PROG_TEST_RUN` and returns its verdict.
    pub fn test_run(&mut self, frame: &[u8]) -> Result<Verdict, XdpError> {
        Ok(self.run(PROGRAM_NAME, frame, 1)?.0)
    }

    /// Runs `program` `repeat` times on `frame`; the verdict and the kernel's mean time per run.
    pub fn run(
        &mut self,
        program: &'static str,
        frame: &[u8],
        repeat: u32,
    ) -> Result<(Verdict, Duration), XdpError> {
        let prog = self.program(program)?;
        let mut opts = TestRunOptions::new();
        opts.data_in = Some(frame);
        opts.repeat = repeat.max(1);
        let result = prog.test_run(opts).map_err(|e| XdpError::TestRun {
            name: program,
            source: Box::new(e),
        })?;
        Ok((Verdict::from(result.return_value), result.duration))
    }

    /// Attaches the sensor to `interface`: in `mode`, or native then generic when `mode` is
    /// `None`. Returns the mode obtained.
    pub fn attach(
        &mut self,
        interface: &str,
        mode: Option<AttachMode>,
    ) -> Result<AttachMode, XdpError> {
        let modes: &[AttachMode] = match mode {
            Some(AttachMode::Native) => &[AttachMode::Native],
            Some(AttachMode::Generic) => &[AttachMode::Generic],
            None => &[AttachMode::Native, AttachMode::Generic],
        };
        let tried = modes
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", then ");
        let prog = self.program(PROGRAM_NAME)?;
        let mut last = None;
        for m in modes {
            match prog.attach(interface, m.xdp_mode()) {
                Ok(_) => {
                    self.attached = Some((interface.to_owned(), *m));
                    return Ok(*m);
                }
                Err(e) => {
                    tracing::debug!(interface, mode = m.as_str(), error = %e, "XDP attach failed");
                    last = Some(e);
                }
            }
        }
        Err(XdpError::Attach {
            interface: interface.to_owned(),
            tried,
            source: Box::new(last.expect("at least one mode is tried")),
        })
    }

    /// The interface and mode the sensor is attached with, if attached.
    pub fn attached(&self) -> Option<(&str, AttachMode)> {
        self.attached.as_ref().map(|(i, m)| (i.as_str(), *m))
    }
}

/// True for the errors a map gives for a key it does not hold.
fn is_absent(e: &XdpError) -> bool {
    match e {
        XdpError::Map { source, .. } => match source.as_ref() {
            MapError::KeyNotFound => true,
            MapError::SyscallError(s) => s.io_error.raw_os_error() == Some(libc::ENOENT),
            _ => false,
        },
        _ => false,
    }
}

fn absent_is_false(r: Result<(), XdpError>) -> Result<bool, XdpError> {
    match r {
        Ok(()) => Ok(true),
        Err(e) if is_absent(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

fn absent_is_none<V>(r: Result<V, XdpError>) -> Result<Option<V>, XdpError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The current CLOCK_MONOTONIC time in nanoseconds: the clock the program reads (at tick
/// resolution, `bpf_ktime_get_coarse_ns`), in which entry expiries are written.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}
