//! Float sums that vectorise and stay accurate for long rows: f32 lanes over blocks of about
//! `BLOCK` values, f64 across blocks. 32 lanes, so that the adds of a baseline (SSE2) build overlap
//! instead of waiting on one another. The `_rows` forms put many short rows (one channel of every
//! sample) into one block, so that adding up the lanes in f64 is paid once per block, not once
//! per row.

const LANES: usize = 32;
/// Values summed in f32 lanes before the lanes go into the f64 total.
const BLOCK: usize = 512;

/// Sum in f32 lanes over short blocks and in f64 across blocks: vectorised, and accurate for
/// long rows.
pub(crate) fn lane_sum(x: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    lane_sum_rows([x], f)
}

/// `lane_sum` over the values of all `rows`.
pub(crate) fn lane_sum_rows<'a>(
    rows: impl IntoIterator<Item = &'a [f32]>,
    f: impl Fn(f32) -> f32,
) -> f64 {
    let mut pieces = rows.into_iter().flat_map(|r| r.chunks(BLOCK)).peekable();
    let mut total = 0f64;
    while pieces.peek().is_some() {
        // Fresh lanes per block, which the compiler keeps in registers.
        let (mut lanes, mut tail, mut count) = ([0f32; LANES], 0f32, 0);
        while count < BLOCK {
            let Some(piece) = pieces.next() else { break };
            let values = piece.chunks_exact(LANES);
            tail += values.remainder().iter().map(|&v| f(v)).sum::<f32>();
            for c in values {
                for k in 0..LANES {
                    lanes[k] += f(c[k]);
                }
            }
            count += piece.len();
        }
        total += lanes.iter().map(|&v| v as f64).sum::<f64>() + tail as f64;
    }
    total
}

/// The sums of both terms of `f` over the values of all pairs of rows, as `lane_sum_rows` sums.
pub(crate) fn lane_sums_rows<'a>(
    rows: impl IntoIterator<Item = (&'a [f32], &'a [f32])>,
    f: impl Fn(f32, f32) -> (f32, f32),
) -> (f64, f64) {
    let mut pieces = rows
        .into_iter()
        .flat_map(|(a, b)| a.chunks(BLOCK).zip(b.chunks(BLOCK)))
        .peekable();
    let mut total = (0f64, 0f64);
    while pieces.peek().is_some() {
        let (mut l1, mut l2, mut count) = ([0f32; LANES], [0f32; LANES], 0);
        while count < BLOCK {
            let Some((a, b)) = pieces.next() else { break };
            let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
            for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
                let (p, q) = f(x, y);
                l1[0] += p;
                l2[0] += q;
            }
            for (x, y) in ca.zip(cb) {
                for k in 0..LANES {
                    let (p, q) = f(x[k], y[k]);
                    l1[k] += p;
                    l2[k] += q;
                }
            }
            count += a.len();
        }
        total.0 += l1.iter().map(|&v| v as f64).sum::<f64>();
        total.1 += l2.iter().map(|&v| v as f64).sum::<f64>();
    }
    total
}
