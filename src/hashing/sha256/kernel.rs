//! Kernel variants: every way this build can sweep nonces, per backend and
//! per lane mode, so that calibration can time them all on the CPU at hand.
//!
//! A backend is an instruction set; a kernel is one way of using it. The
//! same AVX-512 code is fastest with two registers of versions side by side
//! on one core and with one register on another (the register pressure
//! that buys instruction-level parallelism on a wide core costs spills on
//! a narrower one), and SHA-NI wants as many ways interleaved as cover the
//! latency of `sha256rnds2`, which differs between vendors. Nothing here
//! decides: [`super::select`] measures. The first kernel of each list is the
//! backend's reference, the one [`Backend::sweep`] and
//! [`Backend::sweep_versions`] run; every kernel passes the same tests.

use std::fmt;

use super::{soft, Backend, VersionWork, WorkUnit};

/// What a kernel's lanes hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LaneMode {
    /// Consecutive nonces of one header.
    Nonces,
    /// Rolled versions of one header at the same nonce, sharing block 2's
    /// message schedule (needs a version-rolling job).
    Versions,
}

impl LaneMode {
    pub fn name(self) -> &'static str {
        match self {
            LaneMode::Nonces => "nonces",
            LaneMode::Versions => "versions",
        }
    }
}

impl fmt::Display for LaneMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

type NonceImpl = unsafe fn(&WorkUnit, u32, u32, &mut Vec<u32>);
type VersionImpl = unsafe fn(&VersionWork, u32, u32, &mut Vec<(usize, u32)>);

/// A kernel's entry point, by what its lanes hold.
pub trait Entry: Copy {
    const MODE: LaneMode;
}

impl Entry for NonceImpl {
    const MODE: LaneMode = LaneMode::Nonces;
}

impl Entry for VersionImpl {
    const MODE: LaneMode = LaneMode::Versions;
}

/// One kernel of a backend: [`NonceKernel`] or [`VersionKernel`].
#[derive(Clone, Copy)]
pub struct Kernel<F> {
    pub backend: Backend,
    /// The variant's name within its backend, e.g. `x16`: how many nonces
    /// (or versions) one pass of the kernel hashes side by side.
    pub variant: &'static str,
    f: F,
}

/// A kernel with nonces in its lanes.
pub type NonceKernel = Kernel<NonceImpl>;

/// A kernel with versions in its lanes.
pub type VersionKernel = Kernel<VersionImpl>;

impl<F: Entry> Kernel<F> {
    /// `avx512 versions x32`.
    pub fn name(&self) -> String {
        format!("{} {} {}", self.backend, F::MODE, self.variant)
    }

    /// The entry point, once the CPU is known to run it: a cached CPUID
    /// check, cheap next to a chunk of hashing, which keeps the kernels'
    /// safe entry points safe whoever calls them.
    fn checked(&self) -> F {
        assert!(
            self.backend.is_supported(),
            "backend {} is not supported on this CPU",
            self.backend
        );
        self.f
    }
}

impl NonceKernel {
    /// Sweep `first..=last` (see [`Backend::sweep`]).
    pub fn sweep(&self, work: &WorkUnit, first: u32, last: u32, hits: &mut Vec<u32>) {
        if first > last {
            return;
        }
        let f = self.checked();
        // SAFETY: every kernel of a backend needs only the target features
        // that `Backend::is_supported` checks, which `checked` did.
        unsafe { f(work, first, last, hits) }
    }
}

impl VersionKernel {
    /// Sweep `first..=last` for every header of `work` (see
    /// [`Backend::sweep_versions`]).
    pub fn sweep_versions(
        &self,
        work: &VersionWork,
        first: u32,
        last: u32,
        hits: &mut Vec<(usize, u32)>,
    ) {
        if first > last {
            return;
        }
        let f = self.checked();
        // SAFETY: as in `NonceKernel::sweep`.
        unsafe { f(work, first, last, hits) }
    }
}

impl<F: Entry> fmt::Debug for Kernel<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Kernels are the same when they are the same variant of one backend
/// (entry points are not compared: one function can have several
/// addresses).
impl<F: Entry> PartialEq for Kernel<F> {
    fn eq(&self, o: &Self) -> bool {
        self.backend == o.backend && self.variant == o.variant
    }
}

const fn k<F>(backend: Backend, variant: &'static str, f: F) -> Kernel<F> {
    Kernel {
        backend,
        variant,
        f,
    }
}

