//! `matmul` on a CUDA device through cuBLAS (`cublasSgemmStridedBatched`). cuBLAS is
//! column-major: a row-major `C = A·B` is the column-major `Cᵀ = Bᵀ·Aᵀ`, so the operands go in
//! swapped, with cuBLAS's m and n being our n and m. Transposed operands need no copy (a matrix
//! with a unit stride along either dim is read as it lies); batch dims that cannot be folded into
//! one stride are looped over on the host, one strided-batched call each.

use std::sync::Arc;

use crate::cuda::{self, CudaDevice, CudaStorage, GemmArgs, LaunchConfig, Module, Strides};
use crate::error::{Error, Result};
use crate::layout::Layout;

pub(crate) static MODULE: Module = Module::new("matmul", include_str!("matmul.cu"));

const OP: &str = "matmul";

/// How cuBLAS reads one `rows x cols` matrix: row-major (`col_major` false: a unit stride along
/// the columns, `ld` between rows) or column-major, with cuBLAS's `ld >= max(1, rows as stored)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MatrixView {
    col_major: bool,
    ld: usize,
}

impl MatrixView {
    /// The view of a matrix with strides `(rs, cs)`, or `None` when cuBLAS cannot read it (no
    /// unit stride, or a broadcast dim). A dim of size 1 is never stepped along, so its stride
    /// does not matter.
    fn of(rows: usize, cols: usize, rs: usize, cs: usize) -> Option<MatrixView> {
        if cs == 1 || cols <= 1 {
            let ld = if rows <= 1 { cols.max(1) } else { rs };
            if ld >= cols.max(1) {
                return Some(MatrixView {
                    col_major: false,
                    ld,
                });
            }
        }
        if rs == 1 || rows <= 1 {
            let ld = if cols <= 1 { rows.max(1) } else { cs };
            if ld >= rows.max(1) {
                return Some(MatrixView {
                    col_major: true,
                    ld,
                });
            }
        }
        None
    }
}

/// One operand as cuBLAS takes it: the device address of its element 0 (in f32 units from
/// `base`), its matrix view and its batch strides (broadcast dims have stride 0).
struct Operand {
    base: u64,
    offset: usize,
    view: MatrixView,
    batch_strides: Vec<usize>,
    /// A dense copy, when cuBLAS could not read the tensor as it lies.
    _gathered: Option<CudaStorage>,
}

impl Operand {
    /// `s` through `layout` (batch dims, then a `rows x cols` matrix), copied densely first when
    /// the matrix is not readable in place.
    fn new(s: &CudaStorage, layout: &Layout) -> Result<Operand> {
        let r = layout.rank();
        let (shape, strides) = (layout.shape(), layout.strides());
        let (rows, cols) = (shape[r - 2], shape[r - 1]);
        if let Some(view) = MatrixView::of(rows, cols, strides[r - 2], strides[r - 1]) {
            return Ok(Operand {
                base: s.base::<f32>(OP)?,
                offset: layout.offset(),
                view,
                batch_strides: strides[..r - 2].to_vec(),
                _gathered: None,
            });
        }
        let dense = gather(s, layout)?;
        let contiguous = Layout::contiguous(shape);
        Ok(Operand {
            base: dense.ptr::<f32>(OP, &contiguous)?,
            offset: 0,
            view: MatrixView {
                col_major: false,
                ld: cols.max(1),
            },
            batch_strides: contiguous.strides()[..r - 2].to_vec(),
            _gathered: Some(dense),
        })
    }

    fn address(&self, batch_offset: usize) -> u64 {
        self.base + ((self.offset + batch_offset) * std::mem::size_of::<f32>()) as u64
    }
}

/// The elements of `layout` over `s`, in a new dense buffer.
fn gather(s: &CudaStorage, layout: &Layout) -> Result<CudaStorage> {
    let n = layout.numel();
    let device = s.device();
    let mut dense = CudaStorage::alloc::<f32>(device, n)?;
    let (src, view) = (s.base::<f32>(OP)?, Strides::new(OP, layout)?);
    let dst = dense.ptr_mut::<f32>(OP, &Layout::contiguous(&[n]))?;
    // SAFETY: `view` addresses elements inside `s` (the layout was validated against it), `dst`
    // holds `n` f32; stream-ordered.
    unsafe {
        device.launch(
            OP,
            &MODULE,
            "matmul_gather_f32",
            LaunchConfig::elementwise(n),
            &mut cuda::args![src, view, dst, n as i64],
        )
    }?;
    Ok(dense)
}

