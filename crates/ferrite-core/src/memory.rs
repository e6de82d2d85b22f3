//! Live native tensors and storage bytes per device, as reported by `ft.memory()`.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use crate::device::Device;

/// CPU plus this many CUDA ordinals are tracked; more GPUs than this in one process is unheard of.
const SLOTS: usize = 65;

static TENSORS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static BYTES: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];

fn slot(device: Device) -> usize {
    match device {
        Device::Cpu => 0,
        Device::Cuda(i) => (i + 1).min(SLOTS - 1),
    }
}

pub(crate) fn tensor_created(device: Device) {
    TENSORS[slot(device)].fetch_add(1, Relaxed);
}

pub(crate) fn tensor_dropped(device: Device) {
    TENSORS[slot(device)].fetch_sub(1, Relaxed);
}

pub(crate) fn bytes_allocated(device: Device, bytes: usize) {
    BYTES[slot(device)].fetch_add(bytes, Relaxed);
}

pub(crate) fn bytes_released(device: Device, bytes: usize) {
    BYTES[slot(device)].fetch_sub(bytes, Relaxed);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceMemory {
    pub device: Device,
    /// Live tensor objects (views included).
    pub tensors: usize,
    /// Bytes of live storage (views share their base's storage and add nothing).
    pub bytes: usize,
}

/// Usage of every device that has ever held a tensor; the CPU is always listed first.
pub fn usage() -> Vec<DeviceMemory> {
    (0..SLOTS)
        .filter_map(|i| {
            let tensors = TENSORS[i].load(Relaxed);
            let bytes = BYTES[i].load(Relaxed);
            let device = if i == 0 {
                Device::Cpu
            } else {
                Device::Cuda(i - 1)
            };
            (i == 0 || tensors > 0 || bytes > 0).then_some(DeviceMemory {
                device,
                tensors,
                bytes,
            })
        })
        .collect()
}
