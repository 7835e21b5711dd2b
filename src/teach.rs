//! The guided walkthrough of the nonce search behind `noncesweep teach`.
//!
//! Each step of the lesson is computed here from real data (the genesis
//! block, a header the user gives, or a getblocktemplate answer) and
//! returned as a plain, serializable struct, together with a renderer that
//! turns it into text. The command line only decides when to pause, whether
//! to colour, and whether to print text or JSON. Nothing is canned: every
//! hash, state and timing is computed on the spot with the same code the
//! miner uses (`sha256::compress`, `WorkUnit`, the engine's search and the
//! `bitcoin` crate for the cross-checks). `docs/nonce-search.md` follows
//! the same steps in prose.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::str::FromStr;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;
use bitcoin::{
    Amount, BlockHash, Network, ScriptBuf, Target, Transaction, TxMerkleNode, Txid, Wtxid,
};
use serde::{Deserialize, Serialize};

use crate::hashing::coinbase::{self, CoinbaseBuilder, CoinbaseParts};
use crate::hashing::engine::{self, EngineError};
use crate::hashing::header::{offset, HeaderParseError, HeaderTemplate};
use crate::hashing::pow;
use crate::hashing::sha256::{self, Backend};
use crate::remine::{self, RemineError};
use crate::report::units::{format_count, format_duration, format_rate};

