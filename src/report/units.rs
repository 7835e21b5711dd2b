//! Formatting of hash counts and rates with SI prefixes (`21.7 MH/s`), and
//! parsing of the numbers users type on the command line.

/// A rate in hashes per second with an SI prefix, e.g. `21.7 MH/s`.
pub fn format_rate(hs: f64) -> String {
    format!("{}H/s", si(hs))
}

/// A count with an SI prefix, e.g. `16.8 M`.
pub fn format_count(n: f64) -> String {
    si(n).trim_end().to_string()
}

fn si(v: f64) -> String {
    const PREFIXES: [&str; 7] = ["", "k", "M", "G", "T", "P", "E"];
    let mut v = v;
    let mut i = 0;
    while v.abs() >= 1000.0 && i + 1 < PREFIXES.len() {
        v /= 1000.0;
        i += 1;
    }
    let digits = if v.abs() >= 100.0 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$} {}", PREFIXES[i])
}

/// A duration in seconds as `1h02m03s`, `4m05s` or `6.7s`.
pub fn format_duration(secs: f64) -> String {
    if !secs.is_finite() {
        return "forever".into();
    }
    if secs < 60.0 {
        return format!("{secs:.1}s");
    }
    let s = secs.round() as u64;
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h >= 24 * 365 {
        return format!("{:.1} years", secs / (365.25 * 86400.0));
    }
    if h > 0 {
        format!("{h}h{m:02}m{s:02}s")
    } else {
        format!("{m}m{s:02}s")
    }
}

/// A `u32` given in decimal or as `0x` hex.
pub fn parse_u32(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let r = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u32::from_str_radix(h, 16)
    } else {
        t.parse::<u32>()
    };
    r.map_err(|_| format!("{s:?} is not a number from 0 to 4294967295 (decimal or 0x hex)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(format_rate(21_700_000.0), "21.7 MH/s");
        assert_eq!(format_rate(950.0), "950 H/s");
        assert_eq!(format_rate(2_345_000_000.0), "2.35 GH/s");
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u32("0x10"), Ok(16));
        assert_eq!(parse_u32("4294967295"), Ok(u32::MAX));
        assert!(parse_u32("4294967296").is_err());
        assert!(parse_u32("-1").is_err());
        assert!(parse_u32("0xZZ").is_err());
    }
}
