//! The Stratum codec on its own: every message round-trips, hostile pool
//! lines are errors (never panics), replies get their meaning only from the
//! pending-id map, and the real ckpool transcript parses and its accepted
//! shares rebuild into headers that meet the share target.

use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;
use bitcoin::{BlockHash, TxMerkleNode};
use noncesweep::hashing::pow;
use noncesweep::sources::stratum::codec::{
    configure_result, Answer, ClientMessage, CodecError, LineBuffer, Notify, Pending, PendingMap,
    Reply, Request, ServerId, ServerMessage, StratumError, Submit, Subscribed, VersionRolling,
    MAX_LINE,
};
use noncesweep::sources::stratum::job::{rebuild_header, submit_params, JobBook};
use noncesweep::sources::stratum::wire::{Difficulty, Extranonce1, Extranonce2Size, PrevHash};
use serde_json::{json, Value};

fn notify(clean: bool) -> Notify {
    Notify {
        job_id: "6b0a1b9e00000001".into(),
        prev_hash: PrevHash(BlockHash::from_byte_array([7; 32])),
        coinb1: vec![1, 2, 3],
        coinb2: vec![4, 5],
        merkle_branch: vec![
            TxMerkleNode::from_byte_array([9; 32]),
            TxMerkleNode::from_byte_array([10; 32]),
        ],
        version: 0x2000_0000,
        nbits: 0x207f_ffff,
        ntime: 0x6b0a_1bb0,
        clean_jobs: clean,
    }
}

#[test]
fn every_client_message_round_trips() {
    let requests = vec![
        Request::Configure(Some(VersionRolling {
            mask: 0x1fffe000,
            min_bit_count: 2,
        })),
        Request::Configure(None),
        Request::Subscribe {
            agent: "noncesweep/0.1.0".into(),
            session: None,
        },
        Request::Subscribe {
            agent: "noncesweep/0.1.0".into(),
            session: Some("6b0a1b9f".into()),
        },
        Request::Authorize {
            user: "bc1q.worker".into(),
            password: "x".into(),
        },
        Request::ExtranonceSubscribe,
        Request::SuggestDifficulty(Difficulty::new(0.001).unwrap()),
        Request::SuggestDifficulty(Difficulty::new(512.0).unwrap()),
        Request::Submit(Submit {
            worker: "w".into(),
            job_id: "j1".into(),
            extranonce2: vec![0, 0, 0, 1],
            ntime: 0x6b0a1cac,
            nonce: 0x61dce8a3,
            version_bits: None,
        }),
        Request::Submit(Submit {
            worker: "w".into(),
            job_id: "j1".into(),
            extranonce2: vec![0xff; 8],
            ntime: 1,
            nonce: 0,
            version_bits: Some(0x0000_6000),
        }),
    ];
    for (i, request) in requests.into_iter().enumerate() {
        let msg = ClientMessage::Request {
            id: i as u64 + 1,
            request,
        };
        let line = msg.to_line();
        assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
        assert_eq!(
            ClientMessage::from_line(line.trim_end()).unwrap(),
            msg,
            "{line}"
        );
    }
    for msg in [
        ClientMessage::pong(ServerId::Num(5)),
        ClientMessage::version_reply(ServerId::Str("v".into()), "noncesweep/0.1.0"),
    ] {
        assert_eq!(ClientMessage::from_line(&msg.to_line()).unwrap(), msg);
    }
}

#[test]
fn submit_wire_format() {
    let line = ClientMessage::Request {
        id: 4,
        request: Request::Submit(Submit {
            worker: "w".into(),
            job_id: "j".into(),
            extranonce2: vec![0, 0, 0, 0, 0, 0, 0, 0x2a],
            ntime: 0x6b0a1cac,
            nonce: 0x61dce8a3,
            version_bits: Some(0x2000),
        }),
    }
    .to_line();
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        v["params"],
        json!([
            "w",
            "j",
            "000000000000002a",
            "6b0a1cac",
            "61dce8a3",
            "00002000"
        ])
    );
}

