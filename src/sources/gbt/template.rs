//! A `getblocktemplate` answer, validated, and the job built from it.
//!
//! The template is checked before a single hash is spent on it: required
//! fields present and well formed, every transaction decodable with the txid
//! the node states, and no `!` rule noncesweep does not understand. The job
//! uses noncesweep's own coinbase ([`CoinbaseBuilder`]): BIP34 height, an
//! 8-byte extranonce the engine rolls, the user's tag, the payout of
//! `coinbasevalue`, and, when the template commits to witnesses, the BIP141
//! commitment computed here from the wtxids and checked against the node's
//! `default_witness_commitment`. A template without segwit (for example
//! from a node without segwit) gets no commitment.

use std::sync::Arc;

use bitcoin::consensus::encode::deserialize;
use bitcoin::{Amount, Block, BlockHash, CompactTarget, ScriptBuf, Transaction, Txid, Wtxid};
use serde_json::Value;

use crate::hashing::coinbase::{self, CoinbaseBuilder, CoinbaseError, DEFAULT_EXTRANONCE_LEN};
use crate::hashing::header::HeaderTemplate;
use crate::hashing::work::{Job, Share};

/// The request noncesweep sends: it builds its own coinbase
/// (`coinbasevalue`) and follows the tip (`longpoll`).
pub fn request(longpollid: Option<&str>) -> Value {
    let mut req = serde_json::json!({
        "rules": ["segwit"],
        "capabilities": ["coinbasevalue", "longpoll"],
    });
    if let Some(id) = longpollid {
        req["longpollid"] = Value::String(id.to_string());
    }
    req
}

/// Rules noncesweep knows how to obey. A `!`-prefixed rule outside this list
/// means the template must not be mined.
pub const KNOWN_RULES: &[&str] = &["segwit", "csv", "taproot", "signet", "testdummy"];

/// A template that cannot be mined.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("the block template is missing the required field `{0}`")]
    Missing(&'static str),
    #[error("the block template's field `{field}` is invalid: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("the block template requires the rule `{0}`, which noncesweep does not know; refusing to mine it")]
    UnknownRule(String),
    #[error("the witness commitment computed from the template's transactions ({computed}) differs from the node's default_witness_commitment ({node})")]
    CommitmentMismatch { computed: String, node: String },
    #[error(transparent)]
    Coinbase(#[from] CoinbaseError),
}

/// One transaction of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateTx {
    pub tx: Transaction,
    pub txid: Txid,
    pub wtxid: Wtxid,
}

/// A validated `getblocktemplate` answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockTemplate {
    pub version: i32,
    pub previous_block_hash: BlockHash,
    pub transactions: Vec<TemplateTx>,
    pub coinbase_value: Amount,
    pub bits: CompactTarget,
    pub curtime: u32,
    pub height: u32,
    pub longpollid: Option<String>,
    pub default_witness_commitment: Option<ScriptBuf>,
    pub rules: Vec<String>,
}

