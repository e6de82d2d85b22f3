//! Direct convolution for CPUs with AVX-512: no im2col matrix, which for the small channel counts of
//! CIFAR-sized models cost as much time as the products themselves (9 copies of every input per
//! pass, out of cache).
//!
//! Each sample's input planes are zero-padded into a copy with one row pitch for all of them and, at
//! stride > 1, split into one plane per stride phase (the rows and columns at each offset modulo the
//! stride). Output position `(y, x)` then reads tap `(i, j)` at `y * pitch + x` plus an offset that
//! depends on the tap alone, so a tile of output channels times 16-wide runs of flat positions is a
//! chain of broadcast multiply-adds over (channel, tap) pairs. The positions past the output width in
//! each row are computed and dropped. The weight gradient reads the input at the same offsets,
//! against `dy` laid out channels-last at that pitch (zero in the dropped columns), with its vectors
//! along the output channels.

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
/// Taps per weight-gradient tile: one kernel row of a 3x3 kernel.
const GRAD_TAPS: usize = 3;
/// What one weight-gradient task's packed input and `dy` may take, to stay in a core's L2 cache.
const GRAD_TASK_BYTES: usize = 512 << 10;

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
    /// The direct forward for `s`, or `None` where im2col + gemm is as fast (2 threads, batch 100):
    /// from 128 channels up gemm's tiles are full, and below 8x8 outputs most of a vector would be
    /// padding; 3x3 kernels with up to 64 channels run 1.2-1.4x faster direct (64->64 at 8x8:
    /// 1.27x). Kernels of under 9 taps are left to gemm too (1x1 reads its input as it lies).
    pub(super) fn forward_plan(s: &'s ConvShape) -> Option<Self> {
        (s.cg() <= 64 && s.ohw() >= 64)
            .then(|| Self::new(s))
            .flatten()
    }

    /// The direct weight gradient for `s`, or `None` where im2col + gemm is as fast: with 8 channels
    /// or more direct wins at 32x32 outputs and up, and from 8x8 up with at most 32 channels
    /// (16->32 and 32->32 at 16x16: 1.3-1.7x); from 64 channels on smaller planes gemm's tiles
    /// fill (64->64 at 8x8: even; 64->128 at 16x16: gemm 1.05x; 128->256 at 8x8: gemm 1.5x), and
    /// 3->16 runs 2x slower direct.
    pub(super) fn weight_grad_plan(s: &'s ConvShape) -> Option<Self> {
        (s.cg() >= 8 && (s.ohw() >= 1024 || (s.cg() <= 32 && s.ohw() >= 64)))
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

    /// Zero-pads one sample's input planes `x` [c, h, w] into `dst`, channel `ch`'s phase planes at
    /// `ch * channel_stride`.
    fn pack_input(&self, x: &[f32], dst: &mut [f32], channel_stride: usize) {
        let s = self.s;
        let ([sh, sw], [ph, pw]) = (s.stride, s.padding);
        for (ch, src) in x.chunks_exact(s.h * s.w).enumerate() {
            let channel = &mut dst[ch * channel_stride..][..self.channel_len()];
            let mut planes = channel.chunks_exact_mut(self.plane);
            for (a, b) in (0..sh).flat_map(|a| (0..sw).map(move |b| (a, b))) {
                let plane = planes
                    .next()
                    .expect("a packed channel holds every phase plane");
                let (rows, tail) = plane.split_at_mut(plane.len() / self.pitch * self.pitch);
                tail.fill(0.0);
                // Packed column v holds input column v * sw + b - pw, where that lies inside.
                let first = pw.saturating_sub(b).div_ceil(sw);
                let end = (s.w + pw)
                    .saturating_sub(b)
                    .div_ceil(sw)
                    .clamp(first, self.pitch);
                for (u, row) in rows.chunks_exact_mut(self.pitch).enumerate() {
                    match (u * sh + a).checked_sub(ph).filter(|&r| r < s.h) {
                        Some(r) => {
                            let line = &src[r * s.w..][..s.w];
                            row[..first].fill(0.0);
                            row[end..].fill(0.0);
                            let from = first * sw + b - pw;
                            if sw == 1 {
                                row[first..end].copy_from_slice(&line[from..from + end - first]);
                            } else {
                                row[first..end]
                                    .iter_mut()
                                    .zip(line[from..].iter().step_by(sw))
                                    .for_each(|(d, &v)| *d = v);
                            }
                        }
                        None => row.fill(0.0),
                    }
                }
            }
        }
    }

    /// Forward: `y = conv(x, w) (+ bias)`, a sample per task (or, with fewer samples than threads,
    /// a run of output-channel tiles per task).
    pub(super) fn forward(&self, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        let s = self.s;
        let (cg, og, ohw) = (s.cg(), s.og(), s.ohw());
        let tiles = og.div_ceil(OUT_TILE);
        // Weights as [group, tile, channel, tap, OUT_TILE], zero for the channels past `og`.
        let mut packed = vec![0.0; s.groups * tiles * cg * s.taps() * OUT_TILE];
        for (oc, kernel) in w.chunks_exact(cg * s.taps()).enumerate() {
            let (g, o) = (oc / og, oc % og);
            let base = (g * tiles + o / OUT_TILE) * cg * s.taps() * OUT_TILE + o % OUT_TILE;
            for (r, &v) in kernel.iter().enumerate() {
                packed[base + r * OUT_TILE] = v;
            }
        }
        let offsets: Vec<usize> = (0..cg)
            .flat_map(|c| self.reads.iter().map(move |&r| c * self.channel_len() + r))
            .collect();
        let computed = self.grid_vectors * LANES;
        // One tile of output channels of one group, for the sample packed in `xs`, into `planes`:
        // the tile's output planes, every element of which it writes.
        let tile = |xs: &[f32], (g, t, planes): Tile, staged: &mut Vec<f32>| {
            staged.resize(OUT_TILE * computed, 0.0);
            let xg = &xs[g * cg * self.channel_len()..];
            let wt =
                &packed[(g * tiles + t) * cg * s.taps() * OUT_TILE..][..offsets.len() * OUT_TILE];
            for v in (0..self.grid_vectors).step_by(POS_TILE) {
                // SAFETY: `new` sized each plane so that the grid's reads at any offset stay inside
                // it, `xg` holds the group's planes, `wt` a weight per offset and tile channel, and
                // `staged` OUT_TILE rows of `computed` floats; AVX-512 was detected in `new`.
                unsafe {
                    let (x, out) = (
                        xg.as_ptr().add(v * LANES),
                        staged.as_mut_ptr().add(v * LANES),
                    );
                    match self.grid_vectors - v {
                        1 => forward_tile::<OUT_TILE, 1>(x, &offsets, wt.as_ptr(), out, computed),
                        2 => forward_tile::<OUT_TILE, 2>(x, &offsets, wt.as_ptr(), out, computed),
                        _ => forward_tile::<OUT_TILE, POS_TILE>(
                            x,
                            &offsets,
                            wt.as_ptr(),
                            out,
                            computed,
                        ),
                    }
                }
            }
            let first = g * og + t * OUT_TILE;
            for (o, (plane, out)) in planes
                .chunks_exact_mut(ohw)
                .zip(staged.chunks_exact(computed))
                .enumerate()
            {
                let b = bias.map_or(0.0, |b| b[first + o]);
                for (row, src) in plane.chunks_exact_mut(s.ow).zip(out.chunks(self.pitch)) {
                    row.iter_mut().zip(src).for_each(|(d, &v)| {
                        d.write(v + b);
                    });
                }
            }
        };
        let (sample_len, len) = (s.c * s.h * s.w, s.n * s.o * ohw);
        let mut y = Vec::with_capacity(len);
        let out = &mut y.spare_capacity_mut()[..len];
        let tile_planes = |sample| tile_outputs(sample, og * ohw, OUT_TILE * ohw);
        if s.n >= rayon::current_num_threads() {
            out.par_chunks_mut(s.o * ohw).enumerate().for_each_init(
                || (vec![0.0; s.c * self.channel_len()], Vec::new()),
                |(xs, staged), (n, sample)| {
                    self.pack_input(&x[n * sample_len..][..sample_len], xs, self.channel_len());
                    for planes in tile_planes(sample) {
                        tile(xs, planes, staged);
                    }
                },
            );
        } else {
            let mut xs = vec![0.0; s.c * self.channel_len()];
            for (n, sample) in out.chunks_mut(s.o * ohw).enumerate() {
                let x = &x[n * sample_len..][..sample_len];
                self.pack_input(x, &mut xs, self.channel_len());
                tile_planes(sample)
                    .into_par_iter()
                    .for_each_init(Vec::new, |staged, planes| tile(&xs, planes, staged));
            }
        }
        // SAFETY: every sample's planes were split into tiles whose every element `tile` wrote.
        unsafe { y.set_len(len) };
        y
    }

    /// Gradient of the weight: `dw[o, c, tap] = sum over samples and positions of dy * x` at the
    /// tap's offset. Here the vectors run along output channels: `dy` is laid out channels-last, and
    /// each input value is broadcast, so no load straddles cache lines and no sum crosses lanes (run
    /// along positions, the same kernel was load-bound at half the speed). Samples go in fixed
    /// chunks, one run of chunks per thread, and the threads' sums are added in order: the result
    /// does not depend on scheduling.
    pub(super) fn weight_grad(&self, x: &[f32], dy: &[f32]) -> Vec<f32> {
        // Two vectors of output channels where there are that many, else one.
        if self.s.og() > LANES {
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
        let sample_bytes = (s.c * channel + s.groups * grid * lanes) * size_of::<f32>();
        let per_chunk = (GRAD_TASK_BYTES / sample_bytes).clamp(1, s.n);
        let chunks = s.n.div_ceil(per_chunk);
        let parts = rayon::current_num_threads().min(chunks);
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
        let sample_len = s.c * s.h * s.w;
        let run = |part: usize| {
            let mut dw = vec![0.0f32; s.o * cg * taps];
            // [c, sample, channel] and [group, sample, grid position, lanes]; what `pack_dy` never
            // writes (columns past `ow`, lanes past `og`) stays zero from here.
            let mut xs = vec![0.0; s.c * per_chunk * channel];
            let mut dys = vec![0.0; s.groups * per_chunk * grid * lanes];
            let mut sums = vec![[[0.0f32; LANES]; V]; C * GRAD_TAPS];
            for chunk in part * chunks / parts..(part + 1) * chunks / parts {
                let first = chunk * per_chunk;
                let count = per_chunk.min(s.n - first);
                for k in 0..count {
                    let n = first + k;
                    let x = &x[n * sample_len..][..sample_len];
                    self.pack_input(x, &mut xs[k * channel..], per_chunk * channel);
                    let dy = &dy[n * s.o * ohw..][..s.o * ohw];
                    self.pack_dy(
                        dy,
                        lanes,
                        &mut dys[k * grid * lanes..],
                        per_chunk * grid * lanes,
                    );
                }
                for g in 0..s.groups {
                    let dyg = &dys[g * per_chunk * grid * lanes..];
                    for ob in (0..og).step_by(V * LANES) {
                        for c0 in (0..cg).step_by(C) {
                            let channels: [usize; C] = std::array::from_fn(|c| {
                                (g * cg + if c0 + c < cg { c0 + c } else { c0 })
                                    * per_chunk
                                    * channel
                            });
                            for tr in 0..tap_runs {
                                // SAFETY: every channel offset starts `count` packed channels
                                // `channel` apart, each readable at every tap offset plus the grid
                                // (see `new`); `dyg` holds `count` grids of `lanes` floats per
                                // position, `ob + V * LANES <= lanes`; AVX-512 was detected in `new`.
                                unsafe {
                                    weight_tile::<V, C, GRAD_TAPS>(
                                        xs.as_ptr(),
                                        &channels,
                                        &reads(tr),
                                        channel,
                                        dyg.as_ptr().add(ob),
                                        lanes,
                                        count,
                                        grid,
                                        &mut sums,
                                    )
                                };
                                for (ct, vectors) in sums.iter().enumerate() {
                                    let (c, t) =
                                        (c0 + ct / GRAD_TAPS, tr * GRAD_TAPS + ct % GRAD_TAPS);
                                    if c >= cg || t >= taps {
                                        continue;
                                    }
                                    let outs = vectors.iter().flatten().take(og - ob);
                                    for (o, &v) in outs.enumerate() {
                                        dw[((g * og + ob + o) * cg + c) * taps + t] += v;
                                    }
                                }
                            }
                        }
                    }
                }
            }
            dw
        };
        let partials: Vec<Vec<f32>> = (0..parts).into_par_iter().map(run).collect();
        let mut partials = partials.into_iter();
        let mut dw = partials
            .next()
            .unwrap_or_else(|| vec![0.0; s.o * cg * taps]);
        for part in partials {
            dw.iter_mut().zip(&part).for_each(|(d, &v)| *d += v);
        }
        dw
    }

    /// One sample's `dy` [o, oh, ow] transposed into `dst`: group `g`'s [grid position, lanes] at
    /// `g * group_stride`, position `y * pitch + x`, lane `o % og`. Nothing else is written.
    fn pack_dy(&self, dy: &[f32], lanes: usize, dst: &mut [f32], group_stride: usize) {
        let s = self.s;
        let (og, ohw) = (s.og(), s.ohw());
        // Position by position, so that the writes run along the destination's rows.
        for (g, group) in dy.chunks_exact(og * ohw).enumerate() {
            for y in 0..s.oh {
                for x in 0..s.ow {
                    let at = g * group_stride + (y * self.pitch + x) * lanes;
                    let src = group[y * s.ow + x..].iter().step_by(ohw);
                    dst[at..at + og]
                        .iter_mut()
                        .zip(src)
                        .for_each(|(d, &v)| *d = v);
                }
            }
        }
    }
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

/// `out[o][p] = sum over r of w[r * O + o] * x[offsets[r] + p]` for O output rows (`out_stride`
/// apart) and P vectors of 16 positions.
///
/// # Safety
/// AVX-512F and VL must be available; `x + offsets[r]` must be readable for P * 16 floats for every
/// `r`, `w` must hold `offsets.len() * O` floats, and each of the O rows of `out` P * 16 writable
/// ones.
#[target_feature(enable = "avx512f,avx512vl")]
unsafe fn forward_tile<const O: usize, const P: usize>(
    x: *const f32,
    offsets: &[usize],
    w: *const f32,
    out: *mut f32,
    out_stride: usize,
) {
    let mut acc = [[_mm512_setzero_ps(); P]; O];
    for (r, &offset) in offsets.iter().enumerate() {
        let src = x.add(offset);
        let xv: [__m512; P] = std::array::from_fn(|p| _mm512_loadu_ps(src.add(p * LANES)));
        let wr = w.add(r * O);
        for (o, acc) in acc.iter_mut().enumerate() {
            let wv = _mm512_set1_ps(*wr.add(o));
            for (a, &v) in acc.iter_mut().zip(&xv) {
                *a = _mm512_fmadd_ps(wv, v, *a);
            }
        }
    }
    for (o, acc) in acc.iter().enumerate() {
        for (p, &a) in acc.iter().enumerate() {
            _mm512_storeu_ps(out.add(o * out_stride + p * LANES), a);
        }
    }
}

/// `sums[c * T + t][v] = sum over samples and positions p of dy[p][v] * x[channels[c] + reads[t] + p]`,
/// for V vectors of output channels (`dy` rows `lanes` floats apart, each sample's `positions`
/// rows following the last), C channel offsets and T tap offsets; sample k's channels lie
/// `k * x_sample` further.
///
/// # Safety
/// AVX-512F and VL must be available; for every sample `k < samples`, `x + channels[c] + k *
/// x_sample + reads[t]` must be readable for `positions` floats and `dy` for `samples * positions`
/// rows of `lanes` floats, V vectors of which are read.
#[target_feature(enable = "avx512f,avx512vl")]
#[allow(clippy::too_many_arguments)]
unsafe fn weight_tile<const V: usize, const C: usize, const T: usize>(
    x: *const f32,
    channels: &[usize; C],
    reads: &[usize; T],
    x_sample: usize,
    dy: *const f32,
    lanes: usize,
    samples: usize,
    positions: usize,
    sums: &mut [[[f32; LANES]; V]],
) {
    let mut acc = [[[_mm512_setzero_ps(); V]; T]; C];
    let mut dyp = dy;
    for k in 0..samples {
        let xk = x.add(k * x_sample);
        let rows: [*const f32; C] = std::array::from_fn(|c| xk.add(channels[c]));
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

    /// `dw[o, ci, i, j]`: the sum over samples and outputs of `dy` times the input its tap read, in
    /// float64, as `reference` computes the forward.
    fn weight_grad_reference(s: &ConvShape, x: &[f32], dy: &[f32]) -> Vec<f32> {
        let (cg, og) = (s.cg(), s.og());
        let mut dw = vec![0f64; s.o * cg * s.taps()];
        let taps = s.kh * s.kw;
        for (at, &g_out) in dy.iter().enumerate() {
            let (b, oc, y, xo) = (
                at / (s.o * s.ohw()),
                at / s.ohw() % s.o,
                at / s.ow % s.oh,
                at % s.ow,
            );
            let (g, d) = (oc / og, g_out as f64);
            for (ci, tap) in (0..cg).flat_map(|ci| (0..taps).map(move |t| (ci, t))) {
                let (i, j) = (tap / s.kw, tap % s.kw);
                let iy = (y * s.stride[0] + i * s.dilation[0]).checked_sub(s.padding[0]);
                let ix = (xo * s.stride[1] + j * s.dilation[1]).checked_sub(s.padding[1]);
                if let (Some(iy), Some(ix)) = (iy.filter(|&v| v < s.h), ix.filter(|&v| v < s.w)) {
                    let v = x[((b * s.c + g * cg + ci) * s.h + iy) * s.w + ix] as f64;
                    dw[(oc * cg + ci) * taps + tap] += d * v;
                }
            }
        }
        dw.into_iter().map(|v| v as f32).collect()
    }

    /// Every kind of shape the direct kernels lay out differently, against float64 loops: odd sizes,
    /// stride 2 and 3 (phase planes), dilation, unequal padding, groups, channels that fill no
    /// whole tile, a batch smaller than the thread count, 5x5 kernels, at stride 1 rows sharing their
    /// padding columns (no padding, padding wider than the kernel's reach) and grids of 1, 2 or 3
    /// vectors past the last whole tile.
    #[test]
    fn direct_kernels_match_a_float64_convolution() {
        if !avx512() {
            eprintln!("SKIPPED: no AVX-512 on this CPU");
            return;
        }
        let cases: [Case; 11] = [
            ([2, 3, 11, 9], [5, 3, 3], [1, 1], [1, 1], [1, 1], 1),
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
}