/// Why the walkthrough cannot run.
#[derive(Debug, thiserror::Error)]
pub enum TeachError {
    #[error("--header: {0}")]
    Header(HeaderParseError),
    #[error("--template {path}: {reason}")]
    Template { path: String, reason: String },
    #[error("--difficulty must be a fraction of 1: more than 0 and at most 1, got {0}")]
    Difficulty(f64),
    #[error("--from {from} is above this header's own nonce {nonce}: the search would pass the real solution; use a start at or below it")]
    FromAboveNonce { from: u32, nonce: u32 },
    #[error("the easy sweep found no nonce in the whole 2^32 range ({hashes} hashes): raise the target with a smaller --difficulty")]
    NoEasyHit { hashes: u64 },
    #[error("interrupted")]
    Interrupted,
    #[error("the kernel reported nonce {0} in the easy sweep but the full re-check rejects it: try --backend soft")]
    KernelFault(u32),
    #[error(transparent)]
    Coinbase(#[from] coinbase::CoinbaseError),
    #[error(transparent)]
    Remine(#[from] RemineError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// The well-known script the teaching coinbase pays: `OP_TRUE`, which
/// anyone can spend. A teaching block is never submitted.
pub const TEACH_PAYOUT: &[u8] = &[0x51];
/// The tag pushed after the extranonce in teaching coinbases.
pub const TEACH_TAG: &[u8] = b"/noncesweep teach/";

/// The subset of a getblocktemplate answer the lesson needs (BIP22/23).
#[derive(Debug, Deserialize)]
struct GbtTemplate {
    version: i64,
    previousblockhash: String,
    transactions: Vec<GbtTx>,
    coinbasevalue: u64,
    bits: String,
    curtime: u32,
    height: u32,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    default_witness_commitment: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GbtTx {
    txid: String,
    #[serde(default)]
    hash: Option<String>,
}

/// A coinbase with a known extranonce slot and its merkle branch: enough to
/// show what changing the extranonce does.
#[derive(Clone, Debug)]
pub struct CoinbaseSlot {
    pub parts: CoinbaseParts,
    /// The extranonce the header was built with.
    pub extranonce: Vec<u8>,
    pub branch: Vec<TxMerkleNode>,
    /// Where the coinbase comes from, in words.
    pub origin: String,
}

/// Facts of a `--template`, shown in the lesson.
#[derive(Clone, Debug, Serialize)]
pub struct TemplateFacts {
    pub height: u32,
    pub transactions: usize,
    pub coinbase_value_sats: u64,
    /// The template's own `target` field, when it has one.
    pub target_field: Option<String>,
    /// Whether our witness commitment, recomputed from the wtxids, equals
    /// the template's `default_witness_commitment` (when it has one).
    pub witness_commitment_matches: Option<bool>,
    pub payout_script_hex: String,
}

/// Where the lesson's header comes from.
#[derive(Clone, Debug)]
pub enum Source {
    Genesis,
    Header,
    Template(TemplateFacts),
}

/// The header being taught, with what is known about its coinbase.
#[derive(Clone, Debug)]
pub struct Lesson {
    pub source: Source,
    pub header: HeaderTemplate,
    pub coinbase: Option<CoinbaseSlot>,
}

fn hex_words(w: &[u32]) -> Vec<String> {
    w.iter().map(|x| format!("{x:08x}")).collect()
}

/// Leading zero bits of a 256-bit number given big-endian.
pub fn leading_zero_bits(be: &[u8; 32]) -> u32 {
    let mut n = 0;
    for &b in be {
        if b == 0 {
            n += 8;
        } else {
            return n + b.leading_zeros();
        }
    }
    n
}

/// A Unix time as `YYYY-MM-DD HH:MM:SS UTC` (proleptic Gregorian calendar).
pub fn utc(ts: u32) -> String {
    let days = i64::from(ts) / 86_400;
    let secs = i64::from(ts) % 86_400;
    // Civil-from-days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

impl Lesson {
    /// The genesis block, from the `bitcoin` crate, with its real coinbase.
    pub fn genesis() -> Lesson {
        let block = bitcoin::blockdata::constants::genesis_block(Network::Bitcoin);
        let header = HeaderTemplate {
            header: block.header,
        };
        let coinbase = genesis_slot(&block.txdata[0]);
        Lesson {
            source: Source::Genesis,
            header,
            coinbase,
        }
    }

    /// Any real 80-byte header. Its coinbase is not known, so the
    /// extranonce step uses an illustrative one.
    pub fn from_header_hex(s: &str) -> Result<Lesson, TeachError> {
        Ok(Lesson {
            source: Source::Header,
            header: HeaderTemplate::from_hex(s).map_err(TeachError::Header)?,
            coinbase: None,
        })
    }

    /// A getblocktemplate answer: build the coinbase (paying `OP_TRUE`),
    /// the merkle root from the transactions' txids, and the header from
    /// version, previousblockhash, curtime and bits, with nonce 0.
    pub fn from_template_json(path: &str, text: &str) -> Result<Lesson, TeachError> {
        let bad = |reason: String| TeachError::Template {
            path: path.to_string(),
            reason,
        };
        let t: GbtTemplate = serde_json::from_str(text)
            .map_err(|e| bad(format!("not a getblocktemplate answer: {e}")))?;
        let version = i32::try_from(t.version)
            .or_else(|_| u32::try_from(t.version).map(|v| v as i32))
            .map_err(|_| bad(format!("version {} is not a 32-bit number", t.version)))?;
        let prev = BlockHash::from_str(&t.previousblockhash)
            .map_err(|e| bad(format!("previousblockhash: {e}")))?;
        let bits = u32::from_str_radix(&t.bits, 16)
            .map_err(|_| bad(format!("bits {:?} is not 8 hex digits", t.bits)))?;
        let mut txids = Vec::with_capacity(t.transactions.len());
        let mut wtxids = Vec::with_capacity(t.transactions.len());
        for (i, tx) in t.transactions.iter().enumerate() {
            let txid = Txid::from_str(&tx.txid)
                .map_err(|e| bad(format!("transactions[{i}].txid: {e}")))?;
            let wtxid = match &tx.hash {
                Some(h) => {
                    Wtxid::from_str(h).map_err(|e| bad(format!("transactions[{i}].hash: {e}")))?
                }
                None => Wtxid::from_raw_hash(txid.to_raw_hash()),
            };
            txids.push(txid);
            wtxids.push(wtxid);
        }
        let (witness_commitment, matches) = match &t.default_witness_commitment {
            Some(given) => {
                let ours = coinbase::witness_commitment_script(&wtxids);
                let same = hex::encode(ours.as_bytes()).eq_ignore_ascii_case(given.trim());
                (Some(ours), Some(same))
            }
            None => (None, None),
        };
        let builder = CoinbaseBuilder {
            height: t.height,
            extranonce_len: coinbase::DEFAULT_EXTRANONCE_LEN,
            tag: TEACH_TAG.to_vec(),
            payout_script: ScriptBuf::from_bytes(TEACH_PAYOUT.to_vec()),
            value: Amount::from_sat(t.coinbasevalue),
            witness_commitment,
        };
        let parts = builder.parts()?;
        let extranonce = vec![0u8; builder.extranonce_len];
        let branch = coinbase::merkle_branch(&txids);
        let root = coinbase::merkle_root(parts.txid(&extranonce, &[]), &branch);
        let header = HeaderTemplate::new(version, prev, root, t.curtime, bits, 0);
        Ok(Lesson {
            source: Source::Template(TemplateFacts {
                height: t.height,
                transactions: t.transactions.len(),
                coinbase_value_sats: t.coinbasevalue,
                target_field: t.target,
                witness_commitment_matches: matches,
                payout_script_hex: hex::encode(TEACH_PAYOUT),
            }),
            header,
            coinbase: Some(CoinbaseSlot {
                parts,
                extranonce,
                branch,
                origin: format!(
                    "our coinbase for template height {} (BIP34 height, 8-byte extranonce, tag, payout to OP_TRUE, witness commitment), with the template's {} txids in the merkle tree",
                    t.height,
                    t.transactions.len()
                ),
            }),
        })
    }

    /// The header's own target (from its bits).
    pub fn target(&self) -> Target {
        self.header.block_target()
    }

    /// Step 1: the header field by field.
    pub fn header_step(&self) -> HeaderStep {
        let h = &self.header.header;
        let bytes = self.header.to_bytes();
        let field = |name: &'static str,
                     start: usize,
                     len: usize,
                     value: String,
                     meaning: &'static str,
                     order: &'static str| Field {
            name,
            offset: start,
            size: len,
            hex: hex::encode(&bytes[start..start + len]),
            value,
            meaning,
            byte_order: order,
        };
        let fields = vec![
            field("version", offset::VERSION, 4, format!("{:#010x} ({})", h.version.to_consensus() as u32, h.version.to_consensus()),
                "block version; since BIP9 its top bits say which soft forks the miner signals, and BIP320 leaves bits 13-28 free to roll",
                "little-endian integer"),
            field("previous block hash", offset::PREV_HASH, 32, h.prev_blockhash.to_string(),
                "the hash of the block this one builds on: the chain link",
                "internal order; shown reversed, as explorers print it"),
            field("merkle root", offset::MERKLE_ROOT, 32, h.merkle_root.to_string(),
                "the root of the merkle tree of the block's transaction ids; the coinbase is the first leaf",
                "internal order; shown reversed"),
            field("time", offset::TIME, 4, format!("{} ({})", h.time, utc(h.time)),
                "seconds since 1970 as the miner saw them; must be above the median of the last 11 blocks",
                "little-endian integer"),
            field("bits", offset::BITS, 4, format!("{:#010x}", h.bits.to_consensus()),
                "the target in compact form: exponent byte, then a 3-byte mantissa",
                "little-endian integer"),
            field("nonce", offset::NONCE, 4, format!("{} ({:#010x})", h.nonce, h.nonce),
                "the 32-bit number the miner changes until the hash is low enough",
                "little-endian integer"),
        ];
        let hash = self.header.block_hash();
        HeaderStep {
            source: self.source_name(),
            template: match &self.source {
                Source::Template(t) => Some(t.clone()),
                _ => None,
            },
            header_hex: hex::encode(bytes),
            fields,
            block_hash: hash.to_string(),
            block_hash_internal: hex::encode(hash.to_byte_array()),
        }
    }

    fn source_name(&self) -> String {
        match &self.source {
            Source::Genesis => "the genesis block (block 0, 3 January 2009)".into(),
            Source::Header => "the header given with --header".into(),
            Source::Template(t) => {
                format!("a header built from the --template for height {}", t.height)
            }
        }
    }

    /// Step 2: bits, target, difficulty and expected hashes.
    pub fn target_step(&self) -> TargetStep {
        let bits = self.header.header.bits.to_consensus();
        let target = self.target();
        let difficulty = pow::target_difficulty(target);
        let expected = pow::expected_hashes(target);
        let expected_f = pow::expected_hashes_f64(target);
        let approx = difficulty * 4_294_967_296.0;
        let be = target.to_be_bytes();
        TargetStep {
            bits: format!("{bits:#010x}"),
            exponent: bits >> 24,
            mantissa: format!("{:#08x}", bits & 0x00ff_ffff),
            target: pow::target_hex(target),
            target_leading_zero_bits: leading_zero_bits(&be),
            template_target_field: match &self.source {
                Source::Template(t) => t.target_field.clone(),
                _ => None,
            },
            difficulty,
            expected_hashes: expected.to_string(),
            expected_hashes_approx: approx,
            approx_error_pct: (approx - expected_f) / expected_f * 100.0,
        }
    }

    /// Step 3: one double SHA-256 of the header, state by state.
    pub fn sha_step(&self) -> ShaStep {
        let nonce = self.header.header.nonce;
        let target = self.target();
        let wu = self.header.work_unit(target);
        let bytes = self.header.to_bytes();
        let block1: Vec<u32> = (0..16)
            .map(|i| u32::from_be_bytes(bytes[4 * i..4 * i + 4].try_into().expect("4 bytes")))
            .collect();
        let block2 = wu.block2(nonce);
        let mut first = wu.midstate;
        sha256::compress(&mut first, &block2);
        let mut block3 = [0u32; 16];
        block3[..8].copy_from_slice(&first);
        block3[8] = 0x8000_0000;
        block3[15] = 256;
        let mut last = sha256::IV;
        sha256::compress(&mut last, &block3);
        let digest = sha256::state_to_bytes(&last);
        let mut be = digest;
        be.reverse();
        let crate_hash = self.header.block_hash();
        ShaStep {
            nonce,
            iv: hex_words(&sha256::IV),
            block1: hex_words(&block1),
            midstate: hex_words(&wu.midstate),
            block2: hex_words(&block2),
            first_hash: hex_words(&first),
            block3: hex_words(&block3),
            final_state: hex_words(&last),
            digest_bytes: hex::encode(digest),
            hash: hex::encode(be),
            matches_bitcoin_crate: digest == crate_hash.to_byte_array(),
            hash_leading_zero_bits: leading_zero_bits(&be),
            target: pow::target_hex(target),
            meets_target: wu.target.is_met_by_state(&last),
        }
    }

    /// The extranonce slot to demonstrate with: the real one when known,
    /// otherwise an illustrative coinbase for a one-transaction block.
    fn slot(&self) -> Result<CoinbaseSlot, TeachError> {
        if let Some(s) = &self.coinbase {
            return Ok(s.clone());
        }
        let builder = CoinbaseBuilder {
            height: 1,
            extranonce_len: coinbase::DEFAULT_EXTRANONCE_LEN,
            tag: TEACH_TAG.to_vec(),
            payout_script: ScriptBuf::from_bytes(TEACH_PAYOUT.to_vec()),
            value: Amount::ZERO,
            witness_commitment: None,
        };
        Ok(CoinbaseSlot {
            parts: builder.parts()?,
            extranonce: vec![0u8; builder.extranonce_len],
            branch: Vec::new(),
            origin: "an illustrative coinbase (this header's real coinbase is not given): a one-transaction block paying OP_TRUE".into(),
        })
    }

    /// Step 5: how long one header's nonces last at `hashrate_hs`, and
    /// what changing the extranonce changes.
    pub fn extranonce_step(&self, hashrate_hs: f64) -> Result<ExtranonceStep, TeachError> {
        let slot = self.slot()?;
        let before = slot.extranonce.clone();
        let mut after = before.clone();
        // Count up by one, as a miner does (the last byte is the lowest).
        for b in after.iter_mut().rev() {
            *b = b.wrapping_add(1);
            if *b != 0 {
                break;
            }
        }
        let side = |en: &[u8]| -> Side {
            let cb = slot.parts.assemble(en, &[]);
            let txid = slot.parts.txid(en, &[]);
            let root = coinbase::merkle_root(txid, &slot.branch);
            let mut h = self.header;
            h.header.merkle_root = root;
            Side {
                extranonce: hex::encode(en),
                coinbase: hex::encode(&cb),
                txid: txid.to_string(),
                merkle_root: root.to_string(),
                midstate: hex_words(&h.midstate()),
                block2_word0: format!("{:08x}", h.tail_words()[0]),
            }
        };
        let b = side(&before);
        let a = side(&after);
        let header_root = self.header.header.merkle_root.to_string();
        Ok(ExtranonceStep {
            hashrate_hs,
            nonce_space: 1u64 << 32,
            seconds_per_header: (1u64 << 32) as f64 / hashrate_hs,
            coinbase_origin: slot.origin,
            extranonce_offset: slot.parts.coinb1.len(),
            branch_length: slot.branch.len(),
            root_matches_header: (self.coinbase.is_some()).then(|| b.merkle_root == header_root),
            before: b,
            after: a,
        })
    }
}

/// The genesis coinbase split around its extranonce: its scriptSig is
/// `push(bits) push(extranonce) push(message)`, as Bitcoin 0.1 wrote it.
fn genesis_slot(tx: &Transaction) -> Option<CoinbaseSlot> {
    let script = &tx.input.first()?.script_sig;
    // Step with `next`: in bitcoin 0.32, `InstructionIndices::nth` reports
    // the position where the skipping started, not the instruction's.
    let mut it = script.instruction_indices();
    it.next()?.ok()?;
    let (index, ins) = it.next()?.ok()?;
    let data = ins.push_bytes()?.as_bytes().to_vec();
    let legacy = coinbase::serialize_legacy(tx);
    // version (4), input count (1), prevout (36), script length (1 for < 253).
    let script_start = 4 + 1 + 36 + 1;
    let start = script_start + index + 1;
    let end = start + data.len();
    Some(CoinbaseSlot {
        parts: CoinbaseParts {
            coinb1: legacy[..start].to_vec(),
            coinb2: legacy[end..].to_vec(),
        },
        extranonce: data,
        branch: Vec::new(),
        origin: "the real genesis coinbase (scriptSig: bits, a 1-byte extranonce, then \"The Times 03/Jan/2009 Chancellor on brink of second bailout for banks\"); the block has one transaction, so its txid is the merkle root".into(),
    })
}

/// One header field.
#[derive(Clone, Debug, Serialize)]
pub struct Field {
    pub name: &'static str,
    pub offset: usize,
    pub size: usize,
    /// The bytes as they are in the header.
    pub hex: String,
    /// The value as people read it.
    pub value: String,
    pub meaning: &'static str,
    pub byte_order: &'static str,
}

/// Step 1 data.
#[derive(Clone, Debug, Serialize)]
pub struct HeaderStep {
    pub source: String,
    pub template: Option<TemplateFacts>,
    pub header_hex: String,
    pub fields: Vec<Field>,
    /// The block hash as displayed (reversed).
    pub block_hash: String,
    /// The same 32 bytes in the order SHA-256 produced them.
    pub block_hash_internal: String,
}

/// Step 2 data.
#[derive(Clone, Debug, Serialize)]
pub struct TargetStep {
    pub bits: String,
    pub exponent: u32,
    pub mantissa: String,
    pub target: String,
    pub target_leading_zero_bits: u32,
    pub template_target_field: Option<String>,
    pub difficulty: f64,
    /// Exactly `2^256 / (target + 1)`, rounded down, in decimal.
    pub expected_hashes: String,
    /// `difficulty * 2^32`.
    pub expected_hashes_approx: f64,
    pub approx_error_pct: f64,
}

/// Step 3 data: every state in hex words.
#[derive(Clone, Debug, Serialize)]
pub struct ShaStep {
    pub nonce: u32,
    pub iv: Vec<String>,
    pub block1: Vec<String>,
    pub midstate: Vec<String>,
    pub block2: Vec<String>,
    pub first_hash: Vec<String>,
    pub block3: Vec<String>,
    pub final_state: Vec<String>,
    pub digest_bytes: String,
    pub hash: String,
    pub matches_bitcoin_crate: bool,
    pub hash_leading_zero_bits: u32,
    pub target: String,
    pub meets_target: bool,
}

/// One nonce tried in the easy sweep.
#[derive(Clone, Debug, Serialize)]
pub struct Try {
    pub nonce: u32,
    pub hash: String,
    pub leading_zero_bits: u32,
    pub meets: bool,
}

/// Step 4 data.
#[derive(Clone, Debug, Serialize)]
pub struct SweepStep {
    pub difficulty: f64,
    pub target: String,
    pub target_leading_zero_bits: u32,
    pub expected_tries: f64,
    pub first: Vec<Try>,
    pub hit: Try,
    pub tries: u64,
    /// Hashes computed, including the rest of the last parallel wave.
    pub hashes: u64,
    pub seconds: f64,
    pub hashrate_hs: f64,
    pub backend: String,
    pub threads: usize,
}

/// One side of the extranonce change.
#[derive(Clone, Debug, Serialize)]
pub struct Side {
    pub extranonce: String,
    pub coinbase: String,
    pub txid: String,
    pub merkle_root: String,
    pub midstate: Vec<String>,
    pub block2_word0: String,
}

/// Step 5 data.
#[derive(Clone, Debug, Serialize)]
pub struct ExtranonceStep {
    pub hashrate_hs: f64,
    pub nonce_space: u64,
    pub seconds_per_header: f64,
    pub coinbase_origin: String,
    /// Byte offset of the extranonce in the coinbase.
    pub extranonce_offset: usize,
    pub branch_length: usize,
    /// Whether the rebuilt merkle root equals the header's (real coinbases only).
    pub root_matches_header: Option<bool>,
    pub before: Side,
    pub after: Side,
}

/// Step 6 data.
#[derive(Clone, Debug, Serialize)]
pub struct SolutionStep {
    /// "remine" for a solved header, "mine" for one whose nonce is not a solution.
    pub mode: &'static str,
    pub header_nonce: u32,
    pub header_nonce_is_solution: bool,
    pub from: u32,
    pub nonce: Option<u32>,
    pub hash: Option<String>,
    pub same_as_header: Option<bool>,
    pub hashes: u64,
    pub seconds: f64,
    pub hashrate_hs: f64,
    pub backend: String,
    pub threads: usize,
    /// Why the search was skipped, when it was.
    pub skipped: Option<String>,
}

fn try_nonce(header: &HeaderTemplate, wu: &sha256::WorkUnit, target: Target, nonce: u32) -> Try {
    let state = wu.hash_state(nonce);
    let mut be = sha256::state_to_bytes(&state);
    be.reverse();
    let mut h = *header;
    h.set_nonce(nonce);
    Try {
        nonce,
        hash: hex::encode(be),
        leading_zero_bits: leading_zero_bits(&be),
        meets: pow::meets(&h.block_hash(), target),
    }
}

/// The easy difficulty that takes about `seconds` at `hashrate_hs`: a
/// power of two fraction of 1, so the target is difficulty 1's shifted left.
pub fn easy_difficulty(hashrate_hs: f64, seconds: f64) -> f64 {
    let want = (hashrate_hs * seconds).max(1.0);
    let k = (4_294_967_296.0 / want).log2().ceil().clamp(0.0, 32.0);
    (-k).exp2()
}

/// Step 4: sweep nonces from 0 at an easy target until the first hit,
/// showing the first `show` nonces. `progress` is told the hashes done.
pub fn easy_sweep(
    header: &HeaderTemplate,
    difficulty: f64,
    show: u32,
    backend: Backend,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
    cancel: &AtomicBool,
) -> Result<SweepStep, TeachError> {
    if !(difficulty.is_finite() && difficulty > 0.0 && difficulty <= 1.0) {
        return Err(TeachError::Difficulty(difficulty));
    }
    let target = pow::share_target(difficulty).map_err(|_| TeachError::Difficulty(difficulty))?;
    let wu = header.work_unit(target);
    let first = (0..show)
        .map(|n| try_nonce(header, &wu, target, n))
        .collect();
    let t0 = Instant::now();
    let r = engine::search_lowest(backend, threads, &wu, 0, u32::MAX, progress, cancel)?;
    let seconds = t0.elapsed().as_secs_f64();
    let Some(nonce) = r.nonce else {
        if cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(TeachError::Interrupted);
        }
        return Err(TeachError::NoEasyHit { hashes: r.hashes });
    };
    let hit = try_nonce(header, &wu, target, nonce);
    if !hit.meets {
        return Err(TeachError::KernelFault(nonce));
    }
    Ok(SweepStep {
        difficulty,
        target: pow::target_hex(target),
        target_leading_zero_bits: leading_zero_bits(&target.to_be_bytes()),
        expected_tries: pow::expected_hashes_f64(target),
        first,
        hit,
        tries: u64::from(nonce) + 1,
        hashes: r.hashes,
        seconds,
        hashrate_hs: r.hashes as f64 / seconds.max(1e-9),
        backend: backend.name().to_string(),
        threads,
    })
}

/// Step 6 options.
#[derive(Clone, Copy, Debug)]
pub struct SolutionOptions {
    /// Where to start; `None` picks a start about `seconds` of hashing
    /// below a solved header's nonce, or 0 for an unsolved one.
    pub from: Option<u32>,
    pub seconds: f64,
    /// An unsolved header is mined only if it is expected to take at most this long.
    pub max_seconds: f64,
    pub hashrate_hs: f64,
    pub backend: Backend,
    pub threads: usize,
}

/// Refuse a `--from` above a solved header's own nonce: the search would
/// start past the real solution.
pub fn check_from(header: &HeaderTemplate, from: u32) -> Result<(), TeachError> {
    let nonce = header.header.nonce;
    if from > nonce && pow::meets(&header.block_hash(), header.block_target()) {
        return Err(TeachError::FromAboveNonce { from, nonce });
    }
    Ok(())
}

/// Step 6: re-mine a solved header's nonce from near it, or mine an
/// unsolved one (a template) at its own target.
pub fn solution(
    header: &HeaderTemplate,
    opts: &SolutionOptions,
    progress: &(dyn Fn(u64) + Sync),
    cancel: &AtomicBool,
) -> Result<SolutionStep, TeachError> {
    let target = header.block_target();
    let real = header.header.nonce;
    let solved = pow::meets(&header.block_hash(), target);
    let from = match opts.from {
        Some(f) => {
            check_from(header, f)?;
            f
        }
        None if solved => {
            let window = (opts.hashrate_hs * opts.seconds).clamp(1.0, u32::MAX as f64) as u32;
            real.saturating_sub(window - 1)
        }
        None => 0,
    };
    let mut step = SolutionStep {
        mode: if solved { "remine" } else { "mine" },
        header_nonce: real,
        header_nonce_is_solution: solved,
        from,
        nonce: None,
        hash: None,
        same_as_header: None,
        hashes: 0,
        seconds: 0.0,
        hashrate_hs: 0.0,
        backend: opts.backend.name().to_string(),
        threads: opts.threads,
        skipped: None,
    };
    let expected = pow::expected_hashes_f64(target);
    if !solved && expected > opts.hashrate_hs * opts.max_seconds {
        step.skipped = Some(format!(
            "this header's nonce is not a solution, and its target takes {} hashes on average: about {} at {}; too long for a lesson",
            format_count(expected),
            format_duration(expected / opts.hashrate_hs),
            format_rate(opts.hashrate_hs)
        ));
        return Ok(step);
    }
    let r = remine::remine(
        header,
        from,
        u32::MAX,
        opts.backend,
        opts.threads,
        progress,
        cancel,
    );
    let r = match r {
        Ok(r) => r,
        Err(RemineError::NoHit { hashes, .. }) => {
            step.hashes = hashes;
            step.skipped = Some(format!(
                "no nonce from {from} to 4294967295 meets the target: this header needs a new extranonce (or time) to go on"
            ));
            return Ok(step);
        }
        Err(RemineError::Interrupted { .. }) => return Err(TeachError::Interrupted),
        Err(e) => return Err(e.into()),
    };
    let secs = r.elapsed.as_secs_f64();
    step.nonce = Some(r.nonce);
    step.hash = Some(r.hash.to_string());
    step.same_as_header = solved.then_some(r.nonce == real && r.hash == header.block_hash());
    step.hashes = r.hashes;
    step.seconds = secs;
    step.hashrate_hs = r.hashes as f64 / secs.max(1e-9);
    Ok(step)
}

/// How text is styled: ANSI colours only on a terminal and not with `NO_COLOR`.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
}

/// One colour per header field, in field order.
const FIELD_COLORS: [&str; 6] = ["31", "32", "33", "34", "35", "36"];

impl Style {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset or empty.
    pub fn detect() -> Style {
        Style::decide(
            std::io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        )
    }

    /// The rule behind [`Style::detect`]: colour on a terminal unless
    /// `NO_COLOR` is set to a non-empty value (no-color.org).
    pub fn decide(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> Style {
        let no_color = no_color.is_some_and(|v| !v.is_empty());
        Style {
            color: terminal && !no_color,
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
}

fn words_line(out: &mut String, label: &str, w: &[String]) {
    let _ = writeln!(out, "  {label:<12} {}", w[..8.min(w.len())].join(" "));
    if w.len() > 8 {
        let _ = writeln!(out, "  {:<12} {}", "", w[8..].join(" "));
    }
}

/// Step 1 as text.
pub fn render_header(s: &HeaderStep, st: &Style) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}", st.bold("Step 1. The header, field by field"));
    let _ = writeln!(o, "We mine {}.", s.source);
    if let Some(t) = &s.template {
        let _ = writeln!(
            o,
            "Template: height {}, {} transactions, coinbase value {} sat. Our coinbase pays script {} (OP_TRUE, anyone can spend; a teaching block, never submitted).",
            t.height, t.transactions, t.coinbase_value_sats, t.payout_script_hex
        );
        if let Some(m) = t.witness_commitment_matches {
            let _ = writeln!(
                o,
                "Witness commitment recomputed from the transactions' wtxids: {}",
                if m {
                    "equals the template's default_witness_commitment"
                } else {
                    "DIFFERS from the template's default_witness_commitment"
                }
            );
        }
    }
    let _ = writeln!(o, "The 80 bytes, one colour per field:");
    let colored: String = s
        .fields
        .iter()
        .zip(FIELD_COLORS)
        .map(|(f, c)| st.paint(c, &f.hex))
        .collect();
    let _ = writeln!(o, "  {colored}");
    for (f, c) in s.fields.iter().zip(FIELD_COLORS) {
        let _ = writeln!(
            o,
            "  {} bytes {}..{} ({}): {}",
            st.paint(c, &format!("{:<19}", f.name)),
            f.offset,
            f.offset + f.size,
            f.byte_order,
            f.value
        );
        let _ = writeln!(o, "  {:<19} {}", "", f.meaning);
    }
    let _ = writeln!(o, "Block hash (SHA-256 twice over these 80 bytes):");
    let _ = writeln!(o, "  as SHA-256 writes it   {}", s.block_hash_internal);
    let _ = writeln!(o, "  as displayed           {}", st.bold(&s.block_hash));
    let _ = writeln!(
        o,
        "Why reversed? Bitcoin reads the 32 hash bytes as one little-endian number, so the last byte is the most significant. Printing the bytes backwards puts the most significant first, and the zeros that make a block valid appear on the left. Hashes inside the header (previous block, merkle root) are stored in that internal order too."
    );
    o
}

/// Step 2 as text.
pub fn render_target(s: &TargetStep, st: &Style) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}", st.bold("Step 2. The target"));
    let _ = writeln!(
        o,
        "bits {} = exponent {:#04x} ({}), mantissa {}: target = mantissa x 256^(exponent - 3)",
        s.bits, s.exponent, s.exponent, s.mantissa
    );
    let _ = writeln!(
        o,
        "  target     {} ({} leading zero bits)",
        st.bold(&s.target),
        s.target_leading_zero_bits
    );
    if let Some(t) = &s.template_target_field {
        let same = t.eq_ignore_ascii_case(&s.target);
        let _ = writeln!(
            o,
            "  the template's own target field: {t} ({})",
            if same { "the same" } else { "DIFFERENT" }
        );
    }
    let _ = writeln!(
        o,
        "A hash is valid when, read as a 256-bit number, it is at most the target."
    );
    let _ = writeln!(
        o,
        "  difficulty = difficulty-1 target / target = {}",
        fmt_num(s.difficulty)
    );
    let _ = writeln!(
        o,
        "  expected hashes per block = 2^256 / (target + 1) = {}",
        s.expected_hashes
    );
    let _ = writeln!(
        o,
        "  difficulty x 2^32 = {:.0} (off by {:+.4}%: a good approximation)",
        s.expected_hashes_approx, s.approx_error_pct
    );
    o
}

fn fmt_num(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e9 || v.abs() < 1e-3) {
        format!("{v:.6e}")
    } else if v.fract() == 0.0 {
        format!("{v}")
    } else {
        format!("{v:.3}")
    }
}

