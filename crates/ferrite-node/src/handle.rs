//! Tensors as JS holds them: plain numbers that index a per-thread table of core tensors.
//!
//! A napi class instance per op result cost more than the op itself (a JS constructor call, a
//! wrap with its finalizer reference, napi-rs's per-instance bookkeeping); a number costs nothing
//! to make or to pass. JS frees a tensor with `release`: `dispose()` does, and so does the
//! collector: a tensor that no scope disposes is `watch`ed through a weak reference to its JS
//! object, and the table releases the tensors whose objects the collector took as soon as it
//! notices a collection. That happens during synchronous code too, where a
//! `FinalizationRegistry` waits for the event loop to turn (a plain training loop that never
//! awaits would grow without bound). Every JS thread (the main one, each worker) has its own
//! table, since it calls from its own OS thread, and empties it when its environment is torn down.
//!
//! A tensor's bytes are announced to V8 as external memory, so that garbage collection feels
//! their weight, except while a `tidy` scope will dispose them.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ptr;

use ferrite_core::Tensor;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use ferrite_core::trace::{self, Op};

use crate::convert::{guard, js_error, JsResult};

/// A handle is `generation << INDEX_BITS | index`: an integer that a JS number holds exactly.
/// (More than 2^32 live tensors would take over a terabyte of tensor headers alone.)
const INDEX_BITS: u32 = 32;
const INDEX_MASK: i64 = (1 << INDEX_BITS) - 1;
/// Past this generation a slot is retired rather than reused, so that no handle ever comes back.
const MAX_GENERATION: u32 = (1 << (53 - INDEX_BITS)) - 1;

/// A tensor handle as JS passes it (`TensorHandle` in the generated typings, a branded number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorHandle(i64);

impl TensorHandle {
    fn new(index: usize, generation: u32) -> Self {
        Self(i64::from(generation) << INDEX_BITS | index as i64)
    }

    fn index(self) -> usize {
        (self.0 & INDEX_MASK) as usize
    }

    fn generation(self) -> i64 {
        self.0 >> INDEX_BITS
    }

    /// The tensor behind this handle, for `op`: a clone (an `Arc`), so that the op that uses it
    /// can put new tensors in the table. While this thread records a trace, reading a tensor the
    /// trace knows fails it (`Untraceable`): ops that a graph can replay use `peek` and
    /// `trace::run` instead.
    pub fn get(self, op: &str) -> JsResult<Tensor> {
        let t = self.peek(op)?;
        ferrite_core::trace::check_access(&t, op).map_err(js_error)?;
        Ok(t)
    }

    /// The tensor behind this handle without the trace check: for traceable ops, which
    /// `trace::run` records, and for metadata (shape, dtype...), which a graph does not depend on.
    pub fn peek(self, op: &str) -> JsResult<Tensor> {
        TABLE
            .with_borrow(|table| table.slot(self).and_then(|s| s.tensor.clone()))
            .ok_or_else(|| {
                napi::Error::new(
                    "DisposedTensor".to_string(),
                    format!(
                        "{op}: the tensor was disposed and cannot be used (by dispose(), at the \
                         end of the tidy scope or the Module.forward that made it; ft.keep() \
                         keeps a tensor beyond its scope)"
                    ),
                )
            })
    }
}

impl TypeName for TensorHandle {
    fn type_name() -> &'static str {
        "TensorHandle"
    }

    fn value_type() -> ValueType {
        ValueType::Number
    }
}

impl FromNapiValue for TensorHandle {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        unsafe { i64::from_napi_value(env, value) }.map(Self)
    }
}

impl ToNapiValue for TensorHandle {
    unsafe fn to_napi_value(env: sys::napi_env, handle: Self) -> Result<sys::napi_value> {
        unsafe { i64::to_napi_value(env, handle.0) }
    }
}

struct Slot {
    tensor: Option<Tensor>,
    /// Bumped when the tensor leaves, so that its handles no longer match.
    generation: u32,
    /// Bytes announced to V8 for this tensor, taken back when it leaves.
    reported: i64,
    /// A weak reference to the JS object that owns the handle, for tensors left to the collector
    /// (null otherwise). Deleted with `napi_delete_reference` when the tensor leaves.
    owner: sys::napi_ref,
}

