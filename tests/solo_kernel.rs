//! Blocks built by noncesweep's template code and mined by its engine,
//! validated by Bitcoin Core's own consensus code (`bitcoinkernel`, a
//! regtest chainstate in a temporary directory): BIP34 heights including
//! the OP_1..OP_16 range, merkle roots, witness commitments over P2WPKH and
//! P2TR spends signed with the `bitcoin` crate, and proof of work. Broken
//! blocks (wrong height push, wrong witness commitment) must be rejected.

use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::key::{Keypair, TapTweak};
use bitcoin::secp256k1::{Message, Secp256k1, SecretKey};
use bitcoin::sighash::{EcdsaSighashType, Prevouts, SighashCache, TapSighashType};
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, Block, BlockHash, CompactTarget, CompressedPublicKey, OutPoint, ScriptBuf, Sequence,
    Transaction, TxIn, TxOut, Witness,
};
use bitcoinkernel::{
    ChainType, ChainstateManager, ContextBuilder, Log, Logger, ProcessBlockResult,
};
use noncesweep::hashing::coinbase::{self, CoinbaseBuilder};
use noncesweep::hashing::engine::{Miner, MinerConfig};
use noncesweep::hashing::sha256::{Backend, VersionWork};
use noncesweep::hashing::work::{Share, BIP320_MASK};
use noncesweep::sources::gbt::template::{BlockTemplate, Payout, TemplateJob, TemplateTx};

/// Everything the kernel logs, to find the reason of a rejection.
static KERNEL_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;
impl Log for Capture {
    fn log(&self, message: &str) {
        KERNEL_LOG
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message.to_string());
    }
}

fn kernel_log() -> Vec<String> {
    KERNEL_LOG.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

fn log_contains(s: &str) -> bool {
    kernel_log().iter().any(|m| m.contains(s))
}

fn log_tail() -> Vec<String> {
    let log = kernel_log();
    log[log.len().saturating_sub(4)..].to_vec()
}

const SUBSIDY: Amount = Amount::from_sat(50 * 100_000_000);
const FEE: Amount = Amount::from_sat(10_000);

struct Chain {
    tip: BlockHash,
    height: u32,
    time: u32,
    /// Coinbase of each height (index = height).
    coinbases: Vec<Option<Transaction>>,
}

struct Engine {
    miner: Miner,
    shares: Receiver<Share>,
}

impl Engine {
    fn new() -> Engine {
        let (tx, shares) = mpsc::channel();
        // A vector backend where there is one, so that jobs with a rolling
        // mask go through the version-group kernel; on a CPU without one,
        // the soft kernel run lane by lane takes the same engine path.
        let backend = Backend::available()
            .into_iter()
            .find(|b| b.shares_versions())
            .unwrap_or(Backend::Soft);
        let mut config = MinerConfig::new(backend, 1);
        if config.sweep_versions.is_none() {
            config.sweep_versions = Some(Arc::new(
                |w: &VersionWork, a, b, hits: &mut Vec<(usize, u32)>| {
                    Backend::Soft.sweep_versions(w, a, b, hits)
                },
            ));
        }
        let miner = Miner::start(config, tx).expect("miner");
        Engine { miner, shares }
    }

    /// Mine `job` with the engine until it finds a block.
    fn mine(&self, job: &TemplateJob) -> Block {
        self.miner.set_job(Some(Arc::clone(&job.job)));
        let share = loop {
            let s = self
                .shares
                .recv_timeout(Duration::from_secs(60))
                .expect("the engine finds a regtest block");
            if s.is_block && s.job_id == job.job.id {
                break s;
            }
        };
        self.miner.set_job(None);
        while self.shares.try_recv().is_ok() {}
        job.block(&share).expect("block from share")
    }
}

/// A template as Core would make it on top of `chain`.
fn template(chain: &Chain, txs: &[Transaction], fees: Amount) -> BlockTemplate {
    let transactions: Vec<TemplateTx> = txs
        .iter()
        .map(|tx| TemplateTx {
            tx: tx.clone(),
            txid: tx.compute_txid(),
            wtxid: tx.compute_wtxid(),
        })
        .collect();
    let wtxids: Vec<_> = transactions.iter().map(|t| t.wtxid).collect();
    BlockTemplate {
        version: 0x2000_0000,
        previous_block_hash: chain.tip,
        transactions,
        coinbase_value: SUBSIDY + fees,
        bits: CompactTarget::from_consensus(0x207f_ffff),
        curtime: chain.time + 1,
        height: chain.height + 1,
        longpollid: None,
        default_witness_commitment: Some(coinbase::witness_commitment_script(&wtxids)),
        rules: vec!["csv".into(), "!segwit".into(), "taproot".into()],
    }
}

fn submit(chainman: &ChainstateManager, block: &Block) -> ProcessBlockResult {
    let bytes = bitcoin::consensus::encode::serialize(block);
    let kblock = bitcoinkernel::Block::new(&bytes).expect("kernel parses the block");
    chainman.process_block(&kblock)
}

fn accept(chain: &mut Chain, chainman: &ChainstateManager, block: Block) {
    let r = submit(chainman, &block);
    assert!(
        r.is_new_block(),
        "height {} rejected: {r:?}; kernel log tail: {:?}",
        chain.height + 1,
        log_tail()
    );
    chain.tip = block.block_hash();
    chain.height += 1;
    chain.time = block.header.time;
    chain.coinbases.push(Some(block.txdata[0].clone()));
}

fn spend_tx(prev: &Transaction, to: ScriptBuf) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::new(prev.compute_txid(), 0),
            script_sig: ScriptBuf::new(),
            sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: prev.output[0].value - FEE,
            script_pubkey: to,
        }],
    }
}