#[test]
fn every_server_message_round_trips() {
    let msgs = vec![
        ServerMessage::Notify(notify(true)),
        ServerMessage::Notify(notify(false)),
        ServerMessage::SetDifficulty(Difficulty::new(1.0).unwrap()),
        ServerMessage::SetDifficulty(Difficulty::new(0.0001).unwrap()),
        ServerMessage::SetExtranonce {
            extranonce1: Extranonce1::parse("9f1b0a6b").unwrap(),
            extranonce2_size: Extranonce2Size::new(8).unwrap(),
        },
        ServerMessage::SetVersionMask(0x1fffe000),
        ServerMessage::Reconnect {
            host: None,
            port: None,
            wait: None,
        },
        ServerMessage::Reconnect {
            host: Some("127.0.0.1".into()),
            port: Some(3334),
            wait: Some(5),
        },
        ServerMessage::ShowMessage("maintenance at noon".into()),
        ServerMessage::GetVersion {
            id: ServerId::Num(77),
        },
        ServerMessage::Ping {
            id: ServerId::Str("p1".into()),
        },
        ServerMessage::Reply(Reply {
            id: 3,
            result: json!(true),
            error: None,
            reject_reason: None,
        }),
        ServerMessage::Reply(Reply {
            id: 4,
            result: json!(false),
            error: None,
            reject_reason: Some("Above target".into()),
        }),
        ServerMessage::Reply(Reply {
            id: 5,
            result: Value::Null,
            error: Some(StratumError {
                code: 21,
                message: "Job not found".into(),
                data: Value::Null,
            }),
            reject_reason: None,
        }),
    ];
    for msg in msgs {
        let line = msg.to_line();
        assert_eq!(
            ServerMessage::from_line(line.trim_end()).unwrap(),
            msg,
            "{line}"
        );
    }
}

/// Each typed reply survives encode -> decode -> resolve through the map.
#[test]
fn replies_round_trip_through_the_pending_map() {
    let now = Instant::now();
    let sub = Subscribed {
        subscriptions: vec![
            ("mining.set_difficulty".into(), "a1".into()),
            ("mining.notify".into(), "b2".into()),
        ],
        extranonce1: Extranonce1::parse("08000002").unwrap(),
        extranonce2_size: Extranonce2Size::new(4).unwrap(),
    };
    let cases: Vec<(Pending, Value, Answer)> = vec![
        (
            Pending::Configure,
            configure_result(Some(0x1fffe000)),
            Answer::Configure(Some(0x1fffe000)),
        ),
        (
            Pending::Configure,
            configure_result(None),
            Answer::Configure(None),
        ),
        (
            Pending::Subscribe { resume: None },
            sub.to_result(),
            Answer::Subscribe(Ok(sub.clone())),
        ),
        (Pending::Authorize, json!(true), Answer::Authorize(Ok(()))),
        (
            Pending::ExtranonceSubscribe,
            json!(true),
            Answer::ExtranonceSubscribe(true),
        ),
        (
            Pending::SuggestDifficulty,
            json!(true),
            Answer::SuggestDifficulty(true),
        ),
        (
            Pending::Submit {
                share_job: "1/j".into(),
            },
            json!(true),
            Answer::Submit {
                share_job: "1/j".into(),
                outcome: Ok(()),
            },
        ),
    ];
    for (pending, result, want) in cases {
        let mut map = PendingMap::new();
        let msg = map
            .register(Request::ExtranonceSubscribe, pending, now)
            .unwrap();
        let ClientMessage::Request { id, .. } = msg else {
            unreachable!()
        };
        let line = ServerMessage::Reply(Reply {
            id,
            result,
            error: None,
            reject_reason: None,
        })
        .to_line();
        let ServerMessage::Reply(reply) = ServerMessage::from_line(&line).unwrap() else {
            panic!("not a reply: {line}")
        };
        let (answer, latency) = map.resolve(&reply, now + Duration::from_millis(5)).unwrap();
        assert_eq!(answer, want);
        assert_eq!(latency, Duration::from_millis(5));
        assert!(map.is_empty());
    }
    assert_eq!(sub.session_id(), Some("b2"));
}

