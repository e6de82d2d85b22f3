//! The operands of the bf16 convolution's products ([`PackPairs`]): the weight in its three
//! readings, `dy` two ways, and the input's im2col two ways, each packed straight from the tensor.

use std::ops::Range;

use half::bf16;
use rayon::prelude::*;

use super::Float;
use crate::cpu::bf16::{pair, PackPairs};
use crate::nn::conv::ConvShape;

/// An operand packed once, whole: a product packs it again for every block of the other
/// operand, which for the weight is once per sample; from here that is a copy.
pub(super) struct Packed {
    /// Pair p of line l at `p * lines + l`.
    data: Vec<u32>,
    lines: usize,
    k: usize,
}

impl Packed {
    pub(super) fn new(op: &impl Lined) -> Packed {
        let (lines, k) = (op.lines(), op.k());
        let pairs = k.div_ceil(2);
        let mut data = vec![0u32; pairs * lines];
        // Blocks of pairs as tasks: a 512 x 512 x 3 x 3 weight is 1.2 M pairs.
        const BLOCK: usize = 16;
        if lines > 0 {
            data.par_chunks_mut(BLOCK * lines)
                .enumerate()
                .for_each(|(b, chunk)| {
                    let first = b * BLOCK;
                    op.pack(0..lines, first..first + chunk.len() / lines, lines, chunk)
                });
        }
        Packed { data, lines, k }
    }
}

impl PackPairs for Packed {
    fn k(&self) -> usize {
        self.k
    }

    fn pack(&self, lines: Range<usize>, pairs: Range<usize>, stride: usize, dst: &mut [u32]) {
        let len = lines.len();
        // A product packs the left operand a micro-panel (8 to 16 lines) at a time: one masked
        // vector per pair instead of a call to memcpy.
        #[cfg(target_arch = "x86_64")]
        if (1..=16).contains(&len) && !pairs.is_empty() && simd::available() {
            let (last, count) = (pairs.end - 1, pairs.len());
            assert!(last * self.lines + lines.end <= self.data.len());
            assert!((count - 1) * stride + len <= dst.len());
            // SAFETY: the CPU has the features (checked above); every pair's lines lie in
            // `data`, and every pair's destination in `dst` (asserted).
            unsafe {
                simd::copy_lines(
                    &self.data[pairs.start * self.lines + lines.start..],
                    self.lines,
                    count,
                    stride,
                    len,
                    dst,
                )
            };
            return;
        }
        for (i, p) in pairs.enumerate() {
            dst[i * stride..][..len]
                .copy_from_slice(&self.data[p * self.lines + lines.start..][..len]);
        }
    }
}

/// An operand that knows its number of lines, so that it can be [`Packed`].
pub(super) trait Lined: PackPairs {
    fn lines(&self) -> usize;
}

/// Calls `f(pair index from 0, [k index of the pair's low half, of its high half])` for `pairs`,
/// the high half `None` past `k`.
fn for_each_pair(pairs: Range<usize>, k: usize, mut f: impl FnMut(usize, [Option<usize>; 2])) {
    for (i, p) in pairs.enumerate() {
        f(i, [2 * p, 2 * p + 1].map(|d| (d < k).then_some(d)));
    }
}

/// The value at `at` of `data`, rounded to bf16, or zero for `None`.
#[inline]
fn get<T: Float>(data: &[T], at: Option<usize>) -> bf16 {
    at.map_or(bf16::ZERO, |at| data[at].to_bf16())
}

/// A row-major [lines, k] matrix: the weight of one group [og, c / groups * taps] in the forward.
pub(super) struct Rows<'a, T> {
    data: &'a [T],
    k: usize,
}

impl<'a, T: Float> Rows<'a, T> {
    pub(super) fn new(data: &'a [T], k: usize) -> Self {
        Rows { data, k }
    }
}

impl<T: Float> PackPairs for Rows<'_, T> {
    fn k(&self) -> usize {
        self.k
    }

    fn pack(&self, lines: Range<usize>, pairs: Range<usize>, stride: usize, dst: &mut [u32]) {
        for_each_pair(pairs, self.k, |i, [lo, hi]| {
            for (d, l) in dst[i * stride..][..lines.len()]
                .iter_mut()
                .zip(lines.clone())
            {
                let row = l * self.k;
                *d = pair(
                    get(self.data, lo.map(|c| row + c)),
                    get(self.data, hi.map(|c| row + c)),
                );
            }
        });
    }
}

impl<T: Float> Lined for Rows<'_, T> {
    fn lines(&self) -> usize {
        self.data.len() / self.k.max(1)
    }
}

/// A row-major [k, lines] matrix read by columns: one group's weight [og, c / groups * taps]
/// transposed, the columns' product of the input gradient by col2im.
pub(super) struct Transposed<'a, T> {
    data: &'a [T],
    lines: usize,
}

impl<'a, T: Float> Transposed<'a, T> {
    pub(super) fn new(data: &'a [T], lines: usize) -> Self {
        Transposed { data, lines }
    }
}

