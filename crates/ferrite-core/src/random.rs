//! The process-wide random generator behind `rand`, `randn` and `randint`, reseeded by
//! `manual_seed` so that runs are reproducible.

use std::sync::{Mutex, MutexGuard};

use rand::rngs::StdRng;
use rand::SeedableRng;

/// PyTorch's default seed, so an unseeded run is still deterministic.
const DEFAULT_SEED: u64 = 67280421310721;

static GENERATOR: Mutex<Option<StdRng>> = Mutex::new(None);

pub fn manual_seed(seed: u64) {
    *lock() = Some(StdRng::seed_from_u64(seed));
}

fn lock() -> MutexGuard<'static, Option<StdRng>> {
    GENERATOR.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` with exclusive use of the generator.
pub(crate) fn with_generator<T>(f: impl FnOnce(&mut StdRng) -> T) -> T {
    let mut guard = lock();
    f(guard.get_or_insert_with(|| StdRng::seed_from_u64(DEFAULT_SEED)))
}
