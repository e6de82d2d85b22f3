//! The AMX-BF16 microkernel: `tdpbf16ps` multiplies a 16 x 32 bf16 tile by a 32 x 16 one (held
//! as 16 rows of 16 pairs, the layout the blocking already packs) into a 16 x 16 float32 tile, 8192
//! multiply-adds per instruction where `vdpbf16ps` does 32.
//!
//! A tile is 32 x 32 outputs: four accumulator tiles (tmm0-3) fed by two tiles of A rows (tmm4-5)
//! and two of B columns (tmm6-7). The B panels come as the blocking packs them (pair-major, NR =
//! 32 columns); an A panel is turned after packing so that each tile row holds 16 pairs of one
//! row. The sums go through a small buffer to the epilogue the `vdpbf16ps` kernel uses.
//!
//! Linux hands out the tile registers only on request (`arch_prctl(ARCH_REQ_XCOMP_PERM)`), once
//! per process: [`available`] asks.

use std::arch::asm;
use std::arch::x86_64::*;
use std::sync::OnceLock;

use super::blocking::Micro;
use super::kernel::{self, Epilogue};

/// Rows and columns of an accumulator tile.
const T: usize = 16;

/// Whether this CPU has AMX-BF16 and the OS lets this process use the tile registers (and
/// `FERRITE_CPU_AMX=0` does not turn them off, to compare with the `vdpbf16ps` kernels).
pub(crate) fn available() -> bool {
    static ALLOWED: OnceLock<bool> = OnceLock::new();
    *ALLOWED.get_or_init(|| {
        if std::env::var("FERRITE_CPU_AMX").as_deref() == Ok("0") {
            return false;
        }
        // CPUID leaf 7: EDX bit 22 is AMX-BF16, bit 24 AMX-TILE.
        let edx = __cpuid_count(7, 0).edx;
        edx & (1 << 22) != 0 && edx & (1 << 24) != 0 && super::available() && request_tiles()
    })
}

/// Asks Linux for the tile data state (XTILEDATA, feature 18); without it the first tile
/// instruction faults.
fn request_tiles() -> bool {
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: a plain system call with integer arguments.
    unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        ) == 0
    }
}

/// The tile configuration: palette 1, all eight tiles 16 rows of 64 bytes.
#[repr(C, align(64))]
struct Config([u8; 64]);

const CONFIG: Config = {
    let mut c = [0u8; 64];
    c[0] = 1;
    let mut t = 0;
    while t < 8 {
        c[16 + 2 * t] = 64; // bytes per row, little-endian u16
        c[48 + t] = T as u8; // rows
        t += 1;
    }
    Config(c)
};

/// The tile registers, configured on this thread (all eight 16 rows of 64 bytes: a float32
/// 16 x 16 tile of sums, 16 rows of 32 bf16 values, or 16 rows of 16 pairs) until the last of
/// the thread's `Configured` is dropped, so that a nested one (a task that ran on a thread while
/// it waited in rayon) does not release the tiles under the outer. A kernel must still not wait
/// on rayon while its sums are in the tiles: the registers are not saved across such a task, and
/// none of the kernels does.
pub(crate) struct Configured(std::marker::PhantomData<*const ()>);

