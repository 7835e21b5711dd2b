//! The test pool checked against the real ckpool transcript: its notify
//! lines have ckpool's exact wire form, and its share check accepts the
//! shares ckpool accepted (and refuses them once altered). This is what
//! lets the end-to-end tests trust the test pool's verdicts.

mod testpool;

use serde_json::Value;
use testpool::{check_share, notify_line, PoolJob, ShareParts};

#[test]
fn test_pool_agrees_with_the_ckpool_transcript() {
    let path = format!(
        "{}/tests/fixtures/stratum-ckpool-transcript.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("transcript fixture");
    let mut jobs = std::collections::HashMap::new();
    let mut extranonce1 = Vec::new();
    let mut difficulty = 0.0;
    let mut checked = 0;
    for raw in text.lines() {
        let rec: Value = serde_json::from_str(raw).unwrap();
        let line: Value = serde_json::from_str(rec["line"].as_str().unwrap()).unwrap();
        match line["method"].as_str() {
            Some("mining.notify") => {
                let params = line["params"].as_array().unwrap();
                let job = PoolJob::from_empty_block_notify(params);
                // Our own notify for the same job is ckpool's, field by field.
                let ours: Value =
                    serde_json::from_str(&notify_line(&job, params[8].as_bool().unwrap())).unwrap();
                assert_eq!(&ours["params"], &line["params"]);
                jobs.insert(job.id.clone(), job);
            }
            Some("mining.set_difficulty") => difficulty = line["params"][0].as_f64().unwrap(),
            Some("mining.submit") => {
                let p = line["params"].as_array().unwrap();
                let job = &jobs[p[1].as_str().unwrap()];
                let hex32 = |v: &Value| u32::from_str_radix(v.as_str().unwrap(), 16).unwrap();
                let en2 = hex::decode(p[2].as_str().unwrap()).unwrap();
                let share = ShareParts {
                    extranonce1: &extranonce1,
                    extranonce2: &en2,
                    ntime: hex32(&p[3]),
                    nonce: hex32(&p[4]),
                    version_bits: None,
                };
                let (hash, _) = check_share(job, &share, 0, difficulty)
                    .unwrap_or_else(|r| panic!("ckpool accepted {p:?}, the test pool says {r}"));
                assert!(hash.to_string().starts_with("0000"), "{hash}");
                // The same share with another nonce misses the target.
                let altered = ShareParts {
                    nonce: share.nonce ^ 1,
                    ..share
                };
                assert_eq!(
                    check_share(job, &altered, 0, difficulty),
                    Err("Above target")
                );
                // Version bits outside the granted mask are refused.
                let rolled = ShareParts {
                    version_bits: Some(0x4000_0000),
                    ..share
                };
                assert_eq!(
                    check_share(job, &rolled, 0x1fffe000, difficulty),
                    Err("Invalid version mask")
                );
                checked += 1;
            }
            None if line["result"].is_array() => {
                extranonce1 = hex::decode(line["result"][1].as_str().unwrap()).unwrap();
            }
            _ => {}
        }
    }
    assert_eq!(difficulty, 1.0);
    assert_eq!(checked, 3);
}