fn field<'a>(v: &'a Value, name: &'static str) -> Result<&'a Value, TemplateError> {
    match v.get(name) {
        None | Some(Value::Null) => Err(TemplateError::Missing(name)),
        Some(x) => Ok(x),
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> TemplateError {
    TemplateError::Invalid {
        field,
        reason: reason.into(),
    }
}

fn uint(v: &Value, name: &'static str, max: u64) -> Result<u64, TemplateError> {
    let n = field(v, name)?
        .as_u64()
        .ok_or_else(|| invalid(name, "not a non-negative integer"))?;
    if n > max {
        return Err(invalid(name, format!("{n} is out of range")));
    }
    Ok(n)
}

fn hex_str<'a>(v: &'a Value, name: &'static str) -> Result<&'a str, TemplateError> {
    field(v, name)?
        .as_str()
        .ok_or_else(|| invalid(name, "not a string"))
}

impl BlockTemplate {
    /// Parse and validate a template.
    pub fn from_json(v: &Value) -> Result<BlockTemplate, TemplateError> {
        if !v.is_object() {
            return Err(invalid("template", "not a JSON object"));
        }
        let rules: Vec<String> = match v.get("rules") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|r| {
                    r.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| invalid("rules", "an entry is not a string"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid("rules", "not an array")),
        };
        for r in &rules {
            if let Some(name) = r.strip_prefix('!') {
                if !KNOWN_RULES.contains(&name) {
                    return Err(TemplateError::UnknownRule(r.clone()));
                }
            }
        }
        let version = field(v, "version")?
            .as_i64()
            .and_then(|n| {
                i32::try_from(n)
                    .ok()
                    .or(u32::try_from(n).ok().map(|u| u as i32))
            })
            .ok_or_else(|| invalid("version", "not a 32-bit integer"))?;
        let previous_block_hash: BlockHash = hex_str(v, "previousblockhash")?
            .parse()
            .map_err(|e| invalid("previousblockhash", format!("{e}")))?;
        let bits_hex = hex_str(v, "bits")?;
        let bits = u32::from_str_radix(bits_hex, 16)
            .ok()
            .filter(|_| bits_hex.len() == 8)
            .ok_or_else(|| invalid("bits", format!("{bits_hex:?} is not 8 hex digits")))?;
        let coinbase_value =
            Amount::from_sat(uint(v, "coinbasevalue", Amount::MAX_MONEY.to_sat())?);
        let curtime = uint(v, "curtime", u32::MAX.into())? as u32;
        let height = uint(v, "height", 0x7fff_ffff)? as u32;
        if height == 0 {
            return Err(invalid("height", "0 (the genesis block is not mined)"));
        }
        let txs = field(v, "transactions")?
            .as_array()
            .ok_or_else(|| invalid("transactions", "not an array"))?;
        let transactions = txs
            .iter()
            .enumerate()
            .map(|(i, t)| parse_tx(i, t))
            .collect::<Result<Vec<_>, _>>()?;
        let longpollid = v
            .get("longpollid")
            .and_then(Value::as_str)
            .map(str::to_string);
        let default_witness_commitment = match v.get("default_witness_commitment") {
            None | Some(Value::Null) => None,
            Some(c) => {
                let h = c
                    .as_str()
                    .ok_or_else(|| invalid("default_witness_commitment", "not a string"))?;
                Some(ScriptBuf::from_bytes(hex::decode(h).map_err(|e| {
                    invalid("default_witness_commitment", e.to_string())
                })?))
            }
        };
        Ok(BlockTemplate {
            version,
            previous_block_hash,
            transactions,
            coinbase_value,
            bits: CompactTarget::from_consensus(bits),
            curtime,
            height,
            longpollid,
            default_witness_commitment,
            rules,
        })
    }

    /// Whether blocks built on this template commit to witnesses (BIP141).
    pub fn has_segwit(&self) -> bool {
        self.default_witness_commitment.is_some()
            || self
                .rules
                .iter()
                .any(|r| r.trim_start_matches('!') == "segwit")
    }

    /// The witness commitment output for this template, computed from the
    /// transactions' wtxids and checked against the node's own value.
    pub fn witness_commitment(&self) -> Result<Option<ScriptBuf>, TemplateError> {
        if !self.has_segwit() {
            return Ok(None);
        }
        let wtxids: Vec<Wtxid> = self.transactions.iter().map(|t| t.wtxid).collect();
        let computed = coinbase::witness_commitment_script(&wtxids);
        if let Some(node) = &self.default_witness_commitment {
            if *node != computed {
                return Err(TemplateError::CommitmentMismatch {
                    computed: hex::encode(computed.as_bytes()),
                    node: hex::encode(node.as_bytes()),
                });
            }
        }
        Ok(Some(computed))
    }
}

fn parse_tx(i: usize, t: &Value) -> Result<TemplateTx, TemplateError> {
    let data = t
        .get("data")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("transactions", format!("entry {i} has no `data`")))?;
    let bytes =
        hex::decode(data).map_err(|e| invalid("transactions", format!("entry {i}: {e}")))?;
    let tx: Transaction = deserialize(&bytes)
        .map_err(|e| invalid("transactions", format!("entry {i} does not decode: {e}")))?;
    let txid = tx.compute_txid();
    if let Some(stated) = t.get("txid").and_then(Value::as_str) {
        if stated != txid.to_string() {
            return Err(invalid(
                "transactions",
                format!("entry {i} states txid {stated} but its data hashes to {txid}"),
            ));
        }
    }
    if tx.is_coinbase() {
        return Err(invalid("transactions", format!("entry {i} is a coinbase")));
    }
    Ok(TemplateTx {
        wtxid: tx.compute_wtxid(),
        txid,
        tx,
    })
}

/// What a job needs besides the template: who is paid and the tag.
#[derive(Clone, Debug)]
pub struct Payout {
    pub script: ScriptBuf,
    pub tag: Vec<u8>,
}

/// A job the engine mines, with what is needed to rebuild its block.
#[derive(Debug)]
pub struct TemplateJob {
    pub job: Arc<Job>,
    pub template: Arc<BlockTemplate>,
    pub builder: CoinbaseBuilder,
}

impl TemplateJob {
    /// Build the job for `template`, named `id`.
    pub fn new(
        template: Arc<BlockTemplate>,
        payout: &Payout,
        id: String,
    ) -> Result<TemplateJob, TemplateError> {
        let builder = CoinbaseBuilder {
            height: template.height,
            extranonce_len: DEFAULT_EXTRANONCE_LEN,
            tag: payout.tag.clone(),
            payout_script: payout.script.clone(),
            value: template.coinbase_value,
            witness_commitment: template.witness_commitment()?,
        };
        builder.validate()?;
        let txids: Vec<Txid> = template.transactions.iter().map(|t| t.txid).collect();
        let job = Job {
            id,
            version: template.version,
            version_mask: 0,
            prev_hash: template.previous_block_hash,
            coinbase: builder.parts()?,
            extranonce1: Vec::new(),
            extranonce2_size: DEFAULT_EXTRANONCE_LEN,
            extranonce2_start: 0,
            merkle_branch: coinbase::merkle_branch(&txids),
            merkle_root: None,
            time: template.curtime,
            bits: template.bits.to_consensus(),
            share_target: template.bits.into(),
        };
        Ok(TemplateJob {
            job: Arc::new(job),
            template,
            builder,
        })
    }

    /// Start the extranonce counter at `start`, so that two jobs from the
    /// same template (a tip mined again after a reorg or a rejection) never
    /// produce the same block.
    pub fn with_extranonce_start(mut self, start: u64) -> TemplateJob {
        Arc::make_mut(&mut self.job).extranonce2_start = start;
        self
    }

    /// Let the miner roll the version bits in `mask` (BIP320's
    /// [`crate::hashing::work::BIP320_MASK`]; 0 for none). The template's own bits
    /// stay as they are in variant 0.
    pub fn with_version_mask(mut self, mask: u32) -> TemplateJob {
        Arc::make_mut(&mut self.job).version_mask = mask;
        self
    }

    /// The full block for a share of this job: the coinbase with
    /// `share.extranonce2` (and its witness), then the template's
    /// transactions. Its merkle root and witness commitment are re-checked.
    pub fn block(&self, share: &Share) -> Result<Block, TemplateError> {
        self.block_with_header(share.header, &share.extranonce2)
    }

    /// The block for `header` with `extranonce` in the coinbase.
    pub fn block_with_header(
        &self,
        header: HeaderTemplate,
        extranonce: &[u8],
    ) -> Result<Block, TemplateError> {
        let coinbase = self.builder.build(extranonce)?;
        let txdata = std::iter::once(coinbase)
            .chain(self.template.transactions.iter().map(|t| t.tx.clone()))
            .collect();
        let block = Block {
            header: header.header,
            txdata,
        };
        if !block.check_merkle_root() {
            return Err(invalid(
                "merkle root",
                "the block's header does not match its transactions",
            ));
        }
        if self.builder.witness_commitment.is_some() && !block.check_witness_commitment() {
            return Err(invalid(
                "witness commitment",
                "the block's coinbase does not commit to its witnesses",
            ));
        }
        Ok(block)
    }
}

/// The hex of a block, as `submitblock` takes it.
pub fn block_hex(block: &Block) -> String {
    hex::encode(bitcoin::consensus::encode::serialize(block))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> Value {
        json!({
            "version": 536870912,
            "previousblockhash": "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
            "transactions": [],
            "coinbasevalue": 5000000000u64,
            "bits": "207fffff",
            "curtime": 1795820350,
            "height": 1,
        })
    }

    #[test]
    fn required_fields_are_checked() {
        assert!(BlockTemplate::from_json(&minimal()).is_ok());
        for f in [
            "version",
            "previousblockhash",
            "transactions",
            "coinbasevalue",
            "bits",
            "curtime",
            "height",
        ] {
            let mut v = minimal();
            v.as_object_mut().unwrap().remove(f);
            let e = BlockTemplate::from_json(&v).unwrap_err();
            assert_eq!(e, TemplateError::Missing(f));
            assert!(e.to_string().contains(&format!("`{f}`")));
        }
        let mut v = minimal();
        v["bits"] = json!("zz");
        assert!(matches!(
            BlockTemplate::from_json(&v),
            Err(TemplateError::Invalid { field: "bits", .. })
        ));
    }

    #[test]
    fn unknown_mandatory_rules_are_refused() {
        let mut v = minimal();
        v["rules"] = json!(["csv", "!segwit", "taproot", "optional-thing"]);
        assert!(BlockTemplate::from_json(&v).is_ok());
        v["rules"] = json!(["!segwit", "!frobnicate"]);
        let e = BlockTemplate::from_json(&v).unwrap_err();
        assert_eq!(e, TemplateError::UnknownRule("!frobnicate".into()));
        assert!(e.to_string().contains("refusing to mine"));
    }

    #[test]
    fn no_segwit_means_no_commitment() {
        let t = BlockTemplate::from_json(&minimal()).unwrap();
        assert!(!t.has_segwit());
        assert_eq!(t.witness_commitment().unwrap(), None);
        let mut v = minimal();
        v["default_witness_commitment"] = json!("6a24aa21a9ed00");
        let t = BlockTemplate::from_json(&v).unwrap();
        assert!(matches!(
            t.witness_commitment(),
            Err(TemplateError::CommitmentMismatch { .. })
        ));
    }
}