thread_local! {
    /// How many `Configured` live on this thread.
    static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl Configured {
    /// # Safety
    /// [`available`] must hold.
    pub(crate) unsafe fn new() -> Configured {
        if DEPTH.get() == 0 {
            // SAFETY: the CPU has AMX and the process holds the tile state (`available`).
            unsafe {
                asm!("ldtilecfg [{}]", in(reg) CONFIG.0.as_ptr(), options(nostack, readonly))
            };
        }
        DEPTH.set(DEPTH.get() + 1);
        Configured(std::marker::PhantomData)
    }
}

impl Drop for Configured {
    fn drop(&mut self) {
        DEPTH.set(DEPTH.get() - 1);
        if DEPTH.get() == 0 {
            // SAFETY: `new` configured the tiles on this thread (the type is not `Send`).
            unsafe { asm!("tilerelease", options(nostack, nomem)) };
        }
    }
}

/// The AMX kernel's tiles.
pub(super) struct Tiles;

impl Micro for Tiles {
    const MR: usize = 2 * T;
    const NR: usize = 2 * T;
    const PAIR_ALIGN: usize = T;
    const KC: usize = 128;

    /// From `panel[p * 32 + r]` to 16-pair groups of two tiles, `panel[(q * 2 + h) * 256 +
    /// r * 16 + p % 16]` for pair p in group q and row 16h + r.
    fn arrange_a(panel: &mut [u32], staging: &mut [u32], kc: usize) {
        assert!(kc.is_multiple_of(T) && panel.len() >= kc * 2 * T && staging.len() >= panel.len());
        staging[..kc * 2 * T].copy_from_slice(&panel[..kc * 2 * T]);
        // SAFETY: the blocking runs this kernel only where `available()` holds (AVX-512F among
        // it); the asserts above bound every index below.
        unsafe { turn_panel(panel, staging, kc) }
    }

    type Session = Configured;

    unsafe fn begin() -> Configured {
        // SAFETY: the blocking runs this kernel only where `available()` holds.
        unsafe { Configured::new() }
    }

    unsafe fn tile(kc: usize, a: *const u32, b: *const u32, out: Epilogue) {
        // SAFETY: passed on from the caller.
        unsafe { tile(kc, a, b, out) }
    }
}

/// Transposes each 16 x 16 block of `from` (pair-major, 32 rows) into `panel` (row-major tiles).
///
/// # Safety
/// The CPU must support AVX-512F; both slices hold `kc * 32` values, `kc` a multiple of 16.
#[target_feature(enable = "avx512f")]
unsafe fn turn_panel(panel: &mut [u32], from: &[u32], kc: usize) {
    for q in 0..kc / T {
        for h in 0..2 {
            let mut block = [_mm512_setzero_si512(); T];
            for (pp, v) in block.iter_mut().enumerate() {
                let at = (q * T + pp) * 2 * T + h * T;
                // SAFETY: pair q * 16 + pp < kc, 16 lanes from column 16h of its 32.
                *v = unsafe { _mm512_loadu_si512(from[at..at + T].as_ptr() as *const __m512i) };
            }
            // SAFETY: AVX-512F, per this function's contract.
            unsafe { kernel::transpose16(&mut block) };
            for (r, v) in block.iter().enumerate() {
                let at = (q * 2 + h) * T * T + r * T;
                // SAFETY: inside the panel's group q, tile h, row r.
                unsafe { _mm512_storeu_si512(panel[at..at + T].as_mut_ptr() as *mut __m512i, *v) };
            }
        }
    }
}

/// Zeroes the four accumulator tiles, tmm0-3.
///
/// # Safety
/// The tiles configured on this thread ([`Configured`]).
#[inline]
pub(crate) unsafe fn zero_sums() {
    // SAFETY: configured tiles (the caller's promise); nothing else uses them.
    unsafe {
        asm!(
            "tilezero tmm0",
            "tilezero tmm1",
            "tilezero tmm2",
            "tilezero tmm3",
            options(nostack, nomem)
        )
    };
}

/// Loads the four accumulator tiles from a row-major 32 x 32 float32 block: tmm(2r + c) from
/// rows 16r.., columns 16c...
///
/// # Safety
/// The tiles configured on this thread; `block` valid for 32 x 32 reads.
#[inline]
pub(crate) unsafe fn load_sums(block: *const f32) {
    // SAFETY: four 16 x 16 tiles of the block, rows 128 bytes apart.
    unsafe {
        asm!(
            "tileloadd tmm0, [{c} + {row}*1]",
            "tileloadd tmm1, [{c} + {row}*1 + 64]",
            "tileloadd tmm2, [{c} + {row}*1 + 2048]",
            "tileloadd tmm3, [{c} + {row}*1 + 2112]",
            c = in(reg) block,
            row = in(reg) 4 * 2 * T,
            options(nostack, readonly)
        )
    };
}

/// Stores the four accumulator tiles into a row-major 32 x 32 float32 block, as [`load_sums`]
/// reads it.
///
/// # Safety
/// The tiles configured on this thread; `block` valid for 32 x 32 writes.
#[inline]
pub(crate) unsafe fn store_sums(block: *mut f32) {
    // SAFETY: four 16 x 16 tiles into the block, rows 128 bytes apart.
    unsafe {
        asm!(
            "tilestored [{c} + {row}*1], tmm0",
            "tilestored [{c} + {row}*1 + 64], tmm1",
            "tilestored [{c} + {row}*1 + 2048], tmm2",
            "tilestored [{c} + {row}*1 + 2112], tmm3",
            c = in(reg) block,
            row = in(reg) 4 * 2 * T,
            options(nostack)
        )
    };
}

/// One 32 x 32 tile of the product over `kc` pairs, then [`kernel::finish`].
///
/// # Safety
/// As [`kernel::tile`] with MR = NR = 32, `a` arranged by [`Tiles::arrange_a`], `kc` a multiple
/// of 16, with the tiles configured on this thread.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn tile(kc: usize, a: *const u32, b: *const u32, out: Epilogue) {
    kernel::prefetch_init(out);
    // SAFETY: the tile registers are configured (the caller's promise).
    unsafe { zero_sums() };
    for q in 0..kc / T {
        // SAFETY: group q of the A panel is two 1 KiB tiles of 64-byte rows; pair rows 16q..16q +
        // 16 of the B panel are 128 bytes each, its two tiles 64 bytes apart: all inside the
        // panels (kc pairs of 32 lines each).
        unsafe {
            asm!(
                "tileloadd tmm4, [{a} + {a_row}*1]",
                "tileloadd tmm5, [{a} + {a_row}*1 + 1024]",
                "tileloadd tmm6, [{b} + {b_row}*1]",
                "tileloadd tmm7, [{b} + {b_row}*1 + 64]",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                a = in(reg) a.add(q * 2 * T * T),
                b = in(reg) b.add(q * T * 2 * T),
                a_row = in(reg) 4 * T,
                b_row = in(reg) 4 * 2 * T,
                options(nostack, readonly)
            )
        };
    }
    let mut sums = [[0f32; 2 * T]; 2 * T];
    // SAFETY: a 32 x 32 buffer.
    unsafe { store_sums(sums.as_mut_ptr().cast()) };
    let mut acc = [[_mm512_setzero_ps(); 2]; 2 * T];
    for (lanes, row) in acc.iter_mut().zip(&sums) {
        for (v, lane) in lanes.iter_mut().enumerate() {
            // SAFETY: 16 floats of a 32-float row.
            *lane = unsafe { _mm512_loadu_ps(row[v * T..].as_ptr()) };
        }
    }
    // SAFETY: passed on from the caller (rows, cols <= 32).
    unsafe { kernel::finish(&acc, out) }
}
