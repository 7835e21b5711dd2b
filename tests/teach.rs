//! `noncesweep teach` run as a user runs it: the real binary, no terminal.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const GENESIS_HASH: &str = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
const SEGWIT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/core-regtest-template-segwit.json"
);

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Run `noncesweep teach ARGS` with `input` on stdin (then EOF), failing
/// the test if it does not finish within 30 seconds.
fn teach(args: &[&str], input: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_noncesweep"))
        .arg("teach")
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start noncesweep");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("write stdin");
    drop(stdin);
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).expect("read stdout");
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).expect("read stderr");
        s
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("noncesweep teach {args:?} did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        ok: status.success(),
        stdout: reader.join().expect("stdout thread"),
        stderr: err_reader.join().expect("stderr thread"),
    }
}

#[test]
fn genesis_walkthrough_runs_without_a_terminal() {
    let r = teach(&[], "");
    assert!(r.ok, "stderr: {}", r.stderr);
    let out = &r.stdout;
    assert!(out.contains(GENESIS_HASH), "{out}");
    for field in [
        "version",
        "previous block hash",
        "merkle root",
        "time",
        "bits",
        "nonce",
    ] {
        assert!(out.contains(field), "missing field {field}: {out}");
    }
    for step in 1..=6 {
        assert!(
            out.contains(&format!("Step {step}.")),
            "missing step {step}"
        );
    }
    // Not a terminal: no colour codes.
    assert!(!out.contains('\x1b'), "colour on a pipe");
    // The real header facts, computed: time, bits, exact expected hashes.
    assert!(out.contains("2009-01-03 18:15:05 UTC"));
    assert!(out.contains("0x1d00ffff"));
    assert!(out.contains("4295032833"));
    // Step 6 re-mined the real nonce.
    assert!(out.contains("found nonce 2083236893"), "{out}");
}

#[test]
fn template_shows_its_height_and_target() {
    let r = teach(&["--template", SEGWIT], "");
    assert!(r.ok, "stderr: {}", r.stderr);
    let out = &r.stdout;
    assert!(out.contains("height 111"), "{out}");
    assert!(
        out.contains("7fffff0000000000000000000000000000000000000000000000000000000000"),
        "{out}"
    );
    assert!(out.contains("equals the template's default_witness_commitment"));
    assert!(out.contains("this would be a valid block"), "{out}");
}

#[test]
fn json_emits_one_object_per_step() {
    let r = teach(&["--json", "--difficulty", "0.0001"], "");
    assert!(r.ok, "stderr: {}", r.stderr);
    let steps: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(steps.len(), 6);
    for (i, s) in steps.iter().enumerate() {
        assert_eq!(s["step"], i as u64 + 1);
    }
    assert_eq!(steps[0]["block_hash"], GENESIS_HASH);
    assert_eq!(steps[1]["expected_hashes"], "4295032833");
    assert_eq!(steps[2]["hash"], GENESIS_HASH);
    assert_eq!(steps[3]["difficulty"], 0.0001);
    let tries = steps[3]["tries"].as_u64().unwrap();
    assert_eq!(tries, steps[3]["hit"]["nonce"].as_u64().unwrap() + 1);
    assert_ne!(
        steps[4]["before"]["midstate"],
        steps[4]["after"]["midstate"]
    );
    assert_eq!(steps[4]["root_matches_header"], true);
    assert_eq!(steps[5]["nonce"], 2083236893u64);
    assert_eq!(steps[5]["same_as_header"], true);
}

#[test]
fn step_mode_waits_for_enter() {
    let r = teach(&["--step", "--from", "2083200000"], "\n\n\n\n\n");
    assert!(r.ok, "stderr: {}", r.stderr);
    assert_eq!(r.stderr.matches("press Enter").count(), 5, "{}", r.stderr);
    assert!(r.stdout.contains("Step 6."));
}

#[test]
fn bad_input_is_a_clear_error() {
    for (args, want) in [
        (&["--difficulty", "2"][..], "--difficulty"),
        (&["--difficulty", "0"][..], "--difficulty"),
        (&["--header", "zz"][..], "--header"),
        (
            &["--template", "/nonexistent/template.json"][..],
            "--template",
        ),
        (&["--from", "4000000000"][..], "--from"),
    ] {
        let r = teach(args, "");
        assert!(!r.ok, "{args:?} succeeded");
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
}