struct Table {
    slots: Vec<Slot>,
    /// Empty slots, reused last-freed first.
    free: Vec<usize>,
    /// A weak reference to an object nothing else holds: once it reads empty, the collector has
    /// run since it was made, and the watched slots are worth checking.
    canary: sys::napi_ref,
    /// Whether this thread's environment will empty the table when it is torn down.
    cleanup_hooked: bool,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            slots: Vec::new(),
            free: Vec::new(),
            canary: ptr::null_mut(),
            cleanup_hooked: false,
        }
    }
}

impl Table {
    fn insert(&mut self, tensor: Tensor, reported: i64) -> TensorHandle {
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot {
                tensor: None,
                generation: 0,
                reported: 0,
                owner: ptr::null_mut(),
            });
            self.slots.len() - 1
        });
        let slot = &mut self.slots[index];
        slot.tensor = Some(tensor);
        slot.reported = reported;
        TensorHandle::new(index, slot.generation)
    }

    /// The slot `handle` names, if it still holds that handle's tensor.
    fn slot(&self, handle: TensorHandle) -> Option<&Slot> {
        self.slots
            .get(handle.index())
            .filter(|s| s.tensor.is_some() && i64::from(s.generation) == handle.generation())
    }

    fn slot_mut(&mut self, handle: TensorHandle) -> Option<&mut Slot> {
        self.slots
            .get_mut(handle.index())
            .filter(|s| s.tensor.is_some() && i64::from(s.generation) == handle.generation())
    }

    /// Takes the tensor out, with the bytes announced for it and its owner's weak reference (for
    /// the caller to delete); None for a stale handle.
    fn remove(&mut self, handle: TensorHandle) -> Option<Removed> {
        self.slot(handle)?;
        Some(self.empty(handle.index()))
    }

    fn empty(&mut self, index: usize) -> Removed {
        let slot = &mut self.slots[index];
        let removed = Removed {
            tensor: slot.tensor.take(),
            reported: std::mem::take(&mut slot.reported),
            owner: std::mem::replace(&mut slot.owner, ptr::null_mut()),
        };
        if slot.generation < MAX_GENERATION {
            slot.generation += 1;
            self.free.push(index);
        }
        removed
    }
}

/// What leaves a slot: dropped by the caller outside the table's borrow, since dropping a tensor
/// can take a while and V8 calls must not find the table borrowed.
struct Removed {
    tensor: Option<Tensor>,
    reported: i64,
    owner: sys::napi_ref,
}

impl Removed {
    /// Deletes the owner's weak reference and takes the announced bytes back from V8.
    fn settle(self, env: sys::napi_env) {
        if !self.owner.is_null() {
            // SAFETY: `owner` was made by `napi_create_reference` in this thread's environment,
            // which is alive (we are in a call from it or in its cleanup hook), and is deleted once.
            unsafe { sys::napi_delete_reference(env, self.owner) };
        }
        if self.reported != 0 {
            let mut total = 0;
            // SAFETY: a plain call into this thread's live environment.
            unsafe { sys::napi_adjust_external_memory(env, -self.reported, &mut total) };
        }
        drop(self.tensor);
    }
}

