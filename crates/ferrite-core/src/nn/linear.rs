//! `linear`: `x @ weight^T + bias`, composed from `matmul` on a transposed view (no copy) and a
//! broadcasting add, so its gradients come from theirs.

use crate::autocast::Policy;
use crate::error::{Error, Result, ShapeDisplay};
use crate::nn::Activation;
use crate::tensor::Tensor;

impl Tensor {
    /// `self @ weight^T + bias` for `self` of shape `[..., in]`, `weight` `[out, in]` and `bias`
    /// `[out]`, giving `[..., out]`.
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let features = self.linear_features(weight, bias)?;
        let (shape, w) = (self.shape(), weight.shape());
        // Outside autocast x, weight and bias share one float dtype, as in PyTorch.
        let operands: Vec<&Tensor> = [Some(self), Some(weight), bias]
            .into_iter()
            .flatten()
            .collect();
        let dtype = Policy::lower_precision("linear", &operands)?.compute;
        // With a bias, PyTorch adds it (in the product's dtype) to the float32 sums and rounds
        // once: the product stays unrounded until then.
        let product = |x: &Tensor, w: &Tensor| match bias {
            Some(_) => x.matmul_unrounded(w),
            None => x.matmul(w),
        };
        let wt = weight.transpose(0, 1)?;
        let product = if shape.len() > 2 {
            // One [rows, in] @ [in, out] product rather than a batch of small ones.
            let mut out_shape: Vec<i64> =
                shape[..shape.len() - 1].iter().map(|&d| d as i64).collect();
            out_shape.push(w[0] as i64);
            product(&self.reshape(&[-1, features as i64])?, &wt)?.reshape(&out_shape)?
        } else {
            product(self, &wt)?
        };
        // Under autocast the bias is cast to bf16 first, as PyTorch casts it; its gradient comes
        // back through the cast in its own dtype.
        match bias {
            Some(b) => product.add(&b.to_dtype(dtype)?)?.to_dtype(dtype),
            None => Ok(product),
        }
    }

    /// `linear` followed by `activation`: the same values and gradients as `linear(...)` then
    /// `relu()` / `relu6()` / `silu()`.
    pub fn linear_activated(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        activation: Activation,
    ) -> Result<Tensor> {
        let mut operands = vec![self, weight];
        operands.extend(bias);
        if activation == Activation::Identity || !Activation::fuses(&operands) {
            return activation.compose(self.linear(weight, bias)?);
        }
        let features = self.linear_features(weight, bias)?;
        let shape = self.shape();
        let rows = self.reshape(&[-1, features as i64])?;
        let y = rows.matmul_activated(&weight.transpose(0, 1)?, bias, activation)?;
        let mut out_shape: Vec<i64> = shape[..shape.len() - 1].iter().map(|&d| d as i64).collect();
        out_shape.push(weight.shape()[0] as i64);
        y.reshape(&out_shape)
    }

    /// The input features of `linear`'s operands, checked against the weight's and the bias's
    /// shapes.
    fn linear_features(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<usize> {
        let (shape, w) = (self.shape(), weight.shape());
        if w.len() != 2 {
            return Err(Error::shape(
                "linear",
                format!(
                    "weight must have shape [out_features, in_features], got {}",
                    ShapeDisplay(w)
                ),
            ));
        }
        let Some(&features) = shape.last() else {
            return Err(Error::shape(
                "linear",
                "the input must have at least 1 dim, got a 0-d tensor",
            ));
        };
        if features != w[1] {
            return Err(Error::shape(
                "linear",
                format!(
                    "input {} has {features} features but weight {} expects {}",
                    ShapeDisplay(shape),
                    ShapeDisplay(w),
                    w[1]
                ),
            ));
        }
        if let Some(b) = bias {
            if b.shape() != [w[0]] {
                return Err(Error::shape(
                    "linear",
                    format!(
                        "bias {} should have shape [{}] to match weight {}",
                        ShapeDisplay(b.shape()),
                        w[0],
                        ShapeDisplay(w)
                    ),
                ));
            }
        }
        Ok(features)
    }
}

