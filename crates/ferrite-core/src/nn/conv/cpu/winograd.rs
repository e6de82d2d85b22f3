//! Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional
//! Neural Networks", 2016): each 2x2 block of outputs is `A^T [(G g G^T) ⊙ (B^T d B)] A` of its 4x4
//! input tile `d` and the 3x3 kernel `g`, 16 products per input channel where the convolution takes
//! 36. Summed over input channels, the 16 element-wise products become 16 gemms, [o, c] by
//! [c, tiles]. The transforms only add, subtract and halve: the result differs from the
//! convolution's by float32 rounding, at most 2e-7 of the sum of the absolute products that make
//! an output in the tests (where cancellation leaves the output itself far smaller than that sum,
//! its relative error is larger than a direct convolution's).
//!
//! The weight gradient is the exact adjoint of that forward, `G^T [Σ (A dy A^T) ⊙ (B^T d B)] G`,
//! 16 gemms [o, tiles] by [tiles, c]; the input gradient, a stride-1 convolution of `dy`, goes
//! through the forward (see `super::backward_input`). A chunk of samples is transformed at a time,
//! its samples innermost so that every transform runs along vectors of samples.
use gemm::Parallelism;
use rayon::prelude::*;

use super::chunks::{
    for_each_chunk, samples_last, sized, summed_over_chunks, Plan, Scratch, MAX_COL_BYTES,
};
use super::gemm::{matmul, Matrix};
use crate::cpu::with_wide_vectors;
use crate::nn::conv::ConvShape;
use crate::nn::Activation;

/// Points of a tile in the Winograd domain: 4x4.
const POINTS: usize = 16;

/// Samples a transform works on at once: one AVX-512 vector.
const LANES: usize = 16;

/// Fewer samples make gemms too narrow (16 columns per sample at 8x8, 4 at 4x4); other routes
/// take such batches.
const MIN_BATCH: usize = 16;

/// Fewer input or output channels leave the gemms too shallow for the 16 of them to pay for the
/// transforms (see `fits`).
const MIN_CHANNELS: usize = 128;

type Lanes = [f32; LANES];

/// A convolution F(2x2, 3x3) can run, with its tiling.
pub(super) struct Winograd<'s> {
    s: &'s ConvShape,
    /// 2x2 output tiles down and across the output plane.
    tiles: [usize; 2],
}

impl<'s> Winograd<'s> {
    /// Whether F(2x2, 3x3) runs `s`: one group of 3x3 kernels at stride 1, no dilation, padding
    /// of at most 2.
    pub(super) fn supports(s: &ConvShape) -> bool {
        s.groups == 1
            && [s.kh, s.kw] == [3, 3]
            && s.stride == [1, 1]
            && s.dilation == [1, 1]
            && s.padding.iter().all(|&p| p <= 2)
    }

    /// Whether Winograd takes `s` (its forward and weight gradient, and the input gradient of the
    /// convolution that `s` transposes) where the other routes are slower. From 128 channels in
    /// and out the gemms dominate the transforms and it wins; with fewer the transforms and the
    /// shallow gemms lose to the direct kernels. 2x2 planes are one tile, no fewer products than
    /// the tap classes take.
    pub(super) fn fits(s: &ConvShape) -> bool {
        Self::supports(s) && s.n >= MIN_BATCH && s.c.min(s.o) >= MIN_CHANNELS && s.ohw() >= 16
    }

    pub(super) fn new(s: &'s ConvShape) -> Self {
        Winograd {
            s,
            tiles: [s.oh.div_ceil(2), s.ow.div_ceil(2)],
        }
    }

    fn tile_count(&self) -> usize {
        self.tiles[0] * self.tiles[1]
    }

    /// Chunks of `LANES` samples, a vector of each, fewer where the buffers would outgrow their
    /// budget: their transformed tiles stay in cache for the gemms (faster than a chunk per thread
    /// of several vectors of samples).
    fn chunks(&self) -> Plan {
        let s = self.s;
        let per_sample = POINTS * (s.c + s.o) * self.tile_count() + (s.c + s.o) * s.h * s.w;
        let budget = MAX_COL_BYTES / size_of::<f32>() / rayon::current_num_threads() / per_sample;
        let per_chunk = LANES.min(budget).max(1);
        Plan {
            per_chunk,
            chunks: s.n.div_ceil(per_chunk),
            in_tasks: true,
        }
    }