/// Step 3 as text.
pub fn render_sha(s: &ShaStep, st: &Style) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}", st.bold("Step 3. One double SHA-256, step by step"));
    let _ = writeln!(
        o,
        "SHA-256 works on 64-byte blocks of sixteen 32-bit big-endian words and keeps an 8-word state. The 80-byte header takes two blocks; the nonce is in the second."
    );
    words_line(&mut o, "IV", &s.iv);
    words_line(&mut o, "block 1", &s.block1);
    let _ = writeln!(
        o,
        "  (version, previous hash, the first 28 bytes of the merkle root)"
    );
    words_line(&mut o, "midstate", &s.midstate);
    let _ = writeln!(
        o,
        "  the state after block 1: it does not depend on the nonce, so a miner computes it once per header"
    );
    words_line(&mut o, "block 2", &s.block2);
    let _ = writeln!(
        o,
        "  word 0 merkle tail, 1 time, 2 bits, 3 the nonce {} (byte-swapped: stored little-endian, read big-endian), 4 the padding bit 0x80000000, 5-14 zeros, 15 the length: 640 bits",
        s.nonce
    );
    words_line(&mut o, "1st hash", &s.first_hash);
    words_line(&mut o, "block 3", &s.block3);
    let _ = writeln!(
        o,
        "  the 32-byte first hash, padding, length 256 bits, hashed from the IV again"
    );
    words_line(&mut o, "final", &s.final_state);
    let _ = writeln!(o, "  digest bytes  {}", s.digest_bytes);
    let _ = writeln!(
        o,
        "  hash          {} ({} leading zero bits; {} the bitcoin crate's block_hash())",
        st.bold(&s.hash),
        s.hash_leading_zero_bits,
        if s.matches_bitcoin_crate {
            "matches"
        } else {
            "DIFFERS from"
        }
    );
    let _ = writeln!(o, "  target        {}", s.target);
    let _ = writeln!(
        o,
        "  hash {} target: {}",
        if s.meets_target { "<=" } else { ">" },
        if s.meets_target {
            "a valid proof of work"
        } else {
            "not a valid proof of work for this nonce"
        }
    );
    o
}

