//! Templates captured from Bitcoin Core (shared fixtures): the coinbase,
//! merkle root, witness commitment and whole block noncesweep builds must
//! be the ones Core accepted; broken templates get clear errors.

use std::path::PathBuf;
use std::sync::Arc;

use noncesweep::hashing::coinbase;
use noncesweep::hashing::header::HeaderTemplate;
use noncesweep::sources::gbt::template::{
    block_hex, BlockTemplate, Payout, TemplateError, TemplateJob,
};
use serde_json::Value;

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures_dir().join(name)).expect(name);
    serde_json::from_str(&text).expect(name)
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k}"))
}

#[test]
fn segwit_template_gives_the_block_core_accepted() {
    let tv = fixture("core-regtest-template-segwit.json");
    let fx = fixture("core-regtest-block-from-template.json");
    let t = Arc::new(BlockTemplate::from_json(&tv).unwrap());
    assert_eq!(t.transactions.len(), 4);
    // The commitment from the wtxids equals the node's.
    let commitment = t.witness_commitment().unwrap().unwrap();
    assert_eq!(
        hex::encode(commitment.as_bytes()),
        s(&tv, "default_witness_commitment")
    );
    // The fixture's coinbase: height push 01 6f, 8-byte extranonce, tag.
    let script_sig = hex::decode(s(&fx, "coinbase_script_sig")).unwrap();
    assert_eq!(&script_sig[..2], &[0x01, 0x6f]);
    let extranonce = &script_sig[3..11];
    let tag = script_sig[12..].to_vec();
    let payout = Payout {
        script: bitcoin::ScriptBuf::from_bytes(hex::decode(s(&fx, "payout_script")).unwrap()),
        tag,
    };
    let job = TemplateJob::new(Arc::clone(&t), &payout, "fixture".into()).unwrap();
    let coinbase_tx = job.builder.build(extranonce).unwrap();
    assert_eq!(
        hex::encode(bitcoin::consensus::encode::serialize(&coinbase_tx)),
        s(&fx, "coinbase_tx_witness")
    );
    assert_eq!(
        coinbase_tx.compute_txid().to_string(),
        s(&fx, "coinbase_txid")
    );
    // The engine's path: the job's coinbase parts and merkle branch.
    let txid = job.job.coinbase.txid(&[], extranonce);
    let root = coinbase::merkle_root(txid, &job.job.merkle_branch);
    assert_eq!(root.to_string(), s(&fx, "merkle_root"));
    let mut en = [0u8; 8];
    en.copy_from_slice(extranonce);
    let mut job_at = (*job.job).clone();
    job_at.extranonce2_start = u64::from_le_bytes(en);
    let variant = job_at.variant(0).unwrap();
    assert_eq!(variant.extranonce2, extranonce);
    let mut header = variant.header;
    header.set_nonce(fx["nonce"].as_u64().unwrap() as u32);
    assert_eq!(hex::encode(header.to_bytes()), s(&fx, "header"));
    assert_eq!(header.block_hash().to_string(), s(&fx, "block_hash"));
    // The whole block, byte for byte.
    let block = job
        .block_with_header(
            HeaderTemplate::from_hex(s(&fx, "header")).unwrap(),
            extranonce,
        )
        .unwrap();
    assert_eq!(block_hex(&block), s(&fx, "block"));
    assert_eq!(block.header.merkle_root, root);
}

#[test]
fn height_one_template_pushes_op_1() {
    let tv = fixture("core-regtest-template-height1.json");
    let t = Arc::new(BlockTemplate::from_json(&tv).unwrap());
    assert_eq!(t.height, 1);
    let payout = Payout {
        script: bitcoin::ScriptBuf::from_bytes(vec![0x51]),
        tag: Vec::new(),
    };
    let job = TemplateJob::new(t, &payout, "h1".into()).unwrap();
    let cb = job.builder.build(&[0u8; 8]).unwrap();
    let script_sig = cb.input[0].script_sig.as_bytes();
    assert_eq!(script_sig[0], 0x51, "height 1 is OP_1");
    assert!(script_sig.len() >= 2);
    // No transactions: the node's default commitment is the one used.
    assert_eq!(
        hex::encode(cb.output[1].script_pubkey.as_bytes()),
        s(&tv, "default_witness_commitment")
    );
    assert_eq!(cb.input[0].witness.len(), 1);
    assert_eq!(cb.lock_time.to_consensus_u32(), 0);
    assert_eq!(cb.input[0].sequence.0, 0xffff_fffe);
}

#[test]
fn broken_templates_are_refused_with_clear_errors() {
    let mut tv = fixture("core-regtest-template-segwit.json");
    tv.as_object_mut().unwrap().remove("bits");
    let e = BlockTemplate::from_json(&tv).unwrap_err();
    assert_eq!(e, TemplateError::Missing("bits"));
    assert_eq!(
        e.to_string(),
        "the block template is missing the required field `bits`"
    );

    let mut tv = fixture("core-regtest-template-segwit.json");
    tv["rules"] = serde_json::json!(["csv", "!segwit", "taproot", "!future-rule"]);
    let e = BlockTemplate::from_json(&tv).unwrap_err();
    assert_eq!(e, TemplateError::UnknownRule("!future-rule".into()));
    assert!(e
        .to_string()
        .contains("`!future-rule`, which noncesweep does not know"));

    // A transaction whose data does not match its stated txid.
    let mut tv = fixture("core-regtest-template-segwit.json");
    let other = tv["transactions"][1]["txid"].clone();
    tv["transactions"][0]["txid"] = other;
    assert!(matches!(
        BlockTemplate::from_json(&tv),
        Err(TemplateError::Invalid {
            field: "transactions",
            ..
        })
    ));
}
