//! Helpers for the crate's unit tests: one way to make values and leaves, one closeness check,
//! finite-difference gradients, and `test_device!`, which runs a test body once per device this
//! build can place tensors on, with the CPU kernels as the reference.

use crate::autograd::NoGradGuard;
use crate::device::Device;
use crate::error::Result;
use crate::tensor::Tensor;

/// The devices a test body runs on. The CPU is always first: it is the reference the others are
/// compared with. A CUDA device joins when tensors can live there and one is present.
pub(crate) fn devices() -> Vec<Device> {
    let mut devices = vec![Device::Cpu];
    let cuda = (0..crate::cuda::device_count()).map(Device::Cuda);
    devices.extend(cuda.filter(|d| d.ensure_available("test").is_ok()));
    devices
}

/// Runs the body once per device in [`devices`], with `$device` bound to it:
///
/// ```ignore
/// test_device!(fn relu_matches_the_reference(device) {
///     let x = tensor(&[4], 1, device);
///     assert_close(&x.relu().unwrap().to_vec_f32().unwrap(), &want, 1e-6);
/// });
/// ```
macro_rules! test_device {
    ($(#[$attr:meta])* fn $name:ident($device:ident) $body:block) => {
        #[test]
        $(#[$attr])*
        fn $name() {
            for $device in $crate::testing::devices() {
                let run = || $body;
                if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
                    eprintln!("{} failed on {}", stringify!($name), $device);
                    std::panic::resume_unwind(panic);
                }
            }
        }
    };
}
pub(crate) use test_device;

/// The device `cuda_test!` bodies run on: the CPU shim (`FERRITE_CUDA_SHIM`, in
/// `npm run test:cuda`) or a GPU. Panics with the reason when there is neither.
pub(crate) fn cuda_device() -> Device {
    let device = Device::Cuda(0);
    if let Err(e) = device.ensure_available("test") {
        panic!("this test needs a CUDA device or the CPU shim (npm run test:cuda): {e}");
    }
    device
}

/// A test of the CUDA backend against the CPU: ignored by a plain `cargo test` (no device), run
/// by `npm run test:cuda` on the CPU shim and by the device script on a GPU
/// (`cargo test -- --ignored cuda`).
macro_rules! cuda_test {
    ($(#[$attr:meta])* fn $name:ident($device:ident) $body:block) => {
        #[test]
        #[ignore = "needs a CUDA device or the CPU shim (npm run test:cuda)"]
        $(#[$attr])*
        fn $name() {
            let $device = $crate::testing::cuda_device();
            $body
        }
    };
}
pub(crate) use cuda_test;

/// Checks that `on_device` (any device) holds the values of the CPU reference `want`, relative to
/// max(|want|, 1), with the same shape and dtype.
#[track_caller]
pub(crate) fn assert_same_values(on_device: &Tensor, want: &Tensor, tol: f64) {
    assert_eq!(on_device.shape(), want.shape(), "shapes differ");
    assert_eq!(on_device.dtype(), want.dtype(), "dtypes differ");
    let got = on_device
        .to_device(Device::Cpu)
        .unwrap()
        .to_vec_f64()
        .unwrap();
    let want = want.to_vec_f64().unwrap();
    for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
        let same_nan = g.is_nan() && w.is_nan();
        assert!(
            same_nan || g == w || (g - w).abs() <= tol * w.abs().max(1.0),
            "element {i}: {g} on the device vs {w} on the CPU"
        );
    }
}

/// Deterministic, non-uniform values in [-1, 1) so that gradients are not all alike.
pub(crate) fn values(n: usize, seed: u64) -> Vec<f32> {
    (0..n)
        .map(|i| (((i as u64 * 2654435761 + seed * 40503) % 1000) as f32 / 500.0) - 1.0)
        .collect()
}

/// A float32 tensor of [`values`] on `device`.
pub(crate) fn tensor(shape: &[usize], seed: u64, device: Device) -> Tensor {
    floats(values(shape.iter().product(), seed), shape, device)
}

/// A float32 tensor of the given values on `device`.
pub(crate) fn floats(data: Vec<f32>, shape: &[usize], device: Device) -> Tensor {
    let t = Tensor::from_f32(data, shape).unwrap();
    t.to_device(device).unwrap()
}

/// A leaf of [`values`] on the CPU that requires grad.
pub(crate) fn leaf(shape: &[usize], seed: u64) -> Tensor {
    leaf_on(shape, seed, Device::Cpu)
}

/// A leaf of [`values`] on `device` that requires grad.
pub(crate) fn leaf_on(shape: &[usize], seed: u64, device: Device) -> Tensor {
    let t = tensor(shape, seed, device).detach();
    t.set_requires_grad(true).unwrap();
    t
}

/// Element-wise closeness of a float32 result to a float64 reference, relative to max(|want|, 1).
#[track_caller]
pub(crate) fn assert_close(got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "lengths differ");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g as f64 - w).abs() <= tol * w.abs().max(1.0),
            "element {i}: {g} vs {w}"
        );
    }
}

