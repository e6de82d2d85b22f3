//! Direct convolution for CPUs with AVX-512: no im2col matrix, which for the small channel counts of
//! CIFAR-sized models cost as much time as the products themselves (9 copies of every input per
//! pass, out of cache).
//!
//! Output position `(y, x)` reads tap `(i, j)` at a flat index plus an offset that depends on the tap
//! alone, so a tile of output channels times 16-wide runs of flat positions is a chain of broadcast
//! multiply-adds over (tap, channel) pairs. At stride 1 with the output as wide as the input (3x3
//! kernels with padding 1), that index is the output's own and the input is read as it lies, with
//! masked loads zeroing the lanes that fall in the padding. Otherwise each sample's input planes are
//! zero-padded into a copy with one row pitch for all of them and, at stride > 1, split into one
//! plane per stride phase (the rows and columns at each offset modulo the stride); the index is then
//! `y * pitch + x`, and the positions past the output width in each row are computed and dropped.
//! The weight gradient reads the packed planes at the same offsets, against `dy` laid out
//! channels-last at that pitch (zero in the dropped columns), with its vectors along the output
//! channels. A strided layer's input gradient runs the same forward tiles on `dy`, once per stride
//! phase of the input (see `StridedInputGrad`).

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::cpu::ConvShape;

/// f32 lanes of one AVX-512 vector.
const LANES: usize = 16;
/// Output channels times position vectors of the forward tile: 24 accumulators, each input vector
/// feeding 8 multiply-adds and each weight 3, so loads stay under the two FMA ports' pace.
const OUT_TILE: usize = 8;
const POS_TILE: usize = 3;
/// Input channels a forward tile takes through all its taps before the next ones.
const CHANNEL_BLOCK: usize = 32;
/// Taps per weight-gradient tile: one kernel row of a 3x3 kernel.
const GRAD_TAPS: usize = 3;
/// Positions whose products the weight gradient's f32 sums take, about, before they are added
/// into its f64 total: float32 rounding stays that of a few samples' sums, whatever the batch.
const GRAD_FLUSH_POSITIONS: usize = 1024;
/// Bytes of `dy` rows per block of the weight gradient's positions: two thirds of a 48 KiB L1
/// cache, the rest for the input rows of the channels at hand.
const GRAD_BLOCK_BYTES: usize = 32 << 10;

/// A convolution the direct kernels can run, with the layout of its packed planes.
pub(super) struct Direct<'s> {
    s: &'s ConvShape,
    /// Row length of every packed plane and of the output grid.
    pitch: usize,
    /// Floats per packed plane, slack for the last tile's reads included.
    plane: usize,
    /// Packed planes per input channel: one per stride phase.
    phases: usize,
    /// Offset of each tap's reads (weight order) from a channel's first plane, relative to the
    /// output's flat index.
    reads: Vec<usize>,
    /// Position vectors covering `oh` rows of the grid.
    grid_vectors: usize,
}

impl<'s> Direct<'s> {
    /// The direct forward for `s`, or `None` where im2col + gemm is as fast (2 threads, batch 100).
    /// Read in place (see `forward_grid`), 3x3 kernels on 8x8 outputs and up run faster direct at
    /// every channel count measured: 64->64 at 8x8 1.2x, 128->128 1.25x, 256->256 1.05x, 16->16 at
    /// 32x32 1.1x. From packed planes, up to 64 channels (from 128 on, gemm's tiles are full). Below
    /// 8x8 most of a vector would be padding; kernels of under 9 taps are left to gemm too (1x1
    /// reads its input as it lies).
    pub(super) fn forward_plan(s: &'s ConvShape) -> Option<Self> {
        (s.ohw() >= 64 && (s.cg() <= 64 || reads_in_place(s)))
            .then(|| Self::new(s))
            .flatten()
    }

    /// The direct weight gradient for `s`, or `None` where im2col + gemm is as fast: with 8 channels
    /// or more direct wins at 32x32 outputs and up, and from 8x8 up with at most 64 channels
    /// (16->32 and 32->32 at 16x16: 1.3-1.7x; 64->64 at 8x8 1.15x, 64->128 at 16x16 1.2x); from
    /// 128 channels on smaller planes gemm's tiles fill (128->256 at 8x8: gemm 1.5x), and 3->16
    /// runs 2x slower direct.
    pub(super) fn weight_grad_plan(s: &'s ConvShape) -> Option<Self> {
        (s.cg() >= 8 && (s.ohw() >= 1024 || (s.cg() <= 64 && s.ohw() >= 64)))
            .then(|| Self::new(s))
            .flatten()
    }

    fn new(s: &'s ConvShape) -> Option<Self> {
        if !avx512() || s.taps() < 9 || s.n * s.h * s.w * s.ohw() == 0 {
            return None;
        }
        let ([sh, sw], [ph, pw], [dh, dw]) = (s.stride, s.padding, s.dilation);
        let rows = (s.h + 2 * ph).div_ceil(sh);
        // At stride 1 a row's right padding is the next row's left padding: the reads past a row's
        // end land in the zeros that start the next one. 8x8 planes then take 72 positions, not 80.
        let pitch = if sw == 1 {
            (s.w + pw).max(s.ow)
        } else {
            (s.w + 2 * pw).div_ceil(sw)
        };
        let (mut reads, mut furthest) = (Vec::with_capacity(s.taps()), 0);
        for i in 0..s.kh {
            for j in 0..s.kw {
                let (r, q) = (i * dh, j * dw);
                let offset = (r / sh) * pitch + q / sw;
                furthest = furthest.max(offset);
                reads.push(((r % sh) * sw + q % sw, offset));
            }
        }
        let grid_vectors = (s.oh * pitch).div_ceil(LANES);
        let plane = (rows * pitch)
            .max(grid_vectors * LANES + furthest)
            .next_multiple_of(LANES);
        Some(Direct {
            s,
            pitch,
            plane,
            phases: sh * sw,
            reads: reads
                .into_iter()
                .map(|(phase, o)| phase * plane + o)
                .collect(),
            grid_vectors,
        })
    }

    /// Floats of one channel's packed planes.
    fn channel_len(&self) -> usize {
        self.phases * self.plane
    }

    /// Copies one sample's input planes `x` [c, h, w] into `dst`, channel `ch`'s phase planes at
    /// `ch * channel_stride`. Only the input's values are written: the padding must be zero already,
    /// as in a buffer created zeroed and packed for this layer only.
    fn pack_input(&self, x: &[f32], dst: &mut [f32], channel_stride: usize) {
        let s = self.s;
        let ([sh, sw], [ph, pw]) = (s.stride, s.padding);
        for (ch, src) in x.chunks_exact(s.h * s.w).enumerate() {
            let channel = &mut dst[ch * channel_stride..][..self.channel_len()];
            if s.stride == [2, 2] {
                // SAFETY: AVX-512 was detected in `new`.
                unsafe { self.pack_stride2(src, channel) };
                continue;
            }
            let mut planes = channel.chunks_exact_mut(self.plane);
            for (a, b) in (0..sh).flat_map(|a| (0..sw).map(move |b| (a, b))) {
                let plane = planes
                    .next()
                    .expect("a packed channel holds every phase plane");
                // Packed column v holds input column v * sw + b - pw, where that lies inside.
                let first = pw.saturating_sub(b).div_ceil(sw);
                let end = (s.w + pw)
                    .saturating_sub(b)
                    .div_ceil(sw)
                    .clamp(first, self.pitch);
                for (u, row) in plane.chunks_exact_mut(self.pitch).enumerate() {
                    if let Some(r) = (u * sh + a).checked_sub(ph).filter(|&r| r < s.h) {
                        let line = &src[r * s.w..][..s.w];
                        let from = first * sw + b - pw;
                        gather_every(&mut row[first..end], &line[from..], sw);
                    }
                }
            }
        }
    }