impl<T: Float> PackPairs for Transposed<'_, T> {
    fn k(&self) -> usize {
        self.data.len() / self.lines.max(1)
    }

    fn pack(&self, lines: Range<usize>, pairs: Range<usize>, stride: usize, dst: &mut [u32]) {
        for_each_pair(pairs, self.k(), |i, [lo, hi]| {
            for (d, l) in dst[i * stride..][..lines.len()]
                .iter_mut()
                .zip(lines.clone())
            {
                let at = |row: Option<usize>| row.map(|r| r * self.lines + l);
                *d = pair(get(self.data, at(lo)), get(self.data, at(hi)));
            }
        });
    }
}

impl<T: Float> Lined for Transposed<'_, T> {
    fn lines(&self) -> usize {
        self.lines
    }
}

/// The weight of group `g` of `ConvShape::transposed`: lines = the input channels of the group,
/// k = (output channel of the group, tap), each kernel turned by 180 degrees.
pub(super) struct Flipped<'a, T> {
    s: &'a ConvShape,
    w: &'a [T],
    group: usize,
}

impl<'a, T: Float> Flipped<'a, T> {
    pub(super) fn new(s: &'a ConvShape, w: &'a [T], group: usize) -> Self {
        Flipped { s, w, group }
    }

    /// The weight's index of (input channel `c`, depth `d`).
    fn at(&self, c: usize, d: usize) -> usize {
        let (cg, taps) = (self.s.cg(), self.s.taps());
        let (o, tap) = (d / taps, d % taps);
        ((self.group * self.s.og() + o) * cg + c) * taps + taps - 1 - tap
    }
}

impl<T: Float> PackPairs for Flipped<'_, T> {
    fn k(&self) -> usize {
        self.s.og() * self.s.taps()
    }

    fn pack(&self, lines: Range<usize>, pairs: Range<usize>, stride: usize, dst: &mut [u32]) {
        let taps = self.s.taps();
        for_each_pair(pairs, self.k(), |i, [lo, hi]| {
            // Input channel c of depth d lies at `at(0, d) + c * taps`.
            let [lo, hi] = [lo, hi].map(|d| d.map(|d| self.at(0, d)));
            for (d, c) in dst[i * stride..][..lines.len()]
                .iter_mut()
                .zip(lines.clone())
            {
                let at = |base: Option<usize>| base.map(|b| b + c * taps);
                *d = pair(get(self.w, at(lo)), get(self.w, at(hi)));
            }
        });
    }
}

impl<T: Float> Lined for Flipped<'_, T> {
    fn lines(&self) -> usize {
        self.s.cg()
    }
}

/// A row-major [k, len] matrix read by columns, where a run of lines is a run of each row: one
/// sample's `dy` [og, oh * ow] of a group, the right operand of col2im's product.
pub(super) struct Lines<'a, T> {
    data: &'a [T],
    len: usize,
}

impl<'a, T: Float> Lines<'a, T> {
    pub(super) fn new(data: &'a [T], len: usize) -> Self {
        Lines { data, len }
    }
}

impl<T: Float> PackPairs for Lines<'_, T> {
    fn k(&self) -> usize {
        self.data.len() / self.len.max(1)
    }

    fn pack(&self, lines: Range<usize>, pairs: Range<usize>, stride: usize, dst: &mut [u32]) {
        let n = lines.len();
        for_each_pair(pairs, self.k(), |i, rows| {
            let runs = rows.map(|row| match row {
                Some(r) => Run {
                    row: &self.data[r * self.len..][..self.len],
                    start: lines.start as isize,
                    lo: 0,
                    hi: n,
                },
                None => Run::EMPTY,
            });
            T::pack_runs(runs, 1, &mut dst[i * stride..][..n]);
        });
    }
}

/// `dy` of group `g` for the weight gradient: lines = the group's output channels, k = (sample,
/// output position), each sample's positions padded to an even count so that no pair straddles
/// two samples.
pub(super) struct DyDepth<'a, T> {
    s: &'a ConvShape,
    dy: &'a [T],
    group: usize,
    samples: usize,
}

impl<'a, T: Float> DyDepth<'a, T> {
    pub(super) fn new(s: &'a ConvShape, dy: &'a [T], group: usize, samples: usize) -> Self {
        DyDepth {
            s,
            dy,
            group,
            samples,
        }
    }
}

/// Output positions per sample along the weight gradient's depth: an even number.
fn even_plane(s: &ConvShape) -> usize {
    s.ohw().next_multiple_of(2)
}