    /// `y = activation(conv(x, weight) (+ bias))` where `weight(o, c, i, j)` reads the
    /// [o, c, 3, 3] kernel.
    pub(super) fn forward(
        &self,
        x: &[f32],
        weight: impl Fn(usize, usize, usize, usize) -> f32 + Sync,
        bias: Option<&[f32]>,
        activation: Activation,
    ) -> Vec<f32> {
        let s = self.s;
        let (hw, ohw) = (s.h * s.w, s.ohw());
        let u = self.transform_weight(weight);
        let mut y = vec![0.0; s.n * s.o * ohw];
        for_each_chunk(&self.chunks(), &mut y, s.o * ohw, |first, y, scratch| {
            let nb = y.len() / (s.o * ohw);
            let cols = self.tile_count() * nb;
            // The input, then the output planes staged by `transform_output`.
            let xt = sized(&mut scratch.samples_last, nb * (s.c * hw).max(ohw));
            let x = &x[first * s.c * hw..][..nb * s.c * hw];
            samples_last(x, &mut xt[..x.len()], nb, usize::MAX);
            let v = scratch.col.overwritten(s.c * POINTS * cols);
            with_wide_vectors(
                #[inline(always)]
                || self.transform_input(&xt[..x.len()], nb, v),
            );
            let m = sized(&mut scratch.rows, s.o * POINTS * cols);
            for p in 0..POINTS {
                matmul(
                    &mut m[p * cols..],
                    POINTS * cols,
                    [s.o, cols, s.c],
                    Matrix::rows(&u[p * s.c..], POINTS * s.c),
                    Matrix::rows(&v[p * cols..], POINTS * cols),
                    false,
                    Parallelism::None,
                );
            }
            with_wide_vectors(
                #[inline(always)]
                || self.transform_output(m, nb, y, bias, activation, xt),
            );
        });
        y
    }

    /// The gradient of the [o, c, 3, 3] weight: per chunk, `Σ (A dy A^T) ⊙ (B^T d B)` over its tiles
    /// as 16 gemms, summed over chunks in a fixed order, then `G^T · G` back to 3x3.
    pub(super) fn backward_weight(&self, x: &[f32], dy: &[f32]) -> Vec<f32> {
        let s = self.s;
        let plan = self.chunks();
        let by_point = summed_over_chunks(&plan, POINTS * s.o * s.c, |scratch, du, index| {
            self.add_weight_chunk(&plan, [x, dy], scratch, du, index)
        });
        let mut dw = vec![0.0; s.o * s.c * 9];
        dw.par_chunks_mut(9).enumerate().for_each(|(oc, kernel)| {
            let m: [f32; POINTS] = std::array::from_fn(|p| by_point[p * s.o * s.c + oc]);
            kernel.copy_from_slice(&backward_weight_tile(&m));
        });
        dw
    }

    /// Adds chunk `index`'s `Σ (A dy A^T) ⊙ (B^T d B)` into `du`, [16, o, c].
    fn add_weight_chunk(
        &self,
        plan: &Plan,
        [x, dy]: [&[f32]; 2],
        scratch: &mut Scratch,
        mut du: Vec<f32>,
        index: usize,
    ) -> Vec<f32> {
        let s = self.s;
        let (hw, ohw) = (s.h * s.w, s.ohw());
        let first = index * plan.per_chunk;
        let nb = plan.per_chunk.min(s.n - first);
        let cols = self.tile_count() * nb;
        let xt = sized(&mut scratch.samples_last, nb * (s.c * hw).max(s.o * ohw));
        let x = &x[first * s.c * hw..][..nb * s.c * hw];
        samples_last(x, &mut xt[..x.len()], nb, usize::MAX);
        let v = scratch.col.overwritten(s.c * POINTS * cols);
        with_wide_vectors(
            #[inline(always)]
            || self.transform_input(&xt[..nb * s.c * hw], nb, v),
        );
        let dyt = &mut xt[..nb * s.o * ohw];
        samples_last(
            &dy[first * s.o * ohw..][..nb * s.o * ohw],
            dyt,
            nb,
            usize::MAX,
        );
        let w = sized(&mut scratch.rows, s.o * POINTS * cols);
        with_wide_vectors(
            #[inline(always)]
            || self.transform_dy(dyt, nb, w),
        );
        for p in 0..POINTS {
            matmul(
                &mut du[p * s.o * s.c..],
                s.c,
                [s.o, s.c, cols],
                Matrix::rows(&w[p * cols..], POINTS * cols),
                Matrix::rows(&v[p * cols..], POINTS * cols).transposed(),
                true,
                Parallelism::None,
            );
        }
        du
    }

