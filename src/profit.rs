//! What mining earns: the profitability model behind `noncesweep profit`.
//!
//! Everything here is plain arithmetic on the user's inputs (hashrate,
//! power, prices, network difficulty, block height, fees, pool fee), so it
//! can be tested number by number. The expected hashes per block are the
//! exact `2^256 / (target + 1)` of [`crate::hashing::pow::expected_hashes_f64`], the
//! same figure `noncesweep teach` shows; the block subsidy follows the
//! halving schedule. `docs/profitability.md` derives every formula.

use serde::Serialize;

use crate::hashing::pow;

/// Satoshis per bitcoin.
pub const SATS_PER_BTC: u64 = 100_000_000;
/// The first block subsidy: 50 BTC.
pub const INITIAL_SUBSIDY_SATS: u64 = 50 * SATS_PER_BTC;
/// Blocks between halvings.
pub const HALVING_INTERVAL: u32 = bitcoin::blockdata::constants::SUBSIDY_HALVING_INTERVAL;
/// Seconds per day.
pub const DAY_SECS: f64 = 86_400.0;
/// Days the monthly probability is taken over.
pub const MONTH_DAYS: f64 = 30.0;
/// Days the yearly probability is taken over.
pub const YEAR_DAYS: f64 = 365.0;
/// The largest hashrate accepted: 1 ZH/s, far above the whole network.
pub const MAX_HASHRATE_HS: f64 = 1e21;

/// Input the model cannot use. Every message names the flag to fix.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProfitError {
    #[error("--hashrate is empty: give a rate such as 120TH/s or 45mh")]
    EmptyHashrate,
    #[error("--hashrate {0:?} does not start with a number (examples: 120TH/s, 45mh, 950H)")]
    HashrateNumber(String),
    #[error("--hashrate {0:?} has no unit: write it as 950H, 45MH/s, 120TH/s and so on")]
    HashrateNoUnit(String),
    #[error("--hashrate {input:?} has unknown unit {unit:?}: use H, kH, MH, GH, TH, PH or EH (any case), optionally followed by /s")]
    HashrateUnit { input: String, unit: String },
    #[error("{flag} is required{hint}")]
    Missing {
        flag: &'static str,
        hint: &'static str,
    },
    #[error("{flag} must be {rule}, got {value}")]
    OutOfRange {
        flag: &'static str,
        rule: &'static str,
        value: f64,
    },
    #[error("the block reward is zero at --height {height} (subsidy ended at the 64th halving) and --fees-per-block is 0: there is nothing to earn")]
    NoReward { height: u32 },
}

/// Parse a hashrate with units: a number, then an optional SI prefix
/// (`k`, `M`, `G`, `T`, `P`, `E`, in any case), then `H`, then an optional
/// `/s`. Spaces between the number and the unit are allowed:
/// `120TH/s`, `45mh`, `2.5 GH/s`, `950H`. Returns hashes per second.
pub fn parse_hashrate(s: &str) -> Result<f64, ProfitError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(ProfitError::EmptyHashrate);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| ProfitError::HashrateNumber(s.to_string()))?;
    let unit_err = || ProfitError::HashrateUnit {
        input: s.to_string(),
        unit: unit.trim().to_string(),
    };
    let u = unit.trim().to_ascii_lowercase();
    if u.is_empty() {
        return Err(ProfitError::HashrateNoUnit(s.to_string()));
    }
    let u = u.strip_suffix("/s").unwrap_or(&u);
    let prefix = u.strip_suffix('h').ok_or_else(unit_err)?;
    let scale = match prefix {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "p" => 1e15,
        "e" => 1e18,
        _ => return Err(unit_err()),
    };
    let hs = value * scale;
    check(
        "--hashrate",
        hs,
        hs > 0.0 && hs <= MAX_HASHRATE_HS,
        "more than 0 H/s and at most 1 ZH/s (1e21 H/s)",
    )?;
    Ok(hs)
}

/// The block subsidy at `height` in satoshis: 50 BTC shifted right once
/// per 210,000 blocks, and zero from the 64th halving on.
pub fn subsidy_sats(height: u32) -> u64 {
    let halvings = height / HALVING_INTERVAL;
    if halvings >= 64 {
        0
    } else {
        INITIAL_SUBSIDY_SATS >> halvings
    }
}