impl<T: Float> PackPairs for DyDepth<'_, T> {
    fn k(&self) -> usize {
        self.samples * even_plane(self.s)
    }

    fn pack(&self, lines: Range<usize>, pairs: Range<usize>, stride: usize, dst: &mut [u32]) {
        let (s, half) = (self.s, even_plane(self.s) / 2);
        let (ohw, first) = (s.ohw(), self.group * s.og());
        // Pair by pair: the lines' rows stay in cache from one pair to the next.
        for (i, p) in pairs.enumerate() {
            let (n, at) = (p / half, 2 * (p % half));
            let sample = &self.dy[n * s.o * ohw..][..s.o * ohw];
            let dst = &mut dst[i * stride..][..lines.len()];
            if at + 1 < ohw {
                T::pack_column(&sample[(first + lines.start) * ohw + at..], ohw, dst);
                continue;
            }
            for (d, o) in dst.iter_mut().zip(lines.clone()) {
                let row = &sample[(first + o) * ohw..][..ohw];
                let hi = row.get(at + 1).map_or(bf16::ZERO, |v| v.to_bf16());
                *d = pair(row[at].to_bf16(), hi);
            }
        }
    }
}

impl<T: Float> Lined for DyDepth<'_, T> {
    fn lines(&self) -> usize {
        self.s.og()
    }
}

/// A chunk of samples of the input cast to bf16 and zero-padded, [samples, c, h + 2 ph, w + 2 pw],
/// followed by a sample's worth of zeros: every im2col value is then one load, at a sum of an
/// offset of the depth (sample, position) and one of the line (channel, tap).
pub(super) struct Unfolded<'a> {
    s: &'a ConvShape,
    /// bf16 bits.
    padded: Vec<u16>,
    samples: usize,
    width: usize,
    /// Where the zeros start.
    zero: usize,
}

impl<'a> Unfolded<'a> {
    pub(super) fn new<T: Float>(s: &'a ConvShape, x: &[T], samples: usize) -> Self {
        let (ph, pw) = (s.padding[0], s.padding[1]);
        let (height, width) = (s.h + 2 * ph, s.w + 2 * pw);
        let plane = height * width;
        let zero = samples * s.c * plane;
        // One more element: a vector gather reads a u32 at the last one.
        let mut padded = vec![0u16; zero + s.c * plane + 1];
        // An empty input plane (all padding) leaves nothing to copy, and no chunks to take.
        let planes = if s.hw() == 0 { 0 } else { zero };
        padded[..planes]
            .par_chunks_exact_mut(plane)
            .zip(x.par_chunks_exact(s.hw().max(1)))
            .with_min_len(64)
            .for_each(|(to, from)| {
                for (to, from) in to[ph * width..]
                    .chunks_exact_mut(width)
                    .zip(from.chunks_exact(s.w))
                {
                    T::round_row(from, &mut to[pw..][..s.w]);
                }
            });
        Unfolded {
            s,
            padded,
            samples,
            width,
            zero,
        }
    }

    /// A padded plane's size.
    fn plane(&self) -> usize {
        (self.s.h + 2 * self.s.padding[0]) * self.width
    }

    /// Per depth (channel of group `g`, tap), its offset from an output position's first tap.
    fn offsets(&self, g: usize) -> Vec<usize> {
        let (s, plane) = (self.s, self.plane());
        (0..s.k())
            .map(|d| {
                let (c, i, j) = (d / s.taps(), d % s.taps() / s.kw, d % s.kw);
                (g * s.cg() + c) * plane + i * s.dilation[0] * self.width + j * s.dilation[1]
            })
            .collect()
    }

    /// The im2col matrix of group `g` as the forward reads it: lines = (sample, output position),
    /// k = (input channel of the group, tap), the weight's order.
    pub(super) fn lines(&self, g: usize) -> UnfoldedLines<'_> {
        UnfoldedLines {
            unfolded: self,
            offsets: self.offsets(g),
        }
    }

    /// The im2col matrix of group `g`, transposed: lines = (input channel of the group, tap).
    pub(super) fn group(&self, g: usize) -> UnfoldedGroup<'_> {
        let offsets = self.offsets(g);
        // The gathers take 32-bit offsets.
        let offsets32 = offsets
            .iter()
            .map(|&o| i32::try_from(o).ok())
            .collect::<Option<Vec<i32>>>()
            .filter(|_| self.padded.len() < i32::MAX as usize);
        UnfoldedGroup {
            unfolded: self,
            offsets,
            offsets32,
        }
    }
}

/// [`Unfolded::lines`]: the im2col matrix of one group, lines = (sample, output position).
pub(super) struct UnfoldedLines<'a> {
    unfolded: &'a Unfolded<'a>,
    /// Per depth, its offset from a position's first tap.
    offsets: Vec<usize>,
}