    /// U [o, point, c] = G g G^T of every kernel.
    fn transform_weight(
        &self,
        weight: impl Fn(usize, usize, usize, usize) -> f32 + Sync,
    ) -> Vec<f32> {
        let s = self.s;
        let mut u = vec![0.0; s.o * POINTS * s.c];
        u.par_chunks_mut(POINTS * s.c)
            .enumerate()
            .for_each(|(o, dst)| {
                for c in 0..s.c {
                    let g: [[f32; 3]; 3] =
                        std::array::from_fn(|i| std::array::from_fn(|j| weight(o, c, i, j)));
                    for (p, value) in weight_tile(&g).into_iter().enumerate() {
                        dst[p * s.c + c] = value;
                    }
                }
            });
        u
    }

    /// V [c, point, tile, sample] = B^T d B of every 4x4 input tile `d` of `xt` [c, h, w, nb], zero
    /// past the edges.
    #[inline(always)]
    fn transform_input(&self, xt: &[f32], nb: usize, v: &mut [f32]) {
        let s = self.s;
        let cols = self.tile_count() * nb;
        let plane_len = s.h * s.w * nb;
        for (dst, plane) in v
            .chunks_exact_mut(POINTS * cols)
            .zip(xt.chunks_exact(plane_len))
        {
            for (t, [y0, x0], first, len) in self.tile_runs(nb) {
                let mut d = [[[0.0; LANES]; 4]; 4];
                for (i, row) in d.iter_mut().enumerate() {
                    let Some(iy) = (y0 + i).checked_sub(s.padding[0]).filter(|&iy| iy < s.h) else {
                        continue;
                    };
                    for (j, lanes) in row.iter_mut().enumerate() {
                        if let Some(ix) = (x0 + j).checked_sub(s.padding[1]).filter(|&ix| ix < s.w)
                        {
                            load(lanes, &plane[(iy * s.w + ix) * nb + first..], len);
                        }
                    }
                }
                for (p, lanes) in input_tile(&d).iter().flatten().enumerate() {
                    store(&mut dst[p * cols + t * nb + first..], lanes, len);
                }
            }
        }
    }

    /// W [o, point, tile, sample] = A dy A^T of every 2x2 tile of `dyt` [o, oh, ow, nb], zero past the
    /// edges: the gradient of the forward's `A^T m A`.
    #[inline(always)]
    fn transform_dy(&self, dyt: &[f32], nb: usize, w: &mut [f32]) {
        let s = self.s;
        let cols = self.tile_count() * nb;
        for (dst, plane) in w
            .chunks_exact_mut(POINTS * cols)
            .zip(dyt.chunks_exact(s.ohw() * nb))
        {
            for (t, [y0, x0], first, len) in self.tile_runs(nb) {
                let mut d = [[[0.0; LANES]; 2]; 2];
                for (i, row) in d.iter_mut().enumerate().filter(|(i, _)| y0 + i < s.oh) {
                    for (j, lanes) in row.iter_mut().enumerate().filter(|(j, _)| x0 + j < s.ow) {
                        load(
                            lanes,
                            &plane[((y0 + i) * s.ow + x0 + j) * nb + first..],
                            len,
                        );
                    }
                }
                for (p, lanes) in backward_output_tile(&d).iter().flatten().enumerate() {
                    store(&mut dst[p * cols + t * nb + first..], lanes, len);
                }
            }
        }
    }

