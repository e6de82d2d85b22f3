//! The caching allocator: device memory comes from the driver once and is kept for reuse, since
//! `cuMemAlloc`/`cuMemFree` synchronise the device and cost far more than a kernel. Size classes
//! follow PyTorch's: requests round up to 512 bytes, and blocks over 1 MiB to 2 MiB multiples so
//! that the varied sizes of a training step keep reusing the same large blocks.
//!
//! Every block belongs to one stream's pool and is reused only by work on that stream, whose
//! order makes reuse safe. A block of the copy stream's pool (a DataLoader batch uploaded while
//! the compute stream runs) is read later by the compute stream, so when it is freed it carries
//! a fence recorded on the compute stream and is reused only once that fence has passed.

use std::collections::BTreeMap;

/// Where device memory comes from: the driver on a GPU, `malloc` in the CPU shim.
pub(crate) trait RawMemory {
    fn malloc(&self, bytes: usize) -> Result<u64, MallocError>;
    fn free(&self, ptr: u64);
    /// A marker of all work queued so far on the compute stream.
    fn fence(&self) -> Option<Box<dyn Fence>>;
}

pub(crate) trait Fence: Send {
    fn passed(&self) -> bool;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MallocError {
    OutOfMemory,
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Pool {
    Compute,
    Copy,
}

/// `torch.cuda.memory_stats`' headline numbers, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Bytes in blocks handed out to live tensors and workspaces.
    pub allocated: usize,
    /// Bytes held from the driver: allocated plus cached.
    pub reserved: usize,
    pub peak_allocated: usize,
    pub peak_reserved: usize,
    /// Allocation requests served, and how many of them needed the driver.
    pub requests: u64,
    pub driver_allocations: u64,
}

const SMALL: usize = 1 << 20;
const ROUND_SMALL: usize = 512;
const ROUND_LARGE: usize = 2 << 20;

/// The block size a request of `bytes` gets.
pub(crate) fn size_class(bytes: usize) -> usize {
    let bytes = bytes.max(1);
    let round = if bytes <= SMALL {
        ROUND_SMALL
    } else {
        ROUND_LARGE
    };
    bytes.div_ceil(round) * round
}

struct Cached {
    ptr: u64,
    fence: Option<Box<dyn Fence>>,
}

/// A block handed out: the pointer plus what `free` needs back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Block {
    pub ptr: u64,
    pub size: usize,
    pub pool: Pool,
}

pub(crate) struct CachingAllocator {
    /// Free blocks by (pool, size): reuse takes an exact size class, so no block is split.
    free: BTreeMap<(Pool, usize), Vec<Cached>>,
    stats: MemoryStats,
    /// Off in the CPU shim: exact sizes, freed at once, so AddressSanitizer sees every overrun.
    caching: bool,
}

impl CachingAllocator {
    pub fn new(caching: bool) -> Self {
        CachingAllocator {
            free: BTreeMap::new(),
            stats: MemoryStats::default(),
            caching,
        }
    }

    /// A block of at least `bytes`; on an out-of-memory answer the cache is returned to the
    /// driver and the request tried once more, as PyTorch does.
    pub fn allocate(
        &mut self,
        raw: &dyn RawMemory,
        bytes: usize,
        pool: Pool,
    ) -> Result<Block, MallocError> {
        self.stats.requests += 1;
        let size = if self.caching {
            size_class(bytes)
        } else {
            bytes.max(1)
        };
        let ptr = match self.take_cached(pool, size) {
            Some(ptr) => ptr,
            None => self.from_driver(raw, size)?,
        };
        self.stats.allocated += size;
        self.stats.peak_allocated = self.stats.peak_allocated.max(self.stats.allocated);
        Ok(Block { ptr, size, pool })
    }

    pub fn release(&mut self, raw: &dyn RawMemory, block: Block) {
        self.stats.allocated -= block.size;
        if !self.caching {
            raw.free(block.ptr);
            self.stats.reserved -= block.size;
            return;
        }
        let fence = match block.pool {
            Pool::Compute => None,
            Pool::Copy => raw.fence(),
        };
        self.free
            .entry((block.pool, block.size))
            .or_default()
            .push(Cached {
                ptr: block.ptr,
                fence,
            });
    }

    /// Returns every cached block to the driver (`torch.cuda.empty_cache`).
    pub fn empty_cache(&mut self, raw: &dyn RawMemory) {
        for ((_, size), blocks) in std::mem::take(&mut self.free) {
            for block in blocks {
                raw.free(block.ptr);
                self.stats.reserved -= size;
            }
        }
    }

    pub fn stats(&self) -> MemoryStats {
        self.stats
    }

    pub fn reset_peak(&mut self) {
        self.stats.peak_allocated = self.stats.allocated;
        self.stats.peak_reserved = self.stats.reserved;
    }

    fn take_cached(&mut self, pool: Pool, size: usize) -> Option<u64> {
        let blocks = self.free.get_mut(&(pool, size))?;
        let ready = blocks
            .iter()
            .position(|b| b.fence.as_ref().is_none_or(|f| f.passed()))?;
        let block = blocks.swap_remove(ready);
        if blocks.is_empty() {
            self.free.remove(&(pool, size));
        }
        Some(block.ptr)
    }