/// `soft` as a kernel (it is safe; the pointer type is the kernels' one).
unsafe fn soft_sweep(work: &WorkUnit, first: u32, last: u32, hits: &mut Vec<u32>) {
    soft::sweep(work, first, last, hits)
}

#[cfg(target_arch = "x86_64")]
mod table {
    use super::super::{x86_avx2 as avx2, x86_avx512 as avx512, x86_shani as shani};
    use super::*;

    pub(super) const AVX512_NONCES: &[NonceKernel] = &[
        k(Backend::Avx512, "x16", avx512::sweep),
        k(Backend::Avx512, "x32", avx512::sweep_pair),
    ];
    pub(super) const AVX512_VERSIONS: &[VersionKernel] = &[
        k(Backend::Avx512, "x32", avx512::sweep_versions),
        k(Backend::Avx512, "x16", avx512::sweep_versions_one),
        k(
            Backend::Avx512,
            "x16-pipe",
            avx512::sweep_versions_pipelined,
        ),
    ];
    pub(super) const SHANI_NONCES: &[NonceKernel] = &[
        k(
            Backend::Shani,
            "x3",
            shani::sweep::<3, shani::Intrinsics<3, false>>,
        ),
        k(
            Backend::Shani,
            "x2",
            shani::sweep::<2, shani::Intrinsics<2, false>>,
        ),
        k(
            Backend::Shani,
            "x4",
            shani::sweep::<4, shani::Intrinsics<4, false>>,
        ),
        k(
            Backend::Shani,
            "x2-ahead",
            shani::sweep::<2, shani::Intrinsics<2, true>>,
        ),
        k(
            Backend::Shani,
            "x4-asm",
            shani::sweep::<4, shani::AsmNonces4>,
        ),
    ];
    pub(super) const SHANI_VERSIONS: &[VersionKernel] = &[
        k(
            Backend::Shani,
            "x4",
            shani::sweep_versions::<4, shani::Intrinsics<4, false>>,
        ),
        k(
            Backend::Shani,
            "x2",
            shani::sweep_versions::<2, shani::Intrinsics<2, false>>,
        ),
        k(
            Backend::Shani,
            "x8",
            shani::sweep_versions::<8, shani::Intrinsics<8, false>>,
        ),
        k(
            Backend::Shani,
            "x4-ahead",
            shani::sweep_versions::<4, shani::Intrinsics<4, true>>,
        ),
        k(
            Backend::Shani,
            "x4-asm",
            shani::sweep_versions::<4, shani::Asm4>,
        ),
    ];
    pub(super) const AVX2_NONCES: &[NonceKernel] = &[k(Backend::Avx2, "x8", avx2::sweep)];
    pub(super) const AVX2_VERSIONS: &[VersionKernel] =
        &[k(Backend::Avx2, "x8", avx2::sweep_versions)];
}

const SOFT_NONCES: &[NonceKernel] = &[k(Backend::Soft, "x1", soft_sweep)];

impl Backend {
    /// This backend's nonce-lane kernels, the reference first.
    pub fn nonce_kernels(self) -> &'static [NonceKernel] {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                Backend::Avx512 => table::AVX512_NONCES,
                Backend::Shani => table::SHANI_NONCES,
                Backend::Avx2 => table::AVX2_NONCES,
                Backend::Soft => SOFT_NONCES,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = self;
            SOFT_NONCES
        }
    }

    /// This backend's version-lane kernels, the reference first (none for
    /// `soft`, which sweeps the versions one after another).
    pub fn version_kernels(self) -> &'static [VersionKernel] {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                Backend::Avx512 => table::AVX512_VERSIONS,
                Backend::Shani => table::SHANI_VERSIONS,
                Backend::Avx2 => table::AVX2_VERSIONS,
                Backend::Soft => &[],
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = self;
            &[]
        }
    }
}

/// A nonce kernel (soft inside) labelled as `backend`'s `variant`, for
/// tests of the choice among labels.
#[cfg(test)]
pub(super) fn labelled_nonces(backend: Backend, variant: &'static str) -> NonceKernel {
    k(backend, variant, soft_sweep)
}

/// A version kernel (soft, lane by lane, inside) labelled as `backend`'s
/// `variant`.
#[cfg(test)]
pub(super) fn labelled_versions(backend: Backend, variant: &'static str) -> VersionKernel {
    unsafe fn lane_by_lane(w: &VersionWork, first: u32, last: u32, hits: &mut Vec<(usize, u32)>) {
        Backend::Soft.sweep_versions(w, first, last, hits)
    }
    k(backend, variant, lane_by_lane)
}