/// Block 840,000 (the fourth halving) and its timestamp: the anchor from
/// which the current height is estimated when no node is asked.
const ANCHOR_HEIGHT: u32 = 840_000;
const ANCHOR_TIME: u64 = 1_713_571_767;

/// The first height of the halving era that the clock says we are in:
/// the height is estimated from block 840,000 at one block per ten
/// minutes, then rounded down to a multiple of 210,000.
pub fn current_era_first_height(now_unix: u64) -> u32 {
    let blocks = now_unix.saturating_sub(ANCHOR_TIME) / 600;
    let estimate = u64::from(ANCHOR_HEIGHT) + blocks;
    let era = estimate / u64::from(HALVING_INTERVAL);
    u32::try_from(era * u64::from(HALVING_INTERVAL)).unwrap_or(u32::MAX)
}

/// What a node can tell the estimate: network difficulty, the height of
/// the next block and the average fees of recent blocks. `profit` takes
/// these as plain numbers so that any node client can supply them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NodeFacts {
    pub difficulty: f64,
    pub height: u32,
    pub fees_per_block_btc: f64,
}

/// The inputs as given on the command line: `None` means "not given".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProfitRequest {
    pub hashrate_hs: Option<f64>,
    pub watts: Option<f64>,
    pub price_kwh: Option<f64>,
    pub btc_price: Option<f64>,
    pub difficulty: Option<f64>,
    pub height: Option<u32>,
    pub fees_per_block_btc: Option<f64>,
    pub pool_fee_pct: Option<f64>,
}

/// Where the height came from, for the printed form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeightSource {
    Flag,
    Node,
    /// Estimated from the clock: the current era's first height.
    EraStart,
}

/// Complete, validated inputs of the model.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfitInputs {
    pub hashrate_hs: f64,
    pub watts: f64,
    pub price_kwh: f64,
    pub btc_price: f64,
    pub difficulty: f64,
    pub height: u32,
    pub height_source: HeightSource,
    pub fees_per_block_btc: f64,
    pub pool_fee_pct: f64,
}

fn check(flag: &'static str, value: f64, ok: bool, rule: &'static str) -> Result<(), ProfitError> {
    if value.is_finite() && ok {
        Ok(())
    } else {
        Err(ProfitError::OutOfRange { flag, rule, value })
    }
}

fn required(v: Option<f64>, flag: &'static str, hint: &'static str) -> Result<f64, ProfitError> {
    v.ok_or(ProfitError::Missing { flag, hint })
}

impl ProfitRequest {
    /// Fill what the request leaves out from the node (when one was read)
    /// and from defaults, then validate. Flags win over node values.
    pub fn resolve(
        &self,
        node: Option<&NodeFacts>,
        now_unix: u64,
    ) -> Result<ProfitInputs, ProfitError> {
        let hashrate_hs = required(
            self.hashrate_hs,
            "--hashrate",
            " (or let it be measured on this machine)",
        )?;
        let difficulty = required(
            self.difficulty.or(node.map(|n| n.difficulty)),
            "--difficulty",
            " (the network difficulty), or --rpc-url to read it from a node",
        )?;
        let (height, height_source) = match (self.height, node) {
            (Some(h), _) => (h, HeightSource::Flag),
            (None, Some(n)) => (n.height, HeightSource::Node),
            (None, None) => (current_era_first_height(now_unix), HeightSource::EraStart),
        };
        let inputs = ProfitInputs {
            hashrate_hs,
            watts: required(self.watts, "--watts", " (the miner's power draw in watts)")?,
            price_kwh: required(
                self.price_kwh,
                "--price-kwh",
                " (electricity price, currency per kWh)",
            )?,
            btc_price: required(self.btc_price, "--btc-price", " (currency per BTC)")?,
            difficulty,
            height,
            height_source,
            fees_per_block_btc: self
                .fees_per_block_btc
                .or(node.map(|n| n.fees_per_block_btc))
                .unwrap_or(0.0),
            pool_fee_pct: self.pool_fee_pct.unwrap_or(0.0),
        };
        inputs.validate()?;
        Ok(inputs)
    }
}

