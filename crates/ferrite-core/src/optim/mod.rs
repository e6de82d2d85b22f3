//! Optimizer update rules, applied in place to one parameter per call with PyTorch's exact
//! arithmetic (`torch.optim.SGD`, `Adam`, `AdamW`). The caller keeps the per-parameter state
//! tensors (momentum buffer, moments) and the step count.

mod cpu;

use crate::autograd::NoGradGuard;
use crate::error::{Error, Result, ShapeDisplay};
use crate::tensor::Tensor;

#[derive(Debug, Clone, Copy)]
pub struct SgdOptions {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub maximize: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct AdamOptions {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub amsgrad: bool,
    pub maximize: bool,
    /// AdamW: weight decay shrinks the parameter directly instead of joining the gradient.
    pub decoupled_weight_decay: bool,
}

fn check_state(op: &'static str, param: &Tensor, name: &str, state: &Tensor) -> Result<()> {
    if state.shape() != param.shape() {
        return Err(Error::shape(
            op,
            format!(
                "{name} has shape {} but the parameter has shape {}",
                ShapeDisplay(state.shape()),
                ShapeDisplay(param.shape())
            ),
        ));
    }
    Ok(())
}

/// One SGD step. `momentum_buffer` is required when `momentum != 0`; on the first step
/// (`first_step`) it is set to the gradient, as PyTorch does.
pub fn sgd_step(
    param: &Tensor,
    grad: &Tensor,
    momentum_buffer: Option<&Tensor>,
    first_step: bool,
    o: &SgdOptions,
) -> Result<()> {
    check_state("sgd", param, "grad", grad)?;
    if o.nesterov && (o.momentum <= 0.0 || o.dampening != 0.0) {
        return Err(Error::invalid(
            "sgd",
            "nesterov momentum requires a momentum and zero dampening",
        ));
    }
    let buffer = match (o.momentum != 0.0, momentum_buffer) {
        (true, Some(b)) => {
            check_state("sgd", param, "momentum buffer", b)?;
            Some(b)
        }
        (true, None) => {
            return Err(Error::invalid(
                "sgd",
                "momentum is set but no momentum buffer was given",
            ))
        }
        (false, _) => None,
    };
    let _no_grad = NoGradGuard::new();
    grad.read_f32("sgd", |g| {
        param.write_f32("sgd", |p| match buffer {
            Some(b) => b.write_f32("sgd", |buf| cpu::sgd_momentum(p, g, buf, first_step, o)),
            None => {
                cpu::sgd_plain(p, g, o);
                Ok(())
            }
        })
    })???;
    Ok(())
}

/// One Adam/AdamW step; `step` counts from 1 and drives the bias corrections.
pub fn adam_step(
    param: &Tensor,
    grad: &Tensor,
    exp_avg: &Tensor,
    exp_avg_sq: &Tensor,
    max_exp_avg_sq: Option<&Tensor>,
    step: u64,
    o: &AdamOptions,
) -> Result<()> {
    check_state("adam", param, "grad", grad)?;
    check_state("adam", param, "exp_avg", exp_avg)?;
    check_state("adam", param, "exp_avg_sq", exp_avg_sq)?;
    if step == 0 {
        return Err(Error::invalid("adam", "step counts from 1"));
    }
    let max_sq = match (o.amsgrad, max_exp_avg_sq) {
        (true, Some(m)) => {
            check_state("adam", param, "max_exp_avg_sq", m)?;
            Some(m)
        }
        (true, None) => {
            return Err(Error::invalid(
                "adam",
                "amsgrad is set but no max_exp_avg_sq state was given",
            ))
        }
        (false, _) => None,
    };
    let _no_grad = NoGradGuard::new();
    grad.read_f32("adam", |g| {
        param.write_f32("adam", |p| {
            exp_avg.write_f32("adam", |m| {
                exp_avg_sq.write_f32("adam", |v| match max_sq {
                    Some(max) => {
                        max.write_f32("adam", |vmax| cpu::adam(p, g, m, v, Some(vmax), step, o))
                    }
                    None => {
                        cpu::adam(p, g, m, v, None, step, o);
                        Ok(())
                    }
                })
            })
        })
    })?????;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f32]) -> Tensor {
        Tensor::from_f32(v.to_vec(), &[v.len()]).unwrap()
    }

    /// Reference in f64 of torch.optim.Adam's update for one scalar, several steps.
    fn adam_reference(mut p: f64, grads: &[f64], o: &AdamOptions) -> f64 {
        let (mut m, mut v, mut vmax) = (0.0, 0.0, 0.0f64);
        for (i, &g0) in grads.iter().enumerate() {
            let step = (i + 1) as f64;
            let mut g = if o.maximize { -g0 } else { g0 };
            if o.decoupled_weight_decay {
                p *= 1.0 - o.lr * o.weight_decay;
            } else {
                g += o.weight_decay * p;
            }
            m = o.beta1 * m + (1.0 - o.beta1) * g;
            v = o.beta2 * v + (1.0 - o.beta2) * g * g;
            let bc1 = 1.0 - o.beta1.powf(step);
            let bc2 = 1.0 - o.beta2.powf(step);
            vmax = vmax.max(v);
            let second = if o.amsgrad { vmax } else { v };
            p -= o.lr / bc1 * m / (second.sqrt() / bc2.sqrt() + o.eps);
        }
        p
    }

    #[test]
    fn adam_matches_the_reference_over_several_steps() {
        for (amsgrad, decoupled, wd) in
            [(false, false, 0.0), (true, false, 0.1), (false, true, 0.01)]
        {
            let o = AdamOptions {
                lr: 0.01,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: wd,
                amsgrad,
                maximize: false,
                decoupled_weight_decay: decoupled,
            };
            let grads = [0.5, -1.0, 0.25, 2.0];
            let p = t(&[1.5]);
            let (m, v, vmax) = (t(&[0.0]), t(&[0.0]), t(&[0.0]));
            for (i, &g) in grads.iter().enumerate() {
                adam_step(
                    &p,
                    &t(&[g as f32]),
                    &m,
                    &v,
                    amsgrad.then_some(&vmax),
                    i as u64 + 1,
                    &o,
                )
                .unwrap();
            }
            let want = adam_reference(1.5, &grads, &o);
            let got = p.item().unwrap();
            assert!(
                (got - want).abs() < 1e-6,
                "amsgrad {amsgrad} decoupled {decoupled}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn sgd_momentum_and_nesterov_follow_pytorch() {
        // Hand-checkable: p=1, lr=0.1, momentum 0.9, grads 1 then 1.
        let o = SgdOptions {
            lr: 0.1,
            momentum: 0.9,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
        };
        let (p, buf) = (t(&[1.0]), t(&[0.0]));
        sgd_step(&p, &t(&[1.0]), Some(&buf), true, &o).unwrap();
        assert!((p.item().unwrap() - 0.9).abs() < 1e-7); // buf = 1
        sgd_step(&p, &t(&[1.0]), Some(&buf), false, &o).unwrap();
        assert!((p.item().unwrap() - 0.71).abs() < 1e-6); // buf = 1.9
        let nesterov = SgdOptions {
            nesterov: true,
            ..o
        };
        let (q, qbuf) = (t(&[1.0]), t(&[0.0]));
        sgd_step(&q, &t(&[1.0]), Some(&qbuf), true, &nesterov).unwrap();
        assert!((q.item().unwrap() - (1.0 - 0.1 * 1.9)).abs() < 1e-6); // d = g + 0.9 * buf
        let decay = SgdOptions {
            momentum: 0.0,
            weight_decay: 0.5,
            ..o
        };
        let r = t(&[2.0]);
        sgd_step(&r, &t(&[1.0]), None, true, &decay).unwrap();
        assert!((r.item().unwrap() - (2.0 - 0.1 * 2.0)).abs() < 1e-6);
    }

    #[test]
    fn state_shapes_are_checked() {
        let o = SgdOptions {
            lr: 0.1,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
        };
        assert_eq!(
            sgd_step(&t(&[1.0, 2.0]), &t(&[1.0]), None, true, &o)
                .unwrap_err()
                .code(),
            "ShapeMismatch"
        );
    }
}
