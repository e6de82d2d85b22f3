//! bf16 matrix products with float32 accumulation, for autocast and bfloat16 tensors.
//!
//! AVX512-BF16's `vdpbf16ps` multiplies the two bf16 halves of each 32-bit lane of two vectors and
//! adds both products to a float32 lane. So operands are packed as *pairs along k*: a `u32` holds
//! `bf16(x[k = 2p])` in its low half and `bf16(x[k = 2p + 1])` in its high half (0 past `k`).
//! Packing is where float32 operands are rounded to bf16 (to nearest even, as PyTorch casts), so an
//! autocast product reads float32 tensors without a separate cast pass over memory.
//!
//! An operand is anything that can pack itself ([`PackPairs`]): a strided matrix ([`Strided`]) for
//! `matmul`, or the convolution's implicit im2col for `conv2d`.

use std::ops::Range;

use half::bf16;

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub(crate) mod amx;
#[cfg(target_arch = "x86_64")]
mod blocking;
#[cfg(target_arch = "x86_64")]
pub(crate) mod kernel;
mod pack;
#[cfg(test)]
pub(crate) mod tests;

/// An operand of a product, read as lines of `k` values: for the left operand (m x k) a line is a
/// row, for the right one (k x n) a column.
pub(crate) trait PackPairs: Sync {
    /// The length of a line.
    fn k(&self) -> usize;

    /// Writes the pairs `pairs` of the lines `lines` as
    /// `dst[(p - pairs.start) * stride + (l - lines.start)]`, each the `u32` described in the
    /// module doc; `stride >= lines.len()`, and what lies between `lines.len()` and `stride` is
    /// left as it is (the caller zeroes it).
    fn pack(&self, lines: Range<usize>, pairs: Range<usize>, stride: usize, dst: &mut [u32]);
}

/// The bits of two bf16 values as one packed pair.
#[inline]
pub(crate) fn pair(lo: bf16, hi: bf16) -> u32 {
    lo.to_bits() as u32 | (hi.to_bits() as u32) << 16
}

/// The element types a [`Strided`] operand can hold: float32 is rounded to bf16 as it is packed.
pub(crate) trait Element: Copy + Send + Sync + 'static {
    fn to_bf16(self) -> bf16;
}

impl Element for f32 {
    #[inline]
    fn to_bf16(self) -> bf16 {
        bf16::from_f32(self)
    }
}

impl Element for bf16 {
    #[inline]
    fn to_bf16(self) -> bf16 {
        self
    }
}

/// A matrix operand read through strides: element (line l, depth i) is
/// `data[l * line_stride + i * k_stride]`.
#[derive(Clone, Copy)]
pub(crate) struct Strided<'a, T> {
    pub data: &'a [T],
    pub lines: usize,
    pub k: usize,
    pub line_stride: usize,
    pub k_stride: usize,
}

/// Where a product goes: a row-major m x n matrix with rows `row_stride` apart.
pub(crate) enum Output<'a> {
    /// float32, overwritten or (with `accumulate`) added to.
    F32 {
        data: &'a mut [f32],
        // Read by the x86-64 kernels; elsewhere `available()` is false and nothing reaches them.
        #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
        accumulate: bool,
    },
    /// bf16, overwritten: each float32 sum rounded to nearest even once.
    Bf16 { data: &'a mut [bf16] },
}

/// Whether this CPU runs `vdpbf16ps` (AVX512-BF16); when it does not, [`gemm`] must not be called
/// and callers run float32 kernels instead.
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512bf16")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether bf16 products outrun float32 ones on this CPU, so that autocast takes them: on AMX
/// tiles, and with `vdpbf16ps` on AMD's cores, which issue it as often as a float32 FMA. Intel's
/// cores issue it on one port of the two that run FMAs, so its two products per lane only tie
/// float32's there, and rounding and packing make it lose (bench/KERNELS.md, "`vdpbf16ps` on
/// Intel").
pub(crate) fn outruns_float32() -> bool {
    Kernel::Tiles.runs_here() || (available() && !intel())
}

/// Whether the CPU's vendor string (CPUID leaf 0) is "GenuineIntel".
fn intel() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let id = std::arch::x86_64::__cpuid(0);
        let vendor = [id.ebx, id.edx, id.ecx].map(u32::to_le_bytes);
        vendor.concat() == b"GenuineIntel"
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A microkernel of [`gemm`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// AVX512-BF16 `vdpbf16ps`, accumulators in vector registers.
    Dot,
    /// AMX-BF16 `tdpbf16ps` on tile registers (Linux only: the OS must grant them).
    Tiles,
}

impl Kernel {
    /// The fastest kernel this CPU runs; callers check [`available`] first.
    pub(crate) fn best() -> Kernel {
        if Kernel::Tiles.runs_here() {
            Kernel::Tiles
        } else {
            Kernel::Dot
        }
    }