impl ProfitInputs {
    /// Reject zero, negative, non-finite and absurd values, naming the flag.
    pub fn validate(&self) -> Result<(), ProfitError> {
        let h = self.hashrate_hs;
        check(
            "--hashrate",
            h,
            h > 0.0 && h <= MAX_HASHRATE_HS,
            "more than 0 H/s and at most 1 ZH/s (1e21 H/s)",
        )?;
        let w = self.watts;
        check(
            "--watts",
            w,
            w > 0.0 && w <= 1e9,
            "more than 0 and at most 1e9 (1 GW)",
        )?;
        let p = self.price_kwh;
        check(
            "--price-kwh",
            p,
            p > 0.0 && p <= 1e6,
            "more than 0 and at most 1e6",
        )?;
        let b = self.btc_price;
        check(
            "--btc-price",
            b,
            b > 0.0 && b <= 1e13,
            "more than 0 and at most 1e13",
        )?;
        let d = self.difficulty;
        check(
            "--difficulty",
            d,
            d > 0.0 && d <= 1e30,
            "more than 0 and at most 1e30",
        )?;
        let f = self.fees_per_block_btc;
        check(
            "--fees-per-block",
            f,
            (0.0..=21e6).contains(&f),
            "at least 0 and at most 21,000,000 BTC",
        )?;
        let pf = self.pool_fee_pct;
        check(
            "--pool-fee",
            pf,
            (0.0..100.0).contains(&pf),
            "a percentage from 0 up to (not including) 100",
        )?;
        if subsidy_sats(self.height) == 0 && self.fees_per_block_btc == 0.0 {
            return Err(ProfitError::NoReward {
                height: self.height,
            });
        }
        Ok(())
    }
}

/// The model's results: exactly the keys of `profit --json`. Amounts are
/// in base units: hashes per second, BTC, the user's currency, joules,
/// days, probabilities from 0 to 1.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProfitOutput {
    pub hashrate_hs: f64,
    pub blocks_per_day: f64,
    /// BTC mined per day, before the pool fee.
    pub btc_per_day: f64,
    /// Currency per day, before the pool fee.
    pub revenue_per_day: f64,
    pub energy_cost_per_day: f64,
    /// Revenue after the pool fee, minus energy.
    pub net_per_day: f64,
    pub joules_per_th: f64,
    /// The electricity price at which `net_per_day` is zero.
    pub breakeven_price_kwh: f64,
    /// The BTC price at which `net_per_day` is zero.
    pub breakeven_btc_price: f64,
    /// Revenue per TH/s per day, before the pool fee.
    pub hashprice_per_th_day: f64,
    pub expected_days_per_block: f64,
    pub p_block_day: f64,
    pub p_block_month: f64,
    pub p_block_year: f64,
}

/// The results plus the intermediate figures the printed form shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    pub output: ProfitOutput,
    /// `2^256 / (target + 1)` for the network difficulty's target.
    pub expected_hashes: f64,
    pub subsidy_sats: u64,
    /// Subsidy plus fees, in BTC.
    pub reward_btc: f64,
    pub energy_kwh_per_day: f64,
}

/// The probability of at least one block when `lambda` are expected
/// (Poisson): `1 - e^-lambda`.
pub fn p_at_least_one(lambda: f64) -> f64 {
    -(-lambda).exp_m1()
}