#[test]
fn both_reject_shapes_and_stale_classification() {
    let now = Instant::now();
    let mut map = PendingMap::new();
    let submit = |line: &str, map: &mut PendingMap| {
        let msg = map
            .register(
                Request::ExtranonceSubscribe,
                Pending::Submit {
                    share_job: "s".into(),
                },
                now,
            )
            .unwrap();
        let ClientMessage::Request { id, .. } = msg else {
            unreachable!()
        };
        let line = line.replace("@ID@", &id.to_string());
        let ServerMessage::Reply(r) = ServerMessage::from_line(&line).unwrap() else {
            panic!()
        };
        match map.resolve(&r, now).unwrap().0 {
            Answer::Submit { outcome, .. } => outcome,
            other => panic!("{other:?}"),
        }
    };
    // ckpool shape.
    let r = submit(
        r#"{"result":false,"error":null,"id":@ID@,"reject-reason":"Stale"}"#,
        &mut map,
    )
    .unwrap_err();
    assert_eq!(
        (r.code, r.reason.as_str(), r.is_stale()),
        (None, "Stale", true)
    );
    let r = submit(
        r#"{"result":false,"error":null,"id":@ID@,"reject-reason":"Invalid JobID"}"#,
        &mut map,
    )
    .unwrap_err();
    assert!(r.is_stale());
    let r = submit(
        r#"{"result":false,"error":null,"id":@ID@,"reject-reason":"Above target"}"#,
        &mut map,
    )
    .unwrap_err();
    assert!(!r.is_stale());
    // [code, message, data] shape.
    let r = submit(
        r#"{"result":null,"error":[21,"Job not found",null],"id":@ID@}"#,
        &mut map,
    )
    .unwrap_err();
    assert_eq!((r.code, r.is_stale()), (Some(21), true));
    let r = submit(
        r#"{"result":null,"error":[23,"Low difficulty share",null],"id":@ID@}"#,
        &mut map,
    )
    .unwrap_err();
    assert_eq!(
        (r.code, r.reason.as_str(), r.is_stale()),
        (Some(23), "Low difficulty share", false)
    );
    let r = submit(
        r#"{"result":null,"error":[22,"Duplicate share"],"id":@ID@}"#,
        &mut map,
    )
    .unwrap_err();
    assert!(!r.is_stale());
    assert!(r.is_duplicate());
    let r = submit(
        r#"{"result":false,"error":null,"id":@ID@,"reject-reason":"Duplicate"}"#,
        &mut map,
    )
    .unwrap_err();
    assert!(r.is_duplicate() && !r.is_stale());
    assert!(submit(r#"{"result":true,"error":null,"id":@ID@}"#, &mut map).is_ok());
    // A reply nobody asked for is an error, not a guess.
    let ServerMessage::Reply(r) =
        ServerMessage::from_line(r#"{"result":true,"error":null,"id":999}"#).unwrap()
    else {
        panic!()
    };
    assert!(matches!(
        map.resolve(&r, now),
        Err(CodecError::UnknownId(_))
    ));
    // The same reply shape means different things for different requests.
    let id_of = |m: ClientMessage| match m {
        ClientMessage::Request { id, .. } => id,
        _ => unreachable!(),
    };
    let a = id_of(
        map.register(Request::ExtranonceSubscribe, Pending::Authorize, now)
            .unwrap(),
    );
    let b = id_of(
        map.register(Request::ExtranonceSubscribe, Pending::Configure, now)
            .unwrap(),
    );
    let reply = |id| Reply {
        id,
        result: json!(true),
        error: None,
        reject_reason: None,
    };
    assert_eq!(
        map.resolve(&reply(a), now).unwrap().0,
        Answer::Authorize(Ok(()))
    );
    assert_eq!(
        map.resolve(&reply(b), now).unwrap().0,
        Answer::Configure(None)
    );
}

const NOTIFY_OK: &str = r#"{"params":["j1","3d08e3a1543eb9654ee46212791d22e42dbd42b3d95768f7e18bd21c55224842","0100","ff00",[],"20000000","207fffff","6b0a1bb0",true],"id":null,"method":"mining.notify"}"#;

#[test]
fn hostile_lines_are_errors_not_panics() {
    assert!(ServerMessage::from_line(NOTIFY_OK).is_ok());
    let notify_with = |i: usize, v: &str| {
        let mut n: Value = serde_json::from_str(NOTIFY_OK).unwrap();
        n["params"][i] = serde_json::from_str(v).unwrap();
        n.to_string()
    };
    let mut hostile: Vec<String> = vec![
        String::new(),
        "garbage".into(),
        "{".into(),
        "[1,2,3]".into(),
        "null".into(),
        r#"{"id":1,"result":true,"error":null}{"#.into(),
        // invalid hex, odd-length hex, non-ASCII in hex
        notify_with(1, r#""zz08e3a1543eb9654ee46212791d22e42dbd42b3d95768f7e18bd21c55224842""#),
        notify_with(2, r#""010""#),
        notify_with(3, r#""ff0é""#),
        notify_with(1, r#""3d08e3a1""#),
        notify_with(4, r#"["abcd"]"#),
        notify_with(4, r#""not a list""#),
        notify_with(5, r#""2000000""#),
        notify_with(6, r#"545259519"#),
        notify_with(8, r#""yes""#),
        notify_with(0, r#""""#),
        notify_with(0, r#"17"#),
        // missing and extra fields
        r#"{"params":["j1"],"id":null,"method":"mining.notify"}"#.into(),
        r#"{"params":["j1","3d08e3a1543eb9654ee46212791d22e42dbd42b3d95768f7e18bd21c55224842","0100","ff00",[],"20000000","207fffff","6b0a1bb0",true,"extra"],"id":null,"method":"mining.notify"}"#.into(),
        r#"{"params":"1","id":null,"method":"mining.set_difficulty"}"#.into(),
        r#"{"params":[],"id":null,"method":"mining.set_difficulty"}"#.into(),
        r#"{"params":[1,2],"id":null,"method":"mining.set_difficulty"}"#.into(),
        // negative, zero, NaN-like and non-numeric difficulty
        r#"{"params":[-1],"id":null,"method":"mining.set_difficulty"}"#.into(),
        r#"{"params":[0],"id":null,"method":"mining.set_difficulty"}"#.into(),
        r#"{"params":["NaN"],"id":null,"method":"mining.set_difficulty"}"#.into(),
        r#"{"params":[NaN],"id":null,"method":"mining.set_difficulty"}"#.into(),
        r#"{"params":[1e999],"id":null,"method":"mining.set_difficulty"}"#.into(),
        // extranonce2_size 0 and > 16, bad extranonce1
        r#"{"params":["9f1b0a6b",0],"id":null,"method":"mining.set_extranonce"}"#.into(),
        r#"{"params":["9f1b0a6b",17],"id":null,"method":"mining.set_extranonce"}"#.into(),
        r#"{"params":["9f1b0a6b",-4],"id":null,"method":"mining.set_extranonce"}"#.into(),
        r#"{"params":["9f1b0a6",4],"id":null,"method":"mining.set_extranonce"}"#.into(),
        format!(
            r#"{{"params":["{}",4],"id":null,"method":"mining.set_extranonce"}}"#,
            "00".repeat(33)
        ),
        r#"{"params":["1fffe00"],"id":null,"method":"mining.set_version_mask"}"#.into(),
        r#"{"params":["h",99999],"id":null,"method":"client.reconnect"}"#.into(),
        r#"{"params":["h",1,"soon"],"id":null,"method":"client.reconnect"}"#.into(),
        r#"{"params":[5],"id":null,"method":"client.show_message"}"#.into(),
        r#"{"params":[],"id":null,"method":"mining.ping"}"#.into(),
        r#"{"params":[],"id":1,"method":"mining.teleport"}"#.into(),
        r#"{"params":[],"id":1,"method":7}"#.into(),
        // replies without a usable id or with a bad error
        r#"{"id":"abc","result":true,"error":null}"#.into(),
        r#"{"id":-1,"result":true,"error":null}"#.into(),
        r#"{"result":true,"error":null}"#.into(),
        r#"{"id":1,"result":false,"error":"bad"}"#.into(),
        r#"{"id":1,"result":false,"error":["x","y"]}"#.into(),
        r#"{"id":1,"result":false,"reject-reason":5}"#.into(),
        "x".repeat(MAX_LINE + 1),
    ];
    hostile.push(format!(
        "{{\"id\":1,\"result\":\"{}\"}}",
        "é".repeat(MAX_LINE)
    ));
    for line in &hostile {
        let r = std::panic::catch_unwind(|| ServerMessage::from_line(line));
        match r {
            Ok(Err(_)) => {}
            Ok(Ok(m)) => panic!("accepted hostile line {line:?} as {m:?}"),
            Err(_) => panic!("panicked on {line:?}"),
        }
    }
    assert!(hostile.len() >= 20);

    // Subscribe replies that are wrong in shape are errors too.
    let now = Instant::now();
    for result in [
        json!(null),
        json!([[], "9f1b0a6b"]),
        json!([[], "9f1b0a6b", 0]),
        json!([[], "9f1b0a6b", 17]),
        json!([[], "xx", 4]),
        json!([[["mining.notify"]], "9f1b0a6b", 4]),
        json!(["subs", "9f1b0a6b", 4]),
        json!([[], "9f1b0a6b", 4, "extra"]),
    ] {
        let mut map = PendingMap::new();
        let _ = map.register(
            Request::ExtranonceSubscribe,
            Pending::Subscribe { resume: None },
            now,
        );
        let r = map.resolve(
            &Reply {
                id: 1,
                result: result.clone(),
                error: None,
                reject_reason: None,
            },
            now,
        );
        assert!(r.is_err(), "accepted subscribe result {result}");
    }
}

#[test]
fn line_buffer_caps_memory() {
    let mut lb = LineBuffer::new();
    lb.push(b"{\"a\":1}\r\n{\"b\"");
    assert_eq!(lb.next_line().unwrap().as_deref(), Some("{\"a\":1}"));
    assert_eq!(lb.next_line().unwrap(), None);
    lb.push(b":2}\n");
    assert_eq!(lb.next_line().unwrap().as_deref(), Some("{\"b\":2}"));
    // A megabyte without a newline is refused once it passes the cap.
    let mut lb = LineBuffer::new();
    let chunk = vec![b'a'; 16 * 1024];
    let mut refused = false;
    for _ in 0..64 {
        lb.push(&chunk);
        if lb.next_line() == Err(CodecError::LineTooLong) {
            refused = true;
            break;
        }
    }
    assert!(refused);
    assert!(lb.len() <= MAX_LINE + chunk.len());
    let mut lb = LineBuffer::new();
    lb.push(b"\xff\xfe\n");
    assert_eq!(lb.next_line(), Err(CodecError::NotUtf8));
}

#[test]
fn job_book_rules() {
    let n1 = notify(true);
    let mut book = JobBook::new();
    book.new_session(&[0xaa; 4], 4);
    book.set_difficulty(0.5);
    let j1 = book.on_notify(&n1);
    assert_eq!(j1.share_target, pow::share_target(0.5).unwrap());
    // A notify that is not clean leaves the older job valid.
    let mut n1b = notify(false);
    n1b.job_id = "j1b".into();
    let j1b = book.on_notify(&n1b);
    assert!(book.entry(&j1.id).is_some(), "not clean: j1 still valid");
    // Difficulty applies to the next job only, and a new difficulty
    // retires the older jobs when that job comes.
    book.set_difficulty(2.0);
    assert_eq!(book.current().unwrap().share_target, j1.share_target);
    assert!(book.entry(&j1.id).is_some() && book.entry(&j1b.id).is_some());
    let mut n2 = notify(false);
    n2.job_id = "j2".into();
    let j2 = book.on_notify(&n2);
    assert_eq!(j2.share_target, pow::share_target(2.0).unwrap());
    assert!(book.entry(&j1.id).is_none() && book.entry(&j1b.id).is_none());
    // The same difficulty again changes nothing.
    book.set_difficulty(2.0);
    let mut n2b = notify(false);
    n2b.job_id = "j2b".into();
    book.on_notify(&n2b);
    assert!(book.entry(&j2.id).is_some());
    // clean_jobs forgets every older one.
    let mut n3 = notify(true);
    n3.job_id = "j3".into();
    let j3 = book.on_notify(&n3);
    assert!(book.entry(&j2.id).is_none() && book.entry(&j3.id).is_some());
    // A new extranonce1 applies from the next notify and kills older jobs.
    book.set_extranonce(&[0xbb; 8], 8);
    assert!(book.entry(&j3.id).is_some());
    let mut n4 = notify(false);
    n4.job_id = "j4".into();
    let j4 = book.on_notify(&n4);
    assert!(book.entry(&j3.id).is_none());
    assert_eq!(j4.extranonce1, vec![0xbb; 8]);
    assert_eq!(j4.extranonce2_size, 8);
    // The same pool job id in a new session is a different job.
    book.new_session(&[0xcc; 4], 4);
    let j4b = book.on_notify(&n4);
    assert_ne!(j4b.id, j4.id);
    assert!(book.entry(&j4.id).is_none());
    // The version mask takes effect at once on the current job.
    let rolled = book.set_version_mask(0x1fffe000).unwrap();
    assert_eq!(rolled.version_mask, 0x1fffe000);
    assert_eq!(rolled.version as u32 & !0x1fffe000, 0x2000_0000);
    // A share of it becomes a submit with the sixth parameter.
    let v = rolled.variant(3).unwrap();
    let mut header = v.header;
    header.set_nonce(0x01020304);
    let share = noncesweep::hashing::work::Share {
        job_id: rolled.id.clone(),
        extranonce2: v.extranonce2.clone(),
        header,
        hash: header.block_hash(),
        difficulty: 1.0,
        is_block: false,
        version_bits: header.header.version.to_consensus() as u32 & 0x1fffe000,
    };
    let submit = book.submit_for(&share, "w").unwrap();
    assert_eq!(submit.job_id, "j4");
    assert_eq!(submit.nonce, 0x01020304);
    assert_eq!(submit.version_bits, Some(share.version_bits));
    assert_eq!(rebuild_header(&rolled, &submit), header);
    assert_eq!(submit_params(&share, "w", "j4", None).version_bits, None);
}

#[test]
fn rolled_mask_is_the_grant_within_the_request() {
    let mut book = JobBook::with_requested_mask(0x1fff_e000);
    book.new_session(&[0xaa; 4], 4);
    book.on_notify(&notify(true));
    // A pool granting every bit: only the requested ones are rolled.
    let job = book.set_version_mask(0xffff_ffff).unwrap();
    assert_eq!(book.version_mask(), 0x1fff_e000);
    assert_eq!(job.version_mask, 0x1fff_e000);
    assert_eq!(job.version as u32 & !0x1fff_e000, 0x2000_0000);
    for i in [0, 1, 77, 1 << 16, (1 << 16) + 5] {
        let v = job.variant(i).unwrap();
        let version = v.header.header.version.to_consensus() as u32;
        assert_eq!(version & !0x1fff_e000, 0x2000_0000, "variant {i}");
        // The sixth parameter is the whole version within the grant, so
        // the pool's `(job & !granted) | bits` is the header hashed.
        let share = noncesweep::hashing::work::Share {
            job_id: job.id.clone(),
            extranonce2: v.extranonce2.clone(),
            header: v.header,
            hash: v.header.block_hash(),
            difficulty: 1.0,
            is_block: false,
            version_bits: version & job.version_mask,
        };
        let submit = book.submit_for(&share, "w").unwrap();
        assert_eq!(submit.version_bits, Some(version));
        assert_eq!(rebuild_header(&job, &submit), v.header);
    }
    // A narrower request (--version-mask) is intersected too; a grant
    // outside it leaves nothing to roll.
    let mut book = JobBook::with_requested_mask(0x0001_e000);
    book.new_session(&[0xaa; 4], 4);
    book.on_notify(&notify(true));
    assert_eq!(
        book.set_version_mask(0x1fff_e000).unwrap().version_mask,
        0x0001_e000
    );
    assert_eq!(book.set_version_mask(0x1ffe_0000).unwrap().version_mask, 0);
    assert_eq!(book.version_mask(), 0);
}

/// The real ckpool session: every line parses, and each accepted submit
/// rebuilds into a header whose hash meets the share target.
#[test]
fn ckpool_transcript() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stratum-ckpool-transcript.jsonl"
    ))
    .expect("transcript fixture");
    let mut book = JobBook::new();
    let mut submits: Vec<(u64, Submit)> = Vec::new();
    let mut accepted_ids = Vec::new();
    let mut jobs_by_pool_id = std::collections::HashMap::new();
    let mut difficulty = 0.0;
    let mut lines = 0;
    for raw in text.lines() {
        let rec: Value = serde_json::from_str(raw).unwrap();
        let line = rec["line"].as_str().unwrap();
        lines += 1;
        match rec["dir"].as_str().unwrap() {
            "miner->pool" => match ClientMessage::from_line(line).unwrap() {
                ClientMessage::Request {
                    id,
                    request: Request::Submit(s),
                } => submits.push((id, s)),
                ClientMessage::Request { .. } => {}
                other => panic!("unexpected {other:?}"),
            },
            "pool->miner" => match ServerMessage::from_line(line).unwrap() {
                ServerMessage::Reply(r) if r.result.is_array() => {
                    // The subscribe reply (id 1): interpret it as such.
                    let mut map = PendingMap::new();
                    let _ = map.register(
                        Request::ExtranonceSubscribe,
                        Pending::Subscribe { resume: None },
                        Instant::now(),
                    );
                    let Answer::Subscribe(Ok(sub)) = map.resolve(&r, Instant::now()).unwrap().0
                    else {
                        panic!("subscribe reply")
                    };
                    assert_eq!(sub.extranonce1.to_string(), "9f1b0a6b");
                    assert_eq!(sub.extranonce2_size.get(), 8);
                    book.new_session(sub.extranonce1.as_bytes(), sub.extranonce2_size.get());
                }
                ServerMessage::Reply(r) => {
                    if r.result == json!(true) && submits.iter().any(|(id, _)| *id == r.id) {
                        accepted_ids.push(r.id);
                    }
                }
                ServerMessage::SetDifficulty(d) => {
                    difficulty = d.get();
                    book.set_difficulty(d.get());
                }
                ServerMessage::Notify(n) => {
                    let job = book.on_notify(&n);
                    jobs_by_pool_id.insert(n.job_id.clone(), job);
                }
                other => panic!("unexpected {other:?}"),
            },
            d => panic!("direction {d}"),
        }
    }
    assert_eq!(lines, text.lines().count());
    assert_eq!(difficulty, 1.0);
    assert_eq!(submits.len(), 3);
    // ckpool reuses request id 4 for every submit, answering each in turn.
    assert_eq!(accepted_ids.len(), 3);
    let share_target = pow::share_target(difficulty).unwrap();
    let mut prev_found: Option<BlockHash> = None;
    for (_, s) in &submits {
        let job = &jobs_by_pool_id[&s.job_id];
        let header = rebuild_header(job, s);
        let hash = header.block_hash();
        assert!(
            pow::meets(&hash, share_target),
            "{} misses the target",
            hash
        );
        assert!(
            pow::meets(&hash, header.block_target()),
            "also a regtest block"
        );
        if let Some(prev) = prev_found {
            assert_ne!(prev, hash);
        }
        prev_found = Some(hash);
        // The next job after a found block builds on it (word-swapped prevhash).
        let later = jobs_by_pool_id.values().any(|j| j.prev_hash == hash);
        assert!(later, "a later job builds on block {hash}");
    }
}