    /// `y` [nb, o, oh, ow] = activation(A^T m A (+ bias)) of every tile of `m` [o, point, tile,
    /// sample], each output plane staged samples innermost in `stage`, and activated as it leaves
    /// the stage (in L1) for `y`.
    #[inline(always)]
    fn transform_output(
        &self,
        m: &[f32],
        nb: usize,
        y: &mut [f32],
        bias: Option<&[f32]>,
        activation: Activation,
        stage: &mut [f32],
    ) {
        let s = self.s;
        let (cols, ohw) = (self.tile_count() * nb, s.ohw());
        let stage = &mut stage[..ohw * nb];
        for (o, src) in m.chunks_exact(POINTS * cols).enumerate() {
            for (t, [y0, x0], first, len) in self.tile_runs(nb) {
                let mut tile = [[[0.0; LANES]; 4]; 4];
                for (p, lanes) in tile.iter_mut().flatten().enumerate() {
                    load(lanes, &src[p * cols + t * nb + first..], len);
                }
                let out = output_tile(&tile);
                for (i, row) in out.iter().enumerate().filter(|(i, _)| y0 + i < s.oh) {
                    for (j, lanes) in row.iter().enumerate().filter(|(j, _)| x0 + j < s.ow) {
                        store(
                            &mut stage[((y0 + i) * s.ow + x0 + j) * nb + first..],
                            lanes,
                            len,
                        );
                    }
                }
            }
            let b = bias.map_or(0.0, |b| b[o]);
            for n in 0..nb {
                let dst = &mut y[(n * s.o + o) * ohw..][..ohw];
                for (d, &v) in dst.iter_mut().zip(stage[n..].iter().step_by(nb)) {
                    *d = v + b;
                }
                // Inside `with_wide_vectors`: compiled for AVX-512 already where the CPU has it.
                activation.apply_lanes(dst);
            }
        }
    }

    /// Every tile and run of up to `LANES` of the chunk's `nb` samples, as (tile, [first output
    /// row, first output column], first sample, samples).
    fn tile_runs(&self, nb: usize) -> impl Iterator<Item = (usize, [usize; 2], usize, usize)> {
        let tiles_x = self.tiles[1];
        (0..self.tile_count()).flat_map(move |t| {
            let origin = [2 * (t / tiles_x), 2 * (t % tiles_x)];
            (0..nb)
                .step_by(LANES)
                .map(move |first| (t, origin, first, LANES.min(nb - first)))
        })
    }
}

/// The first `len` lanes of `dst` from `src`: a whole vector is one move, not a call to memcpy.
#[inline(always)]
fn load(dst: &mut Lanes, src: &[f32], len: usize) {
    if len == LANES {
        *dst = src[..LANES].try_into().unwrap();
    } else {
        dst[..len].copy_from_slice(&src[..len]);
    }
}

/// The first `len` lanes of `src` into `dst`.
#[inline(always)]
fn store(dst: &mut [f32], src: &Lanes, len: usize) {
    if len == LANES {
        dst[..LANES].copy_from_slice(src);
    } else {
        dst[..len].copy_from_slice(&src[..len]);
    }
}

/// B^T d B, lane by lane, with B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
#[inline(always)]
fn input_tile(d: &[[Lanes; 4]; 4]) -> [[Lanes; 4]; 4] {
    let mut out = [[[0.0; LANES]; 4]; 4];
    for l in 0..LANES {
        let cols: [[f32; 4]; 4] = std::array::from_fn(|j| {
            let [d0, d1, d2, d3] = [0, 1, 2, 3].map(|i| d[i][j][l]);
            [d0 - d2, d1 + d2, d2 - d1, d1 - d3]
        });
        for (i, row) in out.iter_mut().enumerate() {
            let [t0, t1, t2, t3] = [0, 1, 2, 3].map(|j| cols[j][i]);
            for (lanes, value) in row.iter_mut().zip([t0 - t2, t1 + t2, t2 - t1, t1 - t3]) {
                lanes[l] = value;
            }
        }
    }
    out
}

/// A^T m A, lane by lane, with A^T = [1 1 1 0; 0 1 -1 -1].
#[inline(always)]
fn output_tile(m: &[[Lanes; 4]; 4]) -> [[Lanes; 2]; 2] {
    let mut out = [[[0.0; LANES]; 2]; 2];
    for l in 0..LANES {
        let cols: [[f32; 2]; 4] = std::array::from_fn(|j| {
            let [m0, m1, m2, m3] = [0, 1, 2, 3].map(|i| m[i][j][l]);
            [m0 + m1 + m2, m1 - m2 - m3]
        });
        for (i, row) in out.iter_mut().enumerate() {
            let [t0, t1, t2, t3] = [0, 1, 2, 3].map(|j| cols[j][i]);
            row[0][l] = t0 + t1 + t2;
            row[1][l] = t1 - t2 - t3;
        }
    }
    out
}