/// Run the model on validated inputs.
pub fn estimate(inp: &ProfitInputs) -> Result<Estimate, ProfitError> {
    inp.validate()?;
    let target = pow::share_target(inp.difficulty).map_err(|_| ProfitError::OutOfRange {
        flag: "--difficulty",
        rule: "more than 0 and at most 1e30",
        value: inp.difficulty,
    })?;
    let expected_hashes = pow::expected_hashes_f64(target);
    let subsidy_sats = subsidy_sats(inp.height);
    let reward_btc = subsidy_sats as f64 / SATS_PER_BTC as f64 + inp.fees_per_block_btc;
    let blocks_per_day = inp.hashrate_hs * DAY_SECS / expected_hashes;
    let btc_per_day = blocks_per_day * reward_btc;
    let revenue_per_day = btc_per_day * inp.btc_price;
    let keep = 1.0 - inp.pool_fee_pct / 100.0;
    let energy_kwh_per_day = inp.watts / 1000.0 * 24.0;
    let energy_cost_per_day = energy_kwh_per_day * inp.price_kwh;
    let th = inp.hashrate_hs / 1e12;
    let output = ProfitOutput {
        hashrate_hs: inp.hashrate_hs,
        blocks_per_day,
        btc_per_day,
        revenue_per_day,
        energy_cost_per_day,
        net_per_day: revenue_per_day * keep - energy_cost_per_day,
        joules_per_th: inp.watts / th,
        breakeven_price_kwh: revenue_per_day * keep / energy_kwh_per_day,
        breakeven_btc_price: energy_cost_per_day / (btc_per_day * keep),
        hashprice_per_th_day: revenue_per_day / th,
        expected_days_per_block: 1.0 / blocks_per_day,
        p_block_day: p_at_least_one(blocks_per_day),
        p_block_month: p_at_least_one(blocks_per_day * MONTH_DAYS),
        p_block_year: p_at_least_one(blocks_per_day * YEAR_DAYS),
    };
    Ok(Estimate {
        output,
        expected_hashes,
        subsidy_sats,
        reward_btc,
        energy_kwh_per_day,
    })
}

/// The one-line verdict of the printed form.
pub fn verdict(e: &Estimate) -> String {
    let o = &e.output;
    let money = if o.net_per_day >= 0.0 {
        format!(
            "profitable on average: {:.2} per day after the pool fee and energy",
            o.net_per_day
        )
    } else {
        format!(
            "not profitable: loses {:.2} per day; it breaks even at electricity of {} per kWh or a BTC price of {:.0}",
            -o.net_per_day,
            sig(o.breakeven_price_kwh),
            o.breakeven_btc_price
        )
    };
    let luck = if o.expected_days_per_block > 365.0 {
        format!(
            "; solo, a block takes {:.0} years on average (a pool pays the same expectation in small, steady amounts)",
            o.expected_days_per_block / YEAR_DAYS
        )
    } else {
        String::new()
    };
    format!("Verdict: {money}{luck}.")
}

