//! The direct weight gradient: per sample, the packed input planes against `dy` laid out
//! channels-last at the same pitch, a tile of output-channel vectors by input channels by taps at
//! a time.

use std::ops::Range;

use rayon::prelude::*;

use super::{isa, Direct, LANES};

/// Taps per weight-gradient tile: one kernel row of a 3x3 kernel.
const GRAD_TAPS: usize = 3;
/// Positions whose products the weight gradient's f32 sums take, about, before they are added
/// into its f64 total: float32 rounding stays that of a few samples' sums, whatever the batch.
const GRAD_FLUSH_POSITIONS: usize = 1024;
/// Bytes of `dy` rows per block of the weight gradient's positions: two thirds of a 48 KiB L1
/// cache, the rest for the input rows of the channels at hand.
const GRAD_BLOCK_BYTES: usize = 32 << 10;

impl Direct<'_> {
    /// Gradient of the weight: `dw[o, c, tap] = sum over samples and positions of dy * x` at the
    /// tap's offset. Here the vectors run along output channels: `dy` is laid out channels-last, and
    /// each input value is broadcast, so no load straddles cache lines and no sum crosses lanes (run
    /// along positions, the same kernel was load-bound). Each thread takes a fixed run of samples,
    /// its f32 sums go into an f64 total every few samples, and the threads' totals are added in
    /// order: the result does not depend on scheduling.
    pub(super) fn backward_weight(&self, x: &[f32], dy: &[f32]) -> Vec<f32> {
        self.backward_weight_by(x, dy, Products::Float32)
    }

    /// `backward_weight` with `products`.
    pub(super) fn backward_weight_by(&self, x: &[f32], dy: &[f32], products: Products) -> Vec<f32> {
        // As many vectors of output channels as there are, up to 4, for fewer loads per
        // multiply-add: 4 vectors by 2 channels by 3 taps take 10 loads for 24, 2 by 4 by 3 take 14.
        if self.s.og() > 2 * LANES {
            self.backward_weight_with::<4, 2>(x, dy, products)
        } else if self.s.og() > LANES {
            self.backward_weight_with::<2, 4>(x, dy, products)
        } else {
            self.backward_weight_with::<1, 4>(x, dy, products)
        }
    }

    /// `backward_weight` with tiles of `V` vectors of output channels by `C` input channels.
    fn backward_weight_with<const V: usize, const C: usize>(
        &self,
        x: &[f32],
        dy: &[f32],
        products: Products,
    ) -> Vec<f32> {
        let s = self.s;
        let pass = WeightPass::<V, C>::new(self, x, dy, products);
        let parts = rayon::current_num_threads().min(s.n);
        let partials: Vec<Vec<f64>> = (0..parts)
            .into_par_iter()
            .map(|part| pass.samples(part * s.n / parts..(part + 1) * s.n / parts))
            .collect();
        let mut partials = partials.into_iter();
        let mut dw = partials
            .next()
            .unwrap_or_else(|| vec![0.0; s.o * s.cg() * s.taps()]);
        for part in partials {
            dw.iter_mut().zip(&part).for_each(|(d, &v)| *d += v);
        }
        dw.into_iter().map(|v| v as f32).collect()
    }

    /// One sample's `dy` [o, oh, ow] transposed into `dst`: group `g`'s [grid position, lanes] at
    /// `g * group_stride`, position `y * pitch + x`, lane `o % og` (`lanes` a multiple of `LANES`;
    /// the lanes past `og` are written zero). Nothing else is written. A block of `LANES` channels
    /// by `LANES` positions of a row at a time, transposed in registers: element by element, the
    /// strided reads cost a noticeable share of the weight gradient.
    fn pack_dy(&self, dy: &[f32], lanes: usize, dst: &mut [f32], group_stride: usize) {
        let s = self.s;
        let (og, ohw) = (s.og(), s.ohw());
        for (g, group) in dy.chunks_exact(og * ohw).enumerate() {
            for o0 in (0..og).step_by(LANES) {
                let channels = LANES.min(og - o0);
                for y in 0..s.oh {
                    for x0 in (0..s.ow).step_by(LANES) {
                        let width = LANES.min(s.ow - x0);
                        let rows: [&[f32]; LANES] = std::array::from_fn(|o| {
                            if o < channels {
                                &group[(o0 + o) * ohw + y * s.ow + x0..][..width]
                            } else {
                                &[]
                            }
                        });
                        let at = g * group_stride + (y * self.pitch + x0) * lanes + o0;
                        // SAFETY: the instruction set was detected in `supports`.
                        unsafe { isa::transpose_block(&rows[..channels], &mut dst[at..], lanes) };
                    }
                }
            }
        }
    }
}

