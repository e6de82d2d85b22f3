//! `Display` for tensors, character for character what PyTorch's `_tensor_str.py` prints with
//! its default print options (precision 4, threshold 1000, edge items 3, line width 80).

use std::fmt;

use crate::device::Device;
use crate::dtype::DType;
use crate::storage::CpuStorage;
use crate::tensor::Tensor;

const PRECISION: usize = 4;
const THRESHOLD: usize = 1000;
const EDGE_ITEMS: usize = 3;
const LINE_WIDTH: usize = 80;

/// Row-major values of the tensor, read once.
enum Values {
    Float(Vec<f64>),
    Int(Vec<i64>),
    Bool(Vec<bool>),
}

/// PyTorch's `_Formatter`: picks fixed, integer-like or scientific notation from the values on
/// show, and pads every element to the widest.
struct Formatter {
    float: bool,
    int_mode: bool,
    sci_mode: bool,
    width: usize,
}

impl Formatter {
    fn new(values: &Values, shown: &[usize]) -> Formatter {
        let mut f = Formatter {
            float: false,
            int_mode: true,
            sci_mode: false,
            width: 1,
        };
        match values {
            Values::Int(v) => {
                f.width = shown
                    .iter()
                    .map(|&i| v[i].to_string().len())
                    .max()
                    .unwrap_or(1)
                    .max(1)
            }
            Values::Bool(v) => {
                f.width = shown
                    .iter()
                    .map(|&i| if v[i] { 4 } else { 5 })
                    .max()
                    .unwrap_or(1)
            }
            Values::Float(v) => {
                f.float = true;
                let finite: Vec<f64> = shown
                    .iter()
                    .map(|&i| v[i])
                    .filter(|x| x.is_finite() && *x != 0.0)
                    .collect();
                if finite.is_empty() {
                    return f;
                }
                let min = finite.iter().fold(f64::INFINITY, |a, &x| a.min(x.abs()));
                let max = finite.iter().fold(0f64, |a, &x| a.max(x.abs()));
                f.int_mode = finite.iter().all(|x| x.ceil() == *x);
                let widest = |g: &dyn Fn(f64) -> String| {
                    finite.iter().map(|&x| g(x).len()).max().unwrap_or(1)
                };
                if f.int_mode {
                    if max / min > 1000.0 || max > 1e8 {
                        f.sci_mode = true;
                        f.width = widest(&sci);
                    } else {
                        f.width = widest(&|x| format!("{x:.0}")) + 1;
                    }
                } else if max / min > 1000.0 || max > 1e8 || min < 1e-4 {
                    f.sci_mode = true;
                    f.width = widest(&sci);
                } else {
                    f.width = widest(&|x| format!("{x:.PRECISION$}"));
                }
                f.width = f.width.max(1);
            }
        }
        f
    }

    fn format(&self, values: &Values, i: usize) -> String {
        let s = match values {
            Values::Int(v) => v[i].to_string(),
            Values::Bool(v) => if v[i] { "True" } else { "False" }.to_string(),
            Values::Float(v) => {
                let x = v[i];
                if !x.is_finite() {
                    non_finite(x)
                } else if self.sci_mode {
                    sci(x)
                } else if self.int_mode {
                    format!("{x:.0}.")
                } else {
                    format!("{x:.PRECISION$}")
                }
            }
        };
        debug_assert!(self.float || !s.is_empty());
        format!("{s:>width$}", width = self.width)
    }
}

fn non_finite(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x > 0.0 {
        "inf".into()
    } else {
        "-inf".into()
    }
}

/// Python's `'{:.4e}'`: a signed exponent of at least two digits.
fn sci(x: f64) -> String {
    if !x.is_finite() {
        return non_finite(x);
    }
    let s = format!("{x:.PRECISION$e}");
    let (mantissa, exponent) = s
        .split_once('e')
        .expect("Rust's {:e} always has an exponent");
    let exponent: i32 = exponent.parse().expect("Rust's exponent is an integer");
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

/// Walks the (possibly summarised) tensor exactly as PyTorch prints it.
struct Printer<'a> {
    values: &'a Values,
    shape: &'a [usize],
    strides: Vec<usize>,
    summarize: bool,
}