/// Step 4 as text.
pub fn render_sweep(s: &SweepStep, st: &Style) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}", st.bold("Step 4. A live sweep at an easy target"));
    let _ = writeln!(
        o,
        "difficulty {} -> target {} ({} leading zero bits); expected tries 2^256/(target+1) = {:.0}",
        s.difficulty, s.target, s.target_leading_zero_bits, s.expected_tries
    );
    let _ = writeln!(o, "The first nonces:");
    for t in &s.first {
        let _ = writeln!(
            o,
            "  nonce {:>10}  {}  {:>3} zero bits{}",
            t.nonce,
            t.hash,
            t.leading_zero_bits,
            if t.meets { "  <= target!" } else { "" }
        );
    }
    let _ = writeln!(
        o,
        "... then {} on {} thread(s) until the first hit:",
        s.backend, s.threads
    );
    let _ = writeln!(
        o,
        "  nonce {:>10}  {}  {:>3} zero bits  <= target",
        s.hit.nonce,
        st.bold(&s.hit.hash),
        s.hit.leading_zero_bits
    );
    let _ = writeln!(
        o,
        "It took {} tries; {:.0} were expected (ratio {:.2}: luck varies, the average does not). {} hashes in {:.2} s, {}.",
        s.tries,
        s.expected_tries,
        s.tries as f64 / s.expected_tries,
        format_count(s.hashes as f64),
        s.seconds,
        format_rate(s.hashrate_hs)
    );
    o
}