    /// One channel's input plane into its four phase planes at stride 2: each input row split into
    /// its even and odd columns by two permutes per 32 values, into the two planes of its row's
    /// phase (where per-row gathers cost as much as the convolution's products).
    ///
    /// # Safety
    /// AVX-512F must be available.
    #[target_feature(enable = "avx512f")]
    unsafe fn pack_stride2(&self, src: &[f32], channel: &mut [f32]) {
        let s = self.s;
        let [ph, pw] = s.padding;
        let evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odds = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        // Input column `x` lands in column phase `(x + pw) % 2`, at packed column `(x + pw) / 2`.
        let (even_phase, even_at) = (pw % 2, pw / 2);
        let (odd_phase, odd_at) = ((pw + 1) % 2, pw.div_ceil(2));
        for (r, line) in src.chunks_exact(s.w).enumerate() {
            let (a, u) = ((r + ph) % 2, (r + ph) / 2);
            let row = |b: usize| (a * 2 + b) * self.plane + u * self.pitch;
            let (even_row, odd_row) = (row(even_phase) + even_at, row(odd_phase) + odd_at);
            for (k, values) in line.chunks(2 * LANES).enumerate() {
                let at = values.as_ptr();
                let low = _mm512_maskz_loadu_ps(first_lanes(values.len()), at);
                let high = _mm512_maskz_loadu_ps(
                    first_lanes(values.len().saturating_sub(LANES)),
                    at.wrapping_add(LANES),
                );
                let (even, odd) = (values.len().div_ceil(2), values.len() / 2);
                let out = &mut channel[even_row + k * LANES..][..even];
                let gathered = _mm512_permutex2var_ps(low, evens, high);
                _mm512_mask_storeu_ps(out.as_mut_ptr(), first_lanes(even), gathered);
                let out = &mut channel[odd_row + k * LANES..][..odd];
                let gathered = _mm512_permutex2var_ps(low, odds, high);
                _mm512_mask_storeu_ps(out.as_mut_ptr(), first_lanes(odd), gathered);
            }
        }
    }

    /// Forward: `y = conv(x, w) (+ bias)`, a sample per task (or, with fewer samples than threads,
    /// a run of output-channel tiles per task).
    pub(super) fn forward(&self, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        let s = self.s;
        let (cg, og, ohw, taps) = (s.cg(), s.og(), s.ohw(), s.taps());
        let tiles = og.div_ceil(OUT_TILE);
        let packed = self.pack_weight(w);
        let grid = self.forward_grid();
        let runs = vector_runs(grid.vectors);
        // One tile of output channels of one group, for the sample in `xs` (packed or as it lies),
        // into `planes`: the tile's output planes, every element of which it writes.
        let tile = |xs: &[f32], (g, t, planes): Tile, staged: &mut Vec<f32>| {
            let rows = planes.len() / ohw;
            let first = g * og + t * OUT_TILE;
            let bias: [f32; OUT_TILE] =
                std::array::from_fn(|o| bias.map_or(0.0, |b| b[first + o.min(rows - 1)]));
            let xg = &xs[g * cg * grid.channel_stride..];
            let wt = &packed[(g * tiles + t) * taps * cg * OUT_TILE..][..taps * cg * OUT_TILE];
            // In place, the tile's planes take the stores; else a staged grid, cropped below.
            let (out, out_stride) = if grid.cropped {
                let computed = grid.vectors * LANES;
                staged.resize(OUT_TILE * computed, 0.0);
                (staged.as_mut_ptr(), computed)
            } else {
                (planes.as_mut_ptr().cast::<f32>(), ohw)
            };
            for &(v, len) in &runs {
                let tile = TileReads {
                    x: xg.as_ptr().wrapping_add(v * LANES),
                    channel_stride: grid.channel_stride,
                    channels: cg,
                    reads: &grid.reads,
                    masks: &grid.masks[v * taps..],
                    w: wt.as_ptr(),
                };
                let stores = &grid.stores[v..];
                // SAFETY: every lane a mask lets through reads inside `xg`'s channels (`new` and
                // `forward_grid` sized and masked the grid), `wt` holds a weight per tap, channel
                // and tile row, and `out` `rows` rows of `out_stride` floats from vector `v` on, of
                // which the store masks write only what lies inside; AVX-512 was detected in `new`.
                unsafe {
                    let out = out.add(v * LANES);
                    match len {
                        1 => {
                            forward_tile::<OUT_TILE, 1>(&tile, &bias, out, out_stride, rows, stores)
                        }
                        2 => {
                            forward_tile::<OUT_TILE, 2>(&tile, &bias, out, out_stride, rows, stores)
                        }
                        _ => forward_tile::<OUT_TILE, POS_TILE>(
                            &tile, &bias, out, out_stride, rows, stores,
                        ),
                    }
                }
            }
            if grid.cropped {
                let computed = grid.vectors * LANES;
                for (plane, out) in planes
                    .chunks_exact_mut(ohw)
                    .zip(staged.chunks_exact(computed))
                {
                    for (row, src) in plane.chunks_exact_mut(s.ow).zip(out.chunks(self.pitch)) {
                        row.iter_mut().zip(src).for_each(|(d, &v)| {
                            d.write(v);
                        });
                    }
                }
            }
        };
        let (sample_len, len) = (s.c * s.h * s.w, s.n * s.o * ohw);
        let mut y = Vec::with_capacity(len);
        let out = &mut y.spare_capacity_mut()[..len];
        let tile_planes = |sample| tile_outputs(sample, og * ohw, OUT_TILE * ohw);
        if s.n >= rayon::current_num_threads() {
            out.par_chunks_mut(s.o * ohw).enumerate().for_each_init(
                || (Vec::new(), Vec::new()),
                |(xs, staged), (n, sample)| {
                    let xs = self.sample_input(&x[n * sample_len..][..sample_len], &grid, xs);
                    for planes in tile_planes(sample) {
                        tile(xs, planes, staged);
                    }
                },
            );
        } else {
            let mut xs = Vec::new();
            for (n, sample) in out.chunks_mut(s.o * ohw).enumerate() {
                let xs = self.sample_input(&x[n * sample_len..][..sample_len], &grid, &mut xs);
                tile_planes(sample)
                    .into_par_iter()
                    .for_each_init(Vec::new, |staged, planes| tile(xs, planes, staged));
            }
        }
        // SAFETY: every sample's planes were split into tiles whose every element `tile` wrote.
        unsafe { y.set_len(len) };
        y
    }

