//! Field extraction for the services normalization knows (sshd, PAM, sudo, su, account tools, cron,
//! web servers over syslog), reached through the public [`normalize`]: the first byte picks the
//! service, the rest is the message. Never a panic, and the message is left as it was.
#![no_main]

use ironpost_core::event::LogRecord;
use ironpost_fuzz::{check_record, now, text};
use ironpost_log_pipeline::normalize::normalize;
use libfuzzer_sys::fuzz_target;

const SERVICES: [&str; 16] = [
    "sshd", "sudo", "su", "useradd", "usermod", "userdel", "groupadd", "passwd", "chpasswd",
    "gpasswd", "cron", "crond", "nginx", "httpd", "apache2", "login",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let message = text(rest);
    let mut rec = LogRecord::new("fuzz", "rfc3164", message.as_ref());
    rec.timestamp = now();
    rec.received = now();
    rec.service = Some(SERVICES[usize::from(pick) % SERVICES.len()].into());
    normalize(&mut rec);
    check_record(&rec);
    assert_eq!(rec.message, message, "normalization keeps the message");
});