impl PackPairs for UnfoldedLines<'_> {
    fn k(&self) -> usize {
        self.offsets.len()
    }

    fn pack(&self, lines: Range<usize>, pairs: Range<usize>, stride: usize, dst: &mut [u32]) {
        let u = self.unfolded;
        let s = u.s;
        let (ohw, ow, step, plane) = (s.ohw(), s.ow, s.stride[1], u.plane());
        // Segments of the lines, one output row each: a run of one padded row at `step`, from the
        // offset of its first tap (base), `len` long, at `at` in a pair's lines.
        let mut segments = Vec::with_capacity(lines.len().div_ceil(ow) + 1);
        let mut l = lines.start;
        while l < lines.end {
            let (n, p) = (l / ohw, l % ohw);
            let (oy, ox) = (p / ow, p % ow);
            let len = (ow - ox).min(lines.end - l);
            let base = n * s.c * plane + oy * s.stride[0] * u.width + ox * step;
            segments.push((base, len, l - lines.start));
            l += len;
        }
        let padded = &u.padded[..u.zero];
        let depths = 2 * pairs.start..(2 * pairs.end).min(self.offsets.len());
        let reach = segments
            .iter()
            .map(|&(b, len, _)| b + (len - 1) * step)
            .max();
        let furthest = self.offsets[depths].iter().max();
        if let (Some(reach), Some(furthest)) = (reach, furthest) {
            assert!(reach + furthest < padded.len());
        }
        for (i, p) in pairs.enumerate() {
            let dst = &mut dst[i * stride..][..lines.len()];
            let offsets = [2 * p, 2 * p + 1].map(|d| self.offsets.get(d).copied());
            #[cfg(target_arch = "x86_64")]
            if step <= 2 && simd::available() {
                // SAFETY: the CPU has the features (checked above) and every element read lies
                // in `padded` (asserted above: no segment reaches further than `reach`, and no
                // offset of these pairs further than `furthest`).
                unsafe { simd::pack_segments(padded, &segments, offsets, step, dst) };
                continue;
            }
            for &(base, len, at) in &segments {
                let from = offsets.map(|o| o.map(|o| base + o));
                let get = |f: Option<usize>, e: usize| f.map_or(0, |f| padded[f + e * step] as u32);
                for (e, d) in dst[at..][..len].iter_mut().enumerate() {
                    *d = get(from[0], e) | get(from[1], e) << 16;
                }
            }
        }
    }
}

/// [`Unfolded::group`]: the im2col matrix of one group, lines = (channel, tap), k = (sample,
/// output position) as [`DyDepth`] lays it out.
pub(super) struct UnfoldedGroup<'a> {
    unfolded: &'a Unfolded<'a>,
    /// Per line, its offset in a sample.
    offsets: Vec<usize>,
    /// The same as i32, where they all fit (for the gathers).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    offsets32: Option<Vec<i32>>,
}

impl UnfoldedGroup<'_> {
    /// The offset of depth `d`'s first tap (the sample's zeros past its plane).
    fn base(&self, d: usize) -> usize {
        let u = self.unfolded;
        let s = u.s;
        let (n, at) = (d / even_plane(s), d % even_plane(s));
        if at >= s.ohw() {
            return u.zero;
        }
        let plane = (s.h + 2 * s.padding[0]) * u.width;
        let (oy, ox) = (at / s.ow, at % s.ow);
        n * s.c * plane + oy * s.stride[0] * u.width + ox * s.stride[1]
    }
}

impl PackPairs for UnfoldedGroup<'_> {
    fn k(&self) -> usize {
        self.unfolded.samples * even_plane(self.unfolded.s)
    }

    fn pack(&self, lines: Range<usize>, pairs: Range<usize>, stride: usize, dst: &mut [u32]) {
        let padded = &self.unfolded.padded;
        let offsets = &self.offsets[lines.clone()];
        #[cfg(target_arch = "x86_64")]
        if let Some(offsets32) = self.offsets32.as_ref().filter(|_| simd::available()) {
            let offsets32 = &offsets32[lines.clone()];
            let last = offsets.iter().max().copied().unwrap_or(0);
            for (i, p) in pairs.enumerate() {
                let bases = [self.base(2 * p), self.base(2 * p + 1)];
                // A gather reads the u32 at each base + offset (two elements).
                assert!(bases.iter().all(|&b| b + last + 1 < padded.len()));
                // SAFETY: the CPU has the features (checked above) and every element read lies in
                // `padded` (asserted: the offsets are at most `last`).
                unsafe {
                    simd::gather_pairs(
                        padded,
                        offsets32,
                        bases,
                        &mut dst[i * stride..][..lines.len()],
                    )
                };
            }
            return;
        }
        for (i, p) in pairs.enumerate() {
            let (lo, hi) = (&padded[self.base(2 * p)..], &padded[self.base(2 * p + 1)..]);
            for (d, &at) in dst[i * stride..][..lines.len()].iter_mut().zip(offsets) {
                *d = lo[at] as u32 | (hi[at] as u32) << 16;
            }
        }
    }
}

/// What one depth of a pair reads for a run of lines: line `e` (`lo <= e < hi`) is
/// `row[start + e * step]`, the others zero.
#[derive(Clone, Copy)]
pub(crate) struct Run<'a, T> {
    row: &'a [T],
    start: isize,
    lo: usize,
    hi: usize,
}

impl<'a, T> Run<'a, T> {
    #[cfg(test)]
    pub(super) fn new(row: &'a [T], start: isize, lo: usize, hi: usize) -> Self {
        Run { row, start, lo, hi }
    }

    const EMPTY: Self = Run {
        row: &[],
        start: 0,
        lo: 0,
        hi: 0,
    };