/// Step 5 as text.
pub fn render_extranonce(s: &ExtranonceStep, st: &Style) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}", st.bold("Step 5. Why the extranonce exists"));
    let _ = writeln!(
        o,
        "At {} (measured now on this machine), the 2^32 = {} nonces of one header last {}. At real difficulty a header almost never has a solution, so miners need more variety: the extranonce, a field in the coinbase's scriptSig.",
        format_rate(s.hashrate_hs),
        s.nonce_space,
        format_duration(s.seconds_per_header)
    );
    let _ = writeln!(o, "The coinbase here: {}.", s.coinbase_origin);
    let en_len = s.before.extranonce.len();
    let show = |side: &Side| -> String {
        let at = 2 * s.extranonce_offset;
        let (a, rest) = side.coinbase.split_at(at.min(side.coinbase.len()));
        let (en, b) = rest.split_at(en_len.min(rest.len()));
        format!("{a}{}{b}", st.paint("7", en))
    };
    for (label, side) in [("before", &s.before), ("after", &s.after)] {
        let _ = writeln!(o, "{label}: extranonce {}", st.bold(&side.extranonce));
        let _ = writeln!(o, "  coinbase     {}", show(side));
        let _ = writeln!(o, "  txid         {}", side.txid);
        let _ = writeln!(
            o,
            "  merkle root  {} (coinbase txid folded with {} branch hash(es))",
            side.merkle_root, s.branch_length
        );
        words_line(&mut o, "midstate", &side.midstate);
        let _ = writeln!(o, "  block 2 word 0 {}", side.block2_word0);
    }
    if let Some(m) = s.root_matches_header {
        let _ = writeln!(
            o,
            "The 'before' merkle root {} the header's.",
            if m { "equals" } else { "DIFFERS from" }
        );
    }
    let _ = writeln!(
        o,
        "One changed byte in the coinbase gives a new txid, a new merkle root, a new midstate: a fresh 2^32 nonces. Pools give each miner its own extranonce1 so no two miners hash the same header."
    );
    o
}