impl Printer<'_> {
    /// Row-major indices of dim `dim` that are shown: all of them, or the edges around "...".
    fn shown_along(&self, dim: usize) -> (Vec<usize>, Option<usize>) {
        let n = self.shape[dim];
        if self.summarize && n > 2 * EDGE_ITEMS {
            let idx = (0..EDGE_ITEMS).chain(n - EDGE_ITEMS..n).collect();
            (idx, Some(EDGE_ITEMS))
        } else {
            ((0..n).collect(), None)
        }
    }

    fn collect_shown(&self, dim: usize, base: usize, out: &mut Vec<usize>) {
        if dim == self.shape.len() {
            out.push(base);
            return;
        }
        for i in self.shown_along(dim).0 {
            self.collect_shown(dim + 1, base + i * self.strides[dim], out);
        }
    }

    fn print(&self, f: &Formatter, dim: usize, base: usize, indent: usize) -> String {
        let rank = self.shape.len();
        if rank == 0 {
            return f.format(self.values, 0);
        }
        let (idx, ellipsis_at) = self.shown_along(dim);
        if dim == rank - 1 {
            let mut items: Vec<String> = idx
                .iter()
                .map(|&i| f.format(self.values, base + i))
                .collect();
            if let Some(at) = ellipsis_at {
                items.insert(at, " ...".into());
            }
            let per_line = ((LINE_WIDTH.saturating_sub(indent)) / (f.width + 2)).max(1);
            let lines: Vec<String> = items.chunks(per_line).map(|l| l.join(", ")).collect();
            return format!(
                "[{}]",
                lines.join(&format!(",\n{}", " ".repeat(indent + 1)))
            );
        }
        let mut slices: Vec<String> = idx
            .iter()
            .map(|&i| self.print(f, dim + 1, base + i * self.strides[dim], indent + 1))
            .collect();
        if let Some(at) = ellipsis_at {
            slices.insert(at, "...".into());
        }
        let sep = format!(",{}{}", "\n".repeat(rank - dim - 1), " ".repeat(indent + 1));
        format!("[{}]", slices.join(&sep))
    }
}

impl fmt::Display for Tensor {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        const PREFIX: &str = "tensor(";
        let indent = PREFIX.len();
        let mut suffixes = Vec::new();
        if self.device() != Device::Cpu {
            suffixes.push(format!("device='{}'", self.device()));
        }
        let body = if self.numel() == 0 {
            if self.rank() != 1 {
                let dims: Vec<String> = self.shape().iter().map(|d| d.to_string()).collect();
                let tuple = if dims.len() == 1 {
                    format!("({},)", dims[0])
                } else {
                    format!("({})", dims.join(", "))
                };
                suffixes.push(format!("size={tuple}"));
            }
            if self.dtype() != DType::F32 {
                suffixes.push(format!("dtype=torch.{}", self.dtype().name()));
            }
            "[]".to_string()
        } else {
            // PyTorch names the dtype unless the values imply it (float32, int64, bool).
            match self.dtype() {
                DType::BF16 => suffixes.push(format!("dtype=torch.{}", self.dtype().name())),
                DType::F32 | DType::I64 | DType::Bool => {}
            }
            let values = match self.to_cpu_storage() {
                Ok(CpuStorage::F32(v)) => Values::Float(v.into_iter().map(f64::from).collect()),
                Ok(CpuStorage::BF16(v)) => Values::Float(v.into_iter().map(f64::from).collect()),
                Ok(CpuStorage::I64(v)) => Values::Int(v),
                Ok(CpuStorage::Bool(v)) => Values::Bool(v),
                // A broadcast view too large to gather: say so rather than fail to print.
                Err(e) => return write!(out, "{PREFIX}<{e}>)"),
            };
            let printer = Printer {
                values: &values,
                shape: self.shape(),
                strides: crate::layout::contiguous_strides(self.shape()),
                summarize: self.numel() > THRESHOLD,
            };
            let mut shown = Vec::new();
            printer.collect_shown(0, 0, &mut shown);
            let formatter = Formatter::new(&values, &shown);
            printer.print(&formatter, 0, 0, indent)
        };
        if let Some(name) = self.grad_fn_name() {
            suffixes.push(format!("grad_fn=<{name}>"));
        } else if self.requires_grad() {
            suffixes.push("requires_grad=True".into());
        }
        let mut s = format!("{PREFIX}{body}");
        let mut last_line = s.len() - s.rfind('\n').unwrap_or(0) + 1;
        for suffix in suffixes {
            if last_line + suffix.len() + 2 > LINE_WIDTH {
                s.push_str(&format!(",\n{}{suffix}", " ".repeat(indent)));
                last_line = indent + suffix.len();
            } else {
                s.push_str(&format!(", {suffix}"));
                last_line += suffix.len() + 2;
            }
        }
        s.push(')');
        out.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(data: &[f32], shape: &[usize]) -> String {
        Tensor::from_f32(data.to_vec(), shape).unwrap().to_string()
    }