    /// The weights as [group, tile, tap, channel, OUT_TILE], zero for the channels past `og`; a tile
    /// per task, written in order (256->256 at 8x8: forward 3 % faster than in one strided pass).
    fn pack_weight(&self, w: &[f32]) -> Vec<f32> {
        let s = self.s;
        let (cg, og, taps) = (s.cg(), s.og(), s.taps());
        let tiles = og.div_ceil(OUT_TILE);
        let mut packed = vec![0.0; s.groups * tiles * taps * cg * OUT_TILE];
        packed
            .par_chunks_mut(taps * cg * OUT_TILE)
            .enumerate()
            .for_each(|(gt, tile)| {
                let (g, t) = (gt / tiles, gt % tiles);
                let outputs = (t * OUT_TILE..og.min((t + 1) * OUT_TILE)).map(|o| g * og + o);
                for (o, oc) in outputs.enumerate() {
                    let kernel = &w[oc * cg * taps..][..cg * taps];
                    for (r, &v) in kernel.iter().enumerate() {
                        let (c, tap) = (r / taps, r % taps);
                        tile[(tap * cg + c) * OUT_TILE + o] = v;
                    }
                }
            });
        packed
    }

    /// One sample's input `x` as `grid` reads it: as it lies, or packed into `packed`.
    fn sample_input<'a>(&self, x: &'a [f32], grid: &Grid, packed: &'a mut Vec<f32>) -> &'a [f32] {
        if !grid.cropped {
            return x;
        }
        packed.resize(self.s.c * self.channel_len(), 0.0);
        self.pack_input(x, packed, self.channel_len());
        packed
    }

    /// How the forward's tiles read one sample. At stride 1 with the output as wide as the input,
    /// output position `p` reads tap `t` at `p + offset[t]` of the input as it lies, and masked
    /// loads zero what falls in the padding: no copy of the input, no computed position dropped
    /// (8x8 planes: 64 positions, not 80). Else from the packed planes, over the pitch-wide grid.
    fn forward_grid(&self) -> Grid {
        let s = self.s;
        let taps = s.taps();
        if reads_in_place(s) {
            let ([ph, pw], [dh, dw], ohw) = (s.padding, s.dilation, s.ohw());
            let vectors = ohw.div_ceil(LANES);
            let tap = |t: usize| (t / s.kw * dh, t % s.kw * dw);
            let reads = (0..taps)
                .map(|t| {
                    let (i, j) = tap(t);
                    (i as isize - ph as isize) * s.w as isize + j as isize - pw as isize
                })
                .collect();
            let lane_mask = |v: usize, keep: &dyn Fn(usize, usize) -> bool| {
                (0..LANES).fold(0u16, |m, l| {
                    let p = v * LANES + l;
                    let inside = p < ohw && keep(p / s.ow, p % s.ow);
                    m | (u16::from(inside) << l)
                })
            };
            let masks = (0..vectors)
                .flat_map(|v| (0..taps).map(move |t| (v, t)))
                .map(|(v, t)| {
                    let (i, j) = tap(t);
                    lane_mask(v, &|y, x| {
                        (y + i).checked_sub(ph).is_some_and(|r| r < s.h)
                            && (x + j).checked_sub(pw).is_some_and(|c| c < s.w)
                    })
                })
                .collect();
            let stores = (0..vectors).map(|v| lane_mask(v, &|_, _| true)).collect();
            return Grid {
                vectors,
                reads,
                masks,
                stores,
                channel_stride: s.h * s.w,
                cropped: false,
            };
        }
        Grid {
            vectors: self.grid_vectors,
            reads: self.reads.iter().map(|&r| r as isize).collect(),
            masks: vec![u16::MAX; self.grid_vectors * taps],
            stores: vec![u16::MAX; self.grid_vectors],
            channel_stride: self.channel_len(),
            cropped: true,
        }
    }

    /// Gradient of the weight: `dw[o, c, tap] = sum over samples and positions of dy * x` at the
    /// tap's offset. Here the vectors run along output channels: `dy` is laid out channels-last, and
    /// each input value is broadcast, so no load straddles cache lines and no sum crosses lanes (run
    /// along positions, the same kernel was load-bound at half the speed). Each thread takes a fixed
    /// run of samples, its f32 sums go into an f64 total every few samples, and the threads'
    /// totals are added in order: the result does not depend on scheduling.
    pub(super) fn weight_grad(&self, x: &[f32], dy: &[f32]) -> Vec<f32> {
        // As many vectors of output channels as there are, up to 4, for fewer loads per
        // multiply-add: 4 vectors by 2 channels by 3 taps take 10 loads for 24, 2 by 4 by 3 take 14.
        if self.s.og() > 2 * LANES {
            self.weight_grad_with::<4, 2>(x, dy)
        } else if self.s.og() > LANES {
            self.weight_grad_with::<2, 4>(x, dy)
        } else {
            self.weight_grad_with::<1, 4>(x, dy)
        }
    }