#[cfg(test)]
mod tests {
    use crate::device::Device;
    use crate::nn::Activation;
    use crate::tensor::Tensor;
    use crate::testing::{
        assert_close, assert_close_f32, floats, gradcheck, leaf_on, tensor, test_device, values,
    };

    /// `x @ w^T + b` for row-major `[rows, in]`, `[out, in]`, in f64.
    fn naive(x: &[f32], w: &[f32], b: &[f32], inp: usize, out: usize) -> Vec<f64> {
        x.chunks(inp)
            .flat_map(|row| {
                (0..out).map(move |o| {
                    b[o] as f64
                        + (0..inp)
                            .map(|k| row[k] as f64 * w[o * inp + k] as f64)
                            .sum::<f64>()
                })
            })
            .collect()
    }

    test_device!(fn matches_a_float64_reference_for_any_leading_dims(device) {
        let (inp, out) = (5, 3);
        let (w, b) = (values(out * inp, 1), values(out, 2));
        let (tw, tb) = (tensor(&[out, inp], 1, device), tensor(&[out], 2, device));
        // assert_close is relative above 1 and |y| < 2 here: 5e-6 keeps within 1e-5 absolute.
        let tol = 5e-6;
        for shape in [vec![inp], vec![4, inp], vec![2, 3, inp]] {
            let x = values(shape.iter().product(), 3);
            let y = tensor(&shape, 3, device).linear(&tw, Some(&tb)).unwrap();
            assert_eq!(y.shape()[..shape.len() - 1], shape[..shape.len() - 1]);
            assert_eq!(*y.shape().last().unwrap(), out);
            assert_close(&y.to_vec_f32().unwrap(), &naive(&x, &w, &b, inp, out), tol);
        }
        let no_bias = tensor(&[1, inp], 3, device).linear(&tw, None).unwrap();
        let want = naive(&values(inp, 3), &w, &[0.0; 3], inp, out);
        assert_close(&no_bias.to_vec_f32().unwrap(), &want, tol);
    });

    test_device!(fn gradients_match_finite_differences(device) {
        let (x, w, b) = (
            leaf_on(&[4, 5], 4, device),
            leaf_on(&[3, 5], 5, device),
            leaf_on(&[3], 6, device),
        );
        gradcheck(&[x, w, b], |x| x[0].linear(&x[1], Some(&x[2])));
        let (x, w) = (leaf_on(&[2, 3, 5], 7, device), leaf_on(&[3, 5], 8, device));
        gradcheck(&[x, w], |x| x[0].linear(&x[1], None));
    });

    test_device!(fn linear_activated_is_linear_then_the_activation_with_its_gradients(device) {
        let activations = [
            Activation::Identity,
            Activation::Relu,
            Activation::Relu6,
            Activation::Silu,
        ];
        let host = |t: &Tensor| t.to_vec_f32().unwrap();
        for activation in activations {
            for with_bias in [false, true] {
                // Scaled up so that relu6 clips on both sides; 37 outputs end a vector unevenly.
                let xs: Vec<f32> = values(3 * 2 * 20, 15).iter().map(|v| v * 4.0).collect();
                let x = floats(xs, &[3, 2, 20], device);
                x.set_requires_grad(true).unwrap();
                let (w, b) = (leaf_on(&[37, 20], 16, device), leaf_on(&[37], 17, device));
                let bias = with_bias.then_some(&b);
                let fused = x.linear_activated(&w, bias, activation).unwrap();
                let composed = activation.compose(x.linear(&w, bias).unwrap()).unwrap();
                let what = format!("{activation:?} bias {with_bias}");
                assert_eq!(fused.shape(), &[3, 2, 37], "{what}");
                assert_eq!(host(&fused), host(&composed), "{what}");
                let grads = |y: &Tensor| {
                    for t in [&x, &w, &b] {
                        t.set_grad(None).unwrap();
                    }
                    y.sum(&[], false).unwrap().backward(None, false).unwrap();
                    [&x, &w, &b].map(|t| t.grad().map(|g| host(&g)))
                };
                assert_eq!(grads(&fused), grads(&composed), "{what}");
            }
        }
    });