thread_local! {
    static TABLE: RefCell<Table> = RefCell::default();
    /// Tensors (by `Tensor::identity`) that calls running off this thread use, with how many
    /// calls use each: `release` refuses them, and the collector waits for the calls to settle.
    static IN_USE: RefCell<HashMap<usize, u32>> = RefCell::default();
    /// `tidy` scopes open on this thread.
    static TIDY_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Enters a `tidy` scope: tensors made until the matching `exitTidy` are not announced to V8.
/// `tidy` disposes them itself, and announcing them made V8 run two full garbage collections per
/// training step (external memory grew by 64 MB), whose marking took a tenth of the CPU time.
#[napi]
pub fn enter_tidy() {
    TIDY_DEPTH.with(|d| d.set(d.get() + 1));
}

/// Leaves the scope `enterTidy` entered.
#[napi]
pub fn exit_tidy() {
    TIDY_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
}

/// Puts a core tensor in this thread's table for JS, announcing its storage to V8 unless a `tidy`
/// scope will dispose it.
pub fn wrap(env: &Env, tensor: Tensor) -> TensorHandle {
    let reported = if TIDY_DEPTH.with(Cell::get) == 0 {
        report(env, &tensor)
    } else {
        0
    };
    let (handle, hooked) = TABLE.with_borrow_mut(|table| {
        let hooked = std::mem::replace(&mut table.cleanup_hooked, true);
        (table.insert(tensor, reported), hooked)
    });
    if !hooked {
        // Fails only while the environment is already going away.
        let raw = env.raw() as usize;
        let _ = env.add_env_cleanup_hook(raw, |raw| empty_table(raw as sys::napi_env));
    }
    handle
}

/// Releases every tensor of this thread as its environment (a worker's, or the main thread's at
/// exit) is torn down, while its weak references can still be deleted.
fn empty_table(env: sys::napi_env) {
    let (removed, canary) = TABLE.with_borrow_mut(|table| {
        let live: Vec<usize> = (0..table.slots.len())
            .filter(|&i| table.slots[i].tensor.is_some())
            .collect();
        let removed: Vec<Removed> = live.into_iter().map(|i| table.empty(i)).collect();
        (removed, std::mem::take(table).canary)
    });
    for r in removed {
        r.settle(env);
    }
    delete_reference(env, canary);
}

fn delete_reference(env: sys::napi_env, reference: sys::napi_ref) {
    if !reference.is_null() {
        // SAFETY: `reference` was made in this thread's environment, which is alive, and its
        // holder forgot it.
        unsafe { sys::napi_delete_reference(env, reference) };
    }
}

/// The object a weak reference names, or null once the collector took it.
fn referent(env: sys::napi_env, reference: sys::napi_ref) -> sys::napi_value {
    let mut value = ptr::null_mut();
    // SAFETY: `reference` is a live reference of this thread's environment.
    let status = unsafe { sys::napi_get_reference_value(env, reference, &mut value) };
    if status == sys::Status::napi_ok {
        value
    } else {
        ptr::null_mut()
    }
}

/// A weak reference (count 0) to `value`: it reads empty once the collector took the object.
fn weak_reference(env: sys::napi_env, value: sys::napi_value) -> sys::napi_ref {
    let mut reference = ptr::null_mut();
    // SAFETY: `value` is a live value of this call's scope in this thread's environment.
    let status = unsafe { sys::napi_create_reference(env, value, 0, &mut reference) };
    if status == sys::Status::napi_ok {
        reference
    } else {
        ptr::null_mut()
    }
}

/// Leaves the tensor behind `handle` to the collector: it is released once the collector took
/// `owner`, the JS object holding the handle. Checks for such tensors whenever a collection has
/// happened since the last check, which a collection of a fresh, unreachable canary object shows.
#[napi]
pub fn watch(env: Env, handle: TensorHandle, owner: Unknown) {
    let env = env.raw();
    let canary = TABLE.with_borrow(|table| table.canary);
    if canary.is_null() || referent(env, canary).is_null() {
        release_collected(env);
        let mut object = ptr::null_mut();
        // SAFETY: a plain call into this thread's live environment.
        unsafe { sys::napi_create_object(env, &mut object) };
        let fresh = weak_reference(env, object);
        let old = TABLE.with_borrow_mut(|table| std::mem::replace(&mut table.canary, fresh));
        delete_reference(env, old);
    }
    let reference = weak_reference(env, owner.raw());
    let unused = TABLE.with_borrow_mut(|table| match table.slot_mut(handle) {
        Some(slot) if slot.owner.is_null() => {
            slot.owner = reference;
            ptr::null_mut()
        }
        _ => reference,
    });
    delete_reference(env, unused);
}

/// Releases the watched tensors whose JS objects the collector took, except those in use (see
/// `mark_in_use`), which wait for their calls to settle.
fn release_collected(env: sys::napi_env) {
    let watched: Vec<(usize, sys::napi_ref)> = TABLE.with_borrow(|table| {
        let slots = table.slots.iter().enumerate();
        slots
            .filter(|(_, s)| !s.owner.is_null() && s.tensor.is_some())
            .map(|(i, s)| (i, s.owner))
            .collect()
    });
    let collected: Vec<usize> = watched
        .into_iter()
        .filter(|&(_, owner)| referent(env, owner).is_null())
        .map(|(i, _)| i)
        .filter(|&i| TABLE.with_borrow(|table| !table.slots[i].tensor.as_ref().is_some_and(in_use)))
        .collect();
    if collected.is_empty() {
        return;
    }
    let removed: Vec<Removed> =
        TABLE.with_borrow_mut(|table| collected.into_iter().map(|i| table.empty(i)).collect());
    for r in removed {
        r.settle(env);
    }
}

/// Releases the tensors whose owners the collector took, without waiting for a new collection;
/// `ft.memory()` calls it so that its counts do not include them.
#[napi]
pub fn release_collected_tensors(env: Env) {
    release_collected(env.raw());
}

/// Runs `f` on the tensor behind `handle` and hands JS the tensor it returns (for ops a traced
/// graph cannot replay; see `run_op`).
pub fn apply(
    env: &Env,
    handle: TensorHandle,
    op: &'static str,
    f: impl FnOnce(&Tensor) -> ferrite_core::Result<Tensor>,
) -> JsResult<TensorHandle> {
    let t = handle.get(op)?;
    guard(op, || f(&t)).map(|out| wrap(env, out))
}

/// Runs a traceable op (recorded while this thread traces) on the tensors behind `inputs`
/// (None: an absent optional operand) and hands JS its result. `name` is the op as JS calls it,
/// for messages.
pub fn run_op(
    env: &Env,
    name: &'static str,
    op: Op,
    inputs: &[Option<TensorHandle>],
) -> JsResult<TensorHandle> {
    // Up to five operands (batch_norm's) on the stack: this runs once per op call.
    const INLINE: usize = 5;
    let look_up = |h: &Option<TensorHandle>| h.map(|h| h.peek(name)).transpose();
    let out = if inputs.len() <= INLINE {
        let mut tensors: [Option<Tensor>; INLINE] = Default::default();
        for (slot, h) in tensors.iter_mut().zip(inputs) {
            *slot = look_up(h)?;
        }
        let operands: [Option<&Tensor>; INLINE] = std::array::from_fn(|i| tensors[i].as_ref());
        guard(name, || trace::run(op, &operands[..inputs.len()]))?
    } else {
        let tensors = inputs.iter().map(look_up).collect::<JsResult<Vec<_>>>()?;
        let operands: Vec<Option<&Tensor>> = tensors.iter().map(Option::as_ref).collect();
        guard(name, || trace::run(op, &operands))?
    };
    Ok(wrap(env, out))
}

/// Native bytes of a tensor besides its storage (header, shape, strides, autograd state, slot),
/// about 400 as measured from RSS. Announced external memory is what makes V8 collect in time:
/// counting these bytes too keeps tensors left to the collector bounded in number even when their
/// storage weighs nothing.
const TENSOR_BYTES: i64 = 400;

/// Announces `tensor` to V8 (outside any borrow of the table: V8 may collect garbage in the
/// call); returns the bytes announced.
fn report(env: &Env, tensor: &Tensor) -> i64 {
    let bytes = TENSOR_BYTES + tensor.storage_bytes() as i64;
    // Only a hint to the GC: failing to give it must not fail the op.
    match env.adjust_external_memory(bytes) {
        Ok(_) => bytes,
        Err(_) => 0,
    }
}

/// Bytes that this thread's live tensors have announced to V8 (`napi_adjust_external_memory`):
/// not public API, but what test/memory.test.ts reads to check that `tidy` scopes announce
/// nothing, without depending on what V8's collector then does.
#[napi]
pub fn external_memory_announced() -> i64 {
    TABLE.with_borrow(|table| {
        table
            .slots
            .iter()
            .filter(|slot| slot.tensor.is_some())
            .map(|slot| slot.reported)
            .sum()
    })
}

/// Tells V8's garbage collector about a tensor's storage, once: for tensors that outlive the
/// `tidy` scope they were made in, and so may be freed only by the collector.
#[napi]
pub fn announce(env: Env, handle: TensorHandle) {
    let unannounced = TABLE.with_borrow(|table| {
        table
            .slot(handle)
            .filter(|s| s.reported == 0)
            .and_then(|s| s.tensor.clone())
    });
    if let Some(tensor) = unannounced {
        let bytes = report(&env, &tensor);
        TABLE.with_borrow_mut(|table| {
            if let Some(slot) = table.slot_mut(handle) {
                slot.reported = bytes;
            }
        });
    }
}

/// Frees a tensor's slot, and its storage unless another tensor views it. Releasing a handle
/// that was already released does nothing: the collector may come after `dispose()`. A tensor
/// that a call running off the JS thread uses (`TracedGraph.runAsync`) stays, with a
/// `TensorInUse` error.
#[napi]
pub fn release(env: Env, handle: TensorHandle) -> Result<(), String> {
    let removed = TABLE.with_borrow_mut(|table| {
        if table.slot(handle)?.tensor.as_ref().is_some_and(in_use) {
            return Some(Err(napi::Error::new(
                "TensorInUse".to_string(),
                "dispose: the tensor is in use by a call running off the JS thread \
                 (TracedGraph.runAsync, Module.predict, ft.noGradAsync) and stays alive; dispose \
                 it once that call's promise has settled"
                    .to_string(),
            )));
        }
        table.remove(handle).map(Ok)
    });
    match removed {
        Some(Ok(removed)) => removed.settle(env.raw()),
        Some(Err(busy)) => return Err(busy),
        None => {}
    }
    Ok(())
}

fn in_use(t: &Tensor) -> bool {
    IN_USE.with_borrow(|used| !used.is_empty() && used.contains_key(&t.identity()))
}

/// Marks `tensors` as used by a call running off the JS thread, until `unmark_in_use`.
pub fn mark_in_use<'a>(tensors: impl IntoIterator<Item = &'a Tensor>) {
    IN_USE.with_borrow_mut(|used| {
        for t in tensors {
            *used.entry(t.identity()).or_default() += 1;
        }
    });
}