    /// Whether every line the run reads lies in its row at `step`: what the vector loads rely on.
    fn inside(&self, step: usize) -> bool {
        let (first, last) = (
            self.start + (self.lo * step) as isize,
            self.start + (self.hi.saturating_sub(1) * step) as isize,
        );
        self.lo >= self.hi || (first >= 0 && last < self.row.len() as isize)
    }
}

/// Packing two runs into pairs: vector code where the element type has it.
pub(crate) trait PackRuns: Sized {
    /// `dst[e] = pair(runs[0] at e, runs[1] at e)`.
    fn pack_runs(runs: [Run<'_, Self>; 2], step: usize, dst: &mut [u32]);

    /// `dst[l] = pair(data[l * pitch], data[l * pitch + 1])`: a pair from each of `dst.len()`
    /// rows `pitch` apart. Panics unless `data` holds them.
    fn pack_column(data: &[Self], pitch: usize, dst: &mut [u32]);

    /// `dst[e]` = the bf16 bits of `src[e]`. Panics unless the lengths agree.
    fn round_row(src: &[Self], dst: &mut [u16]);
}

/// The plain [`PackRuns::pack_column`].
fn pack_column_plainly<T: Float>(data: &[T], pitch: usize, dst: &mut [u32]) {
    for (l, d) in dst.iter_mut().enumerate() {
        let at = l * pitch;
        *d = pair(data[at].to_bf16(), data[at + 1].to_bf16());
    }
}

/// Whether a column of `lines` pairs `pitch` apart lies in `len` elements, at offsets a gather
/// takes (32 bits).
#[cfg(target_arch = "x86_64")]
fn column_fits(len: usize, pitch: usize, lines: usize) -> bool {
    lines > 0 && (lines - 1) * pitch + 1 < len && (lines - 1) * pitch < i32::MAX as usize
}

/// The plain packing of [`PackRuns`], for strides over 1 and CPUs without AVX512-BF16.
pub(super) fn pack_runs_plainly<T: Float>(runs: [Run<'_, T>; 2], step: usize, dst: &mut [u32]) {
    assert!(runs.iter().all(|r| r.inside(step) && r.hi <= dst.len()));
    dst.fill(0);
    for (shift, run) in [0, 16].into_iter().zip(runs) {
        let at = |e: usize| (run.start + (e * step) as isize) as usize;
        for (e, d) in dst.iter_mut().enumerate().take(run.hi).skip(run.lo) {
            *d |= (run.row[at(e)].to_bf16().to_bits() as u32) << shift;
        }
    }
}

impl PackRuns for f32 {
    fn pack_runs(runs: [Run<'_, f32>; 2], step: usize, dst: &mut [u32]) {
        #[cfg(target_arch = "x86_64")]
        if simd::available() && (step == 1 || dst.len() * step <= i32::MAX as usize) {
            assert!(runs.iter().all(|r| r.inside(step) && r.hi <= dst.len()));
            // SAFETY: the CPU has the features (checked above), every line a run reads lies in
            // its row (asserted), and a strided run's offsets fit 32 bits (checked).
            unsafe {
                if step == 1 {
                    simd::pack_f32(runs, dst)
                } else {
                    simd::gather_f32(runs, step, dst)
                }
            };
            return;
        }
        pack_runs_plainly(runs, step, dst);
    }

    fn pack_column(data: &[f32], pitch: usize, dst: &mut [u32]) {
        #[cfg(target_arch = "x86_64")]
        if simd::available() && column_fits(data.len(), pitch, dst.len()) {
            // SAFETY: the CPU has the features and the column lies in `data` (both checked).
            unsafe { simd::column_f32(data, pitch, dst) };
            return;
        }
        pack_column_plainly(data, pitch, dst);
    }

    fn round_row(src: &[f32], dst: &mut [u16]) {
        assert_eq!(src.len(), dst.len(), "round_row: lengths differ");
        #[cfg(target_arch = "x86_64")]
        if simd::available() {
            // SAFETY: the CPU has the features (checked above); the lengths agree.
            unsafe { simd::round_f32(src, dst) };
            return;
        }
        for (d, v) in dst.iter_mut().zip(src) {
            *d = bf16::from_f32(*v).to_bits();
        }
    }
}

impl PackRuns for bf16 {
    fn pack_runs(runs: [Run<'_, bf16>; 2], step: usize, dst: &mut [u32]) {
        #[cfg(target_arch = "x86_64")]
        if step == 1 && simd::available() {
            assert!(runs.iter().all(|r| r.inside(1) && r.hi <= dst.len()));
            // SAFETY: as for float32.
            unsafe { simd::pack_bf16(runs, dst) };
            return;
        }
        pack_runs_plainly(runs, step, dst);
    }

    fn pack_column(data: &[bf16], pitch: usize, dst: &mut [u32]) {
        #[cfg(target_arch = "x86_64")]
        if simd::available() && column_fits(data.len(), pitch, dst.len()) {
            // SAFETY: as for float32.
            unsafe { simd::column_bf16(data, pitch, dst) };
            return;
        }
        pack_column_plainly(data, pitch, dst);
    }

    fn round_row(src: &[bf16], dst: &mut [u16]) {
        assert_eq!(src.len(), dst.len(), "round_row: lengths differ");
        for (d, v) in dst.iter_mut().zip(src) {
            *d = v.to_bits();
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    use half::bf16;

    use super::Run;

    pub(super) fn available() -> bool {
        crate::cpu::bf16::available()
    }

    /// Lane i of a word: the bf16 of lane i / 2 of the first run (even i) or of the second.
    const INTERLEAVE: [u16; 32] = {
        let mut idx = [0u16; 32];
        let mut i = 0;
        while i < 16 {
            idx[2 * i] = i as u16;
            idx[2 * i + 1] = 16 + i as u16;
            i += 1;
        }
        idx
    };

    /// The lanes `i < 16` with `lo <= at + i < hi`.
    #[inline]
    fn lanes(lo: usize, hi: usize, at: usize) -> u16 {
        let (a, b) = (lo.saturating_sub(at).min(16), hi.saturating_sub(at).min(16));
        if b <= a {
            0
        } else {
            (((1u32 << b) - 1) & !((1u32 << a) - 1)) as u16
        }
    }

    /// [`super::PackRuns`] at step 1 for float32: 16 lines at a time, both runs converted by one
    /// `vcvtne2ps2bf16` (round to nearest even, as `half`, except that it flushes subnormals to
    /// zero) and interleaved into pairs.
    ///
    /// # Safety
    /// The CPU must have AVX512-BF16 and AVX512-BW, and each run's lines `lo..hi` must lie in its
    /// row at step 1, with `hi <= dst.len()`.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(super) unsafe fn pack_f32(runs: [Run<'_, f32>; 2], dst: &mut [u32]) {
        // SAFETY: INTERLEAVE is 64 bytes.
        let idx = unsafe { _mm512_loadu_si512(INTERLEAVE.as_ptr().cast()) };
        let [a, b] = runs;
        let (pa, pb) = (a.row.as_ptr(), b.row.as_ptr());
        for at in (0..dst.len()).step_by(16) {
            let (ma, mb) = (lanes(a.lo, a.hi, at), lanes(b.lo, b.hi, at));
            // SAFETY: the loads read only the lanes of their masks, lines in `lo..hi` that lie in
            // their rows (the caller's contract); masked-off lanes are not accessed. The store
            // writes the lanes below dst.len().
            unsafe {
                let va = _mm512_maskz_loadu_ps(ma, pa.wrapping_offset(a.start + at as isize));
                let vb = _mm512_maskz_loadu_ps(mb, pb.wrapping_offset(b.start + at as isize));
                let both: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(vb, va));
                let v = _mm512_permutexvar_epi16(idx, both);
                let tail = lanes(0, dst.len(), at);
                _mm512_mask_storeu_epi32(dst.as_mut_ptr().add(at).cast(), tail, v);
            }
        }
    }

    /// [`super::PackRuns::round_row`] for float32, 32 values per `vcvtne2ps2bf16` (which, unlike
    /// `half`, flushes subnormals to zero, as the packing above).
    ///
    /// # Safety
    /// The CPU must have AVX512-BF16 and AVX512-BW; `src` and `dst` of one length.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(super) unsafe fn round_f32(src: &[f32], dst: &mut [u16]) {
        for at in (0..src.len()).step_by(32) {
            let (lo, hi) = (lanes(0, src.len(), at), lanes(0, src.len(), at + 16));
            // SAFETY: the masked lanes lie below src.len() = dst.len().
            unsafe {
                let a = _mm512_maskz_loadu_ps(lo, src.as_ptr().add(at));
                let b = _mm512_maskz_loadu_ps(hi, src.as_ptr().wrapping_add(at + 16));
                let bits: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(b, a));
                let words = lo as u32 | (hi as u32) << 16;
                _mm512_mask_storeu_epi16(dst.as_mut_ptr().add(at).cast(), words, bits);
            }
        }
    }

    /// `dst[l] = pair(padded[b0 + offsets[l]], padded[b1 + offsets[l]])`: one 32-bit gather per 16
    /// lines where the pair's two elements are neighbours (`b1 = b0 + 1`), else two.
    ///
    /// # Safety
    /// The CPU must have AVX-512F; `offsets.len() >= dst.len()`, and for each of the first
    /// `dst.len()` offsets `o`, `b + o + 1 < padded.len()` for both bases `b`.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(super) unsafe fn gather_pairs(
        padded: &[u16],
        offsets: &[i32],
        [b0, b1]: [usize; 2],
        dst: &mut [u32],
    ) {
        let zero = _mm512_setzero_si512();
        let low = _mm512_set1_epi32(0xffff);
        // SAFETY (pointers): b0 and b1 lie in `padded` (the caller's contract).
        let (p0, p1) = unsafe { (padded.as_ptr().add(b0), padded.as_ptr().add(b1)) };
        for at in (0..dst.len()).step_by(16) {
            let m = lanes(0, dst.len(), at);
            // SAFETY: the masked lanes read offsets and write `dst` below dst.len(); each gathered
            // u32 lies in `padded` by the caller's contract (scale 2: offsets count u16s).
            unsafe {
                let idx = _mm512_maskz_loadu_epi32(m, offsets.as_ptr().add(at));
                let lo = _mm512_mask_i32gather_epi32::<2>(zero, m, idx, p0.cast());
                let v = if b1 == b0 + 1 {
                    lo
                } else {
                    let hi = _mm512_mask_i32gather_epi32::<2>(zero, m, idx, p1.cast());
                    _mm512_or_si512(_mm512_and_si512(lo, low), _mm512_slli_epi32::<16>(hi))
                };
                _mm512_mask_storeu_epi32(dst.as_mut_ptr().add(at).cast(), m, v);
            }
        }
    }

    /// [`super::PackRuns`] at steps over 1 for float32: the runs gathered, then as `pack_f32`.
    ///
    /// # Safety
    /// As for [`pack_f32`] at `step`, and `dst.len() * step` fits an i32.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(super) unsafe fn gather_f32(runs: [Run<'_, f32>; 2], step: usize, dst: &mut [u32]) {
        // SAFETY: INTERLEAVE is 64 bytes.
        let idx = unsafe { _mm512_loadu_si512(INTERLEAVE.as_ptr().cast()) };
        let [a, b] = runs;
        let (pa, pb) = (a.row.as_ptr(), b.row.as_ptr());
        let lane = _mm512_mullo_epi32(
            _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
            _mm512_set1_epi32(step as i32),
        );
        let zero = _mm512_setzero_ps();
        for at in (0..dst.len()).step_by(16) {
            let (ma, mb) = (lanes(a.lo, a.hi, at), lanes(b.lo, b.hi, at));
            let offsets = _mm512_add_epi32(lane, _mm512_set1_epi32((at * step) as i32));
            // SAFETY: the gathers read only their masks' lanes, lines in `lo..hi` whose elements
            // `start + line * step` lie in their rows (the caller's contract).
            unsafe {
                let ra = pa.wrapping_offset(a.start);
                let rb = pb.wrapping_offset(b.start);
                let va = _mm512_mask_i32gather_ps::<4>(zero, ma, offsets, ra.cast());
                let vb = _mm512_mask_i32gather_ps::<4>(zero, mb, offsets, rb.cast());
                let both: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(vb, va));
                let v = _mm512_permutexvar_epi16(idx, both);
                let tail = lanes(0, dst.len(), at);
                _mm512_mask_storeu_epi32(dst.as_mut_ptr().add(at).cast(), tail, v);
            }
        }
    }

