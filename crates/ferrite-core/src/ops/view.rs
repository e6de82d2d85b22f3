//! Ops that change how a storage is seen (no copy) and the copies that make a view dense.

use crate::autograd::{record, Backward};
use crate::cpu::map_strided;
use crate::error::{Error, Result, ShapeDisplay};
use crate::layout::{checked_numel, infer_shape, normalize_dim, signed, Layout};
use crate::ops::copy;
use crate::storage::{CpuStorage, Storage};
use crate::tensor::Tensor;

impl Tensor {
    /// A view with `shape` (one dim may be -1); fails when the strides don't allow it.
    pub fn view(&self, shape: &[i64]) -> Result<Tensor> {
        let shape = infer_shape("view", shape, self.numel(), self.shape())?;
        let strides = self.layout().view_strides(&shape).ok_or_else(|| {
            Error::shape(
                "view",
                format!(
                    "shape {} is not compatible with the strides of a non-contiguous tensor of shape {}; use reshape() or contiguous() first",
                    ShapeDisplay(&shape),
                    ShapeDisplay(self.shape())
                ),
            )
        })?;
        Ok(self.reshaped_view(
            Layout::new(shape, strides, self.layout().offset()),
            "ViewBackward0",
        ))
    }

    /// A view of the same elements in another shape; its gradient is reshaped back.
    fn reshaped_view(&self, layout: Layout, name: &'static str) -> Tensor {
        let out = self.with_layout(layout);
        record(out, &[self], || ReshapeBackward {
            input: self.clone(),
            name,
        })
    }

    /// Like `view`, copying only when the strides don't allow a view.
    pub fn reshape(&self, shape: &[i64]) -> Result<Tensor> {
        let resolved = infer_shape("reshape", shape, self.numel(), self.shape())?;
        match self.layout().view_strides(&resolved) {
            Some(strides) => Ok(self.reshaped_view(
                Layout::new(resolved, strides, self.layout().offset()),
                "ViewBackward0",
            )),
            None => self.contiguous()?.view(shape),
        }
    }

    /// Flattens dims `start..=end` into one.
    pub fn flatten(&self, start: i64, end: i64) -> Result<Tensor> {
        if self.rank() == 0 {
            // Still checked: a 0-d tensor takes dims -1 and 0, as in PyTorch.
            normalize_dim("flatten", start, 0)?;
            normalize_dim("flatten", end, 0)?;
            return self.reshape(&[1]);
        }
        let (s, e) = (
            normalize_dim("flatten", start, self.rank())?,
            normalize_dim("flatten", end, self.rank())?,
        );
        if s > e {
            return Err(Error::invalid(
                "flatten",
                format!("start dim {start} cannot come after end dim {end}"),
            ));
        }
        let shape = self.shape();
        let mut new: Vec<i64> = shape[..s].iter().map(|&d| d as i64).collect();
        new.push(shape[s..=e].iter().product::<usize>() as i64);
        new.extend(shape[e + 1..].iter().map(|&d| d as i64));
        self.reshape(&new)
    }

    pub fn permute(&self, dims: &[i64]) -> Result<Tensor> {
        if dims.len() != self.rank() {
            return Err(Error::shape(
                "permute",
                format!(
                    "number of dims ({}) doesn't match the tensor's rank ({}, shape {})",
                    dims.len(),
                    self.rank(),
                    ShapeDisplay(self.shape())
                ),
            ));
        }
        let mut seen = vec![false; self.rank()];
        let mut order = Vec::with_capacity(dims.len());
        for &d in dims {
            let d = normalize_dim("permute", d, self.rank())?;
            if std::mem::replace(&mut seen[d], true) {
                return Err(Error::invalid(
                    "permute",
                    format!("dim {d} appears more than once"),
                ));
            }
            order.push(d);
        }
        Ok(self.permuted(order, "PermuteBackward0"))
    }

    pub fn transpose(&self, dim0: i64, dim1: i64) -> Result<Tensor> {
        if self.rank() == 0 {
            normalize_dim("transpose", dim0, 0)?;
            normalize_dim("transpose", dim1, 0)?;
            return Ok(self.clone());
        }
        let (a, b) = (
            normalize_dim("transpose", dim0, self.rank())?,
            normalize_dim("transpose", dim1, self.rank())?,
        );
        let mut order: Vec<usize> = (0..self.rank()).collect();
        order.swap(a, b);
        Ok(self.permuted(order, "TransposeBackward0"))
    }

    fn permuted(&self, order: Vec<usize>, name: &'static str) -> Tensor {
        let out = self.with_layout(self.layout().permute(&order));
        record(out, &[self], || PermuteBackward {
            input: self.clone(),
            order,
            name,
        })
    }

