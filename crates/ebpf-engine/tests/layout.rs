//! The records shared by `bpf/xdp_abi.h` and `src/xdp/abi.rs` agree: sizes and member offsets
//! read from the compiled object's BTF equal the Rust definitions.

use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};

use ironpost_ebpf_engine::exec::EXEC_OBJECT;
use ironpost_ebpf_engine::exec::abi::{
    EXEC_STAT_COUNT, EXEC_STAT_EVENTS, EXEC_STAT_RINGBUF_FULL, RawExec,
};
use ironpost_ebpf_engine::xdp::abi::{
    Ip6Key, IpRule, KernelConfig, RawEvent, STAT_COUNT, SrcState, Stat,
};
use ironpost_ebpf_engine::xdp::program::XDP_OBJECT;
use object::{Object, ObjectSection};

/// A struct as BTF describes it: size and member offsets in bytes.
#[derive(Debug)]
struct BtfStruct {
    size: u32,
    members: BTreeMap<String, u32>,
}

/// Structs and enumerators of the object's `.BTF` section.
struct Btf {
    structs: BTreeMap<String, BtfStruct>,
    enumerators: BTreeMap<String, i64>,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn parse_btf(section: &[u8]) -> Btf {
    assert_eq!(&section[0..2], &0xeb9fu16.to_le_bytes(), "BTF magic");
    let hdr_len = u32_at(section, 4) as usize;
    let type_off = u32_at(section, 8) as usize;
    let type_len = u32_at(section, 12) as usize;
    let str_off = u32_at(section, 16) as usize;
    let types = &section[hdr_len + type_off..hdr_len + type_off + type_len];
    let strings = &section[hdr_len + str_off..];
    let name = |off: u32| -> String {
        let s = &strings[off as usize..];
        let end = s.iter().position(|b| *b == 0).unwrap();
        String::from_utf8(s[..end].to_vec()).unwrap()
    };
    let mut out = Btf {
        structs: BTreeMap::new(),
        enumerators: BTreeMap::new(),
    };
    let mut at = 0;
    while at < types.len() {
        let name_off = u32_at(types, at);
        let info = u32_at(types, at + 4);
        let size = u32_at(types, at + 8);
        let vlen = (info & 0xffff) as usize;
        let kind = (info >> 24) & 0x1f;
        let bitfield_offsets = info >> 31 == 1;
        at += 12;
        match kind {
            1 | 14 | 17 => at += 4, // int, var, decl tag
            3 => at += 12,          // array
            4 => {
                let mut members = BTreeMap::new();
                for i in 0..vlen {
                    let m = at + i * 12;
                    let raw = u32_at(types, m + 8);
                    let bits = if bitfield_offsets {
                        raw & 0x00ff_ffff
                    } else {
                        raw
                    };
                    members.insert(name(u32_at(types, m)), bits / 8);
                }
                out.structs
                    .insert(name(name_off), BtfStruct { size, members });
                at += vlen * 12;
            }
            5 | 15 | 19 => at += vlen * 12, // union, datasec, enum64
            6 => {
                for i in 0..vlen {
                    let m = at + i * 8;
                    let v = u32_at(types, m + 4) as i32;
                    out.enumerators.insert(name(u32_at(types, m)), i64::from(v));
                }
                at += vlen * 8;
            }
            13 => at += vlen * 8, // func proto
            _ => {}               // ptr, fwd, typedef, modifiers, func, float, type tag
        }
    }
    out
}

fn btf() -> Btf {
    btf_of(XDP_OBJECT)
}

fn btf_of(object_bytes: &[u8]) -> Btf {
    let file = object::File::parse(object_bytes).expect("the embedded object is ELF");
    let section = file.section_by_name(".BTF").expect("a .BTF section");
    parse_btf(section.data().unwrap())
}

macro_rules! check_struct {
    ($btf:expr, $c:literal, $rust:ty, [$($field:ident),* $(,)?]) => {{
        let s = $btf.structs.get($c).unwrap_or_else(|| panic!("struct {} not in BTF", $c));
        assert_eq!(s.size as usize, size_of::<$rust>(), "size of struct {}", $c);
        let mut rust_fields = vec![$(stringify!($field)),*];
        rust_fields.sort();
        let c_fields: Vec<&str> = s.members.keys().map(String::as_str).collect();
        assert_eq!(c_fields, rust_fields, "members of struct {}", $c);
        $(
            assert_eq!(
                s.members[stringify!($field)] as usize,
                offset_of!($rust, $field),
                "offset of {}.{}", $c, stringify!($field)
            );
        )*
    }};
}

#[test]
fn shared_structs_have_the_same_layout_on_both_sides() {
    let btf = btf();
    check_struct!(
        btf,
        "ip_rule",
        IpRule,
        [action, reserved, expires_ns, last_event_ns, hits]
    );
    check_struct!(btf, "ip6_key", Ip6Key, [addr]);
    check_struct!(
        btf,
        "xdp_config",
        KernelConfig,
        [
            now_ns,
            window_ns,
            cooldown_ns,
            syn_threshold,
            port_threshold,
            allow_families,
            reserved
        ]
    );
    check_struct!(
        btf,
        "src_state",
        SrcState,
        [
            window_start_ns,
            syn_count,
            distinct_ports,
            reported,
            reserved,
            ports
        ]
    );
    check_struct!(
        btf,
        "xdp_event",
        RawEvent,
        [
            timestamp_ns,
            src,
            dst,
            kind,
            count,
            src_port,
            dst_port,
            family,
            l4_proto,
            action,
            prefix_len
        ]
    );
    // The LPM keys are aya's Key<[u8; N]>: a u32 prefix length, then the address bytes.
    let k4 = &btf.structs["lpm_v4_key"];
    assert_eq!((k4.size, k4.members["addr"]), (8, 4));
    assert_eq!(size_of::<aya::maps::lpm_trie::Key<[u8; 4]>>(), 8);
    let k6 = &btf.structs["lpm_v6_key"];
    assert_eq!((k6.size, k6.members["addr"]), (20, 4));
    assert_eq!(size_of::<aya::maps::lpm_trie::Key<[u8; 16]>>(), 20);
}

#[test]
fn statistics_indexes_are_the_same_on_both_sides() {
    let btf = btf();
    for stat in Stat::ALL {
        assert_eq!(
            btf.enumerators.get(stat.c_name()).copied(),
            Some(*stat as i64),
            "{}",
            stat.c_name()
        );
    }
    assert_eq!(btf.enumerators["STAT_COUNT"], i64::from(STAT_COUNT));
}

#[test]
fn the_exec_record_has_the_same_layout_on_both_sides() {
    let btf = btf_of(EXEC_OBJECT);
    check_struct!(
        btf,
        "exec_event",
        RawExec,
        [
            timestamp_ns,
            cgroup_id,
            pid,
            ppid,
            uid,
            gid,
            args_len,
            args_truncated,
            reserved,
            filename,
            args
        ]
    );
    assert_eq!(
        btf.enumerators["EXEC_STAT_EVENTS"],
        i64::from(EXEC_STAT_EVENTS)
    );
    assert_eq!(
        btf.enumerators["EXEC_STAT_RINGBUF_FULL"],
        i64::from(EXEC_STAT_RINGBUF_FULL)
    );
    assert_eq!(
        btf.enumerators["EXEC_STAT_COUNT"],
        i64::from(EXEC_STAT_COUNT)
    );
}