/// Step 6 as text.
pub fn render_solution(s: &SolutionStep, st: &Style) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}", st.bold("Step 6. The real solution"));
    if s.header_nonce_is_solution {
        let _ = writeln!(
            o,
            "This header's nonce {} is a real solution. Re-mining it from nonce {} at its own target with {} on {} thread(s):",
            s.header_nonce, s.from, s.backend, s.threads
        );
    } else {
        let _ = writeln!(
            o,
            "This header's nonce {} is not a solution; mining it at its own target from nonce {} with {} on {} thread(s):",
            s.header_nonce, s.from, s.backend, s.threads
        );
    }
    if let Some(why) = &s.skipped {
        let _ = writeln!(o, "  skipped: {why}");
        return o;
    }
    if let (Some(n), Some(h)) = (s.nonce, &s.hash) {
        let _ = writeln!(o, "  found nonce {n} ({n:#010x})");
        let _ = writeln!(o, "  hash        {}", st.bold(h));
        let _ = writeln!(
            o,
            "  {} hashes in {:.2} s, {}",
            format_count(s.hashes as f64),
            s.seconds,
            format_rate(s.hashrate_hs)
        );
        match s.same_as_header {
            Some(true) => {
                let _ = writeln!(
                    o,
                    "  the same nonce and block hash as the real block: the lowest valid nonce from the start was the one its miner found."
                );
            }
            Some(false) => {
                let _ = writeln!(
                    o,
                    "  a different valid nonce than the header's: two nonces meet this target, and the search returns the lowest."
                );
            }
            None => {
                let _ = writeln!(
                    o,
                    "  with this nonce the header meets its target: this would be a valid block (not submitted)."
                );
            }
        }
    }
    o
}