    fn from_driver(&mut self, raw: &dyn RawMemory, size: usize) -> Result<u64, MallocError> {
        let ptr = match raw.malloc(size) {
            Err(MallocError::OutOfMemory) if !self.free.is_empty() => {
                self.empty_cache(raw);
                raw.malloc(size)?
            }
            other => other?,
        };
        self.stats.driver_allocations += 1;
        self.stats.reserved += size;
        self.stats.peak_reserved = self.stats.peak_reserved.max(self.stats.reserved);
        Ok(ptr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    /// Device memory of a fixed capacity, handing out increasing addresses.
    struct FakeMemory {
        capacity: usize,
        used: Cell<usize>,
        live: RefCell<BTreeMap<u64, usize>>,
        next: Cell<u64>,
        fence_passed: Arc<AtomicBool>,
    }

    impl FakeMemory {
        fn new(capacity: usize) -> Self {
            FakeMemory {
                capacity,
                used: Cell::new(0),
                live: RefCell::new(BTreeMap::new()),
                next: Cell::new(0x1000),
                fence_passed: Arc::new(AtomicBool::new(true)),
            }
        }
    }

    struct FakeFence(Arc<AtomicBool>);

    impl Fence for FakeFence {
        fn passed(&self) -> bool {
            self.0.load(Ordering::Relaxed)
        }
    }

    impl RawMemory for FakeMemory {
        fn malloc(&self, bytes: usize) -> Result<u64, MallocError> {
            if self.used.get() + bytes > self.capacity {
                return Err(MallocError::OutOfMemory);
            }
            let ptr = self.next.get();
            self.next.set(ptr + bytes as u64);
            self.used.set(self.used.get() + bytes);
            self.live.borrow_mut().insert(ptr, bytes);
            Ok(ptr)
        }

        fn free(&self, ptr: u64) {
            let bytes = self.live.borrow_mut().remove(&ptr).expect("double free");
            self.used.set(self.used.get() - bytes);
        }

        fn fence(&self) -> Option<Box<dyn Fence>> {
            Some(Box::new(FakeFence(self.fence_passed.clone())))
        }
    }

    #[test]
    fn sizes_round_like_pytorch() {
        let cases = [
            (0, 512),
            (1, 512),
            (512, 512),
            (513, 1024),
            (1 << 20, 1 << 20),
            ((1 << 20) + 1, 2 << 20),
            (5 << 20, 6 << 20),
        ];
        for (bytes, class) in cases {
            assert_eq!(size_class(bytes), class, "{bytes}");
        }
    }

    #[test]
    fn freed_blocks_are_reused_and_counted() {
        let raw = FakeMemory::new(1 << 30);
        let mut a = CachingAllocator::new(true);
        let x = a.allocate(&raw, 1000, Pool::Compute).unwrap();
        assert_eq!(a.stats().allocated, 1024);
        a.release(&raw, x);
        assert_eq!((a.stats().allocated, a.stats().reserved), (0, 1024));
        let y = a.allocate(&raw, 1001, Pool::Compute).unwrap();
        assert_eq!(y.ptr, x.ptr, "same size class reuses the cached block");
        let z = a.allocate(&raw, 3000, Pool::Compute).unwrap();
        assert_ne!(z.ptr, x.ptr);
        let stats = a.stats();
        assert_eq!(stats.driver_allocations, 2);
        assert_eq!(stats.requests, 3);
        assert_eq!(stats.peak_allocated, 1024 + 3072);
        a.release(&raw, y);
        a.release(&raw, z);
        a.empty_cache(&raw);
        assert_eq!(a.stats().reserved, 0);
        assert_eq!(raw.used.get(), 0);
        a.reset_peak();
        assert_eq!(a.stats().peak_allocated, 0);
    }

    #[test]
    fn out_of_memory_frees_the_cache_and_retries_once() {
        let raw = FakeMemory::new(4096);
        let mut a = CachingAllocator::new(true);
        let x = a.allocate(&raw, 3000, Pool::Compute).unwrap();
        a.release(&raw, x);
        // The cached 3 KiB block leaves too little room: the cache goes back, then it fits.
        let y = a.allocate(&raw, 2048, Pool::Compute).unwrap();
        assert_eq!(a.stats().reserved, 2048);
        assert_eq!(
            a.allocate(&raw, 4096, Pool::Compute),
            Err(MallocError::OutOfMemory)
        );
        // Still usable after the failure.
        a.release(&raw, y);
        assert!(a.allocate(&raw, 512, Pool::Compute).is_ok());
    }

    #[test]
    fn a_copy_block_waits_for_its_fence_and_pools_stay_apart() {
        let raw = FakeMemory::new(1 << 20);
        let mut a = CachingAllocator::new(true);
        let x = a.allocate(&raw, 512, Pool::Copy).unwrap();
        raw.fence_passed.store(false, Ordering::Relaxed);
        a.release(&raw, x);
        let busy = a.allocate(&raw, 512, Pool::Copy).unwrap();
        assert_ne!(busy.ptr, x.ptr, "the compute stream may still read it");
        assert_ne!(a.allocate(&raw, 512, Pool::Compute).unwrap().ptr, x.ptr);
        raw.fence_passed.store(true, Ordering::Relaxed);
        assert_eq!(a.allocate(&raw, 512, Pool::Copy).unwrap().ptr, x.ptr);
    }

    #[test]
    fn without_caching_sizes_are_exact_and_freed_at_once() {
        let raw = FakeMemory::new(1 << 20);
        let mut a = CachingAllocator::new(false);
        let x = a.allocate(&raw, 13, Pool::Compute).unwrap();
        assert_eq!((x.size, raw.used.get()), (13, 13));
        a.release(&raw, x);
        assert_eq!((raw.used.get(), a.stats().reserved), (0, 0));
    }
}