/// Ends what `mark_in_use` did for a settled call, then releases the tensors the collector took
/// in the meantime.
pub fn unmark_in_use<'a>(env: &Env, tensors: impl IntoIterator<Item = &'a Tensor>) {
    IN_USE.with_borrow_mut(|used| {
        for t in tensors {
            if let Some(count) = used.get_mut(&t.identity()) {
                *count -= 1;
                if *count == 0 {
                    used.remove(&t.identity());
                }
            }
        }
    });
    release_collected(env.raw());
}

#[napi]
pub fn is_disposed(handle: TensorHandle) -> bool {
    TABLE.with_borrow(|table| table.slot(handle).is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor() -> Tensor {
        Tensor::from_f32(vec![1.0], &[1]).unwrap()
    }

    #[test]
    fn a_released_handle_does_not_name_the_tensor_that_reuses_its_slot() {
        let mut table = Table::default();
        let first = table.insert(tensor(), 0);
        assert!(table.remove(first).is_some());
        let second = table.insert(tensor(), 0);
        assert_eq!(second.index(), first.index());
        assert_ne!(second, first);
        assert!(table.slot(first).is_none());
        assert!(table.remove(first).is_none());
        assert!(table.slot(second).is_some());
    }

    #[test]
    fn a_slot_is_retired_at_its_last_generation() {
        let mut table = Table::default();
        let handle = table.insert(tensor(), 0);
        table.slots[handle.index()].generation = MAX_GENERATION;
        let last = TensorHandle::new(handle.index(), MAX_GENERATION);
        assert!(table.remove(last).is_some());
        assert!(table.free.is_empty());
        let next = table.insert(tensor(), 0);
        assert_ne!(next.index(), last.index());
        assert!(table.slot(last).is_none());
    }

    #[test]
    fn handles_fit_a_js_number_exactly() {
        let largest = TensorHandle::new(INDEX_MASK as usize, MAX_GENERATION);
        assert!(largest.0 < 1 << 53);
        assert_eq!(largest.index(), INDEX_MASK as usize);
        assert_eq!(largest.generation(), i64::from(MAX_GENERATION));
    }
}
