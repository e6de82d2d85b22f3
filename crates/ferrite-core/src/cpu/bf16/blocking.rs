//! The blocked product around the microkernel: the output is cut into tasks (row chunks x column
//! chunks) run on rayon's threads; each task packs its own panels, depth block by depth block.

use rayon::prelude::*;

use super::kernel::{self, Epilogue, Init, Store};
use super::{Output, PackPairs};

/// A microkernel: one MR x NR tile of the product from packed micro-panels of `kc` pairs (see
/// [`kernel::tile`] for the panels' layout as the blocking packs them).
pub(super) trait Micro {
    const MR: usize;
    const NR: usize;
    /// A depth block's pairs are padded with zeros to a multiple of this.
    const PAIR_ALIGN: usize;
    /// Pairs per depth block.
    const KC: usize = KC;

    /// Rearranges a freshly packed A panel (`kc` pairs x MR rows, pair-major) into the layout
    /// `tile` reads, using `staging` (as long as the panel).
    fn arrange_a(panel: &mut [u32], staging: &mut [u32], kc: usize);

    /// What the calling thread holds while it runs tiles (the AMX tile configuration).
    type Session;

    /// # Safety
    /// The CPU must run this kernel.
    unsafe fn begin() -> Self::Session;

    /// As [`kernel::tile`], while `begin`'s session lives, with `kc` a multiple of `PAIR_ALIGN`.
    ///
    /// # Safety
    /// As [`kernel::tile`].
    unsafe fn tile(kc: usize, a: *const u32, b: *const u32, out: Epilogue);
}

/// The `vdpbf16ps` kernel with MR x (16 * NV) tiles of accumulators in registers.
pub(super) struct Dot<const MR: usize, const NV: usize>;

impl<const MR: usize, const NV: usize> Micro for Dot<MR, NV> {
    const MR: usize = MR;
    const NR: usize = 16 * NV;
    const PAIR_ALIGN: usize = 1;

    fn arrange_a(_: &mut [u32], _: &mut [u32], _: usize) {}

    type Session = ();

    unsafe fn begin() {}

    unsafe fn tile(kc: usize, a: *const u32, b: *const u32, out: Epilogue) {
        // SAFETY: passed on from the caller.
        unsafe { kernel::tile::<MR, NV>(kc, a, b, out) }
    }
}

/// Pairs per depth block. Longer blocks store and reload each tile's sums less often; past 256 the
/// A and B blocks below would outgrow L2 (128 was 5 % slower, 384 no faster: bench/KERNELS.md).
const KC: usize = 256;
/// Rows per A block (MC x KC u32, 192 KiB at most), kept in L2 while every B micro-panel of the
/// task (48 KiB at NR = 48, from L2 to L1) passes it.
const MC: usize = 192;
/// Columns per task: its B block (KC x NC u32, 384 KiB) stays in L2 across the task's rows.
const NC: usize = 384;
/// Rows per task at most when a bf16 output's sums wait in float32 between depth blocks, so that
/// this buffer (up to 1.2 MiB) does not grow with m.
const PARTIAL_ROWS: usize = 4 * MC;

/// A pointer the tasks share; each writes only its own tile of the output.
#[derive(Clone, Copy)]
struct Shared<T>(*mut T);
// SAFETY: tasks write disjoint tiles (see `run`), so sending the pointer across threads races on
// nothing.
unsafe impl<T> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Shared<T> {}

/// The destination as the tiles see it.
#[derive(Clone, Copy)]
enum Dst {
    F32 { c: Shared<f32>, accumulate: bool },
    Bf16 { c: Shared<u16> },
}