    test_device!(fn linear_activated_without_gradients_matches_the_composed_ops(device) {
        // A vector, a small batch, and rows enough for several blocks of rows, each past the
        // size where gemm runs in parallel; 70 outputs end a vector unevenly.
        let host = |t: &Tensor| t.to_vec_f32().unwrap();
        for shape in [vec![33], vec![2, 3, 33], vec![700, 33]] {
            let n: usize = shape.iter().product();
            let mut xs: Vec<f32> = values(n, 18).iter().map(|v| v * 4.0).collect();
            xs[5] = f32::NAN;
            let x = floats(xs, &shape, device);
            let (w, b) = (tensor(&[70, 33], 19, device), tensor(&[70], 20, device));
            for activation in [Activation::Relu, Activation::Relu6, Activation::Silu] {
                for bias in [None, Some(&b)] {
                    let want = activation.compose(x.linear(&w, bias).unwrap()).unwrap();
                    let got = x.linear_activated(&w, bias, activation).unwrap();
                    assert_eq!(got.shape(), want.shape());
                    let (got, want) = (host(&got), host(&want));
                    let what = format!("{activation:?} {shape:?} bias {}", bias.is_some());
                    // relu keeps the NaN row's NaNs.
                    for (g, w) in got.iter().zip(&want) {
                        assert_eq!(g.is_nan(), w.is_nan(), "{what}");
                    }
                    let finite = |v: &[f32]| v.iter().map(|v| if v.is_nan() { 0.0 } else { *v }).collect::<Vec<_>>();
                    assert_close_f32(&finite(&got), &finite(&want), 1e-6);
                }
            }
        }
    });

    test_device!(fn shape_errors_name_the_features(device) {
        let x = tensor(&[2, 5], 9, device);
        let w = tensor(&[3, 4], 10, device);
        let err = x.linear(&w, None).unwrap_err();
        assert_eq!(err.code(), "ShapeMismatch");
        assert_eq!(
            err.to_string(),
            "linear: input [2, 5] has 5 features but weight [3, 4] expects 4"
        );
        let w = tensor(&[3, 5], 10, device);
        let bad_bias = tensor(&[4], 11, device);
        let flat = x.reshape(&[10]).unwrap();
        for (weight, bias) in [(&w, Some(&bad_bias)), (&flat, None)] {
            assert_eq!(x.linear(weight, bias).unwrap_err().code(), "ShapeMismatch");
        }
    });

    #[test]
    fn under_autocast_the_result_is_bf16_and_the_gradients_float32() {
        use crate::autocast::{self, DeviceType};
        use crate::dtype::DType;
        let device = Device::Cpu;
        let (rows, inp, out) = (6, 40, 7);
        let (x, w, b) = (
            leaf_on(&[rows, inp], 12, device),
            leaf_on(&[out, inp], 13, device),
            leaf_on(&[out], 14, device),
        );
        let previous = autocast::set(DeviceType::Cpu, Some(DType::BF16)).unwrap();
        let y = x.linear(&w, Some(&b));
        autocast::set(DeviceType::Cpu, previous).unwrap();
        let y = y.unwrap();
        let native = autocast::native_bf16(device);
        assert_eq!(y.dtype(), if native { DType::BF16 } else { DType::F32 });
        // Operands rounded to bf16 (2^-8 each) over `inp` terms in [-1, 1], the bias rounded,
        // the result rounded.
        let want = naive(
            &values(rows * inp, 12),
            &values(out * inp, 13),
            &values(out, 14),
            inp,
            out,
        );
        for (g, w) in y.to_vec_f64().unwrap().iter().zip(&want) {
            let tol = inp as f64 * 2f64.powi(-7) + (w.abs() + 1.0) * 2f64.powi(-7);
            assert!((g - w).abs() <= tol, "{g} vs {w} ± {tol}");
        }
        y.to_dtype(DType::F32)
            .unwrap()
            .sum(&[], false)
            .unwrap()
            .backward(None, false)
            .unwrap();
        for t in [&x, &w, &b] {
            assert_eq!(t.grad().unwrap().dtype(), DType::F32);
        }
        // d(sum y)/db = rows, exactly; d/dw[o][i] = sum over rows of x[r][i].
        assert!(b
            .grad()
            .unwrap()
            .to_vec_f32()
            .unwrap()
            .iter()
            .all(|&g| g == rows as f32));
        let xs = values(rows * inp, 12);
        for (at, g) in w.grad().unwrap().to_vec_f32().unwrap().iter().enumerate() {
            let want: f64 = (0..rows).map(|r| xs[r * inp + at % inp] as f64).sum();
            assert!(
                (*g as f64 - want).abs() <= rows as f64 * 2f64.powi(-8),
                "{g} vs {want}"
            );
        }
        // Outside autocast the operands must share a dtype, as in PyTorch.
        let h = w.to_dtype(DType::BF16).unwrap();
        assert_eq!(x.linear(&h, Some(&b)).unwrap_err().code(), "DTypeMismatch");
    }