    /// `weight_grad` with tiles of `V` vectors of output channels by `C` input channels.
    fn weight_grad_with<const V: usize, const C: usize>(&self, x: &[f32], dy: &[f32]) -> Vec<f32> {
        let s = self.s;
        let (cg, og, ohw, taps) = (s.cg(), s.og(), s.ohw(), s.taps());
        let (lanes, grid, channel) = (
            og.next_multiple_of(V * LANES),
            self.grid_vectors * LANES,
            self.channel_len(),
        );
        // Blocks of positions, as even as they go: every tile runs over a block before the next
        // one, so its `dy` rows stay in L1 across the tiles (single-thread 64->64 at 8x8 and
        // 32->64 at 16x16 stride 2 1.2x, where each tile streamed several samples' `dy` from L2).
        let blocks = (grid * lanes * size_of::<f32>()).div_ceil(GRAD_BLOCK_BYTES);
        // Taps in runs of GRAD_TAPS and channels in runs of C; a run's missing members repeat its
        // first one, and their sums are dropped.
        let tap_runs = taps.div_ceil(GRAD_TAPS);
        let reads = |run: usize| -> [usize; GRAD_TAPS] {
            std::array::from_fn(|t| {
                self.reads
                    .get(run * GRAD_TAPS + t)
                    .map_or(self.reads[run * GRAD_TAPS], |&r| r)
            })
        };
        // (group, first output channel, first input channel, tap run) of every tile.
        let tiles: Vec<[usize; 4]> = (0..s.groups)
            .flat_map(|g| (0..og).step_by(V * LANES).map(move |ob| (g, ob)))
            .flat_map(|(g, ob)| (0..cg).step_by(C).map(move |c0| (g, ob, c0)))
            .flat_map(|(g, ob, c0)| (0..tap_runs).map(move |tr| [g, ob, c0, tr]))
            .collect();
        let (sample_len, parts) = (s.c * s.h * s.w, rayon::current_num_threads().min(s.n));
        // Samples whose products the tiles' f32 sums take before they go into the f64 totals.
        let per_flush = (GRAD_FLUSH_POSITIONS / grid).max(1);
        let run = |part: usize| {
            // One sample's [c, channel] and [group, grid position, lanes]; what `pack_input` and
            // `pack_dy` never write (padding, columns past `ow`) stays zero from here.
            let mut xs = vec![0.0; s.c * channel];
            let mut dys = vec![0.0; s.groups * grid * lanes];
            let mut sums = vec![[[0.0f32; LANES]; V]; tiles.len() * C * GRAD_TAPS];
            // `sums` in f64, laid out alike: adding them up vectorises.
            let mut totals = vec![0.0f64; sums.len() * V * LANES];
            let samples = part * s.n / parts..(part + 1) * s.n / parts;
            for (k, n) in samples.clone().enumerate() {
                self.pack_input(&x[n * sample_len..][..sample_len], &mut xs, channel);
                // SAFETY: AVX-512 was detected in `new`.
                unsafe {
                    self.pack_dy(
                        &dy[n * s.o * ohw..][..s.o * ohw],
                        lanes,
                        &mut dys,
                        grid * lanes,
                    )
                };
                for b in 0..blocks {
                    let (first, end) = (b * grid / blocks, (b + 1) * grid / blocks);
                    for (&[g, ob, c0, tr], sums) in
                        tiles.iter().zip(sums.chunks_exact_mut(C * GRAD_TAPS))
                    {
                        let channels: [usize; C] = std::array::from_fn(|c| {
                            (g * cg + if c0 + c < cg { c0 + c } else { c0 }) * channel + first
                        });
                        // SAFETY: every channel offset plus any tap's offset is readable for the
                        // grid's positions from `first` on (see `new`); `dys` holds `grid` rows
                        // of `lanes` floats per group, `ob + V * LANES <= lanes`; AVX-512 was
                        // detected in `new`.
                        unsafe {
                            weight_tile::<V, C, GRAD_TAPS>(
                                xs.as_ptr(),
                                &channels,
                                &reads(tr),
                                dys.as_ptr().add((g * grid + first) * lanes + ob),
                                lanes,
                                end - first,
                                sums,
                            )
                        };
                    }
                }
                if (k + 1) % per_flush == 0 || n + 1 == samples.end {
                    for (total, sum) in totals
                        .iter_mut()
                        .zip(sums.as_flattened_mut().as_flattened_mut())
                    {
                        *total += std::mem::take(sum) as f64;
                    }
                }
            }
            let mut dw = vec![0.0f64; s.o * cg * taps];
            let tile_totals = totals.chunks_exact(C * GRAD_TAPS * V * LANES);
            for (&[g, ob, c0, tr], totals) in tiles.iter().zip(tile_totals) {
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
        };
        let partials: Vec<Vec<f64>> = (0..parts).into_par_iter().map(run).collect();
        let mut partials = partials.into_iter();
        let mut dw = partials
            .next()
            .unwrap_or_else(|| vec![0.0; s.o * cg * taps]);
        for part in partials {
            dw.iter_mut().zip(&part).for_each(|(d, &v)| *d += v);
        }
        dw.into_iter().map(|v| v as f32).collect()
    }

    /// One sample's `dy` [o, oh, ow] transposed into `dst`: group `g`'s [grid position, lanes] at
    /// `g * group_stride`, position `y * pitch + x`, lane `o % og` (`lanes` a multiple of 16; the
    /// lanes past `og` are written zero). Nothing else is written. 16 channels by 16 positions of
    /// a row at a time, transposed in registers: element by element, the strided reads cost 15 %
    /// of the 16->16 weight gradient.
    ///
    /// # Safety
    /// AVX-512F must be available.
    #[target_feature(enable = "avx512f")]
    unsafe fn pack_dy(&self, dy: &[f32], lanes: usize, dst: &mut [f32], group_stride: usize) {
        let s = self.s;
        let (og, ohw) = (s.og(), s.ohw());
        for (g, group) in dy.chunks_exact(og * ohw).enumerate() {
            for o0 in (0..og).step_by(LANES) {
                let channels = LANES.min(og - o0);
                for y in 0..s.oh {
                    for x0 in (0..s.ow).step_by(LANES) {
                        let width = LANES.min(s.ow - x0);
                        let rows: [__m512; LANES] = std::array::from_fn(|o| {
                            if o < channels {
                                let row = &group[(o0 + o) * ohw + y * s.ow + x0..][..width];
                                _mm512_maskz_loadu_ps(first_lanes(width), row.as_ptr())
                            } else {
                                _mm512_setzero_ps()
                            }
                        });
                        let columns = transpose16(&rows);
                        for (j, column) in columns.iter().take(width).enumerate() {
                            let at = g * group_stride + (y * self.pitch + x0 + j) * lanes + o0;
                            _mm512_storeu_ps(dst[at..at + LANES].as_mut_ptr(), *column);
                        }
                    }
                }
            }
        }
    }
}

/// `dst[k] = src[k * step]` for every `k` of `dst`.
fn gather_every(dst: &mut [f32], src: &[f32], step: usize) {
    if step == 1 && avx512() {
        // SAFETY: AVX-512 was just detected.
        unsafe { copy_row(dst, &src[..dst.len()]) };
    } else {
        dst.iter_mut()
            .zip(src.iter().step_by(step))
            .for_each(|(d, &v)| *d = v);
    }
}

/// The input gradient of a strided convolution as one stride-1 convolution of `dy` per stride phase
/// of the input. Input row `iy = s * a + r` is reached only by the taps `i` with `i ≡ r + p (mod
/// s)`, each from `dy` row `a + (r + p - i) / s`; so the rows (and columns) of one phase are a
/// convolution of `dy` with those taps, which the forward tile runs on `dy`'s zero-padded planes.
/// At stride 2 with 3x3 kernels the four phases take 1, 2, 2 and 4 taps: every product is one of the
/// gradient's, where im2col + gemm wrote 9 partial sums per input and col2im added them up.
pub(super) struct StridedInputGrad<'s> {
    s: &'s ConvShape,
    /// Zero rows above `dy` in its packed planes, and zero columns left of it.
    top: usize,
    left: usize,
    /// Row length of the packed `dy` planes; the grid of every phase is this wide.
    pitch: usize,
    /// Floats per packed `dy` plane, slack for the last tile's reads included.
    plane: usize,
    phases: Vec<Phase>,
}

/// The input positions of one stride phase and the taps that reach them.
struct Phase {
    /// How many rows and columns of the input it holds: phase `(r, q)` holds rows `r + k * stride`
    /// and columns `q + k * stride` (phases go row-major, as `write_plane` reads them).
    size: [usize; 2],
    /// The taps (weight order) that reach it, and the offset of each one's reads in the packed
    /// `dy` plane from the flat grid index.
    taps: Vec<usize>,
    reads: Vec<isize>,
    /// Position vectors covering `size[0]` rows of the pitch-wide grid, and their runs per tile.
    vectors: usize,
    runs: Vec<(usize, usize)>,
}