    /// Inserts a size-1 dim at `dim` (which may equal the rank).
    pub fn unsqueeze(&self, dim: i64) -> Result<Tensor> {
        let d = normalize_dim("unsqueeze", dim, self.rank() + 1)?;
        let layout = self.layout();
        let mut shape = layout.shape().to_vec();
        let mut strides = layout.strides().to_vec();
        let stride = if d < shape.len() {
            strides[d] * shape[d]
        } else {
            1
        };
        shape.insert(d, 1);
        strides.insert(d, stride);
        Ok(self.reshaped_view(
            Layout::new(shape, strides, layout.offset()),
            "UnsqueezeBackward0",
        ))
    }

    /// Removes `dim` if it has size 1, or every size-1 dim when `dim` is `None`.
    pub fn squeeze(&self, dim: Option<i64>) -> Result<Tensor> {
        let layout = self.layout();
        let keep: Vec<usize> = match dim {
            None => (0..self.rank())
                .filter(|&d| layout.shape()[d] != 1)
                .collect(),
            Some(dim) if self.rank() == 0 => {
                normalize_dim("squeeze", dim, 0)?;
                vec![]
            }
            Some(dim) => {
                let d = normalize_dim("squeeze", dim, self.rank())?;
                (0..self.rank())
                    .filter(|&i| i != d || layout.shape()[i] != 1)
                    .collect()
            }
        };
        let shape = keep.iter().map(|&d| layout.shape()[d]).collect();
        let strides = keep.iter().map(|&d| layout.strides()[d]).collect();
        Ok(self.reshaped_view(
            Layout::new(shape, strides, layout.offset()),
            "SqueezeBackward0",
        ))
    }

    /// The `length` entries of `dim` starting at `start`, as a view.
    pub fn narrow(&self, dim: i64, start: usize, length: usize) -> Result<Tensor> {
        if self.rank() == 0 {
            return Err(Error::shape(
                "narrow",
                "a zero-dimensional tensor cannot be narrowed",
            ));
        }
        let d = normalize_dim("narrow", dim, self.rank())?;
        let size = self.shape()[d];
        if start + length > size {
            return Err(Error::index(
                "narrow",
                format!("start ({start}) + length ({length}) exceeds dimension size ({size}) of dim {d} (shape {})", ShapeDisplay(self.shape())),
            ));
        }
        let layout = self.layout();
        let mut shape = layout.shape().to_vec();
        shape[d] = length;
        // A view with no elements keeps its base's offset: `start` rows into an empty storage
        // would point past its end, where every reader slicing from the offset would panic.
        let offset = if shape.contains(&0) {
            layout.offset()
        } else {
            layout.offset() + start * layout.strides()[d]
        };
        let out = self.with_layout(Layout::new(shape, layout.strides().to_vec(), offset));
        Ok(record(out, &[self], || NarrowBackward {
            input: self.clone(),
            dim: d,
            start,
        }))
    }

    /// Entry `index` of `dim` (negative counts from the end), with that dim removed.
    pub fn select(&self, dim: i64, index: i64) -> Result<Tensor> {
        if self.rank() == 0 {
            return Err(Error::shape(
                "select",
                "a zero-dimensional tensor cannot be indexed",
            ));
        }
        let d = normalize_dim("select", dim, self.rank())?;
        let size = self.shape()[d] as i64;
        if index < -size || index >= size {
            return Err(Error::index(
                "select",
                format!("index {index} is out of bounds for dimension {d} with size {size}"),
            ));
        }
        let i = if index < 0 { index + size } else { index } as usize;
        self.narrow(d as i64, i, 1)?.squeeze(Some(d as i64))
    }

    /// A broadcast view as `shape` (-1 keeps a dim), sharing storage: size-1 dims repeat.
    pub fn expand(&self, shape: &[i64]) -> Result<Tensor> {
        if shape.len() < self.rank() {
            return Err(Error::shape(
                "expand",
                format!(
                    "the target shape has {} dims, fewer than the tensor's {} (shape {})",
                    shape.len(),
                    self.rank(),
                    ShapeDisplay(self.shape())
                ),
            ));
        }
        let lead = shape.len() - self.rank();
        let mut target = Vec::with_capacity(shape.len());
        for (i, &want) in shape.iter().enumerate() {
            let have = if i >= lead {
                Some(self.shape()[i - lead])
            } else {
                None
            };
            let size = match (want, have) {
                (-1, Some(h)) => h,
                (w, Some(h)) if w >= 0 && (h == w as usize || h == 1) => w as usize,
                (w, None) if w >= 0 => w as usize,
                _ => {
                    return Err(Error::shape(
                        "expand",
                        format!(
                            "cannot expand shape {} to {:?} (dim {i})",
                            ShapeDisplay(self.shape()),
                            shape
                        ),
                    ))
                }
            };
            target.push(size);
        }
        checked_numel("expand", &target)?;
        let out = self.with_layout(self.layout().broadcast_to(&target));
        Ok(record(out, &[self], || ExpandBackward {
            input: self.clone(),
        }))
    }