    /// Word 2i of a pair's vector takes element `step * i` of the first run, word 2i + 1 that of
    /// the second (lanes 32 on), for steps 1 and 2.
    const ORDERS: [[u16; 32]; 2] = {
        let mut orders = [[0u16; 32]; 2];
        let mut step = 1;
        while step <= 2 {
            let mut i = 0;
            while i < 16 {
                orders[step - 1][2 * i] = (step * i) as u16;
                orders[step - 1][2 * i + 1] = (32 + step * i) as u16;
                i += 1;
            }
            step += 1;
        }
        orders
    };

    /// `dst[i * stride + l] = data[i * pitch + l]` for `l < len <= 16` and `i < count`.
    ///
    /// # Safety
    /// The CPU must have AVX-512F; `(count - 1) * pitch + len <= data.len()` and
    /// `(count - 1) * stride + len <= dst.len()`.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(super) unsafe fn copy_lines(
        data: &[u32],
        pitch: usize,
        count: usize,
        stride: usize,
        len: usize,
        dst: &mut [u32],
    ) {
        let m = lanes(0, len, 0);
        for i in 0..count {
            // SAFETY: the masked lanes lie in `data` and `dst` (the caller's contract).
            unsafe {
                let v = _mm512_maskz_loadu_epi32(m, data.as_ptr().add(i * pitch).cast());
                _mm512_mask_storeu_epi32(dst.as_mut_ptr().add(i * stride).cast(), m, v);
            }
        }
    }

    /// [`super::PackRuns::pack_column`] for float32: both elements of 16 rows gathered, rounded by
    /// one `vcvtne2ps2bf16` and interleaved.
    ///
    /// # Safety
    /// The CPU must have AVX512-BF16 and AVX512-BW; `(dst.len() - 1) * pitch + 1 < data.len()`,
    /// and `(dst.len() - 1) * pitch` fits an i32.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(super) unsafe fn column_f32(data: &[f32], pitch: usize, dst: &mut [u32]) {
        // SAFETY: INTERLEAVE is 64 bytes.
        let idx = unsafe { _mm512_loadu_si512(INTERLEAVE.as_ptr().cast()) };
        let rows = _mm512_mullo_epi32(
            _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
            _mm512_set1_epi32(pitch as i32),
        );
        let zero = _mm512_setzero_ps();
        for at in (0..dst.len()).step_by(16) {
            let m = lanes(0, dst.len(), at);
            let offsets = _mm512_add_epi32(rows, _mm512_set1_epi32((at * pitch) as i32));
            // SAFETY: the masked lanes read rows below dst.len(), both elements of which lie in
            // `data`, and write `dst` below its length (the caller's contract).
            unsafe {
                let p = data.as_ptr();
                let lo = _mm512_mask_i32gather_ps::<4>(zero, m, offsets, p.cast());
                let hi = _mm512_mask_i32gather_ps::<4>(zero, m, offsets, p.add(1).cast());
                let both: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo));
                let v = _mm512_permutexvar_epi16(idx, both);
                _mm512_mask_storeu_epi32(dst.as_mut_ptr().add(at).cast(), m, v);
            }
        }
    }

    /// [`super::PackRuns::pack_column`] for bf16: each pair is the u32 at its row, gathered.
    ///
    /// # Safety
    /// As for [`column_f32`].
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(super) unsafe fn column_bf16(data: &[bf16], pitch: usize, dst: &mut [u32]) {
        let rows = _mm512_mullo_epi32(
            _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
            _mm512_set1_epi32(pitch as i32),
        );
        let zero = _mm512_setzero_si512();
        for at in (0..dst.len()).step_by(16) {
            let m = lanes(0, dst.len(), at);
            let offsets = _mm512_add_epi32(rows, _mm512_set1_epi32((at * pitch) as i32));
            // SAFETY: as in `column_f32`; scale 2, as the offsets count bf16s.
            unsafe {
                let v = _mm512_mask_i32gather_epi32::<2>(zero, m, offsets, data.as_ptr().cast());
                _mm512_mask_storeu_epi32(dst.as_mut_ptr().add(at).cast(), m, v);
            }
        }
    }

    /// One pair of [`super::UnfoldedLines`]: for each segment `(base, len, at)`, `dst[at + e] =
    /// pair(padded[base + o0 + e * step], padded[base + o1 + e * step])` for the two offsets `o`
    /// (zero halves for `None`), 16 lines at a time, both runs interleaved by one permute.
    ///
    /// # Safety
    /// The CPU must have AVX512-BW; `step` is 1 or 2; every segment lies in `dst`, and every
    /// element it reads, `base + o + (len - 1) * step` at most, lies in `padded`.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(super) unsafe fn pack_segments(
        padded: &[u16],
        segments: &[(usize, usize, usize)],
        offsets: [Option<usize>; 2],
        step: usize,
        dst: &mut [u32],
    ) {
        // SAFETY: each order is 64 bytes.
        let idx = unsafe { _mm512_loadu_si512(ORDERS[step - 1].as_ptr().cast()) };
        let p = padded.as_ptr().cast::<i16>();
        for &(base, len, at) in segments {
            for e in (0..len).step_by(16) {
                let count = (len - e).min(16);
                // The elements these lines read: `span` from `base + o + e * step`.
                let span = (count - 1) * step + 1;
                let reads = if span == 32 {
                    u32::MAX
                } else {
                    (1u32 << span) - 1
                };
                // SAFETY: the loads read `span` elements from `base + o + e * step`, the last
                // of them `base + o + (e + count - 1) * step`, in `padded`; the store writes
                // lines of the segment (the caller's contract).
                unsafe {
                    let load = |o: Option<usize>| match o {
                        Some(o) => _mm512_maskz_loadu_epi16(reads, p.add(base + o + e * step)),
                        None => _mm512_setzero_si512(),
                    };
                    let v = _mm512_permutex2var_epi16(load(offsets[0]), idx, load(offsets[1]));
                    let to = dst.as_mut_ptr().add(at + e).cast();
                    _mm512_mask_storeu_epi32(to, lanes(0, count, 0), v);
                }
            }
        }
    }

    /// [`super::PackRuns`] at step 1 for bf16: both runs loaded into one vector and interleaved.
    ///
    /// # Safety
    /// As for [`pack_f32`].
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(super) unsafe fn pack_bf16(runs: [Run<'_, bf16>; 2], dst: &mut [u32]) {
        // SAFETY: INTERLEAVE is 64 bytes.
        let idx = unsafe { _mm512_loadu_si512(INTERLEAVE.as_ptr().cast()) };
        let [a, b] = runs;
        let (pa, pb) = (a.row.as_ptr().cast::<i16>(), b.row.as_ptr().cast::<i16>());
        for at in (0..dst.len()).step_by(16) {
            let (ma, mb) = (lanes(a.lo, a.hi, at), lanes(b.lo, b.hi, at));
            // SAFETY: as in `pack_f32`; the second run's lanes are loaded into the upper half,
            // from 16 elements before its first line, of which only the masked ones are read.
            unsafe {
                let va =
                    _mm512_maskz_loadu_epi16(ma as u32, pa.wrapping_offset(a.start + at as isize));
                let both = _mm512_mask_loadu_epi16(
                    va,
                    (mb as u32) << 16,
                    pb.wrapping_offset(b.start + at as isize - 16),
                );
                let v = _mm512_permutexvar_epi16(idx, both);
                let tail = lanes(0, dst.len(), at);
                _mm512_mask_storeu_epi32(dst.as_mut_ptr().add(at).cast(), tail, v);
            }
        }
    }
}