/// Along one axis of input length `len`, for each phase `r` of stride `stride`: the taps reaching it
/// and the `dy` shift of each (`(r + padding - tap) / stride`).
fn phase_taps(
    len: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Vec<Vec<(usize, isize)>> {
    (0..stride.min(len))
        .map(|r| {
            (0..kernel)
                .filter(|&i| (r + padding + stride * kernel - i).is_multiple_of(stride))
                .map(|i| {
                    (
                        i,
                        (r as isize + padding as isize - i as isize) / stride as isize,
                    )
                })
                .collect()
        })
        .collect()
}

impl<'s> StridedInputGrad<'s> {
    /// The phase split for `s`, or `None` where the other routes serve: stride 1 (the transposed
    /// convolution), groups, dilation, and fewer samples than threads (a sample per task). ResNet's
    /// downsampling layers, stride 2: 16->32 at 32x32 1.8x faster than im2col + gemm, 32->64 at
    /// 16x16 1.3x.
    pub(super) fn plan(s: &'s ConvShape) -> Option<Self> {
        (s.n >= rayon::current_num_threads())
            .then(|| Self::new(s))
            .flatten()
    }

    fn new(s: &'s ConvShape) -> Option<Self> {
        let usable = avx512()
            && s.stride != [1, 1]
            && s.groups == 1
            && s.dilation == [1, 1]
            && s.c * s.o * s.ohw() > 0;
        if !usable {
            return None;
        }
        let rows = phase_taps(s.h, s.kh, s.stride[0], s.padding[0]);
        let cols = phase_taps(s.w, s.kw, s.stride[1], s.padding[1]);
        // `dy` goes `top` rows and `left` columns into its padded plane: room for the most negative
        // shift; and as far past its end as the furthest read of a phase's last row or column.
        let reach = |phases: &[Vec<(usize, isize)>], len: usize, stride: usize, out: usize| {
            let before = phases
                .iter()
                .flatten()
                .map(|&(_, d)| -d)
                .max()
                .unwrap_or(0)
                .max(0);
            let after = phases
                .iter()
                .enumerate()
                .flat_map(|(r, taps)| {
                    let last = (len - r).div_ceil(stride) as isize - 1;
                    taps.iter().map(move |&(_, d)| last + d)
                })
                .max()
                .unwrap_or(0);
            (before as usize, (after + 1 - out as isize).max(0) as usize)
        };
        let (top, bottom) = reach(&rows, s.h, s.stride[0], s.oh);
        let (left, right) = reach(&cols, s.w, s.stride[1], s.ow);
        let pitch = left + s.ow + right;
        let mut phases = Vec::new();
        let mut furthest = 0;
        for (ry, row_taps) in rows.iter().enumerate() {
            for (rx, col_taps) in cols.iter().enumerate() {
                let size = [
                    (s.h - ry).div_ceil(s.stride[0]),
                    (s.w - rx).div_ceil(s.stride[1]),
                ];
                let (mut taps, mut reads) = (Vec::new(), Vec::new());
                for &(i, dy) in row_taps {
                    for &(j, dx) in col_taps {
                        let read = (top as isize + dy) * pitch as isize + left as isize + dx;
                        furthest = furthest.max(read as usize);
                        taps.push(i * s.kw + j);
                        reads.push(read);
                    }
                }
                let vectors = (size[0] * pitch).div_ceil(LANES);
                phases.push(Phase {
                    size,
                    taps,
                    reads,
                    vectors,
                    runs: vector_runs(vectors),
                });
            }
        }
        let grid = phases.iter().map(|p| p.vectors * LANES).max().unwrap_or(0);
        let plane = ((top + s.oh + bottom) * pitch)
            .max(grid + furthest)
            .next_multiple_of(LANES);
        Some(StridedInputGrad {
            s,
            top,
            left,
            pitch,
            plane,
            phases,
        })
    }

    /// `dx` for `dy` [n, o, oh, ow] and the weight [o, c, kh, kw]: a sample per task.
    pub(super) fn input_grad(&self, dy: &[f32], w: &[f32]) -> Vec<f32> {
        let s = self.s;
        if s.n * s.c * s.h * s.w == 0 {
            // An empty input (padding still gives it outputs) has no gradient to split by sample.
            return Vec::new();
        }
        let (taps, ohw, hw) = (s.taps(), s.ohw(), s.h * s.w);
        let tiles = s.c.div_ceil(OUT_TILE);
        // Per phase, [tile, tap, o, OUT_TILE]: the forward tile's weight layout, with `dx`'s
        // channels as its outputs and `dy`'s as its inputs.
        let packed: Vec<Vec<f32>> = self
            .phases
            .iter()
            .map(|phase| {
                let mut packed = vec![0.0; tiles * phase.taps.len() * s.o * OUT_TILE];
                for (k, &tap) in phase.taps.iter().enumerate() {
                    for o in 0..s.o {
                        for c in 0..s.c {
                            let at = ((c / OUT_TILE * phase.taps.len() + k) * s.o + o) * OUT_TILE;
                            packed[at + c % OUT_TILE] = w[(o * s.c + c) * taps + tap];
                        }
                    }
                }
                packed
            })
            .collect();
        let most_taps = self.phases.iter().map(|p| p.taps.len()).max().unwrap_or(0);
        let (masks, stores) = (vec![u16::MAX; POS_TILE * most_taps], [u16::MAX; POS_TILE]);
        let len = s.n * s.c * hw;
        let mut dx = Vec::with_capacity(len);
        let staged_grids = || -> Vec<Vec<f32>> {
            let grid = |p: &Phase| vec![0.0; OUT_TILE * p.vectors * LANES];
            self.phases.iter().map(grid).collect()
        };
        dx.spare_capacity_mut()[..len]
            .par_chunks_mut(s.c * hw)
            .enumerate()
            .for_each_init(
                || (vec![0.0; s.o * self.plane], staged_grids()),
                |(dys, staged), (n, dx)| {
                    self.pack_dy(&dy[n * s.o * ohw..][..s.o * ohw], dys);
                    for t in 0..tiles {
                        let rows = OUT_TILE.min(s.c - t * OUT_TILE);
                        for ((phase, packed), staged) in
                            self.phases.iter().zip(&packed).zip(staged.iter_mut())
                        {
                            let computed = phase.vectors * LANES;
                            let wt = &packed[t * phase.taps.len() * s.o * OUT_TILE..];
                            for &(v, run) in &phase.runs {
                                let tile = TileReads {
                                    x: dys.as_ptr().wrapping_add(v * LANES),
                                    channel_stride: self.plane,
                                    channels: s.o,
                                    reads: &phase.reads,
                                    masks: &masks,
                                    w: wt.as_ptr(),
                                };
                                let zero = [0.0; OUT_TILE];
                                // SAFETY: `plan` sized every plane for the furthest read of the
                                // grid's last vector, `wt` holds a weight per tap, `dy` channel and
                                // tile row, and `staged` OUT_TILE rows of `computed` floats; AVX-512
                                // was detected in `plan`. A phase no tap reaches stores zeros.
                                unsafe {
                                    let out = staged.as_mut_ptr().add(v * LANES);
                                    match run {
                                        1 => forward_tile::<OUT_TILE, 1>(
                                            &tile, &zero, out, computed, rows, &stores,
                                        ),
                                        2 => forward_tile::<OUT_TILE, 2>(
                                            &tile, &zero, out, computed, rows, &stores,
                                        ),
                                        _ => forward_tile::<OUT_TILE, POS_TILE>(
                                            &tile, &zero, out, computed, rows, &stores,
                                        ),
                                    }
                                }
                            }
                        }
                        for k in 0..rows {
                            self.write_plane(staged, k, &mut dx[(t * OUT_TILE + k) * hw..][..hw]);
                        }
                    }
                },
            );
        // SAFETY: `write_plane` wrote every element of every input plane.
        unsafe { dx.set_len(len) };
        dx
    }

    /// One sample's `dy` [o, oh, ow] into its packed planes in `dst`, whose padding stays zero from
    /// the buffer's creation.
    fn pack_dy(&self, dy: &[f32], dst: &mut [f32]) {
        let s = self.s;
        for (channel, plane) in dy
            .chunks_exact(s.ohw())
            .zip(dst.chunks_exact_mut(self.plane))
        {
            for (y, line) in channel.chunks_exact(s.ow).enumerate() {
                let row = &mut plane[(self.top + y) * self.pitch + self.left..][..s.ow];
                // SAFETY: AVX-512 was detected in `plan`.
                unsafe { copy_row(row, line) };
            }
        }
    }

    /// Row `k` of every phase's staged grid, interleaved into one input plane, row by row.
    fn write_plane(&self, staged: &[Vec<f32>], k: usize, plane: &mut [MaybeUninit<f32>]) {
        let ([sy, sx], w) = (self.s.stride, self.s.w);
        let columns = self.phases.len() / sy.min(self.s.h);
        for (iy, line) in plane.chunks_exact_mut(w).enumerate() {
            let (a, ry) = (iy / sy, iy % sy);
            let row = |rx: usize| {
                let (phase, grid) = (&self.phases[ry * columns + rx], &staged[ry * columns + rx]);
                &grid[k * phase.vectors * LANES + a * self.pitch..][..phase.size[1]]
            };
            if columns == 2 && sx == 2 {
                // SAFETY: AVX-512 was detected in `plan`.
                unsafe { interleave(line, row(0), row(1)) };
            } else {
                for (ix, out) in line.iter_mut().enumerate() {
                    out.write(row(ix % sx)[ix / sx]);
                }
            }
        }
    }
}

/// `out[2 * b] = even[b]`, `out[2 * b + 1] = odd[b]`: 16 outputs from two masked loads and a
/// permute, where element-wise stores made writing `dx` cost as much as computing it.
///
/// # Safety
/// AVX-512F must be available.
#[target_feature(enable = "avx512f")]
unsafe fn interleave(out: &mut [MaybeUninit<f32>], even: &[f32], odd: &[f32]) {
    assert!(even.len() == out.len().div_ceil(2) && odd.len() == out.len() / 2);
    let pairs = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    for (m, chunk) in out.chunks_mut(LANES).enumerate() {
        let at = m * LANES / 2;
        let low = _mm512_maskz_loadu_ps(first_lanes(even.len() - at), even.as_ptr().add(at));
        let high = _mm512_maskz_loadu_ps(
            first_lanes(odd.len().saturating_sub(at)),
            odd.as_ptr().wrapping_add(at),
        );
        let pairs = _mm512_permutex2var_ps(low, pairs, high);
        _mm512_mask_storeu_ps(chunk.as_mut_ptr().cast(), first_lanes(chunk.len()), pairs);
    }
}

/// The mask of the first `count` lanes (all 16 from 16 on).
fn first_lanes(count: usize) -> __mmask16 {
    ((1u32 << count.min(LANES)) - 1) as __mmask16
}

/// `dst.copy_from_slice(src)` in masked 16-lane moves: the rows packed here are 8-64 floats, for
/// which calling memcpy cost more than the copy (9 % of the 16->16 weight gradient).
///
/// # Safety
/// AVX-512F must be available.
#[target_feature(enable = "avx512f")]
unsafe fn copy_row(dst: &mut [f32], src: &[f32]) {
    assert_eq!(dst.len(), src.len(), "copy_row: lengths differ");
    for (d, s) in dst.chunks_mut(LANES).zip(src.chunks(LANES)) {
        let lanes = first_lanes(d.len());
        _mm512_mask_storeu_ps(
            d.as_mut_ptr(),
            lanes,
            _mm512_maskz_loadu_ps(lanes, s.as_ptr()),
        );
    }
}

/// `rows` transposed: lane `i` of vector `j` of the result is lane `j` of `rows[i]`. In-lane
/// unpacks pair rows, 4-float shuffles make 4x4 blocks, and two rounds of 128-bit shuffles move
/// the blocks into place.
///
/// # Safety
/// AVX-512F must be available.
#[target_feature(enable = "avx512f")]
unsafe fn transpose16(rows: &[__m512; LANES]) -> [__m512; LANES] {
    // Pairs: 128-bit lane L of `pairs[2k]` holds columns 4L, 4L + 1 of rows 2k, 2k + 1
    // interleaved; of `pairs[2k + 1]`, columns 4L + 2, 4L + 3.
    let pairs: [__m512; LANES] = std::array::from_fn(|i| {
        let (a, b) = (rows[i & !1], rows[i | 1]);
        if i % 2 == 0 {
            _mm512_unpacklo_ps(a, b)
        } else {
            _mm512_unpackhi_ps(a, b)
        }
    });
    // `quads[4k + m]`, 128-bit lane L: column 4L + m of rows 4k..4k + 4.
    let quads: [__m512; LANES] = std::array::from_fn(|i| {
        let (k, m) = (i / 4, i % 4);
        let (a, b) = (pairs[4 * k + m / 2], pairs[4 * k + 2 + m / 2]);
        if m % 2 == 0 {
            _mm512_shuffle_ps::<0x44>(a, b)
        } else {
            _mm512_shuffle_ps::<0xEE>(a, b)
        }
    });
    // Column 4L + m gathers lane L of quads m, 4 + m, 8 + m and 12 + m.
    let mut columns = [_mm512_setzero_ps(); LANES];
    for m in 0..4 {
        let even_low = _mm512_shuffle_f32x4::<0x88>(quads[m], quads[4 + m]);
        let odd_low = _mm512_shuffle_f32x4::<0xDD>(quads[m], quads[4 + m]);
        let even_high = _mm512_shuffle_f32x4::<0x88>(quads[8 + m], quads[12 + m]);
        let odd_high = _mm512_shuffle_f32x4::<0xDD>(quads[8 + m], quads[12 + m]);
        columns[m] = _mm512_shuffle_f32x4::<0x88>(even_low, even_high);
        columns[8 + m] = _mm512_shuffle_f32x4::<0xDD>(even_low, even_high);
        columns[4 + m] = _mm512_shuffle_f32x4::<0x88>(odd_low, odd_high);
        columns[12 + m] = _mm512_shuffle_f32x4::<0xDD>(odd_low, odd_high);
    }
    columns
}

/// A group, a tile of output channels in it, and those channels' output planes.
type Tile<'a> = (usize, usize, &'a mut [MaybeUninit<f32>]);

