//! Multi-tensor optimizer updates on a CUDA device (`optim.cu`): every parameter of a step in one
//! launch. The tensors are described in a small int64 buffer uploaded with the launch (addresses,
//! lengths, per-tensor scalars), so any number of them fit; the work is cut into chunks that one
//! block each updates. The scalars are rounded to f32 exactly as cpu.rs rounds them.

use std::sync::Arc;

use super::{AdamOptions, SgdOptions};
use crate::cuda::{self, CudaDevice, CudaStorage, LaunchConfig, Module};
use crate::error::Result;
use crate::layout::Layout;
use crate::storage::CpuStorage;

pub(crate) static MODULE: Module = Module::new("optim", include_str!("optim.cu"));

/// Elements one block updates per work item.
const CHUNK: usize = 1 << 14;
const THREADS: u32 = 256;
/// Int64 slots per tensor (`OPTIM_SLOTS` in optim.cu).
const SLOTS: usize = 8;

/// One tensor of an SGD step: device addresses (`buffer` 0 without momentum) and length.
pub(super) struct SgdTensor {
    pub param: u64,
    pub grad: u64,
    pub buffer: u64,
    pub len: usize,
    pub first_step: bool,
}

/// One tensor of an Adam step: device addresses (`max_exp_avg_sq` 0 without amsgrad), length
/// and its step count.
pub(super) struct AdamTensor {
    pub param: u64,
    pub grad: u64,
    pub exp_avg: u64,
    pub exp_avg_sq: u64,
    pub max_exp_avg_sq: u64,
    pub len: usize,
    pub step: u64,
}

/// The tensors' rows and the work items after them, on the device; the addresses of both parts
/// and the number of work items. The buffer must live until the launch is queued.
fn describe(
    device: &Arc<CudaDevice>,
    rows: Vec<[i64; SLOTS]>,
) -> Result<(CudaStorage, u64, u64, i64)> {
    let mut data: Vec<i64> = rows.iter().flatten().copied().collect();
    let mut items = 0i64;
    for (t, row) in rows.iter().enumerate() {
        let len = row[5] as usize;
        for start in (0..len).step_by(CHUNK) {
            data.extend([t as i64, start as i64]);
            items += 1;
        }
    }
    let layout = Layout::contiguous(&[data.len()]);
    let meta = CudaStorage::upload(device, &CpuStorage::I64(data), &layout)?;
    let tensors = meta.ptr::<i64>("optim", &layout)?;
    let work = tensors + (rows.len() * SLOTS * std::mem::size_of::<i64>()) as u64;
    Ok((meta, tensors, work, items))
}

/// One SGD step of every tensor in `tensors`, all on `device`.
pub(super) fn sgd(device: &Arc<CudaDevice>, tensors: &[SgdTensor], o: &SgdOptions) -> Result<()> {
    let rows = tensors
        .iter()
        .map(|t| {
            let (p, g, b) = (t.param as i64, t.grad as i64, t.buffer as i64);
            [p, g, b, 0, 0, t.len as i64, t.first_step as i64, 0]
        })
        .collect();
    let (_meta, tp, wp, items) = describe(device, rows)?;
    if items == 0 {
        return Ok(());
    }
    // As cpu.rs rounds them.
    let (lr, wd, mu, damp) = (
        o.lr as f32,
        o.weight_decay as f32,
        o.momentum as f32,
        o.dampening as f32,
    );
    let (sign, nesterov) = (if o.maximize { -1.0f32 } else { 1.0 }, o.nesterov as i32);
    let chunk = CHUNK as i64;
    // SAFETY: `tp` and `wp` point into `_meta`, alive until the launch is queued; each row holds
    // addresses of live f32 blocks of its length (momentum buffers too, or 0); stream-ordered.
    unsafe {
        device.launch(
            "sgd",
            &MODULE,
            "optim_sgd_f32",
            LaunchConfig::rows(items as usize, THREADS, 0),
            &mut cuda::args![tp, wp, items, chunk, lr, wd, mu, damp, sign, nesterov],
        )
    }
}

/// The f32 step size `lr / (1 - beta1^step)` and `sqrt(1 - beta2^step)`, as cpu.rs computes them.
fn bias_corrections(o: &AdamOptions, step: u64) -> (f32, f32) {
    let bias_correction1 = 1.0 - o.beta1.powi(step as i32);
    let bias_correction2_sqrt = (1.0 - o.beta2.powi(step as i32)).sqrt() as f32;
    ((o.lr / bias_correction1) as f32, bias_correction2_sqrt)
}

