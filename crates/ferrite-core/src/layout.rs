//! Shape, strides and offset of a tensor view into its storage, and the shape arithmetic shared
//! by every op: dim normalisation, broadcasting and view-compatible strides.

use crate::error::{Error, Result, ShapeDisplay};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    shape: Vec<usize>,
    strides: Vec<usize>,
    offset: usize,
}

/// The element count of `shape`, or an `InvalidArgument` error when the product of its nonzero
/// dims (which contiguous strides need too) overflows.
pub fn checked_numel(op: &'static str, shape: &[usize]) -> Result<usize> {
    let nonzero = shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            Error::invalid(
                op,
                format!(
                    "shape {} has more elements than can be counted (the product of its dims overflows 64 bits)",
                    ShapeDisplay(shape)
                ),
            )
        })?;
    Ok(if shape.contains(&0) { 0 } else { nonzero })
}

/// Row-major strides of `shape`; callers have checked its element count with `checked_numel`.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut acc = 1;
    for (s, &d) in strides.iter_mut().zip(shape).rev() {
        *s = acc;
        acc *= d.max(1);
    }
    strides
}

impl Layout {
    pub fn contiguous(shape: &[usize]) -> Self {
        Layout {
            shape: shape.to_vec(),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }

    pub fn new(shape: Vec<usize>, strides: Vec<usize>, offset: usize) -> Self {
        debug_assert_eq!(shape.len(), strides.len());
        Layout {
            shape,
            strides,
            offset,
        }
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Cannot overflow: every shape that reaches a layout has passed `checked_numel`.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the elements are laid out densely in row-major order (size-1 dims don't matter).
    pub fn is_contiguous(&self) -> bool {
        // As in PyTorch, a tensor without elements is contiguous whatever its strides.
        if self.shape.contains(&0) {
            return true;
        }
        let mut expected = 1;
        for (&d, &s) in self.shape.iter().zip(&self.strides).rev() {
            if d != 1 && s != expected {
                return false;
            }
            expected *= d;
        }
        true
    }

    /// Same elements seen with the dims reordered.
    pub fn permute(&self, dims: &[usize]) -> Layout {
        Layout {
            shape: dims.iter().map(|&d| self.shape[d]).collect(),
            strides: dims.iter().map(|&d| self.strides[d]).collect(),
            offset: self.offset,
        }
    }

    /// A view of the same storage as `shape` (stride 0 on broadcast dims), for kernels only.
    pub fn broadcast_to(&self, shape: &[usize]) -> Layout {
        let lead = shape.len() - self.rank();
        let mut strides = vec![0; shape.len()];
        for i in 0..self.rank() {
            if self.shape[i] == shape[lead + i] {
                strides[lead + i] = self.strides[i];
            }
        }
        Layout {
            shape: shape.to_vec(),
            strides,
            offset: self.offset,
        }
    }

    /// Strides for viewing this layout as `shape` without copying, if possible (ATen's
    /// `computeStride`): each run of merged input dims must be contiguous in memory.
    pub fn view_strides(&self, shape: &[usize]) -> Option<Vec<usize>> {
        if self.numel() == 0 || self.is_contiguous() {
            return Some(contiguous_strides(shape));
        }
        let mut new_strides = vec![0; shape.len()];
        let mut view_d = shape.len() as isize - 1;
        let mut chunk_base_stride = *self.strides.last()?;
        let mut tensor_numel = 1;
        let mut view_numel = 1;
        for tensor_d in (0..self.rank()).rev() {
            tensor_numel *= self.shape[tensor_d];
            let chunk_ends = tensor_d == 0
                || (self.shape[tensor_d - 1] != 1
                    && self.strides[tensor_d - 1] != tensor_numel * chunk_base_stride);
            if chunk_ends {
                while view_d >= 0 && (view_numel < tensor_numel || shape[view_d as usize] == 1) {
                    new_strides[view_d as usize] = view_numel * chunk_base_stride;
                    view_numel *= shape[view_d as usize];
                    view_d -= 1;
                }
                if view_numel != tensor_numel {
                    return None;
                }
                if tensor_d > 0 {
                    chunk_base_stride = self.strides[tensor_d - 1];
                    tensor_numel = 1;
                    view_numel = 1;
                }
            }
        }
        (view_d == -1).then_some(new_strides)
    }
}

/// A shape as the signed dims that shape-taking ops accept.
pub(crate) fn signed(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&d| d as i64).collect()
}

/// Turns a possibly negative dim into an index, PyTorch-style.
pub fn normalize_dim(op: &'static str, dim: i64, rank: usize) -> Result<usize> {
    // A 0-d tensor accepts dims -1 and 0, as in PyTorch.
    let r = rank.max(1) as i64;
    if dim < -r || dim >= r {
        return Err(Error::index(
            op,
            format!(
                "dimension out of range (expected to be in range of [{}, {}], but got {dim})",
                -r,
                r - 1
            ),
        ));
    }
    Ok(if dim < 0 {
        (dim + r) as usize
    } else {
        dim as usize
    })
}

/// The broadcast shape of two shapes, by PyTorch's rules.
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(Error::shape(
                    op,
                    format!(
                        "shapes {} and {} cannot be broadcast together (dim {i}: {da} vs {db})",
                        ShapeDisplay(a),
                        ShapeDisplay(b)
                    ),
                ))
            }
        };
    }
    checked_numel(op, &out)?;
    Ok(out)
}

