//! Reverse-mode automatic differentiation. Ops record a `Backward` node on their output when grad
//! mode is on and an input requires a gradient; `backward()` sorts the graph once, walks it in
//! reverse, accumulates gradients into the leaves, and frees each node as it goes.

use std::cell::Cell;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::autocast;
use crate::error::{Error, Result, ShapeDisplay};
use crate::tensor::Tensor;

/// A recorded op: knows its inputs and turns the gradient of its output into theirs.
pub(crate) trait Backward: Send + Sync {
    /// PyTorch's name for the node (`AddBackward0`), shown as `grad_fn=<...>`.
    fn name(&self) -> &'static str;
    /// The inputs, in the order `backward` returns their gradients.
    fn inputs(&self) -> Vec<Tensor>;
    /// Gradients of the inputs given the output's; `needs[i]` is false where none is wanted.
    fn backward(&self, grad: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>>;
    /// The tensors whose values (not just shapes) `backward` will read. Asked once, when the
    /// node is recorded, so it may leave out what only an input that needs no gradient would
    /// use, as PyTorch does.
    fn saved(&self) -> Vec<&Tensor> {
        Vec::new()
    }
}

/// A recorded op with the tensors it saved and their versions at record time.
struct Node {
    op: Box<dyn Backward>,
    saved: Vec<(Tensor, u64)>,
}

impl Node {
    /// Refuses to run backward on values changed in place since they were saved.
    fn check_saved(&self) -> Result<()> {
        for (t, version) in &self.saved {
            if t.version() != *version {
                return Err(Error::invalid(
                    "backward",
                    format!(
                        "one of the variables needed for gradient computation has been modified by an inplace operation: [{}] tensor of shape {} is at version {}; expected version {version} instead",
                        self.op.name(),
                        ShapeDisplay(t.shape()),
                        t.version()
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[derive(Default)]
pub(crate) struct AutogradMeta {
    requires_grad: AtomicBool,
    /// Set once an op records itself as this tensor's origin.
    non_leaf: AtomicBool,
    grad: Mutex<Option<Tensor>>,
    grad_fn: Mutex<Option<Arc<Node>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

thread_local! {
    /// Per thread, as in PyTorch: a no-grad block on one thread doesn't affect another.
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.get()
}

/// Turns recording on or off for this thread and returns the previous setting.
pub fn set_grad_enabled(enabled: bool) -> bool {
    GRAD_ENABLED.replace(enabled)
}

/// Disables recording until dropped, like `torch.no_grad()`.
pub struct NoGradGuard(bool);

impl NoGradGuard {
    pub fn new() -> Self {
        NoGradGuard(set_grad_enabled(false))
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        set_grad_enabled(self.0);
    }
}

/// Whether an op on `inputs` would be recorded: grad mode is on and an input needs a gradient.
/// Ops whose forward keeps extra state only for their backward (max pooling's indices) skip it
/// when not.
pub(crate) fn records(inputs: &[&Tensor]) -> bool {
    is_grad_enabled() && inputs.iter().any(|t| t.requires_grad())
}

/// Makes `out` (a fresh op output) the result of `node` when grad mode is on and an input needs
/// a gradient. `node` is only built when it will be kept.
pub(crate) fn record<B: Backward + 'static>(
    out: Tensor,
    inputs: &[&Tensor],
    node: impl FnOnce() -> B,
) -> Tensor {
    if out.dtype().is_float() && records(inputs) {
        let meta = &out.0.autograd;
        meta.requires_grad.store(true, Relaxed);
        meta.non_leaf.store(true, Relaxed);
        let op = node();
        let saved = op
            .saved()
            .into_iter()
            .map(|t| (t.clone(), t.version()))
            .collect();
        *lock(&meta.grad_fn) = Some(Arc::new(Node {
            op: Box::new(op),
            saved,
        }));
    }
    out
}

impl Tensor {
    fn key(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    pub fn requires_grad(&self) -> bool {
        self.0.autograd.requires_grad.load(Relaxed)
    }

    /// Leaves are tensors no recorded op produced: user data and parameters.
    pub fn is_leaf(&self) -> bool {
        !self.0.autograd.non_leaf.load(Relaxed)
    }

    pub fn set_requires_grad(&self, requires_grad: bool) -> Result<()> {
        if requires_grad && !self.dtype().is_float() {
            return Err(Error::dtype(
                "requiresGrad",
                "a float32 or bfloat16 tensor (only floating point tensors can require gradients)",
                self.dtype(),
            ));
        }
        if !self.is_leaf() && !requires_grad {
            return Err(Error::invalid(
                "requiresGrad",
                "you can only change the requiresGrad flag of leaf tensors; use detach() to get a tensor outside the graph",
            ));
        }
        self.0.autograd.requires_grad.store(requires_grad, Relaxed);
        Ok(())
    }

    /// The gradient accumulated by `backward()` (leaves only).
    pub fn grad(&self) -> Option<Tensor> {
        lock(&self.0.autograd.grad).clone()
    }

    pub fn set_grad(&self, grad: Option<Tensor>) -> Result<()> {
        if let Some(g) = &grad {
            if g.shape() != self.shape() || g.dtype() != self.dtype() {
                return Err(Error::shape(
                    "grad",
                    format!(
                        "assigned grad has shape {} and dtype {}, but the tensor has shape {} and dtype {}",
                        ShapeDisplay(g.shape()),
                        g.dtype(),
                        ShapeDisplay(self.shape()),
                        self.dtype()
                    ),
                ));
            }
        }
        *lock(&self.0.autograd.grad) = grad;
        Ok(())
    }

    /// PyTorch's name of the op that produced this tensor, if one was recorded and not yet freed.
    pub fn grad_fn_name(&self) -> Option<&'static str> {
        lock(&self.0.autograd.grad_fn).as_ref().map(|f| f.op.name())
    }

    /// The same values as a new leaf outside the graph, sharing storage.
    pub fn detach(&self) -> Tensor {
        self.with_layout(self.layout().clone())
    }

    /// Computes the gradient of this tensor with respect to every leaf that requires one and
    /// adds it to the leaf's `grad`. `grad` defaults to 1 for one-element tensors. The graph is
    /// freed on the way unless `retain_graph` is set.
    pub fn backward(&self, grad: Option<&Tensor>, retain_graph: bool) -> Result<()> {
        if !self.requires_grad() {
            return Err(Error::invalid(
                "backward",
                "the tensor does not require grad and has no grad_fn (no input of the ops that made it requires grad)",
            ));
        }
        let seed = match grad {
            Some(g) if g.shape() != self.shape() => {
                return Err(Error::shape(
                    "backward",
                    format!("grad has shape {} but the output has shape {}", ShapeDisplay(g.shape()), ShapeDisplay(self.shape())),
                ))
            }
            // In the output's dtype, as the engine casts every gradient to its tensor's.
            Some(g) => g.detach().to_dtype(self.dtype())?,
            None if self.numel() != 1 => {
                return Err(Error::invalid(
                    "backward",
                    format!("grad can be implicitly created only for one-element outputs, this one has shape {}", ShapeDisplay(self.shape())),
                ))
            }
            None => Tensor::ones(self.shape(), self.dtype(), self.device())?,
        };
        let _no_grad = NoGradGuard::new();
        let _no_autocast = autocast::Suspended::new();
        let order = self.topological_order();
        let mut grads: HashMap<usize, Tensor> = HashMap::from([(self.key(), seed)]);
        for node in order.iter().rev() {
            let Some(grad) = grads.remove(&node.key()) else {
                continue;
            };
            if node.is_leaf() {
                node.accumulate_grad(grad)?;
                continue;
            }
            let taken = {
                let mut slot = lock(&node.0.autograd.grad_fn);
                if retain_graph {
                    slot.clone()
                } else {
                    slot.take()
                }
            };
            let Some(f) = taken else {
                return Err(Error::invalid(
                    "backward",
                    "trying to backward through the graph a second time: its saved tensors were freed by the first backward(); pass retainGraph: true to that one",
                ));
            };
            f.check_saved()?;
            let inputs = f.op.inputs();
            let needs: Vec<bool> = inputs.iter().map(Tensor::requires_grad).collect();
            let input_grads = f.op.backward(&grad, &needs)?;
            for ((input, g), need) in inputs.iter().zip(input_grads).zip(needs) {
                let Some(g) = g.filter(|_| need) else {
                    continue;
                };
                // As PyTorch's engine does: a gradient takes its input's dtype (an op computed in
                // bf16 under autocast hands float32 inputs float32 gradients).
                let g = g.to_dtype(input.dtype())?;
                match grads.entry(input.key()) {
                    Entry::Occupied(mut e) => {
                        let sum = e.get().add(&g)?;
                        e.insert(sum);
                    }
                    Entry::Vacant(e) => {
                        e.insert(g);
                    }
                }
            }
        }
        Ok(())
    }

    fn accumulate_grad(&self, grad: Tensor) -> Result<()> {
        if !self.requires_grad() {
            return Ok(());
        }
        let grad = if grad.shape() == self.shape() {
            grad
        } else {
            grad.reshape(&self.shape().iter().map(|&d| d as i64).collect::<Vec<_>>())?
        };
        let mut slot = lock(&self.0.autograd.grad);
        let sum = match slot.take() {
            Some(old) => old.add(&grad)?,
            None => grad.contiguous()?,
        };
        *slot = Some(sum);
        Ok(())
    }

    /// Every tensor the graph behind `self` reaches that requires grad, inputs before outputs.
    fn topological_order(&self) -> Vec<Tensor> {
        let mut order = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![(self.clone(), false)];
        while let Some((t, inputs_done)) = stack.pop() {
            if inputs_done {
                order.push(t);
                continue;
            }
            if !seen.insert(t.key()) {
                continue;
            }
            let f = lock(&t.0.autograd.grad_fn).clone();
            stack.push((t, true));
            if let Some(f) = f {
                for input in f.op.inputs() {
                    if input.requires_grad() && !seen.contains(&input.key()) {
                        stack.push((input, false));
                    }
                }
            }
        }
        order
    }

    /// `grad` summed over the dims that broadcasting expanded, so that it has `shape`.
    pub(crate) fn sum_to_shape(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let lead = self.rank() - shape.len();
        let dims: Vec<i64> = (0..self.rank())
            .filter(|&d| d < lead || (shape[d - lead] == 1 && self.shape()[d] != 1))
            .map(|d| d as i64)
            .collect();
        let summed = if dims.is_empty() {
            self.clone()
        } else {
            self.sum(&dims, true)?
        };
        summed.reshape(&shape.iter().map(|&d| d as i64).collect::<Vec<_>>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Device;
    use crate::dtype::DType;
    use crate::testing::{gradcheck, leaf, leaf_on, tensor, test_device, values};

    #[test]
    fn gradients_accumulate_and_the_graph_is_freed() {
        let x = leaf(&[3], 1);
        let y = x.mul(&x).unwrap().sum(&[], false).unwrap();
        assert_eq!(y.grad_fn_name(), Some("SumBackward0"));
        y.backward(None, false).unwrap();
        let first = x.grad().unwrap().to_vec_f32().unwrap();
        assert_eq!(
            first,
            x.to_vec_f32()
                .unwrap()
                .iter()
                .map(|v| 2.0 * v)
                .collect::<Vec<_>>()
        );
        assert_eq!(y.grad_fn_name(), None, "the graph is freed after backward");
        assert_eq!(
            y.backward(None, false).unwrap_err().code(),
            "InvalidArgument"
        );
        x.mul(&x)
            .unwrap()
            .sum(&[], false)
            .unwrap()
            .backward(None, false)
            .unwrap();
        let second = x.grad().unwrap().to_vec_f32().unwrap();
        assert_eq!(second, first.iter().map(|v| 2.0 * v).collect::<Vec<_>>());
    }

    #[test]
    fn no_grad_records_nothing_and_only_needed_inputs_get_grads() {
        let x = leaf(&[2], 2);
        let c = Tensor::from_f32(vec![1.0, 2.0], &[2]).unwrap();
        {
            let _g = NoGradGuard::new();
            assert!(!x.mul(&c).unwrap().requires_grad());
        }
        x.mul(&c)
            .unwrap()
            .sum(&[], false)
            .unwrap()
            .backward(None, false)
            .unwrap();
        assert!(c.grad().is_none());
        assert_eq!(x.grad().unwrap().to_vec_f32().unwrap(), vec![1.0, 2.0]);
    }

    #[test]
    fn backward_needs_a_scalar_or_a_gradient() {
        let x = leaf(&[2], 3);
        let y = x.mul(&x).unwrap();
        assert_eq!(
            y.backward(None, false).unwrap_err().code(),
            "InvalidArgument"
        );
        let g = Tensor::ones(&[2], DType::F32, Device::Cpu).unwrap();
        y.backward(Some(&g), false).unwrap();
        assert!(x.grad().is_some());
        let int = Tensor::from_i64(vec![1], &[1]).unwrap();
        assert_eq!(
            int.set_requires_grad(true).unwrap_err().code(),
            "DTypeMismatch"
        );
    }

    test_device!(fn elementwise_gradients_match_finite_differences(device) {
        use crate::BinaryOp::*;
        for op in [Add, Sub, Mul, Div, Maximum, Minimum] {
            let inputs = [leaf_on(&[2, 3], 4, device), leaf_on(&[3], 5, device)];
            gradcheck(&inputs, |x| {
                x[0].binary(
                    op,
                    &x[1].binary_scalar(Add, if op == Div { 2.0 } else { 0.0 })?,
                )
            });
        }
        // Fresh positive leaves for each check, since gradients accumulate.
        let positive = || {
            let t = tensor(&[4], 6, device).abs().unwrap().binary_scalar(Add, 0.5).unwrap();
            t.set_requires_grad(true).unwrap();
            t
        };
        gradcheck(&[positive(), leaf_on(&[4], 7, device)], |x| x[0].pow(&x[1]));
        gradcheck(&[positive()], |x| x[0].log());
        gradcheck(&[positive()], |x| x[0].sqrt());
        type Unary = fn(&Tensor) -> Result<Tensor>;
        let unary: [(u64, Unary); 3] = [(8, Tensor::exp), (9, Tensor::neg), (10, Tensor::abs)];
        for (seed, f) in unary {
            gradcheck(&[leaf_on(&[5], seed, device)], |x| f(&x[0]));
        }
    });

    test_device!(fn reduction_gradients_match_finite_differences(device) {
        type Reduction = fn(&Tensor) -> Result<Tensor>;
        let cases: [(&[usize], Reduction); 7] = [
            (&[2, 3, 4], |x| x.sum(&[1], false)),
            (&[2, 3, 4], |x| x.sum(&[0, 2], true)),
            (&[2, 3, 4], |x| x.mean(&[-1], false)),
            (&[2, 3, 4], |x| x.mean(&[], false)),
            (&[3, 5], |x| Ok(x.max_dim(1, false)?.0)),
            (&[3, 5], |x| Ok(x.min_dim(0, true)?.0)),
            (&[3, 5], |x| x.max()),
        ];
        for (seed, (shape, f)) in (11..).zip(cases) {
            gradcheck(&[leaf_on(shape, seed, device)], |x| f(&x[0]));
        }
    });

    #[test]
    fn matmul_and_view_gradients_match_finite_differences() {
        gradcheck(&[leaf(&[3, 4], 18), leaf(&[4, 2], 19)], |x| {
            x[0].matmul(&x[1])
        });
        gradcheck(&[leaf(&[2, 3, 4], 20), leaf(&[4, 5], 21)], |x| {
            x[0].matmul(&x[1])
        });
        gradcheck(&[leaf(&[4], 22), leaf(&[2, 4, 3], 23)], |x| {
            x[0].matmul(&x[1])
        });
        gradcheck(&[leaf(&[3, 4], 24), leaf(&[4], 25)], |x| x[0].matmul(&x[1]));
        gradcheck(&[leaf(&[4], 26), leaf(&[4], 27)], |x| x[0].matmul(&x[1]));
        gradcheck(&[leaf(&[2, 3, 4], 28)], |x| {
            x[0].permute(&[2, 0, 1])?.reshape(&[4, 6])
        });
        gradcheck(&[leaf(&[2, 3], 29)], |x| {
            x[0].transpose(0, 1)?.unsqueeze(0)?.expand(&[2, 3, 2])
        });
        gradcheck(&[leaf(&[2, 1, 3], 30)], |x| {
            x[0].squeeze(None)?.flatten(0, -1)
        });
        gradcheck(&[leaf(&[2, 3], 31)], |x| {
            x[0].transpose(0, 1)?.contiguous()?.view(&[-1])
        });
    }

    /// Runs `loss.backward()` and returns its error message, if any.
    fn backward_error(loss: &Tensor, retain_graph: bool) -> Option<String> {
        loss.backward(None, retain_graph).err().map(|e| {
            assert_eq!(e.code(), "InvalidArgument");
            e.to_string()
        })
    }

    fn overwrite(t: &Tensor) {
        t.copy_(&Tensor::zeros(t.shape(), DType::F32, t.device()).unwrap())
            .unwrap();
    }

    #[test]
    fn in_place_changes_count_as_versions_shared_by_views() {
        let x = Tensor::from_f32(vec![1.0; 4], &[2, 2]).unwrap();
        let view = x.view(&[4]).unwrap();
        assert_eq!(x.version(), 0);
        overwrite(&view);
        overwrite(&x);
        assert_eq!((x.version(), view.version()), (2, 2));
        assert_eq!(
            x.mul(&x).unwrap().version(),
            0,
            "results start at version 0"
        );
    }

    #[test]
    fn backward_refuses_saved_inputs_changed_in_place() {
        // PyTorch: w = torch.tensor([1., 2., 3.], requires_grad=True); x = torch.tensor([4., 5., 6.])
        // y = w * x; x.copy_(torch.zeros(3)); y.sum().backward() raises this message.
        let w = leaf(&[3], 40);
        let x = Tensor::from_f32(vec![4.0, 5.0, 6.0], &[3]).unwrap();
        let loss = w.mul(&x).unwrap().sum(&[], false).unwrap();
        overwrite(&x);
        assert_eq!(
            backward_error(&loss, false).unwrap(),
            "backward: one of the variables needed for gradient computation has been modified by an inplace operation: [MulBackward0] tensor of shape [3] is at version 1; expected version 0 instead"
        );
        assert!(w.grad().is_none());

        // A view of the saved tensor shares its version; the matmul node names itself.
        let a = leaf(&[2, 3], 41);
        let b = Tensor::from_f32(values(6, 42), &[3, 2]).unwrap();
        let loss = a.matmul(&b).unwrap().sum(&[], false).unwrap();
        overwrite(&b.view(&[6]).unwrap());
        assert!(backward_error(&loss, false)
            .unwrap()
            .contains("[MmBackward0] tensor of shape [3, 2] is at version 1"));
    }

    #[test]
    fn backward_refuses_saved_outputs_changed_in_place() {
        for (name, f) in [
            ("ExpBackward0", Tensor::exp as fn(&Tensor) -> Result<Tensor>),
            ("SigmoidBackward0", Tensor::sigmoid),
            ("ReluBackward0", Tensor::relu),
        ] {
            let x = leaf(&[4], 43);
            let y = f(&x).unwrap();
            let loss = y
                .binary_scalar(crate::BinaryOp::Mul, 2.0)
                .unwrap()
                .sum(&[], false)
                .unwrap();
            overwrite(&y);
            let err = backward_error(&loss, false).unwrap();
            assert!(
                err.contains(&format!(
                    "[{name}] tensor of shape [4] is at version 1; expected version 0"
                )),
                "{err}"
            );
        }
    }

    #[test]
    fn values_backward_does_not_read_may_change() {
        // Add reads no values; mul's gradient for w reads only x, so w may change (as in PyTorch).
        let (a, b) = (
            leaf(&[3], 44),
            Tensor::from_f32(vec![1.0, 2.0, 3.0], &[3]).unwrap(),
        );
        let loss = a.add(&b).unwrap().sum(&[], false).unwrap();
        overwrite(&b);
        assert_eq!(backward_error(&loss, false), None);
        assert_eq!(a.grad().unwrap().to_vec_f32().unwrap(), vec![1.0; 3]);

        let (w, x) = (
            leaf(&[3], 45),
            Tensor::from_f32(vec![4.0, 5.0, 6.0], &[3]).unwrap(),
        );
        let loss = w.mul(&x).unwrap().sum(&[], false).unwrap();
        {
            let _g = NoGradGuard::new();
            overwrite(&w);
        }
        assert_eq!(backward_error(&loss, false), None);
        assert_eq!(w.grad().unwrap().to_vec_f32().unwrap(), vec![4.0, 5.0, 6.0]);
    }

    #[test]
    fn a_retained_graph_is_checked_again() {
        let w = leaf(&[3], 46);
        let x = Tensor::from_f32(vec![4.0, 5.0, 6.0], &[3]).unwrap();
        let loss = w.mul(&x).unwrap().sum(&[], false).unwrap();
        assert_eq!(backward_error(&loss, true), None);
        overwrite(&x);
        assert!(backward_error(&loss, true)
            .unwrap()
            .contains("[MulBackward0]"));
        assert_eq!(w.grad().unwrap().to_vec_f32().unwrap(), vec![4.0, 5.0, 6.0]);
    }

    #[test]
    fn printing_shows_the_grad_fn() {
        let x = leaf(&[2], 32);
        assert!(x.to_string().ends_with(", requires_grad=True)"));
        assert!(x
            .mul(&x)
            .unwrap()
            .to_string()
            .ends_with(", grad_fn=<MulBackward0>)"));
    }
}