/// A batch dim after folding: its size and the strides of A, B and C along it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BatchDim {
    size: usize,
    strides: [usize; 3],
}

/// The batch dims with size-1 dims dropped and neighbours merged where all three operands step
/// through them as through one dim.
fn fold_batch(dims: impl Iterator<Item = BatchDim>) -> Vec<BatchDim> {
    let mut folded: Vec<BatchDim> = Vec::new();
    for dim in dims.filter(|d| d.size != 1) {
        match folded.last_mut() {
            Some(last) if (0..3).all(|i| last.strides[i] == dim.strides[i] * dim.size) => {
                last.size *= dim.size;
                last.strides = dim.strides;
            }
            _ => folded.push(dim),
        }
    }
    folded
}

fn int(value: usize, what: &str) -> Result<i32> {
    i32::try_from(value).map_err(|_| {
        Error::invalid(
            OP,
            format!("{what} {value} is beyond what cuBLAS takes (2^31 - 1)"),
        )
    })
}

/// `a @ b` for float32 operands seen through layouts already broadcast to `batch + [m, k]` and
/// `batch + [k, n]`; `[m, k, n]` are the matrix dims. The result is dense `batch + [m, n]`.
pub(super) fn matmul(
    (a, al): (&CudaStorage, &Layout),
    (b, bl): (&CudaStorage, &Layout),
    [m, k, n]: [usize; 3],
) -> Result<CudaStorage> {
    let batch_shape = &al.shape()[..al.rank() - 2];
    let len = crate::layout::checked_numel(OP, &[batch_shape, &[m, n]].concat())?;
    let device = a.device();
    let mut out = CudaStorage::alloc::<f32>(device, len)?;
    let c = out.ptr_mut::<f32>(OP, &Layout::contiguous(&[len]))?;
    if len == 0 {
        return Ok(out);
    }
    if k == 0 {
        device.memset_zero(OP, c, len * std::mem::size_of::<f32>())?;
        return Ok(out);
    }
    let (a, b) = (Operand::new(a, al)?, Operand::new(b, bl)?);
    let c_strides = crate::layout::contiguous_strides(&[batch_shape, &[m * n]].concat());
    let dims = fold_batch((0..batch_shape.len()).map(|d| BatchDim {
        size: batch_shape[d],
        strides: [a.batch_strides[d], b.batch_strides[d], c_strides[d]],
    }));
    let gemm = Gemm::new(&a, &b, [m, k, n])?;
    // The largest batch dim goes to cuBLAS; the others are looped over here.
    let inner = (0..dims.len()).max_by_key(|&d| dims[d].size);
    let batched = inner.map_or(
        BatchDim {
            size: 1,
            strides: [0; 3],
        },
        |d| dims[d],
    );
    let outer: Vec<BatchDim> = (0..dims.len())
        .filter(|&d| Some(d) != inner)
        .map(|d| dims[d])
        .collect();
    let mut index = vec![0usize; outer.len()];
    loop {
        let offset = |i: usize| {
            index
                .iter()
                .zip(&outer)
                .map(|(&x, d)| x * d.strides[i])
                .sum()
        };
        let c_at = c + (offset(2) * std::mem::size_of::<f32>()) as u64;
        gemm.run(
            device,
            [a.address(offset(0)), b.address(offset(1)), c_at],
            batched,
        )?;
        if !next_index(&mut index, &outer) {
            return Ok(out);
        }
    }
}

/// Steps `index` through `dims` like an odometer; false once every index was visited.
fn next_index(index: &mut [usize], dims: &[BatchDim]) -> bool {
    for d in (0..index.len()).rev() {
        index[d] += 1;
        if index[d] < dims[d].size {
            return true;
        }
        index[d] = 0;
    }
    false
}

/// The parts of a cuBLAS call that are the same for every batch.
struct Gemm {
    args: GemmArgs,
}