/// One Adam/AdamW step of every tensor in `tensors`, all on `device`.
pub(super) fn adam(
    device: &Arc<CudaDevice>,
    tensors: &[AdamTensor],
    o: &AdamOptions,
) -> Result<()> {
    let rows = tensors
        .iter()
        .map(|t| {
            let (step_size, bc2_sqrt) = bias_corrections(o, t.step);
            let addresses = [t.param, t.grad, t.exp_avg, t.exp_avg_sq, t.max_exp_avg_sq];
            let [p, g, m, v, vmax] = addresses.map(|a| a as i64);
            let (s0, s1) = (step_size.to_bits() as i64, bc2_sqrt.to_bits() as i64);
            [p, g, m, v, vmax, t.len as i64, s0, s1]
        })
        .collect();
    let (_meta, tp, wp, items) = describe(device, rows)?;
    if items == 0 {
        return Ok(());
    }
    // As cpu.rs rounds them.
    let (beta1, beta2, eps) = (o.beta1 as f32, o.beta2 as f32, o.eps as f32);
    let sign = if o.maximize { -1.0f32 } else { 1.0 };
    let (shrink, coupled_wd) = if o.decoupled_weight_decay {
        (1.0 - (o.lr * o.weight_decay) as f32, 0.0f32)
    } else {
        (1.0f32, o.weight_decay as f32)
    };
    let chunk = CHUNK as i64;
    // SAFETY: as in `sgd`: the rows hold addresses of live f32 blocks of their lengths (or 0 for
    // a missing max_exp_avg_sq); stream-ordered.
    unsafe {
        device.launch(
            "adam",
            &MODULE,
            "optim_adam_f32",
            LaunchConfig::rows(items as usize, THREADS, 0),
            &mut cuda::args![tp, wp, items, chunk, beta1, beta2, eps, sign, shrink, coupled_wd],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{adam, sgd};
    use super::super::{adam_step_many, sgd_step_many, AdamParam, SgdParam};
    use super::*;
    use crate::device::Device;
    use crate::tensor::Tensor;
    use crate::testing::{assert_same_values, cuda_test, values};

    /// Parameter lengths: odd, and one over a chunk so that two blocks share a tensor.
    const LENS: [usize; 5] = [1, 7, 33, 1031, CHUNK + 5];

    fn on(len: usize, seed: u64, device: Device) -> Tensor {
        let t = Tensor::from_f32(values(len, seed), &[len]).unwrap();
        t.to_device(device).unwrap()
    }

    fn zeros(len: usize, device: Device) -> Tensor {
        Tensor::from_f32(vec![0.0; len], &[len])
            .unwrap()
            .to_device(device)
            .unwrap()
    }

    /// Parameters and momentum buffers after three SGD steps with the same gradients.
    fn sgd_run(o: &SgdOptions, device: Device) -> Vec<Tensor> {
        let params: Vec<Tensor> = LENS.iter().map(|&n| on(n, n as u64, device)).collect();
        let buffers: Vec<Tensor> = LENS.iter().map(|&n| zeros(n, device)).collect();
        for step in 0..3 {
            let grads: Vec<Tensor> = LENS.iter().map(|&n| on(n, 7 + step, device)).collect();
            let list: Vec<SgdParam> = (0..LENS.len())
                .map(|i| SgdParam {
                    param: &params[i],
                    grad: &grads[i],
                    momentum_buffer: Some(&buffers[i]),
                    first_step: step == 0,
                })
                .collect();
            sgd_step_many(&list, o).unwrap();
        }
        params.into_iter().chain(buffers).collect()
    }

    /// Parameters and moments after three Adam steps; the last parameter starts a step later, so
    /// per-tensor step counts differ within a launch.
    fn adam_run(o: &AdamOptions, device: Device) -> Vec<Tensor> {
        let params: Vec<Tensor> = LENS.iter().map(|&n| on(n, n as u64, device)).collect();
        let state = || -> Vec<Tensor> { LENS.iter().map(|&n| zeros(n, device)).collect() };
        let (m, v, vmax) = (state(), state(), state());
        for step in 1..=3u64 {
            let grads: Vec<Tensor> = LENS.iter().map(|&n| on(n, 9 + step, device)).collect();
            let list: Vec<AdamParam> = (0..LENS.len())
                .filter(|&i| i + 1 < LENS.len() || step > 1)
                .map(|i| AdamParam {
                    param: &params[i],
                    grad: &grads[i],
                    exp_avg: &m[i],
                    exp_avg_sq: &v[i],
                    max_exp_avg_sq: Some(&vmax[i]),
                    step: if i + 1 < LENS.len() { step } else { step - 1 },
                })
                .collect();
            adam_step_many(&list, o).unwrap();
        }
        [params, m, v, vmax].concat()
    }

    cuda_test!(fn sgd_steps_match_the_cpu(device) {
        let cases = [
            sgd(0.0, 0.0, 0.0, false),
            sgd(0.0, 0.0, 0.5, false),
            sgd(0.9, 0.0, 0.0, false),
            sgd(0.9, 0.1, 0.01, false),
            sgd(0.9, 0.0, 0.01, true),
            SgdOptions { maximize: true, ..sgd(0.8, 0.0, 0.0, true) },
        ];
        for o in cases {
            let (want, got) = (sgd_run(&o, Device::Cpu), sgd_run(&o, device));
            for (g, w) in got.iter().zip(&want) {
                assert_same_values(g, w, 1e-6);
            }
        }
    });

    cuda_test!(fn adam_steps_match_the_cpu(device) {
        let cases = [
            adam(0.0, false, false),
            adam(0.1, true, false),
            adam(0.01, false, true),
            AdamOptions { maximize: true, ..adam(0.05, true, true) },
        ];
        for o in cases {
            let (want, got) = (adam_run(&o, Device::Cpu), adam_run(&o, device));
            for (g, w) in got.iter().zip(&want) {
                assert_same_values(g, w, 1e-6);
            }
        }
    });

    cuda_test!(fn a_parameter_twice_is_refused(device) {
        let (p, g) = (on(3, 1, device), on(3, 2, device));
        let twice = [SgdParam { param: &p, grad: &g, momentum_buffer: None, first_step: true }; 2];
        let err = sgd_step_many(&twice, &sgd(0.0, 0.0, 0.0, false)).unwrap_err();
        assert_eq!(err.code(), "InvalidArgument");
        assert_same_values(&p, &on(3, 1, Device::Cpu), 0.0);
    });
}