/// How the weight gradient's tiles multiply.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Products {
    Float32,
    /// `x` and `dy` rounded to bf16, pairs of positions per `vdpbf16ps` (x86-64 with
    /// AVX512-BF16 only: see `pairs::supports`).
    Bf16Pairs,
}

/// The weight gradient's tiles, `V` vectors of output channels by `C` input channels by
/// `GRAD_TAPS` taps each, and the layout of the buffers they read.
struct WeightPass<'a, const V: usize, const C: usize> {
    direct: &'a Direct<'a>,
    x: &'a [f32],
    dy: &'a [f32],
    /// Floats per position of a packed `dy` group: its output channels, rounded up to a tile.
    lanes: usize,
    /// Positions of the pitch-wide grid.
    grid: usize,
    /// Floats of one channel's packed planes.
    channel: usize,
    /// Blocks of positions, as even as they go: every tile runs over a block before the next one,
    /// so its `dy` rows stay in L1 across the tiles (where each tile streamed several samples'
    /// `dy` from L2, it ran slower).
    blocks: usize,
    /// (group, first output channel, first input channel, tap run) of every tile.
    tiles: Vec<[usize; 4]>,
    /// Samples whose products the tiles' f32 sums take before they go into the f64 totals.
    per_flush: usize,
    products: Products,
}

impl<'a, const V: usize, const C: usize> WeightPass<'a, V, C> {
    fn new(direct: &'a Direct<'a>, x: &'a [f32], dy: &'a [f32], products: Products) -> Self {
        let s = direct.s;
        let (cg, og) = (s.cg(), s.og());
        let (lanes, grid) = (og.next_multiple_of(V * LANES), direct.grid_vectors * LANES);
        // Taps in runs of GRAD_TAPS and channels in runs of C; a run's missing members repeat its
        // first one, and their sums are dropped.
        let tap_runs = s.taps().div_ceil(GRAD_TAPS);
        let tiles = (0..s.groups)
            .flat_map(|g| (0..og).step_by(V * LANES).map(move |ob| (g, ob)))
            .flat_map(|(g, ob)| (0..cg).step_by(C).map(move |c0| (g, ob, c0)))
            .flat_map(|(g, ob, c0)| (0..tap_runs).map(move |tr| [g, ob, c0, tr]))
            .collect();
        WeightPass {
            direct,
            x,
            dy,
            lanes,
            grid,
            channel: direct.channel_len(),
            blocks: (grid * lanes * size_of::<f32>()).div_ceil(GRAD_BLOCK_BYTES),
            tiles,
            per_flush: (GRAD_FLUSH_POSITIONS / grid).max(1),
            products,
        }
    }

    /// The read offsets of tap run `run`, its missing taps repeating its first.
    fn reads(&self, run: usize) -> [usize; GRAD_TAPS] {
        let reads = &self.direct.reads;
        std::array::from_fn(|t| {
            reads
                .get(run * GRAD_TAPS + t)
                .map_or(reads[run * GRAD_TAPS], |&r| r)
        })
    }

    /// The weight gradient [o, c / groups, kh, kw] in float64 of the run of `samples`.
    fn samples(&self, samples: Range<usize>) -> Vec<f64> {
        let s = self.direct.s;
        // One sample's [c, channel] and [group, grid position, lanes]; what `pack_input` and
        // `pack_dy` never write (padding, columns past `ow`) stays zero from here.
        let mut xs = vec![0.0; s.c * self.channel];
        let mut dys = vec![0.0; s.groups * self.grid * self.lanes];
        let mut rounded = Rounded::default();
        let mut sums = vec![[[0.0f32; LANES]; V]; self.tiles.len() * C * GRAD_TAPS];
        // `sums` in f64, laid out alike: adding them up vectorises.
        let mut totals = vec![0.0f64; sums.len() * V * LANES];
        for (k, n) in samples.clone().enumerate() {
            self.add_sample(n, &mut xs, &mut dys, &mut rounded, &mut sums);
            if (k + 1) % self.per_flush == 0 || n + 1 == samples.end {
                for (total, sum) in totals
                    .iter_mut()
                    .zip(sums.as_flattened_mut().as_flattened_mut())
                {
                    *total += std::mem::take(sum) as f64;
                }
            }
        }
        self.by_weight(&totals)
    }