    /// A fixture tensor (`test/fixtures/autocast.json`, from `gen_autocast.py`) in its dtype.
    fn fixture(v: &serde_json::Value) -> crate::tensor::Tensor {
        use crate::dtype::DType;
        let shape: Vec<usize> = v["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect();
        let data = v["data"].as_array().unwrap();
        let data: Vec<f32> = data.iter().map(|x| x.as_f64().unwrap() as f32).collect();
        let t = crate::tensor::Tensor::from_f32(data, &shape).unwrap();
        match v["dtype"].as_str() {
            Some("bfloat16") => t.to_dtype(DType::BF16).unwrap(),
            _ => t,
        }
    }

    #[test]
    fn linear_and_matmul_match_pytorch_under_autocast() {
        use crate::autocast::{self, DeviceType};
        use crate::dtype::DType;
        if !autocast::native_bf16(Device::Cpu) {
            eprintln!("skipped: no bf16 kernels on this CPU, so autocast stays in float32");
            return;
        }
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../test/fixtures/autocast.json"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let fixtures: serde_json::Value = serde_json::from_str(&text).unwrap();
        let cases = fixtures["cases"].as_array().unwrap();
        let ops = cases
            .iter()
            .filter(|c| c["name"] == "linear" || c["name"] == "matmul");
        for case in ops {
            let name = case["name"].as_str().unwrap();
            let inputs: Vec<_> = case["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .map(fixture)
                .collect();
            for x in &inputs {
                x.set_requires_grad(true).unwrap();
            }
            let previous = autocast::set(DeviceType::Cpu, Some(DType::BF16)).unwrap();
            let out = match name {
                "linear" => inputs[0].linear(&inputs[1], Some(&inputs[2])),
                _ => inputs[0].matmul(&inputs[1]),
            };
            autocast::set(DeviceType::Cpu, previous).unwrap();
            let out = out.unwrap();
            assert_eq!(out.dtype(), DType::BF16, "{name}");
            // The same bf16 result up to the order of the float32 sums: at most one bf16 step.
            let want = fixture(&case["output"]).to_vec_f64().unwrap();
            for (g, w) in out.to_vec_f64().unwrap().iter().zip(&want) {
                assert!(
                    (g - w).abs() <= w.abs() * 2f64.powi(-7),
                    "{name}: {g} vs {w}"
                );
            }
            out.backward(Some(&fixture(&case["upstream"])), false)
                .unwrap();
            // PyTorch rounds a float32 input's gradient through bf16 (2^-8); ours is not.
            for (x, grad) in inputs.iter().zip(case["grads"].as_array().unwrap()) {
                let got = x.grad().unwrap();
                assert_eq!(got.dtype(), DType::F32, "{name}");
                let want = fixture(grad).to_vec_f64().unwrap();
                for (g, w) in got.to_vec_f64().unwrap().iter().zip(&want) {
                    let tol = w.abs() * 2f64.powi(-8) + 1e-5;
                    assert!((g - w).abs() <= tol, "{name} gradient: {g} vs {w}");
                }
            }
        }
    }
}
