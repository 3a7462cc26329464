//! The XDP network sensor: the kernel program (`bpf/xdp.bpf.c`), its maps, and what userspace
//! makes of its events.
//!
//! [`program`] loads and drives the program; [`abi`] mirrors the records it shares with the
//! kernel; [`blocklist`] is the wanted block and allow state; [`detections`] turns kernel
//! reports into events and alerts; [`sensor`] runs it all on an interface.

pub mod abi;
pub mod blocklist;
pub mod detections;
pub mod frame;
pub mod net;
pub mod program;
pub mod sensor;

pub use blocklist::{BlockAction, BlockEntry, BlockError, Blocklist, Origin};
pub use detections::Detection;
pub use net::{IpNet, IpNetError};
pub use program::{AttachMode, Capacities, Stats, Verdict, XdpError, XdpProgram};
pub use sensor::{SensorOutput, SensorSettings, XdpSensor};