/// Runs the product with `K`'s tiles; `gemm` has checked the sizes.
///
/// # Safety
/// The CPU must support AVX-512F, AVX-512BW and AVX512-BF16 and run `K`; `out` must hold `m` rows
/// of `n` at `row_stride` (`row_stride >= n`) and `row_bias`, when given, `m` values.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn run<K: Micro>(
    [m, n]: [usize; 2],
    a: &impl PackPairs,
    b: &impl PackPairs,
    out: Output,
    row_stride: usize,
    row_bias: Option<&[f32]>,
    parallel: bool,
) {
    let (mr, nr) = (K::MR, K::NR);
    let threads = if parallel {
        rayon::current_num_threads().max(1)
    } else {
        1
    };
    let (row_panels, col_panels) = (m.div_ceil(mr), n.div_ceil(nr));
    // Each task packs its rows of `a` and its columns of `b`: split the side that repacks less
    // (cutting rows repacks b per row chunk, cutting columns a per column chunk), in a multiple
    // of the threads so that they finish together.
    let by_rows = [threads.min(row_panels), n.div_ceil(NC).min(col_panels)];
    let col_tasks = n.div_ceil(NC).max(threads).div_ceil(threads) * threads;
    let by_cols = [1, col_tasks.min(col_panels)];
    let repacked = |[r, c]: [usize; 2]| r * n + c * m;
    let [row_tasks, col_tasks] =
        if threads > 1 && col_panels >= threads && repacked(by_cols) <= repacked(by_rows) {
            by_cols
        } else {
            by_rows
        };
    let partial = matches!(out, Output::Bf16 { .. }) && a.k().div_ceil(2) > K::KC;
    let row_tasks = if partial {
        row_tasks.max(m.div_ceil(PARTIAL_ROWS)).min(row_panels)
    } else {
        row_tasks
    };
    // Panels dealt out evenly: task i of t gets panels [i * p / t, (i + 1) * p / t).
    let share = |i: usize, tasks: usize, panels: usize, width: usize, end: usize| {
        (i * panels / tasks * width).min(end)..((i + 1) * panels / tasks * width).min(end)
    };
    let tasks: Vec<[usize; 2]> = (0..row_tasks)
        .flat_map(|i| (0..col_tasks).map(move |j| [i, j]))
        .collect();

    let dst = match out {
        Output::F32 { data, accumulate } => Dst::F32 {
            c: Shared(data.as_mut_ptr()),
            accumulate,
        },
        Output::Bf16 { data } => Dst::Bf16 {
            c: Shared(data.as_mut_ptr() as *mut u16),
        },
    };
    let bias = row_bias.map(|b| Shared(b.as_ptr() as *mut f32));
    let task = |&[i, j]: &[usize; 2]| {
        let rows = share(i, row_tasks, row_panels, mr, m);
        let cols = share(j, col_tasks, col_panels, nr, n);
        // SAFETY: the tasks' tiles are disjoint and inside `out`, which the caller sized; the
        // CPU's features are the caller's promise.
        unsafe { one_task::<K>(a, b, rows, cols, dst, row_stride, bias) }
    };
    if threads > 1 && tasks.len() > 1 {
        tasks.par_iter().for_each(task);
    } else {
        tasks.iter().for_each(task);
    }
}