/// Resolves a requested shape that may hold one `-1` against a known element count.
pub fn infer_shape(
    op: &'static str,
    requested: &[i64],
    numel: usize,
    from: &[usize],
) -> Result<Vec<usize>> {
    let mut inferred = None;
    for (i, &d) in requested.iter().enumerate() {
        match d {
            -1 if inferred.is_none() => inferred = Some(i),
            -1 => {
                return Err(Error::invalid(
                    op,
                    "only one dimension can be inferred (-1)",
                ))
            }
            d if d < 0 => return Err(Error::invalid(op, format!("invalid shape dimension {d}"))),
            _ => {}
        }
    }
    // The inferred dim counts as 1 until it is known.
    let mut shape: Vec<usize> = requested
        .iter()
        .map(|&d| if d == -1 { 1 } else { d as usize })
        .collect();
    let known = checked_numel(op, &shape)?;
    let fits = match inferred {
        Some(i) if known != 0 && numel.is_multiple_of(known) => {
            shape[i] = numel / known;
            true
        }
        Some(_) => false,
        None => known == numel,
    };
    if !fits {
        let req: Vec<String> = requested.iter().map(|d| d.to_string()).collect();
        return Err(Error::shape(
            op,
            format!(
                "shape '[{}]' is invalid for input of size {numel} (shape {})",
                req.join(", "),
                ShapeDisplay(from)
            ),
        ));
    }
    Ok(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_pytorch() {
        assert_eq!(
            broadcast_shapes("t", &[2, 1, 3], &[4, 1]).unwrap(),
            vec![2, 4, 3]
        );
        assert_eq!(broadcast_shapes("t", &[], &[5]).unwrap(), vec![5]);
        assert_eq!(
            broadcast_shapes("t", &[2, 3], &[3, 2]).unwrap_err().code(),
            "ShapeMismatch"
        );
    }

    #[test]
    fn tensors_without_elements_are_contiguous() {
        assert!(Layout::contiguous(&[5, 0, 2]).is_contiguous());
        assert!(Layout::contiguous(&[5, 0, 2])
            .permute(&[2, 0, 1])
            .is_contiguous());
        assert!(!Layout::contiguous(&[5, 1, 2])
            .permute(&[2, 0, 1])
            .is_contiguous());
    }

    #[test]
    fn view_strides_of_transposed_tensor() {
        let t = Layout::contiguous(&[2, 3, 4]).permute(&[1, 0, 2]);
        // Merging dims 0 and 1 of a transposed tensor needs a copy; splitting the last dim doesn't.
        assert_eq!(t.view_strides(&[6, 4]), None);
        assert_eq!(t.view_strides(&[3, 2, 2, 2]), Some(vec![4, 12, 2, 1]));
    }

    #[test]
    fn infers_minus_one() {
        assert_eq!(
            infer_shape("view", &[-1, 4], 12, &[12]).unwrap(),
            vec![3, 4]
        );
        assert_eq!(
            infer_shape("view", &[-1, 5], 12, &[12]).unwrap_err().code(),
            "ShapeMismatch"
        );
        assert_eq!(
            infer_shape("view", &[-1, -1], 12, &[12])
                .unwrap_err()
                .code(),
            "InvalidArgument"
        );
    }

    #[test]
    fn overflowing_shapes_are_errors() {
        let huge = 1usize << 32;
        assert_eq!(checked_numel("t", &[2, 3, 0]).unwrap(), 0);
        assert_eq!(
            checked_numel("t", &[huge, huge - 1]).unwrap(),
            huge * (huge - 1)
        );
        let err = checked_numel("ones", &[huge, huge, huge]).unwrap_err();
        assert_eq!(err.code(), "InvalidArgument");
        assert!(
            err.to_string()
                .starts_with("ones: shape [4294967296, 4294967296, 4294967296] has more elements"),
            "{err}"
        );
        // Zero elements, but the strides of the other dims still overflow.
        assert!(checked_numel("t", &[0, huge, huge]).is_err());
        assert_eq!(
            broadcast_shapes("add", &[huge, 1], &[1, huge])
                .unwrap_err()
                .code(),
            "InvalidArgument"
        );
        let h = huge as i64;
        // An empty tensor viewed with dims whose product wraps to 0 in 64 bits.
        assert_eq!(
            infer_shape("view", &[h, h], 0, &[0]).unwrap_err().code(),
            "InvalidArgument"
        );
        assert_eq!(
            infer_shape("view", &[h, h, -1], 0, &[0])
                .unwrap_err()
                .code(),
            "InvalidArgument"
        );
        assert_eq!(
            infer_shape("view", &[0, -1], 0, &[0]).unwrap_err().code(),
            "ShapeMismatch"
        );
    }

    #[test]
    fn normalizes_negative_dims() {
        assert_eq!(normalize_dim("t", -1, 3).unwrap(), 2);
        assert_eq!(
            normalize_dim("t", 3, 3).unwrap_err().code(),
            "IndexOutOfRange"
        );
        assert_eq!(normalize_dim("t", 0, 0).unwrap(), 0);
    }
}
