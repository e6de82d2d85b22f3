//! `matmul`: gemm on strided slices, checked to lie inside them.

use gemm::{gemm, Parallelism};

/// A matrix operand of `matmul` read through strides: element (i, j) is
/// `data[i * row_stride + j * col_stride]`.
#[derive(Clone, Copy)]
pub(super) struct Matrix<'a> {
    data: &'a [f32],
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    /// `data` as a row-major matrix of rows `row_stride` apart.
    pub(super) fn rows(data: &'a [f32], row_stride: usize) -> Self {
        Self {
            data,
            row_stride,
            col_stride: 1,
        }
    }

    pub(super) fn transposed(self) -> Self {
        Self {
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// Whether `len` floats hold a `rows x cols` matrix at these strides.
fn holds(len: usize, [rows, cols]: [usize; 2], row_stride: usize, col_stride: usize) -> bool {
    rows == 0 || cols == 0 || (rows - 1) * row_stride + (cols - 1) * col_stride < len
}

/// `dst (m x n, row-major, rows dst_stride apart) = [dst +] lhs (m x k) @ rhs (k x n)`.
pub(super) fn matmul(
    dst: &mut [f32],
    dst_stride: usize,
    [m, n, k]: [usize; 3],
    lhs: Matrix,
    rhs: Matrix,
    accumulate: bool,
    par: Parallelism,
) {
    assert!(
        holds(dst.len(), [m, n], dst_stride, 1)
            && holds(lhs.data.len(), [m, k], lhs.row_stride, lhs.col_stride)
            && holds(rhs.data.len(), [k, n], rhs.row_stride, rhs.col_stride),
        "conv2d: gemm operand too short"
    );
    // SAFETY: every element gemm reads or writes through these strides lies inside its slice, as
    // checked above.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_stride as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}