    /// This tensor if it is already dense, else a dense copy.
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() {
            Ok(self.clone())
        } else {
            self.copy()
        }
    }

    /// A dense copy with its own storage.
    pub fn copy(&self) -> Result<Tensor> {
        let layout = self.layout();
        let out = match &*self.storage().read() {
            Storage::Cpu(s) => Storage::Cpu(match s {
                CpuStorage::F32(x) => CpuStorage::F32(map_strided("clone", x, layout, |v| v)?),
                CpuStorage::BF16(x) => CpuStorage::BF16(map_strided("clone", x, layout, |v| v)?),
                CpuStorage::I64(x) => CpuStorage::I64(map_strided("clone", x, layout, |v| v)?),
                CpuStorage::Bool(x) => CpuStorage::Bool(map_strided("clone", x, layout, |v| v)?),
            }),
            Storage::Cuda(s) => Storage::Cuda(copy::cuda::strided("clone", s, layout, s.dtype())?),
        };
        Ok(record(
            Tensor::from_storage(out, self.shape()),
            &[self],
            || CloneBackward {
                input: self.clone(),
            },
        ))
    }
}

struct ReshapeBackward {
    input: Tensor,
    name: &'static str,
}

impl Backward for ReshapeBackward {
    fn name(&self) -> &'static str {
        self.name
    }

    fn inputs(&self) -> Vec<Tensor> {
        vec![self.input.clone()]
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(g.reshape(&signed(self.input.shape()))?)])
    }
}

struct NarrowBackward {
    input: Tensor,
    dim: usize,
    start: usize,
}

impl Backward for NarrowBackward {
    fn name(&self) -> &'static str {
        "NarrowBackward0"
    }

    fn inputs(&self) -> Vec<Tensor> {
        vec![self.input.clone()]
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        // The gradient in place, zeros around it.
        let zeros = |len: usize| {
            let mut shape = g.shape().to_vec();
            shape[self.dim] = len;
            Tensor::zeros(&shape, g.dtype(), g.device())
        };
        let after = self.input.shape()[self.dim] - self.start - g.shape()[self.dim];
        Ok(vec![Some(Tensor::cat(
            &[zeros(self.start)?, g.clone(), zeros(after)?],
            self.dim as i64,
        )?)])
    }
}

struct PermuteBackward {
    input: Tensor,
    order: Vec<usize>,
    name: &'static str,
}

impl Backward for PermuteBackward {
    fn name(&self) -> &'static str {
        self.name
    }

    fn inputs(&self) -> Vec<Tensor> {
        vec![self.input.clone()]
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let mut inverse = vec![0i64; self.order.len()];
        for (i, &d) in self.order.iter().enumerate() {
            inverse[d] = i as i64;
        }
        Ok(vec![Some(g.permute(&inverse)?)])
    }
}

struct ExpandBackward {
    input: Tensor,
}

impl Backward for ExpandBackward {
    fn name(&self) -> &'static str {
        "ExpandBackward0"
    }

    fn inputs(&self) -> Vec<Tensor> {
        vec![self.input.clone()]
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(g.sum_to_shape(self.input.shape())?)])
    }
}

struct CloneBackward {
    input: Tensor,
}

