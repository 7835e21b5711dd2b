//! `noncesweep profit`: what this machine (or a given hashrate) would earn.
//! Parses the flags, measures the hashrate when none is given, and prints
//! the estimate of [`noncesweep::profit`] (or one JSON object).

use anyhow::{Context, Result};
use clap::Args;
use noncesweep::bench;
use noncesweep::profit::{self, HeightSource, NodeFacts, ProfitInputs, ProfitRequest};
use noncesweep::report::units::format_rate;

use super::node::NodeArgs;
use super::Common;

/// Seconds of hashing when the hashrate is measured.
const MEASURE_SECS: f64 = 1.0;

#[derive(Debug, Args)]
pub struct ProfitArgs {
    /// Hashrate with units, e.g. 120TH/s or 45mh (default: measured here for about a second).
    #[arg(long, value_name = "RATE", value_parser = parse_rate, allow_hyphen_values = true)]
    pub hashrate: Option<f64>,
    /// Power draw of the miner in watts.
    #[arg(long, value_name = "W", allow_negative_numbers = true)]
    pub watts: Option<f64>,
    /// Electricity price, currency per kWh.
    #[arg(long, value_name = "PRICE", allow_negative_numbers = true)]
    pub price_kwh: Option<f64>,
    /// Bitcoin price, currency per BTC.
    #[arg(long, value_name = "PRICE", allow_negative_numbers = true)]
    pub btc_price: Option<f64>,
    /// Network difficulty.
    #[arg(long, value_name = "D", allow_negative_numbers = true)]
    pub difficulty: Option<f64>,
    /// Block height, for the subsidy (default: the first height of the current halving era).
    #[arg(long, value_name = "N")]
    pub height: Option<u32>,
    /// Average transaction fees per block, in BTC (default 0).
    #[arg(long, value_name = "BTC", allow_negative_numbers = true)]
    pub fees_per_block: Option<f64>,
    /// Pool fee in percent (default 0).
    #[arg(long, value_name = "PCT", allow_negative_numbers = true)]
    pub pool_fee: Option<f64>,
    /// Print one JSON object on stdout instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// Read difficulty, height and recent fees from this node's RPC
    /// (authentication as for `solo`).
    #[arg(long = "rpc-url", visible_alias = "url", value_name = "URL")]
    pub rpc_url: Option<String>,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// Blocks whose fees are averaged for `fees_per_block`.
const FEE_BLOCKS: u64 = 6;

/// What the node at `--rpc-url` says: difficulty, the next block's height,
/// and the average fees of its last blocks (`getblockstats`; 0 with a
/// warning where the node cannot tell).
pub fn node_facts(args: &ProfitArgs) -> Result<Option<NodeFacts>> {
    let Some(url) = &args.rpc_url else {
        return Ok(None);
    };
    let rpc = args.node.client(url, std::time::Duration::from_secs(30))?;
    let info = rpc
        .call("getblockchaininfo", serde_json::json!([]))
        .map_err(|e| anyhow::anyhow!("reading the node at {url}: {e}"))?;
    let difficulty = info["difficulty"]
        .as_f64()
        .context("the node's getblockchaininfo has no numeric \"difficulty\"")?;
    let blocks = info["blocks"]
        .as_u64()
        .context("the node's getblockchaininfo has no \"blocks\" count")?;
    let first = blocks.saturating_sub(FEE_BLOCKS - 1).max(1);
    let mut total_sat = 0u64;
    let mut counted = 0u64;
    for h in first..=blocks {
        match rpc.call("getblockstats", serde_json::json!([h, ["totalfee"]])) {
            Ok(v) => {
                total_sat += v["totalfee"].as_u64().unwrap_or(0);
                counted += 1;
            }
            Err(e) => {
                tracing::warn!(
                    "the node cannot report block fees (getblockstats: {e}); assuming 0"
                );
                break;
            }
        }
    }
    let fees = if counted > 0 {
        total_sat as f64 / counted as f64 / 1e8
    } else {
        0.0
    };
    tracing::info!(
        difficulty,
        height = blocks + 1,
        fees_per_block_btc = fees,
        "read from the node"
    );
    Ok(Some(NodeFacts {
        difficulty,
        height: u32::try_from(blocks + 1).context("the node's block count is out of range")?,
        fees_per_block_btc: fees,
    }))
}

fn parse_rate(s: &str) -> Result<f64, String> {
    profit::parse_hashrate(s).map_err(|e| e.to_string())
}

/// Run the estimate. `node` holds what a node reported, when one was read:
/// its difficulty, height and fees fill the flags that were not given.
pub fn run(common: &Common, args: &ProfitArgs, node: Option<&NodeFacts>) -> Result<()> {
    let mut req = ProfitRequest {
        hashrate_hs: args.hashrate,
        watts: args.watts,
        price_kwh: args.price_kwh,
        btc_price: args.btc_price,
        difficulty: args.difficulty,
        height: args.height,
        fees_per_block_btc: args.fees_per_block,
        pool_fee_pct: args.pool_fee,
    };
    // Check every other input before spending a second on the benchmark.
    let measured = req.hashrate_hs.is_none();
    if measured {
        req.hashrate_hs = Some(1.0);
        req.resolve(node, now_unix())?;
        let selection = common.selection();
        let backend = selection.backend();
        let threads = common.threads();
        let r = bench::measure(&selection, threads, MEASURE_SECS)
            .context("measuring this machine's hashrate")?;
        tracing::info!(backend = %backend, threads, hashrate = %format_rate(r.hashrate), "measured this machine's hashrate");
        req.hashrate_hs = Some(r.hashrate);
    }
    let inputs = req.resolve(node, now_unix())?;
    let est = profit::estimate(&inputs)?;
    if args.json {
        println!("{}", serde_json::to_string(&est.output)?);
    } else {
        print_report(&inputs, &est, measured);
    }
    Ok(())
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn print_report(inp: &ProfitInputs, est: &profit::Estimate, measured: bool) {
    use profit::sig;
    let o = &est.output;
    let how = if measured {
        " (measured on this machine)"
    } else {
        ""
    };
    let height_note = match inp.height_source {
        HeightSource::Flag => "",
        HeightSource::Node => " (from the node)",
        HeightSource::EraStart => {
            " (first height of the current halving era, estimated from the clock; set --height)"
        }
    };
    println!("Inputs");
    println!(
        "  hashrate            {}{how}",
        format_rate(inp.hashrate_hs)
    );
    println!("  power               {} W", sig(inp.watts));
    println!("  electricity         {} per kWh", sig(inp.price_kwh));
    println!("  BTC price           {}", sig(inp.btc_price));
    println!("  network difficulty  {}", sig(inp.difficulty));
    println!(
        "  hashes per block    {:.6e} (2^256 / (target + 1))",
        est.expected_hashes
    );
    println!("  height              {}{height_note}", inp.height);
    println!(
        "  block reward        {} BTC subsidy + {} BTC fees = {} BTC",
        est.subsidy_sats as f64 / profit::SATS_PER_BTC as f64,
        inp.fees_per_block_btc,
        est.reward_btc
    );
    println!("  pool fee            {}%", inp.pool_fee_pct);
    println!("Per day");
    println!("  blocks              {}", sig(o.blocks_per_day));
    println!("  BTC                 {}", sig(o.btc_per_day));
    println!(
        "  revenue             {} (before the pool fee)",
        sig(o.revenue_per_day)
    );
    println!(
        "  energy cost         {} ({} kWh)",
        sig(o.energy_cost_per_day),
        sig(est.energy_kwh_per_day)
    );
    println!("  net                 {}", sig(o.net_per_day));
    println!("Efficiency and break-even");
    println!("  efficiency          {} J/TH", sig(o.joules_per_th));
    println!(
        "  hashprice           {} per TH/s per day",
        sig(o.hashprice_per_th_day)
    );
    println!(
        "  break-even power    {} per kWh",
        sig(o.breakeven_price_kwh)
    );
    println!("  break-even BTC      {}", sig(o.breakeven_btc_price));
    println!("Luck (solo, Poisson)");
    println!(
        "  expected wait       {} days per block",
        sig(o.expected_days_per_block)
    );
    println!(
        "  P(>= 1 block)       day {}%, month (30 d) {}%, year (365 d) {}%",
        sig(100.0 * o.p_block_day),
        sig(100.0 * o.p_block_month),
        sig(100.0 * o.p_block_year)
    );
    println!("{}", profit::verdict(est));
}