/// One sample's output planes cut into `Tile`s: groups of `group_len` floats, tiles of up to
/// `tile_len`.
fn tile_outputs(
    sample: &mut [MaybeUninit<f32>],
    group_len: usize,
    tile_len: usize,
) -> Vec<Tile<'_>> {
    let groups = sample.chunks_mut(group_len).enumerate();
    groups
        .flat_map(|(g, group)| {
            group
                .chunks_mut(tile_len)
                .enumerate()
                .map(move |(t, planes)| (g, t, planes))
        })
        .collect()
}

/// AVX-512F with VL (every AVX-512 CPU since Skylake-X): without VL, 128- and 256-bit operations
/// such as zeroing idioms are VEX-encoded, which confines their registers to zmm0-15, and LLVM
/// spilled the kernels' accumulators.
fn avx512() -> bool {
    is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl")
}

/// The forward's reads of one sample: per tap, an offset from each position and a mask per
/// position vector of the lanes that read inside the input.
struct Grid {
    /// Position vectors covering the output (in place) or `oh` rows of pitch-wide grid (packed).
    vectors: usize,
    /// Per tap, the offset of its reads from the position's flat index.
    reads: Vec<isize>,
    /// [vector, tap]: the lanes that read inside the input (all of them on packed planes).
    masks: Vec<u16>,
    /// Per vector, the lanes that are output positions.
    stores: Vec<u16>,
    /// Floats from one input channel to the next.
    channel_stride: usize,
    /// Whether the grid is pitch-wide and its rows are cropped to the output's.
    cropped: bool,
}