impl Gemm {
    /// Row-major `C[m, n] = A[m, k]·B[k, n]` as column-major `Cᵀ = Bᵀ·Aᵀ`: cuBLAS's A is our B
    /// (a row-major B read column-major is Bᵀ, no transpose needed; a column-major one needs
    /// `T`), its B is our A likewise, its m is n and its n is m.
    fn new(a: &Operand, b: &Operand, [m, k, n]: [usize; 3]) -> Result<Gemm> {
        Ok(Gemm {
            args: GemmArgs {
                transa: b.view.col_major,
                transb: a.view.col_major,
                m: int(n, "n")?,
                n: int(m, "m")?,
                k: int(k, "k")?,
                alpha: 1.0,
                a: 0,
                lda: int(b.view.ld, "a leading dimension")?,
                stride_a: 0,
                b: 0,
                ldb: int(a.view.ld, "a leading dimension")?,
                stride_b: 0,
                beta: 0.0,
                c: 0,
                ldc: int(n, "n")?,
                stride_c: 0,
                batch: 1,
            },
        })
    }

    /// One strided-batched call for our `[a, b, c]` addresses over `batch`.
    fn run(&self, device: &Arc<CudaDevice>, [a, b, c]: [u64; 3], batch: BatchDim) -> Result<()> {
        let [sa, sb, sc] = batch.strides;
        let args = GemmArgs {
            a: b,
            stride_a: sb as i64,
            b: a,
            stride_b: sa as i64,
            c,
            stride_c: sc as i64,
            batch: int(batch.size, "a batch of")?,
            ..self.args
        };
        device.gemm_strided_batched(OP, &args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Device;
    use crate::tensor::Tensor;
    use crate::testing::{assert_same_values, cuda_test, values};

    fn pair(shape: &[usize], seed: u64, device: Device) -> (Tensor, Tensor) {
        let x = Tensor::from_f32(values(shape.iter().product(), seed), shape).unwrap();
        let d = x.to_device(device).unwrap();
        (x, d)
    }

    /// `a @ b` on the CPU and on the device, forward and both gradients.
    fn compare(a: &[usize], b: &[usize], device: Device) {
        let ((a, da), (b, db)) = (pair(a, 1, device), pair(b, 2, device));
        for t in [&a, &da, &b, &db] {
            t.set_requires_grad(true).unwrap();
        }
        let (want, got) = (a.matmul(&b).unwrap(), da.matmul(&db).unwrap());
        assert_same_values(&got, &want, 1e-4);
        let g = Tensor::from_f32(values(want.numel(), 3), want.shape()).unwrap();
        want.backward(Some(&g), false).unwrap();
        got.backward(Some(&g.to_device(device).unwrap()), false)
            .unwrap();
        assert_same_values(&da.grad().unwrap(), &a.grad().unwrap(), 1e-4);
        assert_same_values(&db.grad().unwrap(), &b.grad().unwrap(), 1e-4);
    }

    cuda_test!(fn matmul_shapes_match_the_cpu(device) {
        let cases: [(&[usize], &[usize]); 10] = [
            (&[1, 1], &[1, 1]),
            (&[7, 33], &[33, 5]),
            (&[33], &[33]),
            (&[7, 33], &[33]),
            (&[33], &[33, 5]),
            (&[3, 7, 33], &[33, 5]),
            (&[7, 33], &[2, 33, 5]),
            (&[2, 1, 4, 3], &[5, 3, 6]),
            (&[2, 3, 1, 9], &[3, 9, 1]),
            (&[4, 0], &[0, 3]),
        ];
        for (a, b) in cases {
            compare(a, b, device);
        }
    });

    cuda_test!(fn matmul_reads_strided_operands(device) {
        let (a, da) = pair(&[33, 7], 4, device);
        let (b, db) = pair(&[5, 33], 5, device);
        let t = |x: &Tensor| x.transpose(0, 1).unwrap();
        // Transposed (column-major) operands, read as they lie.
        assert_same_values(&t(&da).matmul(&t(&db)).unwrap(), &t(&a).matmul(&t(&b)).unwrap(), 1e-4);
        // A narrowed row range and a broadcast row: the latter is gathered first.
        let narrow = |x: &Tensor| x.narrow(0, 3, 20).unwrap();
        let (c, dc) = pair(&[20, 4], 6, device);
        assert_same_values(&t(&narrow(&da)).matmul(&dc).unwrap(), &t(&narrow(&a)).matmul(&c).unwrap(), 1e-4);
        let row = |x: &Tensor| x.narrow(0, 0, 1).unwrap().expand(&[6, 7]).unwrap();
        let (e, de) = pair(&[7, 3], 7, device);
        assert_same_values(&row(&da).matmul(&de).unwrap(), &row(&a).matmul(&e).unwrap(), 1e-4);
        // A batch whose dims cannot fold into one stride: looped over on the host.
        let (f, df) = pair(&[3, 4, 5, 6], 8, device);
        let (h, dh) = pair(&[3, 6, 2], 9, device);
        let p = |x: &Tensor| x.permute(&[1, 0, 2, 3]).unwrap();
        assert_same_values(&p(&df).matmul(&dh).unwrap(), &p(&f).matmul(&h).unwrap(), 1e-4);
    });

    cuda_test!(fn linear_matches_the_cpu(device) {
        for shape in [vec![5], vec![4, 5], vec![2, 3, 5]] {
            let ((x, dx), (w, dw), (b, db)) =
                (pair(&shape, 1, device), pair(&[3, 5], 2, device), pair(&[3], 3, device));
            for t in [&x, &dx, &w, &dw, &b, &db] {
                t.set_requires_grad(true).unwrap();
            }
            let want = x.linear(&w, Some(&b)).unwrap();
            let got = dx.linear(&dw, Some(&db)).unwrap();
            assert_same_values(&got, &want, 1e-4);
            let g = Tensor::from_f32(values(want.numel(), 4), want.shape()).unwrap();
            want.backward(Some(&g), false).unwrap();
            got.backward(Some(&g.to_device(device).unwrap()), false).unwrap();
            for (d, c) in [(&dx, &x), (&dw, &w), (&db, &b)] {
                assert_same_values(&d.grad().unwrap(), &c.grad().unwrap(), 1e-4);
            }
        }
    });

    cuda_test!(fn tf32_stays_off_by_default(device) {
        let _ = device;
        assert!(!crate::cuda::settings::allow_tf32_matmul());
    });

    #[test]
    fn matrix_views_follow_the_unit_stride() {
        let view = |col_major, ld| Some(MatrixView { col_major, ld });
        assert_eq!(MatrixView::of(3, 5, 5, 1), view(false, 5));
        assert_eq!(MatrixView::of(3, 5, 1, 3), view(true, 3));
        // A row of a wider matrix, and a narrowed matrix.
        assert_eq!(MatrixView::of(3, 5, 8, 1), view(false, 8));
        // Size-1 dims: any stride.
        assert_eq!(MatrixView::of(1, 5, 0, 1), view(false, 5));
        assert_eq!(MatrixView::of(4, 1, 1, 0), view(false, 1));
        assert_eq!(MatrixView::of(4, 1, 7, 0), view(false, 7));
        assert_eq!(MatrixView::of(1, 1, 0, 0), view(false, 1));
        // Broadcast rows, and no unit stride.
        assert_eq!(MatrixView::of(3, 5, 0, 1), None);
        assert_eq!(MatrixView::of(3, 5, 10, 2), None);
    }

    #[test]
    fn batch_dims_fold_where_all_operands_step_alike() {
        let dim = |size, a, b, c| BatchDim {
            size,
            strides: [a, b, c],
        };
        // Contiguous [2, 3] batches of 4-element matrices: one dim of 6.
        let folded = fold_batch([dim(2, 12, 12, 12), dim(3, 4, 4, 4)].into_iter());
        assert_eq!(folded, vec![dim(6, 4, 4, 4)]);
        // B broadcast along the first dim only: two dims stay.
        let folded = fold_batch([dim(2, 12, 0, 12), dim(3, 4, 4, 4)].into_iter());
        assert_eq!(folded.len(), 2);
        // B broadcast along both: one dim, stride 0 for B.
        let folded = fold_batch([dim(1, 9, 9, 9), dim(2, 12, 0, 12), dim(3, 4, 0, 4)].into_iter());
        assert_eq!(folded, vec![dim(6, 4, 0, 4)]);
    }
}
