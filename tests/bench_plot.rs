//! `bench --plot FILE.svg` from the real binary, rendered by a real
//! browser: headless Chromium (Debian's `chromium`, installed by
//! `scripts/install-test-deps.sh`) takes a screenshot of the SVG, and the
//! PNG must show a chart, not a blank page.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[path = "support/run_cli.rs"]
mod run_cli;

use run_cli::*;

const WIDTH: u32 = 960;
const HEIGHT: u32 = 560;

/// The Chromium binary: `NONCESWEEP_CHROMIUM`, else `chromium` on PATH.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("NONCESWEEP_CHROMIUM") {
        return PathBuf::from(p);
    }
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("chromium"))
        .find(|p| p.is_file());
    found.expect("headless Chromium is not installed: run scripts/install-test-deps.sh")
}

/// Screenshot `svg` with headless Chromium into `png`.
fn screenshot(svg: &Path, png: &Path, profile: &Path) {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={WIDTH},{HEIGHT}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", svg.display()))
        .output()
        .expect("run chromium");
    assert!(
        png.is_file(),
        "chromium wrote no screenshot ({:?}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Decode an RGB(A) PNG: (width, height, pixels as RGB).
fn decode(png: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png).unwrap()));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, pixels)
}

#[test]
fn bench_plot_renders_as_a_chart_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("bench.svg");
    let e = run(
        &[
            "bench".into(),
            "--seconds".into(),
            "0.5".into(),
            "--plot".into(),
            svg.display().to_string(),
        ],
        Duration::from_secs(300),
    );
    e.assert_success();
    assert!(e.stdout.contains("chart written to"), "{}", e.stdout);
    let text = std::fs::read_to_string(&svg).unwrap();
    for want in [
        "<svg",
        "hashrate (MH/s)",
        "sha2-loop baseline",
        "noncesweep bench: ",
    ] {
        assert!(text.contains(want), "no {want:?} in the SVG");
    }

    let png = dir.path().join("bench.png");
    screenshot(&svg, &png, &dir.path().join("chromium-profile"));
    let (w, h, pixels) = decode(&png);
    assert_eq!((w, h), (WIDTH, HEIGHT));
    // The background is the most common colour; a chart has many pixels
    // of other colours (bars, text, axes), and several distinct colours.
    let mut counts = std::collections::HashMap::new();
    for p in &pixels {
        *counts.entry(*p).or_insert(0usize) += 1;
    }
    let (&background, _) = counts.iter().max_by_key(|(_, &n)| n).unwrap();
    let drawn = pixels.iter().filter(|&&p| p != background).count();
    assert!(
        drawn > pixels.len() / 20,
        "only {drawn} of {} pixels differ from the background: blank chart?",
        pixels.len()
    );
    assert!(
        counts.len() > 20,
        "only {} distinct colours: blank chart?",
        counts.len()
    );
    // The bars' blue and orange are on the page.
    let near = |c: [u8; 3], want: [u8; 3]| c.iter().zip(want).all(|(a, b)| a.abs_diff(b) < 12);
    for colour in [[66, 133, 244], [234, 120, 30]] {
        let n = pixels.iter().filter(|&&p| near(p, colour)).count();
        assert!(n > 500, "too few pixels of the bar colour {colour:?}: {n}");
    }
}

#[test]
fn plot_refuses_what_it_cannot_write() {
    run(
        &args("bench --seconds 0.1 --plot chart.png"),
        Duration::from_secs(60),
    )
    .assert_refused("ending in .svg");
    run(
        &args("bench --seconds 0.1 --plot /nonexistent-dir/chart.svg"),
        Duration::from_secs(60),
    )
    .assert_refused("the directory does not exist");
}