/// Whether output position `p` reads each tap at a fixed offset from `p` in the input as it lies:
/// at stride 1, with the output as wide as the input.
fn reads_in_place(s: &ConvShape) -> bool {
    s.stride == [1, 1] && s.ow == s.w
}

/// The grid's position vectors in runs of up to 3 (a tile each), as even as they go: 4 vectors make
/// two runs of 2, not 3 and 1.
fn vector_runs(vectors: usize) -> Vec<(usize, usize)> {
    let runs = vectors.div_ceil(POS_TILE);
    (0..runs)
        .map(|r| {
            (
                r * vectors / runs,
                (r + 1) * vectors / runs - r * vectors / runs,
            )
        })
        .collect()
}

/// What a forward tile reads: the input from its first position vector on, and the weights of its
/// output channels.
struct TileReads<'a> {
    x: *const f32,
    channel_stride: usize,
    channels: usize,
    reads: &'a [isize],
    /// [vector, tap] from the tile's first vector.
    masks: &'a [u16],
    /// [tap, channel, O].
    w: *const f32,
}

/// `out[o][p] = bias[o] + sum over taps t and channels c of w[t][c][o] * x[c * channel_stride +
/// reads[t] + p]` for O output rows (`out_stride` apart, the first `rows` stored) and P vectors of
/// 16 positions; each load keeps only the lanes its mask names, each store writes only the lanes of
/// `stores`.
///
/// # Safety
/// AVX-512F and VL must be available; every lane a mask keeps must be readable, `w` must hold
/// `reads.len() * channels * O` floats, and each of the first `rows` rows of `out` the lanes
/// `stores` names of P vectors.
#[target_feature(enable = "avx512f,avx512vl")]
unsafe fn forward_tile<const O: usize, const P: usize>(
    tile: &TileReads,
    bias: &[f32; O],
    out: *mut f32,
    out_stride: usize,
    rows: usize,
    stores: &[u16],
) {
    let mut acc: [[__m512; P]; O] = std::array::from_fn(|o| [_mm512_set1_ps(bias[o]); P]);
    let taps = tile.reads.len();
    // A block of channels at a time, so that its input planes stay in L1 through all the taps.
    for first in (0..tile.channels).step_by(CHANNEL_BLOCK) {
        let block = CHANNEL_BLOCK.min(tile.channels - first);
        for (t, &read) in tile.reads.iter().enumerate() {
            let masks: [__mmask16; P] = std::array::from_fn(|p| tile.masks[p * taps + t]);
            let mut src = tile
                .x
                .wrapping_add(first * tile.channel_stride)
                .wrapping_offset(read);
            let mut w = tile.w.add((t * tile.channels + first) * O);
            for _ in 0..block {
                let xv: [__m512; P] = std::array::from_fn(|p| {
                    _mm512_maskz_loadu_ps(masks[p], src.wrapping_add(p * LANES))
                });
                for (o, acc) in acc.iter_mut().enumerate() {
                    let wv = _mm512_set1_ps(*w.add(o));
                    for (a, &v) in acc.iter_mut().zip(&xv) {
                        *a = _mm512_fmadd_ps(wv, v, *a);
                    }
                }
                src = src.wrapping_add(tile.channel_stride);
                w = w.add(O);
            }
        }
    }
    for (o, acc) in acc.iter().enumerate().take(rows) {
        for (p, &a) in acc.iter().enumerate() {
            _mm512_mask_storeu_ps(out.add(o * out_stride + p * LANES), stores[p], a);
        }
    }
}