/// A number with 4 significant digits, without an exponent for ordinary sizes.
pub fn sig(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let mag = v.abs().log10().floor() as i32;
    if !(-6..=12).contains(&mag) {
        return format!("{v:.3e}");
    }
    let decimals = (3 - mag).max(0) as usize;
    format!("{v:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative agreement to 4 significant digits.
    fn close(got: f64, want: f64) {
        assert!(
            ((got - want) / want).abs() < 5e-4,
            "got {got}, want {want} (4 significant digits)"
        );
    }

    fn example() -> ProfitInputs {
        ProfitInputs {
            hashrate_hs: 100e12,
            watts: 3000.0,
            price_kwh: 0.05,
            btc_price: 100_000.0,
            difficulty: 1e14,
            height: 900_000,
            height_source: HeightSource::Flag,
            fees_per_block_btc: 0.1,
            pool_fee_pct: 0.0,
        }
    }

    #[test]
    fn subsidy_schedule() {
        let cases: &[(u32, u64)] = &[
            (0, 5_000_000_000),
            (209_999, 5_000_000_000),
            (210_000, 2_500_000_000),
            (419_999, 2_500_000_000),
            (420_000, 1_250_000_000),
            (840_000, 312_500_000),
            (1_050_000, 156_250_000),
            (13_440_000, 0),
        ];
        for &(h, want) in cases {
            assert_eq!(subsidy_sats(h), want, "height {h}");
        }
        // The last non-zero subsidy: one satoshi in the 33rd era, zero from 33 halvings on.
        assert_eq!(subsidy_sats(32 * 210_000), 1);
        assert_eq!(subsidy_sats(33 * 210_000), 0);
        assert_eq!(subsidy_sats(u32::MAX), 0);
    }

    #[test]
    fn expected_hashes_at_difficulty_one() {
        let e = pow::expected_hashes_f64(pow::share_target(1.0).unwrap());
        assert!((e - 4_295_032_833.0).abs() < 1.0, "{e}");
    }

    #[test]
    fn hand_computed_example() {
        // 100 TH/s at difficulty 1e14, height 900,000 (3.125 BTC) + 0.1 BTC
        // fees, BTC at 100,000, 3 kW at 0.05 per kWh. By hand:
        // hashes per block = 1e14 * 2^48 / 65535 = 4.295033e23;
        // blocks/day = 1e14 * 86400 / 4.295033e23 = 2.011626e-5;
        // BTC/day = 2.011626e-5 * 3.225 = 6.487494e-5; revenue = 6.487494;
        // energy = 3 kW * 24 h * 0.05 = 3.6; net = 2.887494.
        let e = estimate(&example()).unwrap();
        let o = &e.output;
        assert_eq!(e.subsidy_sats, 312_500_000);
        close(e.expected_hashes, 4.295e23);
        close(o.blocks_per_day, 2.012e-5);
        close(o.btc_per_day, 6.487e-5);
        close(o.revenue_per_day, 6.487);
        close(o.energy_cost_per_day, 3.6);
        close(o.net_per_day, 2.887);
        close(o.joules_per_th, 30.0);
        close(o.hashprice_per_th_day, 0.06487);
        close(o.expected_days_per_block, 49_711.0);
    }

    #[test]
    fn poisson_probabilities() {
        // lambda = 2.011626e-5 per day: 1 - e^-lambda for 1, 30 and 365 days.
        let o = estimate(&example()).unwrap().output;
        close(o.p_block_day, 2.012e-5);
        close(o.p_block_month, 6.033e-4);
        close(o.p_block_year, 7.316e-3);
        close(p_at_least_one(1.0), 0.6321);
        close(p_at_least_one(3.0), 0.9502);
        assert_eq!(p_at_least_one(0.0), 0.0);
    }

    #[test]
    fn break_even() {
        // 6.487494 revenue over 72 kWh; 3.6 energy over 6.487494e-5 BTC.
        let o = estimate(&example()).unwrap().output;
        close(o.breakeven_price_kwh, 0.09010);
        close(o.breakeven_btc_price, 55_491.0);
        // At the break-even prices the net is zero.
        let mut at = example();
        at.price_kwh = o.breakeven_price_kwh;
        assert!(estimate(&at).unwrap().output.net_per_day.abs() < 1e-9);
        let mut at = example();
        at.btc_price = o.breakeven_btc_price;
        assert!(estimate(&at).unwrap().output.net_per_day.abs() < 1e-9);
    }

    #[test]
    fn pool_fee_applied() {
        // 2% pool fee: net = 6.487494 * 0.98 - 3.6 = 2.757744.
        let mut inp = example();
        inp.pool_fee_pct = 2.0;
        let o = estimate(&inp).unwrap().output;
        close(o.revenue_per_day, 6.487);
        close(o.net_per_day, 2.758);
        close(o.breakeven_price_kwh, 0.08830);
        close(o.breakeven_btc_price, 56_624.0);
    }

    #[test]
    fn hashrate_units() {
        assert_eq!(parse_hashrate("120TH/s").unwrap(), 120e12);
        assert_eq!(parse_hashrate("45mh").unwrap(), 45e6);
        assert_eq!(parse_hashrate("45MH/S").unwrap(), 45e6);
        assert_eq!(parse_hashrate("950H").unwrap(), 950.0);
        assert_eq!(parse_hashrate("2.5 gh/s").unwrap(), 2.5e9);
        assert_eq!(parse_hashrate("1kH").unwrap(), 1e3);
        assert_eq!(parse_hashrate("3ph").unwrap(), 3e15);
        assert_eq!(parse_hashrate("1EH/s").unwrap(), 1e18);
        assert_eq!(parse_hashrate("1000EH/s").unwrap(), 1e21);
    }

    #[test]
    fn hashrate_unit_errors() {
        assert_eq!(parse_hashrate(" "), Err(ProfitError::EmptyHashrate));
        assert!(matches!(
            parse_hashrate("TH/s"),
            Err(ProfitError::HashrateNumber(_))
        ));
        assert_eq!(
            parse_hashrate("5"),
            Err(ProfitError::HashrateNoUnit("5".into()))
        );
        for bad in ["5XH/s", "5T", "5 TH/m", "5THs", "5hh"] {
            let e = parse_hashrate(bad).unwrap_err();
            assert!(
                matches!(e, ProfitError::HashrateUnit { .. }),
                "{bad}: {e:?}"
            );
            assert!(e.to_string().contains("--hashrate"), "{e}");
        }
        for bad in ["0TH/s", "1.1ZH", "1001EH/s"] {
            let e = parse_hashrate(bad).unwrap_err();
            assert!(e.to_string().contains("--hashrate"), "{bad}: {e}");
        }
        assert!(matches!(
            parse_hashrate("1001EH/s"),
            Err(ProfitError::OutOfRange { .. })
        ));
    }

    #[test]
    fn validation_names_the_flag() {
        type Breaker = fn(&mut ProfitInputs);
        let cases: Vec<(Breaker, &str)> = vec![
            (|i| i.watts = 0.0, "--watts"),
            (|i| i.watts = -5.0, "--watts"),
            (|i| i.price_kwh = f64::NAN, "--price-kwh"),
            (|i| i.btc_price = f64::INFINITY, "--btc-price"),
            (|i| i.difficulty = 0.0, "--difficulty"),
            (|i| i.pool_fee_pct = 101.0, "--pool-fee"),
            (|i| i.pool_fee_pct = -1.0, "--pool-fee"),
            (|i| i.fees_per_block_btc = -0.1, "--fees-per-block"),
            (|i| i.hashrate_hs = 2e21, "--hashrate"),
        ];
        for (break_it, flag) in cases {
            let mut inp = example();
            break_it(&mut inp);
            let e = estimate(&inp).unwrap_err();
            assert!(e.to_string().starts_with(flag), "{flag}: {e}");
        }
        let mut inp = example();
        inp.height = 13_440_000;
        inp.fees_per_block_btc = 0.0;
        assert_eq!(
            estimate(&inp).unwrap_err(),
            ProfitError::NoReward { height: 13_440_000 }
        );
    }

    #[test]
    fn resolve_uses_flags_then_node_then_defaults() {
        let req = ProfitRequest {
            hashrate_hs: Some(1e12),
            watts: Some(100.0),
            price_kwh: Some(0.1),
            btc_price: Some(50_000.0),
            ..Default::default()
        };
        let e = req.resolve(None, 0).unwrap_err();
        assert!(e.to_string().starts_with("--difficulty is required"), "{e}");
        let node = NodeFacts {
            difficulty: 2e14,
            height: 930_123,
            fees_per_block_btc: 0.05,
        };
        let inp = req.resolve(Some(&node), 0).unwrap();
        assert_eq!(inp.difficulty, 2e14);
        assert_eq!(inp.height, 930_123);
        assert_eq!(inp.height_source, HeightSource::Node);
        assert_eq!(inp.fees_per_block_btc, 0.05);
        let flags = ProfitRequest {
            difficulty: Some(1e14),
            height: Some(5),
            fees_per_block_btc: Some(0.0),
            ..req.clone()
        };
        let inp = flags.resolve(Some(&node), 0).unwrap();
        assert_eq!(
            (inp.difficulty, inp.height, inp.fees_per_block_btc),
            (1e14, 5, 0.0)
        );
        // No node and no --height: the era start estimated from the clock.
        let no_height = ProfitRequest {
            difficulty: Some(1e14),
            ..req
        };
        let inp = no_height.resolve(None, 1_800_000_000).unwrap();
        assert_eq!(inp.height, 840_000);
        assert_eq!(inp.height_source, HeightSource::EraStart);
        assert_eq!(current_era_first_height(1_713_571_767), 840_000);
        // 210,000 blocks of 10 minutes after block 840,000.
        assert_eq!(
            current_era_first_height(1_713_571_767 + 126_000_000),
            1_050_000
        );
    }

    #[test]
    fn significant_digits() {
        assert_eq!(sig(0.0901040), "0.09010");
        assert_eq!(sig(55491.38), "55491");
        assert_eq!(sig(6.487494), "6.487");
    }
}
