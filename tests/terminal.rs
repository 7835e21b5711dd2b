//! The live line on a real terminal: `noncesweep bench` run with its
//! stderr on a pseudo-terminal (`openpty`), the bytes the terminal received
//! read from the master side and replayed the way a terminal draws them.
//! The unit tests of `report::progress` use a simulated screen; this one
//! checks that the binary really detects a terminal, redraws its progress
//! line in place, and leaves nothing of it behind.

use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A pseudo-terminal: (master, slave).
fn openpty() -> (File, OwnedFd) {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty(3) writes two new file descriptors into the two
    // integers; the name, termios and window size pointers may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty failed");
    // SAFETY: both descriptors were just opened by openpty and are owned
    // by nothing else.
    unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

/// What a terminal shows after `out`: `\r` returns to column 0, `ESC[2K`
/// clears the line, `\n` moves down, and text overwrites from the cursor.
/// Colour sequences (`ESC[...m`) are dropped.
fn render(out: &str) -> Vec<String> {
    let mut lines = vec![String::new()];
    let mut col = 0;
    let mut chars = out.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                // CSI: parameters, then one final letter.
                let mut seq = String::new();
                for d in chars.by_ref() {
                    seq.push(d);
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
                if seq == "[2K" {
                    lines.last_mut().expect("a line").clear();
                    col = 0;
                }
            }
            '\n' => {
                lines.push(String::new());
                col = 0;
            }
            '\r' => col = 0,
            c => {
                let cur = lines.last_mut().expect("a line");
                let mut v: Vec<char> = cur.chars().collect();
                if col < v.len() {
                    v[col] = c;
                } else {
                    v.push(c);
                }
                *cur = v.into_iter().collect();
                col += 1;
            }
        }
    }
    lines
}

#[test]
fn bench_redraws_its_progress_in_place_and_leaves_nothing_behind() {
    let (mut master, slave) = openpty();
    let mut child = Command::new(env!("CARGO_BIN_EXE_noncesweep"))
        .args(["bench", "--backend", "soft", "-t", "1", "--seconds", "2"])
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(slave))
        .spawn()
        .expect("spawn noncesweep");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).expect("read stdout");
        s
    });
    // Read the terminal until the child has exited and its end of the
    // terminal is closed (read then fails with EIO).
    let mut screen = Vec::new();
    let until = Instant::now() + Duration::from_secs(120);
    let mut buf = [0u8; 4096];
    loop {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => screen.extend_from_slice(&buf[..n]),
        }
        assert!(Instant::now() < until, "bench did not end in 120 s");
    }
    let status = child.wait().expect("wait");
    let stdout = reader.join().expect("stdout reader");
    let screen = String::from_utf8_lossy(&screen).replace("\r\n", "\n");
    assert!(status.success(), "{status:?}\n{stdout}\n{screen}");
    // The table went to stdout, whole.
    assert!(stdout.contains("sha2-loop"), "{stdout}");
    assert!(stdout.contains(" soft "), "{stdout}");
    // The terminal saw the progress line redrawn in place: each redraw
    // returns to column 0 and clears the line first.
    let redraws = screen.matches("\r\x1b[2Kbench: ").count();
    assert!(redraws >= 2, "{redraws} redraws:\n{screen:?}");
    assert!(screen.contains("ETA"), "{screen:?}");
    // And nothing of it is left: the last line on the terminal is empty,
    // no line shows progress.
    let lines = render(&screen);
    assert!(
        lines.iter().all(|l| !l.starts_with("bench: ")),
        "a progress line was left on the terminal: {lines:#?}"
    );
}