    /// Whether this CPU runs the kernel (both cached checks, cheap per product).
    pub(crate) fn runs_here(self) -> bool {
        match self {
            Kernel::Dot => available(),
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            Kernel::Tiles => amx::available(),
            #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
            Kernel::Tiles => false,
        }
    }

    /// Every kernel this CPU runs, slowest first (empty without AVX512-BF16).
    pub(crate) fn here() -> Vec<Kernel> {
        [Kernel::Dot, Kernel::Tiles]
            .into_iter()
            .filter(|k| k.runs_here())
            .collect()
    }
}

/// `out (m x n) = [out +] (a (m x k) @ b (k x n)) [+ row_bias per row]`, with bf16 products summed in
/// float32. `a`'s lines are the m rows, `b`'s the n columns; both have `k` = the same depth.
/// `parallel`: split the product across rayon's threads (callers that parallelise over a batch
/// pass false). Runs [`Kernel::best`].
///
/// Panics when [`available`] is false or `out` is too short for m rows of n at `row_stride`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm(
    mn: [usize; 2],
    a: &impl PackPairs,
    b: &impl PackPairs,
    out: Output,
    row_stride: usize,
    row_bias: Option<&[f32]>,
    parallel: bool,
) {
    gemm_with(
        Kernel::best(),
        mn,
        a,
        b,
        out,
        row_stride,
        row_bias,
        parallel,
    )
}

/// [`gemm`] on a given kernel, which must be one of [`Kernel::here`] (panics otherwise).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_with(
    kernel: Kernel,
    [m, n]: [usize; 2],
    a: &impl PackPairs,
    b: &impl PackPairs,
    out: Output,
    row_stride: usize,
    row_bias: Option<&[f32]>,
    parallel: bool,
) {
    assert!(
        kernel.runs_here(),
        "bf16 gemm: this CPU does not run the {kernel:?} kernel"
    );
    assert_eq!(a.k(), b.k(), "bf16 gemm: operands of different depths");
    let len = match &out {
        Output::F32 { data, .. } => data.len(),
        Output::Bf16 { data } => data.len(),
    };
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        row_stride >= n && len >= (m - 1) * row_stride + n,
        "bf16 gemm: output too short"
    );
    assert!(
        row_bias.is_none_or(|b| b.len() >= m),
        "bf16 gemm: bias too short"
    );
    #[cfg(target_arch = "x86_64")]
    {
        use blocking::{run, Dot};
        let (size, bias) = ([m, n], row_bias);
        // SAFETY: the CPU runs `kernel` (checked above), and the output and bias lengths were
        // checked above.
        unsafe {
            match (kernel, vectors_per_row(n)) {
                #[cfg(target_os = "linux")]
                (Kernel::Tiles, _) => {
                    run::<amx::Tiles>(size, a, b, out, row_stride, bias, parallel)
                }
                (_, 1) => run::<Dot<16, 1>>(size, a, b, out, row_stride, bias, parallel),
                (_, 2) => run::<Dot<12, 2>>(size, a, b, out, row_stride, bias, parallel),
                _ => run::<Dot<8, 3>>(size, a, b, out, row_stride, bias, parallel),
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (out, parallel);
}

/// The tile width, in 16-lane vectors, for `n` columns: the widest that pads `n` at most 1/32
/// more than the least padding does, so that a narrow output gets taller tiles instead of lanes
/// of zeros; every shape keeps 16 to 24 accumulators busy.
#[cfg(target_arch = "x86_64")]
fn vectors_per_row(n: usize) -> usize {
    let padded = |v: usize| n.div_ceil(16 * v) * 16 * v;
    let least = (1..=3).map(padded).min().unwrap_or(n);
    (1..=3)
        .rev()
        .find(|&v| padded(v) * 32 <= least * 33)
        .unwrap_or(1)
}

/// The same product computed plainly (bf16 products, float32 sums in order of k), for tests.
#[cfg(test)]
pub(crate) fn reference(
    [m, n]: [usize; 2],
    a: &impl PackPairs,
    b: &impl PackPairs,
    row_bias: Option<&[f32]>,
) -> Vec<f32> {
    let k = a.k();
    assert_eq!(k, b.k());
    let pairs = k.div_ceil(2);
    let unpack = |op: &dyn PackPairs, lines: usize| {
        let mut packed = vec![0u32; pairs * lines];
        op.pack(0..lines, 0..pairs, lines, &mut packed);
        move |line: usize, i: usize| {
            let bits = packed[(i / 2) * lines + line] >> (16 * (i % 2));
            bf16::from_bits(bits as u16).to_f32()
        }
    };
    let av = unpack(a, m);
    let bv = unpack(b, n);
    let mut out = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let sum: f32 = (0..k).map(|p| av(i, p) * bv(j, p)).sum();
            out[i * n + j] = sum + row_bias.map_or(0.0, |b| b[i]);
        }
    }
    out
}