/// A dy A^T, lane by lane: the adjoint of `output_tile`.
#[inline(always)]
fn backward_output_tile(dy: &[[Lanes; 2]; 2]) -> [[Lanes; 4]; 4] {
    let mut out = [[[0.0; LANES]; 4]; 4];
    for l in 0..LANES {
        let cols: [[f32; 4]; 2] = std::array::from_fn(|j| {
            let [d0, d1] = [dy[0][j][l], dy[1][j][l]];
            [d0, d0 + d1, d0 - d1, -d1]
        });
        for (i, row) in out.iter_mut().enumerate() {
            let [t0, t1] = [cols[0][i], cols[1][i]];
            for (lanes, value) in row.iter_mut().zip([t0, t0 + t1, t0 - t1, -t1]) {
                lanes[l] = value;
            }
        }
    }
    out
}

/// G g G^T of a 3x3 kernel, point by point (row-major 4x4), with G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1].
fn weight_tile(g: &[[f32; 3]; 3]) -> [f32; POINTS] {
    let lift = |[a, b, c]: [f32; 3]| [a, 0.5 * (a + b + c), 0.5 * (a - b + c), c];
    let cols: [[f32; 4]; 3] = std::array::from_fn(|j| lift([g[0][j], g[1][j], g[2][j]]));
    let rows: [[f32; 4]; 4] = std::array::from_fn(|i| lift([cols[0][i], cols[1][i], cols[2][i]]));
    std::array::from_fn(|p| rows[p / 4][p % 4])
}

/// G^T m G of a 4x4 point tile back to a 3x3 kernel gradient, row-major: the adjoint of
/// `weight_tile`.
fn backward_weight_tile(m: &[f32; POINTS]) -> [f32; 9] {
    let drop = |[a, b, c, d]: [f32; 4]| [a + 0.5 * (b + c), 0.5 * (b - c), 0.5 * (b + c) + d];
    let cols: [[f32; 3]; 4] = std::array::from_fn(|j| drop([0, 1, 2, 3].map(|i| m[i * 4 + j])));
    let rows: [[f32; 3]; 3] = std::array::from_fn(|i| drop([0, 1, 2, 3].map(|j| cols[j][i])));
    std::array::from_fn(|k| rows[k / 3][k % 3])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::conv::reference::{self, abs, assert_within_scale};
    use crate::nn::conv::Conv2dParams;
    use crate::testing::values;

    #[test]
    fn matches_float64_on_whole_and_cut_tiles() {
        // Whole tiles (8x8), the last tile row and column cut (5x7), padding 0 and 2, on one axis
        // only; 40 samples make chunks of 16, 16 and 8 (whole vectors of samples and part of one).
        // Few channels: the arithmetic is the same at any count (`fits` asks for 128).
        let (n, c, o) = (40, 5, 6);
        for ([h, w], padding) in [
            ([8, 8], [1, 1]),
            ([5, 7], [1, 1]),
            ([6, 6], [0, 2]),
            ([4, 4], [2, 1]),
        ] {
            let p = Conv2dParams {
                padding,
                ..Conv2dParams::default()
            };
            let s = reference::shape([n, c, h, w], [o, 3, 3], p);
            assert!(Winograd::supports(&s) && !Winograd::fits(&s));
            let (x, weight, bias) = (values(n * c * h * w, 1), values(o * c * 9, 2), values(o, 3));
            let winograd = Winograd::new(&s);
            let y = winograd.forward(
                &x,
                |oc, ic, i, j| weight[((oc * c + ic) * 3 + i) * 3 + j],
                Some(&bias),
                Activation::Identity,
            );
            let want = reference::forward(&s, &x, &weight, Some(&bias));
            let scale = reference::forward(&s, &abs(&x), &abs(&weight), Some(&abs(&bias)));
            assert_within_scale(&format!("forward {s:?}"), &y, &want, &scale, 1e-6);
            let dy = values(n * o * s.ohw(), 4);
            let want = reference::backward_weight(&s, &x, &dy);
            let scale = reference::backward_weight(&s, &abs(&x), &abs(&dy));
            let got = winograd.backward_weight(&x, &dy);
            assert_within_scale(&format!("weight gradient {s:?}"), &got, &want, &scale, 1e-6);
        }
    }
}
