//! Criterion benchmarks of every nonce-sweep backend this CPU supports, and
//! of the `sha2-loop` baseline, one thread, over the same header and an
//! unreachable target. Compare each backend with `sha2-loop` from the same
//! run: absolute rates move with the load of the machine.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use noncesweep::bench::{sha2_loop, BASELINE};
use noncesweep::engine::synthetic_job;
use noncesweep::sha256::{Backend, WorkUnit};

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
}

criterion_group!(benches, kernels);
criterion_main!(benches);
