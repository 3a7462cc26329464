//! Every ecosystem's version ordering over arbitrary strings: the first byte picks the ecosystem,
//! the rest is split at NUL bytes into three versions. The orderings promise a total order over any
//! text (`versions` module), so: reflexive, antisymmetric and transitive, and a sort of the three
//! never panics.
#![no_main]

use std::cmp::Ordering;

use ironpost_fuzz::text;
use ironpost_sbom_scanner::Ecosystem;
use ironpost_sbom_scanner::versions::compare;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let eco = Ecosystem::ALL[usize::from(pick) % Ecosystem::ALL.len()];
    let mut parts = rest.splitn(3, |&b| b == 0).map(text);
    let a = parts.next().unwrap_or_default();
    let b = parts.next().unwrap_or_else(|| a.clone());
    let c = parts.next().unwrap_or_else(|| b.clone());
    let cmp = |x: &str, y: &str| compare(eco, x, y);
    for v in [&a, &b, &c] {
        assert_eq!(cmp(v, v), Ordering::Equal, "{eco:?}: {v:?} != itself");
    }
    for (x, y) in [(&a, &b), (&b, &c), (&a, &c)] {
        assert_eq!(
            cmp(x, y),
            cmp(y, x).reverse(),
            "{eco:?}: {x:?} vs {y:?} not antisymmetric"
        );
    }
    let mut v = [a.as_ref(), b.as_ref(), c.as_ref()];
    v.sort_by(|x, y| cmp(x, y));
    assert_ne!(cmp(v[0], v[1]), Ordering::Greater);
    assert_ne!(cmp(v[1], v[2]), Ordering::Greater);
    assert_ne!(
        cmp(v[0], v[2]),
        Ordering::Greater,
        "{eco:?}: {:?} <= {:?} <= {:?} but not transitive",
        v[0],
        v[1],
        v[2]
    );
});
