//! Criterion benchmarks of every nonce-sweep backend this CPU supports, and
//! of the `sha2-loop` baseline, one thread, over the same header and an
//! unreachable target; then every backend on a group of 32 rolled versions
//! (`sweep_versions`), where the vector kernels share block 2's schedule.
//! Compare each backend with `sha2-loop` from the same run: absolute rates
//! move with the load of the machine.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use noncesweep::bench::{sha2_loop, BASELINE};
use noncesweep::hashing::engine::synthetic_job;
use noncesweep::hashing::sha256::{Backend, VersionWork, WorkUnit, VERSION_LANES};

fn kernels(c: &mut Criterion) {
    let job = synthetic_job(bitcoin::Target::ZERO);
    let work = job
        .variant(0)
        .expect("variant 0")
        .header
        .work_unit(job.share_target);
    let n: u32 = 1 << 16;
    let mut group = c.benchmark_group("sweep");
    group.throughput(Throughput::Elements(n as u64));
    type Sweep = Box<dyn Fn(&WorkUnit, u32, u32, &mut Vec<u32>)>;
    let mut subjects: Vec<(&str, Sweep)> = vec![(BASELINE, Box::new(sha2_loop))];
    for backend in Backend::available() {
        subjects.push((
            backend.name(),
            Box::new(move |w: &WorkUnit, a, b, h: &mut Vec<u32>| backend.sweep(w, a, b, h)),
        ));
    }
    for (name, sweep) in subjects {
        group.bench_function(name, |b| {
            let mut hits = Vec::new();
            b.iter(|| {
                hits.clear();
                sweep(&work, 0, n - 1, &mut hits);
                assert!(hits.is_empty());
            })
        });
    }
    group.finish();

    // The same header in 32 versions (BIP320 bits), the same hash count.
    let mut job = job;
    job.version_mask = noncesweep::hashing::work::BIP320_MASK;
    let variants = job.version_group(0).expect("a version group");
    let group_work = VersionWork {
        midstates: std::array::from_fn(|i| variants[i].header.midstate()),
        tail: work.tail,
        target: work.target,
    };
    let nonces = n / VERSION_LANES as u32;
    let mut group = c.benchmark_group("sweep_versions");
    group.throughput(Throughput::Elements(n as u64));
    for backend in Backend::available() {
        group.bench_function(backend.name(), |b| {
            let mut hits = Vec::new();
            b.iter(|| {
                hits.clear();
                backend.sweep_versions(&group_work, 0, nonces - 1, &mut hits);
                assert!(hits.is_empty());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