#[test]
fn core_consensus_accepts_our_blocks_and_rejects_broken_ones() {
    let _logger = Logger::new(Capture).expect("kernel logger");
    let secp = Secp256k1::new();
    let sk = SecretKey::from_slice(&[0x11; 32]).unwrap();
    let pk = CompressedPublicKey::from_private_key(
        &secp,
        &bitcoin::PrivateKey::new(sk, bitcoin::Network::Regtest),
    )
    .unwrap();
    let p2wpkh = ScriptBuf::new_p2wpkh(&pk.wpubkey_hash());
    let keypair = Keypair::from_secret_key(&secp, &sk);
    let (xonly, _) = keypair.x_only_public_key();
    let p2tr = ScriptBuf::new_p2tr(&secp, xonly, None);

    let context = ContextBuilder::new()
        .chain_type(ChainType::Regtest)
        .build()
        .expect("kernel context");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let blocks = dir.path().join("blocks");
    let chainman =
        ChainstateManager::new(&context, data.to_str().unwrap(), blocks.to_str().unwrap())
            .expect("chainstate manager");
    let genesis = bitcoin::constants::genesis_block(bitcoin::Network::Regtest);
    let mut chain = Chain {
        tip: genesis.block_hash(),
        height: 0,
        time: genesis.header.time,
        coinbases: vec![None],
    };
    let engine = Engine::new();
    let tag = b"/noncesweep/".to_vec();

    // Blocks 1..20 (BIP34 OP_1..OP_16, then 0x01 0x11 ...), then up to 102
    // so the first coinbases mature. Odd heights pay P2WPKH, even P2TR.
    let mut rolled = 0;
    for h in 1..=102u32 {
        let payout = Payout {
            script: if h % 2 == 1 {
                p2wpkh.clone()
            } else {
                p2tr.clone()
            },
            tag: tag.clone(),
        };
        // Odd heights roll BIP320 version bits, as `solo` does by default.
        let job = TemplateJob::new(
            Arc::new(template(&chain, &[], Amount::ZERO)),
            &payout,
            format!("h{h}"),
        )
        .unwrap()
        .with_version_mask(if h % 2 == 1 { BIP320_MASK } else { 0 });
        let block = engine.mine(&job);
        let version = block.header.version.to_consensus() as u32;
        assert_eq!(version & !BIP320_MASK, 0x2000_0000);
        if h % 2 == 0 {
            assert_eq!(version, 0x2000_0000);
        } else if version != 0x2000_0000 {
            rolled += 1;
        }
        if h <= 16 {
            assert_eq!(
                block.txdata[0].input[0].script_sig.as_bytes()[0],
                0x50 + h as u8
            );
        }
        accept(&mut chain, &chainman, block);
    }
    assert_eq!(chain.height, 102);
    // About half the odd-height blocks are found on a rolled version.
    assert!(rolled >= 5, "only {rolled} blocks with rolled version bits");

    // A block with segwit spends: P2WPKH (height 1's coinbase) and P2TR key
    // path (height 2's coinbase), so it carries witness data.
    let cb1 = chain.coinbases[1].clone().unwrap();
    let cb2 = chain.coinbases[2].clone().unwrap();
    let mut t1 = spend_tx(&cb1, p2tr.clone());
    let sighash = SighashCache::new(&t1)
        .p2wpkh_signature_hash(
            0,
            &cb1.output[0].script_pubkey,
            cb1.output[0].value,
            EcdsaSighashType::All,
        )
        .unwrap();
    let sig = secp.sign_ecdsa(&Message::from_digest(sighash.to_byte_array()), &sk);
    t1.input[0].witness = Witness::p2wpkh(
        &bitcoin::ecdsa::Signature {
            signature: sig,
            sighash_type: EcdsaSighashType::All,
        },
        &pk.0,
    );
    let mut t2 = spend_tx(&cb2, p2wpkh.clone());
    let sighash = SighashCache::new(&t2)
        .taproot_key_spend_signature_hash(
            0,
            &Prevouts::All(&[cb2.output[0].clone()]),
            TapSighashType::Default,
        )
        .unwrap();
    let tweaked = keypair.tap_tweak(&secp, None);
    let sig = secp.sign_schnorr_no_aux_rand(
        &Message::from_digest(sighash.to_byte_array()),
        &tweaked.to_keypair(),
    );
    t2.input[0].witness = Witness::p2tr_key_spend(&bitcoin::taproot::Signature {
        signature: sig,
        sighash_type: TapSighashType::Default,
    });
    assert_ne!(
        t1.compute_txid().to_raw_hash(),
        t1.compute_wtxid().to_raw_hash()
    );
    let spends = [t1, t2];
    let payout = Payout {
        script: p2wpkh.clone(),
        tag: tag.clone(),
    };
    let segwit_template = Arc::new(template(&chain, &spends, FEE + FEE));

    // Broken 1: a wrong BIP34 height push (height - 1, so that the coinbase's
    // nLockTime stays final), mined all the same.
    let good = TemplateJob::new(Arc::clone(&segwit_template), &payout, "segwit".into()).unwrap();
    let mut wrong_height =
        TemplateJob::new(Arc::clone(&segwit_template), &payout, "bad-height".into()).unwrap();
    wrong_height.builder = CoinbaseBuilder {
        height: segwit_template.height - 1,
        ..good.builder.clone()
    };
    let mut job = (*wrong_height.job).clone();
    job.coinbase = wrong_height.builder.parts().unwrap();
    wrong_height.job = Arc::new(job);
    let block = engine.mine(&wrong_height);
    assert!(submit(&chainman, &block).is_rejected());
    assert!(log_contains("bad-cb-height"), "{:?}", log_tail());

    // Broken 2: a witness commitment over no transactions, while the
    // block carries two with witnesses.
    let mut wrong_commitment = TemplateJob::new(
        Arc::clone(&segwit_template),
        &payout,
        "bad-commitment".into(),
    )
    .unwrap();
    wrong_commitment.builder.witness_commitment = Some(coinbase::witness_commitment_script(&[]));
    let mut job = (*wrong_commitment.job).clone();
    job.coinbase = wrong_commitment.builder.parts().unwrap();
    wrong_commitment.job = Arc::new(job);
    let header_job = Arc::clone(&wrong_commitment.job);
    engine.miner.set_job(Some(header_job));
    let share = loop {
        let s = engine.shares.recv_timeout(Duration::from_secs(60)).unwrap();
        if s.is_block && s.job_id == "bad-commitment" {
            break s;
        }
    };
    engine.miner.set_job(None);
    while engine.shares.try_recv().is_ok() {}
    // The template code refuses to build it (the commitment check), so
    // assemble it by hand to show Core rejects it too.
    assert!(wrong_commitment.block(&share).is_err());
    let block = Block {
        header: share.header.header,
        txdata: std::iter::once(wrong_commitment.builder.build(&share.extranonce2).unwrap())
            .chain(spends.iter().cloned())
            .collect(),
    };
    assert!(block.check_merkle_root());
    assert!(submit(&chainman, &block).is_rejected());
    assert!(log_contains("bad-witness-merkle-match"), "{:?}", log_tail());

    // The correct block on the same template is accepted.
    let block = engine.mine(&good);
    assert_eq!(block.txdata.len(), 3);
    assert!(block.check_witness_commitment());
    accept(&mut chain, &chainman, block);
    assert_eq!(chain.height, 103);
    let best = chainman.best_entry().expect("tip");
    assert_eq!(best.height(), 103);
}