/// `sums[c * T + t][v] += sum over positions p of dy[p][v] * x[channels[c] + reads[t] + p]`, for V
/// vectors of output channels (`dy` rows `lanes` floats apart), C channel offsets and T tap offsets.
///
/// # Safety
/// AVX-512F and VL must be available; `x + channels[c] + reads[t]` must be readable for `positions`
/// floats, and `dy` for `positions` rows of `lanes` floats, V vectors of which are read.
#[target_feature(enable = "avx512f,avx512vl")]
unsafe fn weight_tile<const V: usize, const C: usize, const T: usize>(
    x: *const f32,
    channels: &[usize; C],
    reads: &[usize; T],
    dy: *const f32,
    lanes: usize,
    positions: usize,
    sums: &mut [[[f32; LANES]; V]],
) {
    let mut acc: [[[__m512; V]; T]; C] = std::array::from_fn(|c| {
        std::array::from_fn(|t| {
            std::array::from_fn(|v| _mm512_loadu_ps(sums[c * T + t][v].as_ptr()))
        })
    });
    let rows: [*const f32; C] = std::array::from_fn(|c| x.add(channels[c]));
    let mut dyp = dy;
    for p in 0..positions {
        let d: [__m512; V] = std::array::from_fn(|v| _mm512_loadu_ps(dyp.add(v * LANES)));
        for c in 0..C {
            for t in 0..T {
                let xv = _mm512_set1_ps(*rows[c].add(reads[t] + p));
                for v in 0..V {
                    acc[c][t][v] = _mm512_fmadd_ps(xv, d[v], acc[c][t][v]);
                }
            }
        }
        dyp = dyp.add(lanes);
    }
    for c in 0..C {
        for t in 0..T {
            for v in 0..V {
                _mm512_storeu_ps(sums[c * T + t][v].as_mut_ptr(), acc[c][t][v]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::reference;
    use super::super::Conv2dParams;
    use super::*;

    /// Deterministic values in [-1, 1), different for each seed.
    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.5 - 1.0)
            .collect()
    }

    /// [n, c, h, w], [o, kh, kw], stride, padding, dilation, groups.
    type Case = (
        [usize; 4],
        [usize; 3],
        [usize; 2],
        [usize; 2],
        [usize; 2],
        usize,
    );

    fn shape(([n, c, h, w], [o, kh, kw], stride, padding, dilation, groups): Case) -> ConvShape {
        let out = |len: usize, k: usize, a: usize| {
            (len + 2 * padding[a] - dilation[a] * (k - 1) - 1) / stride[a] + 1
        };
        ConvShape {
            n,
            c,
            h,
            w,
            o,
            groups,
            kh,
            kw,
            stride,
            padding,
            dilation,
            oh: out(h, kh, 0),
            ow: out(w, kw, 1),
        }
    }

    fn assert_close(got: &[f32], want: &[f32], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-5 * scale,
                "{what}: element {i} is {g}, gemm gives {w}"
            );
        }
    }

    /// Calls `f(dy index, x index, weight index)` for every product of the convolution `s`: an
    /// output element, the input one of its taps read and the weight between them.
    fn for_each_product(s: &ConvShape, mut f: impl FnMut(usize, usize, usize)) {
        let (cg, og, taps) = (s.cg(), s.og(), s.taps());
        for at in 0..s.n * s.o * s.ohw() {
            let (b, oc, y, xo) = (
                at / (s.o * s.ohw()),
                at / s.ohw() % s.o,
                at / s.ow % s.oh,
                at % s.ow,
            );
            let g = oc / og;
            for (ci, tap) in (0..cg).flat_map(|ci| (0..taps).map(move |t| (ci, t))) {
                let (i, j) = (tap / s.kw, tap % s.kw);
                let iy = (y * s.stride[0] + i * s.dilation[0]).checked_sub(s.padding[0]);
                let ix = (xo * s.stride[1] + j * s.dilation[1]).checked_sub(s.padding[1]);
                if let (Some(iy), Some(ix)) = (iy.filter(|&v| v < s.h), ix.filter(|&v| v < s.w)) {
                    let input = ((b * s.c + g * cg + ci) * s.h + iy) * s.w + ix;
                    f(at, input, (oc * cg + ci) * taps + tap);
                }
            }
        }
    }

    /// `dw[o, ci, i, j]`: the sum over samples and outputs of `dy` times the input its tap read, in
    /// float64, as `reference` computes the forward.
    fn weight_grad_reference(s: &ConvShape, x: &[f32], dy: &[f32]) -> Vec<f32> {
        let mut dw = vec![0f64; s.o * s.cg() * s.taps()];
        for_each_product(s, |out, input, weight| {
            dw[weight] += dy[out] as f64 * x[input] as f64;
        });
        dw.into_iter().map(|v| v as f32).collect()
    }

    /// Every kind of shape the direct kernels lay out differently, against float64 loops: odd sizes,
    /// stride 2 and 3 (phase planes; at stride 2 rows longer than one 32-value split, even and odd
    /// padding), dilation, unequal padding, groups, channels that fill no
    /// whole tile, a batch smaller than the thread count, 5x5 kernels, at stride 1 rows sharing their
    /// padding columns (no padding, padding wider than the kernel's reach) and grids of 1, 2 or 3
    /// vectors past the last whole tile; read in place, channels past a whole block and a last vector
    /// short of 16 positions.
    #[test]
    fn direct_kernels_match_a_float64_convolution() {
        if !avx512() {
            eprintln!("SKIPPED: no AVX-512 on this CPU");
            return;
        }
        let cases: [Case; 14] = [
            ([2, 3, 11, 9], [5, 3, 3], [1, 1], [1, 1], [1, 1], 1),
            ([3, 3, 35, 37], [4, 3, 3], [2, 2], [2, 0], [1, 1], 1),
            ([3, 16, 16, 16], [16, 3, 3], [1, 1], [1, 1], [1, 1], 1),
            ([2, 9, 13, 12], [20, 3, 3], [2, 2], [1, 1], [1, 1], 1),
            ([2, 4, 14, 15], [6, 3, 3], [3, 2], [2, 0], [1, 1], 1),
            ([2, 6, 12, 12], [34, 3, 3], [1, 1], [2, 2], [2, 2], 2),
            ([1, 5, 10, 10], [17, 3, 3], [1, 1], [1, 1], [1, 1], 1),
            ([2, 3, 12, 11], [4, 5, 5], [1, 1], [2, 1], [1, 1], 1),
            ([5, 33, 9, 9], [40, 3, 3], [1, 1], [0, 1], [1, 2], 1),
            ([3, 8, 8, 8], [16, 3, 3], [1, 1], [1, 1], [1, 1], 1),
            ([2, 4, 7, 9], [5, 3, 3], [1, 1], [1, 0], [1, 1], 1),
            ([2, 3, 7, 6], [5, 3, 3], [1, 1], [3, 3], [1, 1], 1),
            ([2, 70, 8, 8], [12, 3, 3], [1, 1], [1, 1], [1, 1], 1),
            ([2, 3, 9, 7], [5, 5, 5], [1, 1], [2, 2], [1, 1], 1),
        ];
        for case in cases {
            let s = shape(case);
            let direct = Direct::new(&s).expect("direct kernels on an AVX-512 CPU");
            let x = values(s.n * s.c * s.h * s.w, 1);
            let w = values(s.o * s.cg() * s.taps(), 2);
            let bias = values(s.o, 3);
            let dy = values(s.n * s.o * s.ohw(), 4);
            let what = format!("{case:?}");
            let params = Conv2dParams {
                stride: s.stride,
                padding: s.padding,
                dilation: s.dilation,
                groups: s.groups,
            };
            let want = reference(
                &x,
                [s.n, s.c, s.h, s.w],
                &w,
                [s.o, s.cg(), s.kh, s.kw],
                Some(&bias),
                params,
            );
            let want: Vec<f32> = want.into_iter().map(|v| v as f32).collect();
            assert_close(
                &direct.forward(&x, &w, Some(&bias)),
                &want,
                &format!("forward {what}"),
            );
            assert_close(
                &direct.weight_grad(&x, &dy),
                &weight_grad_reference(&s, &x, &dy),
                &format!("weight grad {what}"),
            );
        }
    }

    /// `dx[b, ci, iy, ix]`: the sum of `dy` times the weight of every tap that read the input
    /// there, in float64.
    fn input_grad_reference(s: &ConvShape, w: &[f32], dy: &[f32]) -> Vec<f32> {
        let mut dx = vec![0f64; s.n * s.c * s.h * s.w];
        for_each_product(s, |out, input, weight| {
            dx[input] += dy[out] as f64 * w[weight] as f64;
        });
        dx.into_iter().map(|v| v as f32).collect()
    }

    /// The phase split against float64 loops: ResNet's stride-2 layer, odd sizes whose phases
    /// differ in length, strides that differ per axis, stride 3 with a phase no tap of a 2-wide
    /// kernel reaches, padding 0 and 2 (shifts of both signs), 5x5 kernels and channels that fill
    /// no whole tile.
    #[test]
    fn strided_input_gradient_matches_float64() {
        if !avx512() {
            eprintln!("SKIPPED: no AVX-512 on this CPU");
            return;
        }
        let cases: [Case; 7] = [
            ([2, 16, 32, 32], [32, 3, 3], [2, 2], [1, 1], [1, 1], 1),
            ([3, 5, 11, 9], [7, 3, 3], [2, 2], [1, 1], [1, 1], 1),
            ([2, 4, 10, 13], [9, 3, 3], [2, 3], [1, 0], [1, 1], 1),
            ([2, 3, 12, 12], [10, 2, 2], [3, 3], [0, 0], [1, 1], 1),
            ([2, 6, 9, 10], [5, 3, 3], [2, 2], [2, 2], [1, 1], 1),
            ([3, 9, 13, 12], [4, 5, 5], [2, 2], [2, 1], [1, 1], 1),
            ([2, 17, 8, 8], [3, 1, 1], [2, 2], [0, 0], [1, 1], 1),
        ];
        for case in cases {
            let s = shape(case);
            let phases = StridedInputGrad::new(&s).expect("a strided layer on an AVX-512 CPU");
            let w = values(s.o * s.c * s.taps(), 5);
            let dy = values(s.n * s.o * s.ohw(), 6);
            assert_close(
                &phases.input_grad(&dy, &w),
                &input_grad_reference(&s, &w, &dy),
                &format!("input grad {case:?}"),
            );
        }
    }
}
