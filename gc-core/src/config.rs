//! The environment, read once: `GCTRACE`, `GCPERCENT`, `GCMEMLIMIT`, `GCHARDLIMIT`,
//! `GCCHECKMARK`, `GCPOISON`, `GCMARKPROCS`, `GCFENCE`.
//! A bad value gets one line on stderr naming the variable and the value, and the default.

use std::sync::OnceLock;

/// The byte freed slots are filled with under `GCPOISON=1`.
///
/// # Example
/// ```
/// assert_eq!(tricolor_gc::POISON_BYTE, 0xDB);
/// ```
pub const POISON_BYTE: u8 = 0xDB;

/// The parsed environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    pub trace: u8,
    /// `None` means `off`.
    pub gc_percent: Option<i32>,
    pub mem_limit: Option<u64>,
    pub hard_limit: Option<u64>,
    pub checkmark: bool,
    pub poison: bool,
    /// Background mark workers; `None`: a quarter of the cores, at least one (Go's dedicated
    /// workers). Set it to measure how marking scales, as `GOMAXPROCS` does for Go.
    pub mark_procs: Option<usize>,
    /// `GCFENCE=symmetric`: mutators fence for real on entering an operation, as before the
    /// asymmetric fences (module `membarrier`); to measure what those save, or to rule them out.
    pub symmetric_fences: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            trace: 0,
            gc_percent: Some(100),
            mem_limit: None,
            hard_limit: None,
            checkmark: false,
            poison: false,
            mark_procs: None,
            symmetric_fences: false,
        }
    }
}

static CONFIG: OnceLock<Config> = OnceLock::new();

pub(crate) fn get() -> &'static Config {
    CONFIG.get_or_init(|| {
        let (c, warnings) = parse(|k| std::env::var(k).ok());
        for w in warnings {
            crate::throw::stderr_line(&w);
        }
        c
    })
}

/// Parses the variables that `lookup` returns; returns the config and one warning per bad value.
pub(crate) fn parse(lookup: impl Fn(&str) -> Option<String>) -> (Config, Vec<String>) {
    let mut c = Config::default();
    let mut warn = Vec::new();
    let mut bad = |var: &str, v: &str, what: &str, default: &str| {
        warn.push(format!(
            "tricolor: invalid {var}={v:?} ({what}); using the default, {default}"
        ))
    };
    if let Some(v) = lookup("GCTRACE") {
        match v.trim().parse::<u8>() {
            Ok(n) if n <= 2 => c.trace = n,
            _ => bad("GCTRACE", &v, "expected 0, 1 or 2", "0"),
        }
    }
    if let Some(v) = lookup("GCPERCENT") {
        let t = v.trim();
        if t.eq_ignore_ascii_case("off") {
            c.gc_percent = None;
        } else {
            match t.parse::<i32>() {
                Ok(n) if n < 0 => c.gc_percent = None,
                Ok(n) => c.gc_percent = Some(n),
                Err(_) => bad("GCPERCENT", &v, "expected an integer or off", "100"),
            }
        }
    }
    if let Some(v) = lookup("GCMEMLIMIT") {
        match parse_bytes(&v) {
            Some(n) => c.mem_limit = Some(n),
            None => bad(
                "GCMEMLIMIT",
                &v,
                "expected bytes with an optional B, KiB, MiB, GiB or TiB suffix",
                "no limit",
            ),
        }
    }
    if let Some(v) = lookup("GCHARDLIMIT") {
        match parse_bytes(&v) {
            Some(n) => c.hard_limit = Some(n),
            None => bad(
                "GCHARDLIMIT",
                &v,
                "expected bytes with an optional B, KiB, MiB, GiB or TiB suffix",
                "no limit",
            ),
        }
    }
    for (var, field) in [
        ("GCCHECKMARK", &mut c.checkmark),
        ("GCPOISON", &mut c.poison),
    ] {
        if let Some(v) = lookup(var) {
            match v.trim() {
                "0" | "" => *field = false,
                "1" => *field = true,
                _ => bad(var, &v, "expected 0 or 1", "0"),
            }
        }
    }
    if let Some(v) = lookup("GCMARKPROCS") {
        match v.trim().parse::<usize>() {
            Ok(n) if (1..=256).contains(&n) => c.mark_procs = Some(n),
            _ => bad(
                "GCMARKPROCS",
                &v,
                "expected a number of threads from 1 to 256",
                "a quarter of the cores",
            ),
        }
    }
    if let Some(v) = lookup("GCFENCE") {
        match v.trim() {
            "asymmetric" | "" => c.symmetric_fences = false,
            "symmetric" => c.symmetric_fences = true,
            _ => bad(
                "GCFENCE",
                &v,
                "expected asymmetric or symmetric",
                "asymmetric",
            ),
        }
    }
    (c, warn)
}

/// Go's `GOMEMLIMIT` syntax: a non-negative integer with an optional unit.
pub(crate) fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mul: u64 = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mul)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> (Config, Vec<String>) {
        let m: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse(|k| m.get(k).cloned())
    }

    #[test]
    fn valid_values() {
        let (c, w) = env(&[
            ("GCTRACE", "1"),
            ("GCPERCENT", "50"),
            ("GCMEMLIMIT", "64MiB"),
            ("GCHARDLIMIT", "1GiB"),
            ("GCCHECKMARK", "1"),
            ("GCMARKPROCS", "2"),
            ("GCFENCE", "symmetric"),
        ]);
        assert!(w.is_empty());
        assert!(c.symmetric_fences);
        assert_eq!(c.mark_procs, Some(2));
        assert_eq!(c.trace, 1);
        assert_eq!(c.gc_percent, Some(50));
        assert_eq!(c.mem_limit, Some(64 << 20));
        assert_eq!(c.hard_limit, Some(1 << 30));
        assert!(c.checkmark);
        assert_eq!(env(&[("GCPERCENT", "off")]).0.gc_percent, None);
        assert_eq!(env(&[("GCPERCENT", "-1")]).0.gc_percent, None);
        assert_eq!(parse_bytes("123"), Some(123));
        assert_eq!(parse_bytes("2GiB"), Some(2 << 30));
        assert_eq!(parse_bytes("1TiB"), Some(1 << 40));
        assert_eq!(parse_bytes("7B"), Some(7));
    }

    #[test]
    fn invalid_values_warn_once_each_and_keep_defaults() {
        let (c, w) = env(&[
            ("GCTRACE", "yes"),
            ("GCPERCENT", "lots"),
            ("GCMEMLIMIT", "12XB"),
            ("GCCHECKMARK", "maybe"),
            ("GCHARDLIMIT", "lots"),
            ("GCMARKPROCS", "0"),
            ("GCFENCE", "sometimes"),
        ]);
        assert_eq!(c, Config::default());
        assert_eq!(w.len(), 7);
        assert!(w[0].contains("GCTRACE") && w[0].contains("yes"));
        assert!(w[1].contains("GCPERCENT") && w[1].contains("lots"));
        assert!(w[2].contains("GCMEMLIMIT") && w[2].contains("12XB"));
        assert!(w[3].contains("GCHARDLIMIT") && w[3].contains("lots"));
        assert!(w[4].contains("GCCHECKMARK") && w[4].contains("maybe"));
        assert!(w[5].contains("GCMARKPROCS") && w[5].contains("\"0\""));
        assert!(w[6].contains("GCFENCE") && w[6].contains("sometimes"));
        assert_eq!(env(&[("GCMARKPROCS", "many")]).1.len(), 1);
        assert_eq!(parse_bytes("99999999999999999999GiB"), None);
        assert_eq!(parse_bytes("-5"), None);
    }
}