/// How long to measure the hashrate before steps 4 and 5.
pub const MEASURE: Duration = Duration::from_millis(500);

#[cfg(test)]
mod tests {
    use super::*;

    /// The Bitcoin Core regtest fixture (see `tests/fixtures/README.md`).
    fn segwit_template() -> String {
        let path = format!(
            "{}/tests/fixtures/core-regtest-template-segwit.json",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
    }

    #[test]
    fn genesis_steps() {
        let l = Lesson::genesis();
        let h = l.header_step();
        assert_eq!(
            h.block_hash,
            "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
        );
        assert_eq!(h.fields.len(), 6);
        assert_eq!(h.fields.iter().map(|f| f.size).sum::<usize>(), 80);
        assert_eq!(h.fields[3].value, "1231006505 (2009-01-03 18:15:05 UTC)");
        let t = l.target_step();
        assert_eq!(t.expected_hashes, "4295032833");
        assert_eq!(t.target_leading_zero_bits, 32);
        let s = l.sha_step();
        assert!(s.matches_bitcoin_crate && s.meets_target);
        assert_eq!(s.hash, h.block_hash);
        assert_eq!(s.block2[3], format!("{:08x}", 2083236893u32.swap_bytes()));
        let e = l.extranonce_step(1e6).unwrap();
        assert_eq!(e.root_matches_header, Some(true));
        assert_eq!(e.before.extranonce, "04");
        assert_eq!(e.after.extranonce, "05");
        assert_ne!(e.before.midstate, e.after.midstate);
        assert!((e.seconds_per_header - 4294.967296).abs() < 1e-6);
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(Style::decide(true, None).color);
        assert!(Style::decide(true, Some(OsStr::new(""))).color);
        assert!(!Style::decide(true, Some(OsStr::new("1"))).color);
        assert!(!Style::decide(false, None).color);
        let l = Lesson::genesis();
        let plain = render_header(&l.header_step(), &Style { color: false });
        let coloured = render_header(&l.header_step(), &Style { color: true });
        assert!(!plain.contains('\x1b'));
        // Each of the six fields gets its own colour in the hex line.
        for code in FIELD_COLORS {
            assert!(coloured.contains(&format!("\x1b[{code}m")), "{code}");
        }
    }

    #[test]
    fn leading_zeros_and_dates() {
        let mut b = [0u8; 32];
        assert_eq!(leading_zero_bits(&b), 256);
        b[2] = 0x10;
        assert_eq!(leading_zero_bits(&b), 19);
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
    }

    #[test]
    fn easy_difficulties_are_powers_of_two() {
        assert_eq!(easy_difficulty(4_294_967_296.0, 1.0), 1.0);
        // 2^32 / 500,000 = 8590, so 2^-14 (262,144 hashes) is the first at most 0.5 s.
        assert_eq!(easy_difficulty(1_000_000.0, 0.5), (-14f64).exp2());
        assert_eq!(easy_difficulty(0.0, 1.0), (-32f64).exp2());
    }

    #[test]
    fn easy_sweep_finds_the_lowest_hit() {
        let l = Lesson::genesis();
        let cancel = AtomicBool::new(false);
        let d = (-12f64).exp2();
        let s = easy_sweep(&l.header, d, 4, Backend::Soft, 1, &|_| {}, &cancel).unwrap();
        assert!(s.hit.meets);
        assert_eq!(s.tries, u64::from(s.hit.nonce) + 1);
        assert_eq!(s.first.len(), 4);
        // No nonce below the hit meets the target (checked with the bitcoin crate).
        let target = pow::share_target(d).unwrap();
        let mut h = l.header;
        for n in (0..s.hit.nonce).take(2000) {
            h.set_nonce(n);
            assert!(!pow::meets(&h.block_hash(), target), "nonce {n}");
        }
        assert!(easy_sweep(&l.header, 2.0, 4, Backend::Soft, 1, &|_| {}, &cancel).is_err());
    }

    #[test]
    fn template_lesson() {
        let l = Lesson::from_template_json("segwit.json", &segwit_template()).unwrap();
        let Source::Template(t) = &l.source else {
            panic!("not a template")
        };
        assert_eq!(t.height, 111);
        assert_eq!(t.witness_commitment_matches, Some(true));
        assert_eq!(
            l.target_step().target,
            "7fffff0000000000000000000000000000000000000000000000000000000000"
        );
        let e = l.extranonce_step(1e6).unwrap();
        assert_eq!(
            e.before.merkle_root,
            l.header.header.merkle_root.to_string()
        );
        assert_eq!(e.branch_length, 3);
        let cancel = AtomicBool::new(false);
        let opts = SolutionOptions {
            from: None,
            seconds: 1.0,
            max_seconds: 10.0,
            hashrate_hs: 1e5,
            backend: Backend::Soft,
            threads: 1,
        };
        let s = solution(&l.header, &opts, &|_| {}, &cancel).unwrap();
        let mut h = l.header;
        h.set_nonce(s.nonce.unwrap());
        assert!(pow::meets(&h.block_hash(), h.block_target()));
        assert!(matches!(
            Lesson::from_template_json("x", "{}"),
            Err(TeachError::Template { .. })
        ));
    }

    #[test]
    fn from_above_the_nonce_is_refused() {
        let l = Lesson::genesis();
        let cancel = AtomicBool::new(false);
        let opts = SolutionOptions {
            from: Some(u32::MAX),
            seconds: 1.0,
            max_seconds: 10.0,
            hashrate_hs: 1e5,
            backend: Backend::Soft,
            threads: 1,
        };
        assert!(matches!(
            solution(&l.header, &opts, &|_| {}, &cancel),
            Err(TeachError::FromAboveNonce { .. })
        ));
    }
}
