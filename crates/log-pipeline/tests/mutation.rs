//! A deterministic mutation test: real lines, mutated byte by byte, through every parser and
//! the TCP frame decoder. Parsers must return a record or an error, never panic or hang.

use ironpost_log_pipeline::sources::decode_lossy;
use ironpost_log_pipeline::sources::framing::FrameDecoder;
use ironpost_log_pipeline::{Format, parse_line};

const LOGHUB: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/logs/loghub"
);

/// xorshift64*: a fixed sequence, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for f in ["OpenSSH_2k.log", "Mac_2k.log"] {
        let text = std::fs::read_to_string(format!("{LOGHUB}/{f}")).unwrap();
        out.extend(text.lines().step_by(50).map(|l| l.as_bytes().to_vec()));
    }
    for s in [
        "<165>1 2003-10-11T22:14:15.003Z host app 12 ID47 [id@1 a=\"b\\\"c\" d=\"e\"][x y=\"z\"] \u{feff}msg ünïcödé",
        r#"{"message":"m","a":{"b":[1,{"c":"ü"}]},"@timestamp":"2024-01-01T00:00:00Z"}"#,
        r#"type=SYSCALL msg=audit(1700000000.100:42): arch=c000003e syscall=59 comm="wget" exe=2F62696E msg='op=x acct="r"'"#,
        "<166>Jan 05 2020 12:00:00 fw01 : %ASA-6-302013: Built outbound",
        "<189>52: r1: *Mar  1 18:46:11.123 UTC: %SYS-5-CONFIG_I: Configured",
        r#"date=2024-05-13 time=11:20:54 devname="FG" logid="1" type="event" msg="ü""#,
        r#"1.2.3.4 - u [10/Oct/2000:13:55:36 -0700] "GET /a.php?x=ü HTTP/1.0" 200 5 "r" "ua""#,
        "Mar  3 10:00:00 h sudo:  alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/ls",
        "Mar  3 10:00:00 h useradd[9]: new user: name=eve, UID=0, GID=0, home=/root",
        "Mar  3 10:00:00 h nginx: 1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
    ] {
        out.push(s.as_bytes().to_vec());
    }
    out
}

const ALPHABET: &[u8] = b"<>[]\"\\:= .-+0123456789TZ%{}()'\n\r\0\xc3\xa9\xe2\x82\xac\xff\x80";

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(5) {
            0 if !v.is_empty() => {
                v.remove(at.min(v.len() - 1));
            }
            1 => v.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
            2 if at < v.len() => v[at] = ALPHABET[rng.below(ALPHABET.len())],
            3 => v.truncate(at),
            _ => {
                let n = rng.below(8);
                let end = (at + n).min(v.len());
                let chunk = v[at..end].to_vec();
                v.splice(at..at, chunk);
            }
        }
    }
    v
}

#[test]
fn mutated_lines_never_panic_any_parser() {
    let seeds = seeds();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut parsed = 0usize;
    for _ in 0..100_000 {
        let seed = &seeds[rng.below(seeds.len())];
        let bytes = mutate(&mut rng, seed);
        let (text, _) = decode_lossy(&bytes);
        for f in Format::ALL {
            parsed += usize::from(parse_line(&text, f, "m").is_ok());
        }
        let mut d = FrameDecoder::new(64);
        let mut frames = 0;
        let _ = d.push(&bytes, &mut |_| frames += 1);
    }
    // Most mutations keep a line parseable by some parser: the test really reaches the parsers.
    assert!(parsed > 100_000, "{parsed}");
}
