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
#[inline(always)]
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

/// The sums of both terms of `f` over the values of all `K`-tuples of rows (rows of a tuple have
/// one length), as `lane_sum_rows` sums.
#[inline(always)]
pub(crate) fn lane_sums_rows<'a, const K: usize>(
    rows: impl IntoIterator<Item = [&'a [f32]; K]>,
    f: impl Fn([f32; K]) -> (f32, f32),
) -> (f64, f64) {
    let mut pieces = rows
        .into_iter()
        .flat_map(|r| {
            let len = r.first().map_or(0, |a| a.len());
            (0..len)
                .step_by(BLOCK)
                .map(move |at| r.map(|a| &a[at..len.min(at + BLOCK)]))
        })
        .peekable();
    let mut total = (0f64, 0f64);
    while pieces.peek().is_some() {
        let (mut l1, mut l2, mut count) = ([0f32; LANES], [0f32; LANES], 0);
        while count < BLOCK {
            let Some(piece) = pieces.next() else { break };
            let len = piece.first().map_or(0, |a| a.len());
            let full = len / LANES * LANES;
            for j in full..len {
                let (p, q) = f(piece.map(|a| a[j]));
                l1[0] += p;
                l2[0] += q;
            }
            for at in (0..full).step_by(LANES) {
                let chunk = piece.map(|a| &a[at..at + LANES]);
                for k in 0..LANES {
                    let (p, q) = f(chunk.map(|a| a[k]));
                    l1[k] += p;
                    l2[k] += q;
                }
            }
            count += len;
        }
        total.0 += l1.iter().map(|&v| v as f64).sum::<f64>();
        total.1 += l2.iter().map(|&v| v as f64).sum::<f64>();
    }
    total
}
