use rayon::prelude::*;

use super::{AdamOptions, SgdOptions};
use crate::cpu::PARALLEL_MIN_ELEMS;

/// Elements per rayon task for the update loops.
const CHUNK: usize = 1 << 14;

pub(super) fn sgd_plain(p: &mut [f32], g: &[f32], o: &SgdOptions) {
    let (lr, wd) = (o.lr as f32, o.weight_decay as f32);
    let sign = if o.maximize { -1.0 } else { 1.0 };
    let update = |p: &mut [f32], g: &[f32]| {
        for (p, &g) in p.iter_mut().zip(g) {
            *p -= lr * (sign * g + wd * *p);
        }
    };
    if p.len() >= PARALLEL_MIN_ELEMS {
        p.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .for_each(|(p, g)| update(p, g));
    } else {
        update(p, g);
    }
}

pub(super) fn sgd_momentum(
    p: &mut [f32],
    g: &[f32],
    buf: &mut [f32],
    first_step: bool,
    o: &SgdOptions,
) {
    let (lr, wd, mu, damp) = (
        o.lr as f32,
        o.weight_decay as f32,
        o.momentum as f32,
        o.dampening as f32,
    );
    let (sign, nesterov) = (if o.maximize { -1.0 } else { 1.0 }, o.nesterov);
    let update = |p: &mut [f32], g: &[f32], buf: &mut [f32]| {
        for ((p, &g), b) in p.iter_mut().zip(g).zip(buf) {
            let d = sign * g + wd * *p;
            *b = if first_step {
                d
            } else {
                mu * *b + (1.0 - damp) * d
            };
            *p -= lr * if nesterov { d + mu * *b } else { *b };
        }
    };
    if p.len() >= PARALLEL_MIN_ELEMS {
        p.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(buf.par_chunks_mut(CHUNK))
            .for_each(|((p, g), b)| update(p, g, b));
    } else {
        update(p, g, buf);
    }
}

pub(super) fn adam(
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    vmax: Option<&mut [f32]>,
    step: u64,
    o: &AdamOptions,
) {
    let (beta1, beta2) = (o.beta1 as f32, o.beta2 as f32);
    let bias_correction1 = 1.0 - o.beta1.powi(step as i32);
    let bias_correction2_sqrt = (1.0 - o.beta2.powi(step as i32)).sqrt() as f32;
    let step_size = (o.lr / bias_correction1) as f32;
    let (eps, sign) = (o.eps as f32, if o.maximize { -1.0 } else { 1.0 });
    let shrink = if o.decoupled_weight_decay {
        1.0 - (o.lr * o.weight_decay) as f32
    } else {
        1.0
    };
    let coupled_wd = if o.decoupled_weight_decay {
        0.0
    } else {
        o.weight_decay as f32
    };
    let update =
        |p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], mut vmax: Option<&mut [f32]>| {
            for i in 0..p.len() {
                p[i] *= shrink;
                let grad = sign * g[i] + coupled_wd * p[i];
                // m.lerp_(grad, 1 - beta1), as PyTorch writes it.
                m[i] += (grad - m[i]) * (1.0 - beta1);
                v[i] = beta2 * v[i] + (1.0 - beta2) * grad * grad;
                let second = match vmax.as_deref_mut() {
                    Some(vmax) => {
                        vmax[i] = vmax[i].max(v[i]);
                        vmax[i]
                    }
                    None => v[i],
                };
                p[i] -= step_size * m[i] / (second.sqrt() / bias_correction2_sqrt + eps);
            }
        };
    let parallel = p.len() >= PARALLEL_MIN_ELEMS;
    match vmax {
        Some(vmax) if parallel => p
            .par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .zip(vmax.par_chunks_mut(CHUNK))
            .for_each(|((((p, g), m), v), vmax)| update(p, g, m, v, Some(vmax))),
        None if parallel => p
            .par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .for_each(|(((p, g), m), v)| update(p, g, m, v, None)),
        vmax => update(p, g, m, v, vmax),
    }
}

/// The sum of `|x|^p` over `values` in float64, or the largest `|x|` when `p` is infinite (NaN
/// if any element is NaN).
pub(super) fn norm_part(values: &[f32], p: f64) -> f64 {
    let part = |chunk: &[f32]| -> f64 {
        if p.is_infinite() {
            chunk.iter().fold(0.0f64, |m, &x| {
                let a = (x as f64).abs();
                if a.is_nan() || m.is_nan() {
                    f64::NAN
                } else {
                    m.max(a)
                }
            })
        } else if p == 2.0 {
            chunk.iter().map(|&x| (x as f64) * (x as f64)).sum()
        } else if p == 1.0 {
            chunk.iter().map(|&x| (x as f64).abs()).sum()
        } else {
            chunk.iter().map(|&x| (x as f64).abs().powf(p)).sum()
        }
    };
    let combine = |a: f64, b: f64| {
        if !p.is_infinite() {
            a + b
        } else if a.is_nan() || b.is_nan() {
            f64::NAN
        } else {
            a.max(b)
        }
    };
    if values.len() >= PARALLEL_MIN_ELEMS {
        values.par_chunks(CHUNK).map(part).reduce(|| 0.0, combine)
    } else {
        part(values)
    }
}

/// Multiplies every element by `coef`.
pub(super) fn scale(values: &mut [f32], coef: f32) {
    let update = |chunk: &mut [f32]| chunk.iter_mut().for_each(|x| *x *= coef);
    if values.len() >= PARALLEL_MIN_ELEMS {
        values.par_chunks_mut(CHUNK).for_each(update);
    } else {
        update(values);
    }
}

/// Clamps every element into `[-bound, bound]`, keeping NaN.
pub(super) fn clamp(values: &mut [f32], bound: f32) {
    let update = |chunk: &mut [f32]| {
        chunk.iter_mut().for_each(|x| {
            *x = if x.is_nan() {
                *x
            } else {
                x.clamp(-bound, bound)
            }
        })
    };
    if values.len() >= PARALLEL_MIN_ELEMS {
        values.par_chunks_mut(CHUNK).for_each(update);
    } else {
        update(values);
    }
}