/// One task: the tile `rows x cols` of the output, over the whole depth.
///
/// # Safety
/// As [`run`], and no other thread touches this tile of the output during the call.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn one_task<K: Micro>(
    a: &impl PackPairs,
    b: &impl PackPairs,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    dst: Dst,
    row_stride: usize,
    bias: Option<Shared<f32>>,
) {
    const { assert!(K::KC.is_multiple_of(K::PAIR_ALIGN)) };
    let (mr, nr) = (K::MR, K::NR);
    let pairs = a.k().div_ceil(2);
    // At least one pair's room, so that k = 0 still runs one (empty) block that writes the output.
    let kc_max = K::KC.min(pairs).max(1).next_multiple_of(K::PAIR_ALIGN);
    let mc = MC / mr * mr;
    let mc_max = mc.min(rows.len().div_ceil(mr) * mr);
    let col_panels = cols.len().div_ceil(nr);
    let mut b_block = vec![0u32; kc_max * col_panels * nr];
    let mut a_block = vec![0u32; kc_max * mc_max];
    let mut staging = vec![0u32; kc_max * mr];
    // bf16 output over several depth blocks: the partial sums wait in float32.
    let blocks = pairs.div_ceil(K::KC).max(1);
    let mut partial = match dst {
        Dst::Bf16 { .. } if blocks > 1 => vec![0f32; rows.len() * cols.len()],
        _ => Vec::new(),
    };

    // SAFETY: the caller's CPU runs `K`.
    let _session = unsafe { K::begin() };
    for block in 0..blocks {
        let p = block * K::KC..pairs.min((block + 1) * K::KC);
        let kc = p.len().next_multiple_of(K::PAIR_ALIGN);
        let (first, last) = (block == 0, block + 1 == blocks);
        for (jp, panel) in b_block.chunks_mut(kc_max * nr).enumerate() {
            let j0 = cols.start + jp * nr;
            let j1 = cols.end.min(j0 + nr);
            if j1 - j0 < nr {
                panel.fill(0);
            }
            panel[p.len() * nr..kc * nr].fill(0);
            b.pack(j0..j1, p.clone(), nr, panel);
        }
        for i0 in rows.clone().step_by(mc) {
            let i1 = rows.end.min(i0 + mc);
            for (ip, panel) in a_block.chunks_mut(kc_max * mr).enumerate() {
                let r0 = i0 + ip * mr;
                if r0 >= i1 {
                    break;
                }
                let r1 = i1.min(r0 + mr);
                if r1 - r0 < mr {
                    panel.fill(0);
                }
                panel[p.len() * mr..kc * mr].fill(0);
                a.pack(r0..r1, p.clone(), mr, panel);
                K::arrange_a(&mut panel[..kc * mr], &mut staging[..kc * mr], kc);
            }
            for jp in 0..col_panels {
                let j0 = cols.start + jp * nr;
                let ncols = (cols.end - j0).min(nr);
                let b_panel = b_block[jp * kc_max * nr..].as_ptr();
                for r0 in (i0..i1).step_by(mr) {
                    let nrows = (i1 - r0).min(mr);
                    let a_panel = a_block[(r0 - i0) / mr * kc_max * mr..].as_ptr();
                    let at = r0 * row_stride + j0;
                    let local = (r0 - rows.start) * cols.len() + (j0 - cols.start);
                    let scratch = partial.as_mut_ptr().wrapping_add(local);
                    let (init, store) = match dst {
                        Dst::F32 { c, accumulate } => {
                            let c = c.0.wrapping_add(at);
                            let init = if first && !accumulate {
                                Init::Zero
                            } else {
                                Init::Load { c, ld: row_stride }
                            };
                            (init, Store::F32 { c, ld: row_stride })
                        }
                        Dst::Bf16 { c } => {
                            let init = if first {
                                Init::Zero
                            } else {
                                Init::Load {
                                    c: scratch,
                                    ld: cols.len(),
                                }
                            };
                            let store = if last {
                                Store::Bf16 {
                                    c: c.0.wrapping_add(at),
                                    ld: row_stride,
                                }
                            } else {
                                Store::F32 {
                                    c: scratch,
                                    ld: cols.len(),
                                }
                            };
                            (init, store)
                        }
                    };
                    let bias = bias
                        .filter(|_| last)
                        .map(|b| b.0.wrapping_add(r0) as *const f32);
                    // SAFETY: the panels hold kc pairs of MR rows / NR columns (zero-padded);
                    // the tile lies in this task's part of the output (or of `partial`), the
                    // bias has a value per row.
                    let out = Epilogue {
                        init,
                        bias,
                        store,
                        rows: nrows,
                        cols: ncols,
                    };
                    unsafe { K::tile(kc, a_panel, b_panel, out) };
                }
            }
        }
    }
}