    // Expected strings printed by PyTorch 2.x for the same tensors.
    #[test]
    fn prints_like_pytorch() {
        assert_eq!(
            f(&[1., 2., 3., 4.], &[2, 2]),
            "tensor([[1., 2.],\n        [3., 4.]])"
        );
        assert_eq!(f(&[1.5, -2.25], &[2]), "tensor([ 1.5000, -2.2500])");
        assert_eq!(f(&[3.], &[]), "tensor(3.)");
        assert_eq!(f(&[1e-5, 1.], &[2]), "tensor([1.0000e-05, 1.0000e+00])");
        assert_eq!(f(&[], &[0]), "tensor([])");
        assert_eq!(f(&[], &[2, 0]), "tensor([], size=(2, 0))");
        assert_eq!(f(&[f32::NAN, 1.], &[2]), "tensor([nan, 1.])");
        let i = Tensor::from_i64(vec![3, 1, 4], &[3]).unwrap();
        assert_eq!(i.to_string(), "tensor([3, 1, 4])");
        let e = Tensor::from_i64(vec![], &[0]).unwrap();
        assert_eq!(e.to_string(), "tensor([], dtype=torch.int64)");
        let b = Tensor::from_bool(vec![true, false], &[2]).unwrap();
        assert_eq!(b.to_string(), "tensor([ True, False])");
    }

    // Expected strings printed by PyTorch 2.15 (`str(t)`) for the same bfloat16 tensors: values are
    // printed as their exact float32 widening (1/3 rounds to 0.333984375, "0.3340").
    #[test]
    fn prints_bfloat16_like_pytorch() {
        let b = |data: &[f32], shape: &[usize]| {
            Tensor::from_f32(data.to_vec(), shape)
                .unwrap()
                .to_dtype(DType::BF16)
                .unwrap()
                .to_string()
        };
        assert_eq!(
            b(&[1. / 3., -2., 100.5], &[3]),
            "tensor([  0.3340,  -2.0000, 100.5000], dtype=torch.bfloat16)"
        );
        assert_eq!(
            b(&[1., 2., 3., 4.], &[2, 2]),
            "tensor([[1., 2.],\n        [3., 4.]], dtype=torch.bfloat16)"
        );
        assert_eq!(b(&[3.], &[]), "tensor(3., dtype=torch.bfloat16)");
        assert_eq!(b(&[], &[0]), "tensor([], dtype=torch.bfloat16)");
        assert_eq!(
            b(&[1e-5, 1., f32::NAN, f32::INFINITY], &[4]),
            "tensor([1.0014e-05, 1.0000e+00,        nan,        inf], dtype=torch.bfloat16)"
        );
        assert_eq!(
            b(&[1e10, 1.5], &[2]),
            "tensor([9.9992e+09, 1.5000e+00], dtype=torch.bfloat16)"
        );
        let data: Vec<f32> = (0..2000).map(|v| v as f32).collect();
        assert_eq!(
            b(&data, &[2000]),
            "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 2.0000e+03, 2.0000e+03,\n        2.0000e+03], dtype=torch.bfloat16)"
        );
        let leaf = Tensor::from_f32(vec![1., 2.], &[2]).unwrap();
        leaf.set_requires_grad(true).unwrap();
        assert_eq!(
            leaf.to_dtype(DType::BF16).unwrap().to_string(),
            "tensor([1., 2.], dtype=torch.bfloat16, grad_fn=<ToCopyBackward0>)"
        );
    }

    #[test]
    fn summarizes_large_tensors() {
        assert_eq!(
            f(&[1.; 2000], &[2000]),
            "tensor([1., 1., 1.,  ..., 1., 1., 1.])"
        );
        let data: Vec<f32> = (0..2000).map(|v| v as f32).collect();
        let s = f(&data, &[2000]);
        assert_eq!(s, "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])");
    }
}
