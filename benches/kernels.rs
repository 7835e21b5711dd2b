//! Criterion benchmarks of every nonce-sweep backend this CPU supports, one
//! thread, over the same header and an unreachable target.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use noncesweep::engine::synthetic_job;
use noncesweep::sha256::Backend;

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
    for backend in Backend::available() {
        group.bench_function(backend.name(), |b| {
            let mut hits = Vec::new();
            b.iter(|| {
                hits.clear();
                backend.sweep(&work, 0, n - 1, &mut hits);
                assert!(hits.is_empty());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
