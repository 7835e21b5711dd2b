//! `noncesweep profit` run as a user runs it: the real binary.

use std::process::Command;

fn profit(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_noncesweep"))
        .arg("profit")
        .args(args)
        .output()
        .expect("run noncesweep");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The example: 100 TH/s, difficulty 1e14, height 900,000,
/// 0.1 BTC fees, BTC at 100,000, 3 kW at 0.05 per kWh.
const EXAMPLE: &[&str] = &[
    "--hashrate",
    "100TH/s",
    "--difficulty",
    "1e14",
    "--height",
    "900000",
    "--fees-per-block",
    "0.1",
    "--btc-price",
    "100000",
    "--watts",
    "3000",
    "--price-kwh",
    "0.05",
];

fn close(got: &serde_json::Value, want: f64) {
    let g = got.as_f64().expect("a number");
    assert!(((g - want) / want).abs() < 5e-4, "got {g}, want {want}");
}

#[test]
fn json_example_to_four_significant_digits() {
    let mut args = EXAMPLE.to_vec();
    args.push("--json");
    let (ok, out, err) = profit(&args);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    let keys: std::collections::BTreeSet<&str> =
        v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    let want: std::collections::BTreeSet<&str> = [
        "hashrate_hs",
        "blocks_per_day",
        "btc_per_day",
        "revenue_per_day",
        "energy_cost_per_day",
        "net_per_day",
        "joules_per_th",
        "breakeven_price_kwh",
        "breakeven_btc_price",
        "hashprice_per_th_day",
        "expected_days_per_block",
        "p_block_day",
        "p_block_month",
        "p_block_year",
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, want);
    close(&v["hashrate_hs"], 1e14);
    close(&v["blocks_per_day"], 2.012e-5);
    close(&v["btc_per_day"], 6.487e-5);
    close(&v["revenue_per_day"], 6.487);
    close(&v["energy_cost_per_day"], 3.6);
    close(&v["net_per_day"], 2.887);
    close(&v["breakeven_price_kwh"], 0.09010);
    close(&v["breakeven_btc_price"], 55_491.0);
    close(&v["p_block_year"], 7.316e-3);
}

#[test]
fn pool_fee_lowers_the_net() {
    let mut args = EXAMPLE.to_vec();
    args.extend(["--pool-fee", "2", "--json"]);
    let (ok, out, err) = profit(&args);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    close(&v["revenue_per_day"], 6.487);
    close(&v["net_per_day"], 2.758);
}

#[test]
fn printed_form_has_a_verdict() {
    let (ok, out, err) = profit(EXAMPLE);
    assert!(ok, "{err}");
    let verdicts: Vec<&str> = out.lines().filter(|l| l.starts_with("Verdict:")).collect();
    assert_eq!(verdicts.len(), 1, "{out}");
    assert!(verdicts[0].contains("profitable on average"), "{out}");
    assert!(out.contains("3.125 BTC subsidy"), "{out}");
}

#[test]
fn hashrate_is_measured_when_omitted() {
    let args = [
        "--difficulty",
        "1e14",
        "--btc-price",
        "100000",
        "--watts",
        "50",
        "--price-kwh",
        "0.1",
        "--json",
    ];
    let (ok, out, err) = profit(&args);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v["hashrate_hs"].as_f64().unwrap() > 0.0);
    assert!(v["net_per_day"].as_f64().unwrap() < 0.0);
}

#[test]
fn bad_input_names_the_flag() {
    let with = |flag: &'static str, value: &'static str| -> Vec<&'static str> {
        let mut a = EXAMPLE.to_vec();
        let i = a.iter().position(|&x| x == flag).expect("flag in example");
        a[i + 1] = value;
        a
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (with("--hashrate", "5XH/s"), "--hashrate"),
        (with("--hashrate", "45"), "--hashrate"),
        (with("--hashrate", "2ZH/s"), "--hashrate"),
        (with("--hashrate", "0TH/s"), "--hashrate"),
        (with("--watts", "0"), "--watts"),
        (with("--watts", "-3"), "--watts"),
        (with("--price-kwh", "nan"), "--price-kwh"),
        (with("--btc-price", "inf"), "--btc-price"),
        (with("--difficulty", "0"), "--difficulty"),
        (with("--fees-per-block", "-1"), "--fees-per-block"),
        ([EXAMPLE, &["--pool-fee", "150"]].concat(), "--pool-fee"),
        (EXAMPLE[..EXAMPLE.len() - 2].to_vec(), "--price-kwh"),
    ];
    for (args, flag) in cases {
        let (ok, _, err) = profit(&args);
        assert!(!ok, "{args:?} succeeded");
        assert!(err.contains(flag), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
