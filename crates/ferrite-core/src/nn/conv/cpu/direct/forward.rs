//! The direct forward: a sample at a time, each tile of output channels by a run of position
//! vectors a chain of multiply-adds over the input's channels and the kernel's taps.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::nn::Activation;

use super::{
    forward_run, reads_in_place, vector_runs, Direct, TileReads, TileRun, ALL_LANES, LANES,
    OUT_TILE,
};

impl Direct<'_> {
    /// Forward: `y = activation(conv(x, w) (+ bias))` by the float32 tiles.
    pub(super) fn forward(
        &self,
        x: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
        activation: Activation,
    ) -> Vec<f32> {
        self.forward_by(x, w, bias, activation, forward_run)
    }

    /// Forward: `y = activation(conv(x, w) (+ bias))` by the tiles of `run`, a sample per task (or,
    /// with fewer samples than threads, a run of output-channel tiles per task).
    pub(super) fn forward_by(
        &self,
        x: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
        activation: Activation,
        run: TileRun,
    ) -> Vec<f32> {
        let s = self.s;
        let ohw = s.ohw();
        let packed = self.pack_weight(w);
        let grid = self.forward_grid();
        let pass = ForwardPass {
            direct: self,
            packed,
            runs: vector_runs(grid.vectors),
            grid,
            bias,
            activation,
            run,
        };
        let (sample_len, len) = (s.c * s.h * s.w, s.n * s.o * ohw);
        let mut y = Vec::with_capacity(len);
        let out = &mut y.spare_capacity_mut()[..len];
        let tile_planes = |sample| tile_outputs(sample, s.og() * ohw, OUT_TILE * ohw);
        if s.n >= rayon::current_num_threads() {
            out.par_chunks_mut(s.o * ohw).enumerate().for_each_init(
                || (Vec::new(), Vec::new()),
                |(xs, staged), (n, sample)| {
                    let xs = self.sample_input(&x[n * sample_len..][..sample_len], &pass.grid, xs);
                    for planes in tile_planes(sample) {
                        pass.tile(xs, planes, staged);
                    }
                },
            );
        } else {
            let mut xs = Vec::new();
            for (n, sample) in out.chunks_mut(s.o * ohw).enumerate() {
                let xs = self.sample_input(&x[n * sample_len..][..sample_len], &pass.grid, &mut xs);
                tile_planes(sample)
                    .into_par_iter()
                    .for_each_init(Vec::new, |staged, planes| pass.tile(xs, planes, staged));
            }
        }
        // SAFETY: every sample's planes were split into tiles whose every element `tile` wrote.
        unsafe { y.set_len(len) };
        y
    }

    /// The weights as [group, tile, tap, channel, OUT_TILE], zero for the channels past `og`; a tile
    /// per task, written in order (faster than in one strided pass).
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
            masks: vec![ALL_LANES; self.grid_vectors * taps],
            stores: vec![ALL_LANES; self.grid_vectors],
            channel_stride: self.channel_len(),
            cropped: true,
        }
    }
}

/// What every forward tile shares: the packed weights, how a sample is read, and the bias.
struct ForwardPass<'a> {
    direct: &'a Direct<'a>,
    packed: Vec<f32>,
    grid: Grid,
    /// `grid`'s position vectors in runs of a tile each.
    runs: Vec<(usize, usize)>,
    bias: Option<&'a [f32]>,
    /// Applied to each tile's outputs right after its runs store them.
    activation: Activation,
    run: TileRun,
}

impl ForwardPass<'_> {
    /// One tile of output channels of one group, for the sample in `xs` (packed or as it lies),
    /// into `planes`: the tile's output planes, every element of which it writes.
    fn tile(&self, xs: &[f32], (g, t, planes): Tile, staged: &mut Vec<f32>) {
        let s = self.direct.s;
        let (cg, og, ohw, taps) = (s.cg(), s.og(), s.ohw(), s.taps());
        let (grid, tiles) = (&self.grid, og.div_ceil(OUT_TILE));
        let rows = planes.len() / ohw;
        let first = g * og + t * OUT_TILE;
        let bias: [f32; OUT_TILE] =
            std::array::from_fn(|o| self.bias.map_or(0.0, |b| b[first + o.min(rows - 1)]));
        let xg = &xs[g * cg * grid.channel_stride..];
        let wt = &self.packed[(g * tiles + t) * taps * cg * OUT_TILE..][..taps * cg * OUT_TILE];
        // In place, the tile's planes take the stores; else a staged grid, cropped below.
        let (out, out_stride) = if grid.cropped {
            let computed = grid.vectors * LANES;
            staged.resize(OUT_TILE * computed, 0.0);
            (staged.as_mut_ptr(), computed)
        } else {
            (planes.as_mut_ptr().cast::<f32>(), ohw)
        };
        for &(v, len) in &self.runs {
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
            // which the store masks write only what lies inside; the instruction set of `run` was
            // detected in `supports` (and `pairs::supports`).
            unsafe {
                let out = out.add(v * LANES);
                (self.run)(&tile, &bias, out, out_stride, rows, stores, len)
            }
        }
        // The tile's outputs, just stored, are still in L1 or L2 (8 planes of up to 32x32): one
        // pass over them rather than one per run keeps the calls few on small planes.
        if grid.cropped {
            self.activation.apply(&mut staged[..rows * out_stride]);
        } else if self.activation != Activation::Identity {
            // SAFETY: the runs wrote every element of the tile's planes (see `tile_outputs`), so
            // they are initialised floats.
            let written = unsafe {
                std::slice::from_raw_parts_mut(planes.as_mut_ptr().cast::<f32>(), planes.len())
            };
            self.activation.apply(written);
        }
        if grid.cropped {
            self.crop(staged, planes);
        }
    }

    /// The tile's output planes from its `staged` pitch-wide grid, each row cropped to the output's.
    fn crop(&self, staged: &[f32], planes: &mut [MaybeUninit<f32>]) {
        let (s, computed) = (self.direct.s, self.grid.vectors * LANES);
        for (plane, out) in planes
            .chunks_exact_mut(s.ohw())
            .zip(staged.chunks_exact(computed))
        {
            for (row, src) in plane
                .chunks_exact_mut(s.ow)
                .zip(out.chunks(self.direct.pitch))
            {
                row.iter_mut().zip(src).for_each(|(d, &v)| {
                    d.write(v);
                });
            }
        }
    }
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