impl Backward for CloneBackward {
    fn name(&self) -> &'static str {
        "CloneBackward0"
    }

    fn inputs(&self) -> Vec<Tensor> {
        vec![self.input.clone()]
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(g.clone())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Device;
    use crate::testing::test_device;

    fn arange(n: usize, shape: &[usize], device: Device) -> Tensor {
        Tensor::from_f32((0..n).map(|v| v as f32).collect(), shape)
            .unwrap()
            .to_device(device)
            .unwrap()
    }

    test_device!(fn transpose_then_reshape_copies_in_logical_order(device) {
        let t = arange(6, &[2, 3], device).transpose(0, 1).unwrap();
        assert!(!t.is_contiguous());
        assert_eq!(t.view(&[6]).unwrap_err().code(), "ShapeMismatch");
        let r = t.reshape(&[6]).unwrap();
        assert_eq!(r.to_vec_f32().unwrap(), vec![0., 3., 1., 4., 2., 5.]);
    });

    test_device!(fn empty_narrows_and_selects_read_as_empty(device) {
        // Found by the fuzz suite (test/fuzz): row 2 of a [3, 0] tensor pointed past its empty
        // storage's end, and reading, summing or concatenating it panicked.
        let row = arange(0, &[3, 0], device).select(0, 2).unwrap();
        assert_eq!(row.shape(), &[0]);
        assert!(row.to_vec_f32().unwrap().is_empty());
        assert_eq!(row.sum(&[], false).unwrap().to_vec_f32().unwrap(), vec![0.]);
        assert_eq!(Tensor::cat(&[row.clone(), row], 0).unwrap().shape(), &[0]);
        let columns = arange(0, &[0, 4], device).narrow(1, 3, 1).unwrap();
        assert!(columns.to_vec_f32().unwrap().is_empty());
    });

    test_device!(fn zero_dim_transpose_and_flatten_check_their_dims(device) {
        // Found by the fuzz suite: any dims were accepted on a 0-d tensor.
        let scalar = arange(1, &[], device);
        assert_eq!(scalar.transpose(-1, 0).unwrap().shape(), &[] as &[usize]);
        assert_eq!(scalar.flatten(0, -1).unwrap().shape(), &[1]);
        assert_eq!(
            scalar.transpose(1 << 31, 0).unwrap_err().code(),
            "IndexOutOfRange"
        );
        assert_eq!(
            scalar.transpose(0, -2).unwrap_err().code(),
            "IndexOutOfRange"
        );
        assert_eq!(scalar.flatten(3, 0).unwrap_err().code(), "IndexOutOfRange");
        assert_eq!(scalar.flatten(0, 1).unwrap_err().code(), "IndexOutOfRange");
    });

    test_device!(fn views_share_storage(device) {
        let t = arange(12, &[3, 4], device);
        let v = t.view(&[2, -1]).unwrap();
        assert_eq!(v.shape(), &[2, 6]);
        assert!(v.shares_storage(&t));
        assert!(!t.copy().unwrap().shares_storage(&t));
    });

    test_device!(fn squeeze_unsqueeze_flatten(device) {
        let t = arange(6, &[1, 2, 1, 3], device);
        assert_eq!(t.squeeze(None).unwrap().shape(), &[2, 3]);
        assert_eq!(t.squeeze(Some(1)).unwrap().shape(), &[1, 2, 1, 3]);
        assert_eq!(t.squeeze(Some(-2)).unwrap().shape(), &[1, 2, 3]);
        assert_eq!(t.unsqueeze(4).unwrap().shape(), &[1, 2, 1, 3, 1]);
        assert_eq!(t.flatten(1, -1).unwrap().shape(), &[1, 6]);
        assert_eq!(t.unsqueeze(5).unwrap_err().code(), "IndexOutOfRange");
    });

    test_device!(fn huge_views_are_checked_and_never_materialised_blindly(device) {
        let one = arange(1, &[1], device);
        let h = 1i64 << 32;
        assert_eq!(
            one.expand(&[h, h, h]).unwrap_err().code(),
            "InvalidArgument"
        );
        // A legal view far larger than memory: copying it is an error, not an abort.
        let wide = one.expand(&[1 << 40, 1 << 20]).unwrap();
        assert_eq!(wide.contiguous().unwrap_err().code(), "OutOfMemory");
        assert_eq!(wide.exp().unwrap_err().code(), "OutOfMemory");
        assert_eq!(
            wide.reshape(&[-1, 1 << 20]).unwrap().shape(),
            &[1 << 40, 1 << 20]
        );
        let rows = arange(2, &[2, 1], device).expand(&[2, 1 << 61]).unwrap();
        assert_eq!(rows.reshape(&[-1]).unwrap_err().code(), "OutOfMemory");
    });

    test_device!(fn expand_repeats_size_one_dims(device) {
        let t = arange(3, &[3, 1], device).expand(&[2, -1, 4]).unwrap();
        assert_eq!(t.shape(), &[2, 3, 4]);
        assert_eq!(
            t.contiguous().unwrap().to_vec_f32().unwrap()[..8],
            [0., 0., 0., 0., 1., 1., 1., 1.]
        );
        assert_eq!(
            arange(3, &[3], device).expand(&[2]).unwrap_err().code(),
            "ShapeMismatch"
        );
    });

    test_device!(fn permute_rejects_repeated_dims(device) {
        let t = arange(6, &[2, 3], device);
        assert_eq!(t.permute(&[0, 0]).unwrap_err().code(), "InvalidArgument");
        assert_eq!(t.permute(&[0]).unwrap_err().code(), "ShapeMismatch");
        assert_eq!(t.permute(&[1, 0]).unwrap().shape(), &[3, 2]);
    });
}