/// Like [`assert_close`], for a float32 reference.
#[track_caller]
pub(crate) fn assert_close_f32(got: &[f32], want: &[f32], tol: f64) {
    let want: Vec<f64> = want.iter().map(|&w| w as f64).collect();
    assert_close(got, &want, tol);
}

/// Checks the gradients of `(f(inputs) * R).sum()` for a fixed non-uniform `R` against central
/// differences, element by element, on the inputs' device.
///
/// The reference is float64 built from float32 evaluations: each output element's change
/// `f_j(x + h) - f_j(x - h)` is formed and weighted by `R_j` in float64 (elements the step does
/// not reach cancel exactly), so no float32 sum of the whole loss cancels, and the step is the one
/// actually taken, `fl(x + h) - fl(x - h)`. What is left is the float32 rounding of the changed
/// outputs, a few units in the last place each and independent, divided by the step:
/// `noise = 8 u sqrt(sum_j (R_j (|f_j(x + h)| + |f_j(x - h)|))^2) / 2h` with `u = 2^-24`; and the
/// central difference's truncation error `h^2 f'''(x) / 6`, about 2e-5 of the gradient for
/// h = 1e-2 on smooth ops. The gradient must match within `GRAD_RTOL` of
/// max(|numeric|, `GRAD_FLOOR`) plus that noise, so a backward 2 % off fails. Inputs must sit at
/// least `h` from any kink.
pub(crate) fn gradcheck(inputs: &[Tensor], f: impl Fn(&[Tensor]) -> Result<Tensor>) {
    const STEP: f32 = 1e-2;
    const GRAD_RTOL: f64 = 2e-3;
    const GRAD_FLOOR: f64 = 1e-2;
    const UNIT_ROUNDOFF: f64 = 1.0 / (1u64 << 24) as f64;
    let out = f(inputs).unwrap();
    let weights: Vec<f32> = values(out.numel(), 99).iter().map(|v| v + 1.5).collect();
    Tensor::from_f32(weights.clone(), out.shape())
        .unwrap()
        .to_device(out.device())
        .and_then(|w| out.mul(&w))
        .and_then(|weighted| weighted.sum(&[], false))
        .and_then(|loss| loss.backward(None, false))
        .unwrap();
    for (k, x) in inputs.iter().enumerate() {
        let analytic = x
            .grad()
            .expect("input got no gradient")
            .to_vec_f32()
            .unwrap();
        let base = x.to_vec_f32().unwrap();
        for i in 0..base.len() {
            // f's outputs, as float64, with element i of input k set to `value`.
            let outputs_at = |value: f32| -> Vec<f64> {
                let mut v = base.clone();
                v[i] = value;
                let mut xs = inputs.to_vec();
                xs[k] = Tensor::from_f32(v, x.shape())
                    .unwrap()
                    .to_device(x.device())
                    .unwrap();
                let _g = NoGradGuard::new();
                f(&xs).unwrap().to_vec_f64().unwrap()
            };
            let (above, below) = (base[i] + STEP, base[i] - STEP);
            let (up, down) = (outputs_at(above), outputs_at(below));
            let step = above as f64 - below as f64;
            // The weighted change, and the sum of squares of what bounds its rounding.
            let (mut change, mut noise) = (0.0, 0.0);
            for ((&u, &d), &r) in up.iter().zip(&down).zip(&weights) {
                if u != d {
                    change += r as f64 * (u - d);
                    noise += (r as f64 * (u.abs() + d.abs())).powi(2);
                }
            }
            let numeric = change / step;
            let a = analytic[i] as f64;
            let rounding = 8.0 * UNIT_ROUNDOFF * noise.sqrt() / step;
            let tol = GRAD_RTOL * numeric.abs().max(GRAD_FLOOR) + rounding;
            assert!(
                (a - numeric).abs() <= tol,
                "input {k} element {i}: analytic {a} vs numeric {numeric} (tolerance {tol:.2e})"
            );
        }
    }
}