    /// Adds sample `n`'s products to every tile's `sums`, packing its input into `xs` and its `dy`
    /// into `dys` first (and, for bf16 products, rounding both into `rounded`).
    fn add_sample(
        &self,
        n: usize,
        xs: &mut [f32],
        dys: &mut [f32],
        rounded: &mut Rounded,
        sums: &mut [[[f32; LANES]; V]],
    ) {
        let (direct, s) = (self.direct, self.direct.s);
        let (cg, ohw, sample_len) = (s.cg(), s.ohw(), s.c * s.h * s.w);
        let (lanes, grid, channel) = (self.lanes, self.grid, self.channel);
        direct.pack_input(&self.x[n * sample_len..][..sample_len], xs, channel);
        direct.pack_dy(
            &self.dy[n * s.o * ohw..][..s.o * ohw],
            lanes,
            dys,
            grid * lanes,
        );
        if self.products == Products::Bf16Pairs {
            rounded.round(xs, dys, lanes);
        }
        for b in 0..self.blocks {
            // Even bounds, so that no pair of positions straddles two blocks.
            let even = |b: usize| (b * grid / self.blocks) & !1;
            let (first, end) = (even(b), even(b + 1));
            for (&[g, ob, c0, tr], sums) in
                self.tiles.iter().zip(sums.chunks_exact_mut(C * GRAD_TAPS))
            {
                let channels: [usize; C] = std::array::from_fn(|c| {
                    (g * cg + if c0 + c < cg { c0 + c } else { c0 }) * channel + first
                });
                #[cfg(target_arch = "x86_64")]
                if self.products == Products::Bf16Pairs {
                    // SAFETY: as below, `rounded` holding `xs` and `dys` rounded, the latter as
                    // `grid / 2` rows of pairs; `first` and `end` are even; AVX512-BF16 was
                    // detected in `pairs::supports`.
                    unsafe {
                        isa::backward_weight_tile_bf16_pairs::<V, C, GRAD_TAPS>(
                            rounded.x.as_ptr(),
                            &channels,
                            &self.reads(tr),
                            rounded.dy.as_ptr().add((g * grid + first) / 2 * lanes + ob),
                            lanes,
                            (end - first) / 2,
                            sums,
                        )
                    };
                    continue;
                }
                // SAFETY: every channel offset plus any tap's offset is readable for the grid's
                // positions from `first` on (see `Direct::new`); `dys` holds `grid` rows of
                // `lanes` floats per group, `ob + V * LANES <= lanes`; the instruction set was
                // detected in `supports`.
                unsafe {
                    isa::backward_weight_tile::<V, C, GRAD_TAPS>(
                        xs.as_ptr(),
                        &channels,
                        &self.reads(tr),
                        dys.as_ptr().add((g * grid + first) * lanes + ob),
                        lanes,
                        end - first,
                        sums,
                    )
                };
            }
        }
    }

    /// The tiles' `totals` laid out as the weight [o, c / groups, kh, kw], dropping the sums of the
    /// channels and taps that only filled a run.
    fn by_weight(&self, totals: &[f64]) -> Vec<f64> {
        let s = self.direct.s;
        let (cg, og, taps) = (s.cg(), s.og(), s.taps());
        let mut dw = vec![0.0f64; s.o * cg * taps];
        let tile_totals = totals.chunks_exact(C * GRAD_TAPS * V * LANES);
        for (&[g, ob, c0, tr], totals) in self.tiles.iter().zip(tile_totals) {
            for (ct, outs) in totals.chunks_exact(V * LANES).enumerate() {
                let (c, t) = (c0 + ct / GRAD_TAPS, tr * GRAD_TAPS + ct % GRAD_TAPS);
                if c < cg && t < taps {
                    for (o, &v) in outs.iter().take(og - ob).enumerate() {
                        dw[((g * og + ob + o) * cg + c) * taps + t] = v;
                    }
                }
            }
        }
        dw
    }
}

/// One sample's packed input and `dy` rounded to bf16, for `Products::Bf16Pairs`: the input as
/// bf16 values at the same offsets, `dy` as rows of position pairs (row q holds positions 2q and
/// 2q + 1 of every lane).
#[derive(Default)]
struct Rounded {
    x: Vec<u16>,
    dy: Vec<f32>,
}

impl Rounded {
    /// Rounds `xs` and `dys` (rows of `lanes` floats, an even number of them per group).
    #[cfg(not(target_arch = "x86_64"))]
    fn round(&mut self, _: &[f32], _: &[f32], _: usize) {
        unreachable!("bf16 pairs run on x86-64 only (pairs::supports)")
    }

    /// Rounds `xs` and `dys` (rows of `lanes` floats, an even number of them per group).
    #[cfg(target_arch = "x86_64")]
    fn round(&mut self, xs: &[f32], dys: &[f32], lanes: usize) {
        self.x.resize(xs.len(), 0);
        self.dy.resize(dys.len() / 2, 0.0);
        let rows = dys.chunks_exact(2 * lanes);
        // SAFETY: `pairs::supports` detected AVX512-BF16 (with AVX-512F, BW and VL).
        unsafe {
            isa::round_into_bf16(xs, &mut self.x);
            for (pair, out) in rows.zip(self.dy.chunks_exact_mut(lanes)) {
                let (even, odd) = pair.split_at(lanes);
                isa::round_into_pairs(even, odd, out);
            }
        }
    }
}
