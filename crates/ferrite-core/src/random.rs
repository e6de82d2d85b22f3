//! The process-wide random generator behind `rand`, `randn` and `randint`, reseeded by
//! `manual_seed` so that runs are reproducible, and saved and restored whole by checkpoints.

use std::sync::{Mutex, MutexGuard};

use rand::SeedableRng;
// ChaCha12, the algorithm of rand's `StdRng`, by name: its seed, stream and position can be read
// and set, which a checkpoint needs.
use rand_chacha::ChaCha12Rng;

use crate::error::{Error, Result};

/// PyTorch's default seed, so an unseeded run is still deterministic.
const DEFAULT_SEED: u64 = 67280421310721;

/// Bytes of `generator_state`: the 32-byte key, the 8-byte stream and the 16-byte word position.
pub const GENERATOR_STATE_BYTES: usize = 56;

static GENERATOR: Mutex<Option<ChaCha12Rng>> = Mutex::new(None);

pub fn manual_seed(seed: u64) {
    *lock() = Some(ChaCha12Rng::seed_from_u64(seed));
}

fn lock() -> MutexGuard<'static, Option<ChaCha12Rng>> {
    GENERATOR.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` with exclusive use of the generator.
pub(crate) fn with_generator<T>(f: impl FnOnce(&mut ChaCha12Rng) -> T) -> T {
    let mut guard = lock();
    f(guard.get_or_insert_with(|| ChaCha12Rng::seed_from_u64(DEFAULT_SEED)))
}

/// The generator's whole state, like `torch.get_rng_state()`: key, stream and word position,
/// little-endian.
pub fn generator_state() -> Vec<u8> {
    with_generator(|g| state_of(g))
}

/// Restores a state from `generator_state`, like `torch.set_rng_state()`.
pub fn set_generator_state(state: &[u8]) -> Result<()> {
    *lock() = Some(generator_from(state)?);
    Ok(())
}

fn state_of(g: &ChaCha12Rng) -> Vec<u8> {
    let mut state = g.get_seed().to_vec();
    state.extend_from_slice(&g.get_stream().to_le_bytes());
    state.extend_from_slice(&g.get_word_pos().to_le_bytes());
    state
}

fn generator_from(state: &[u8]) -> Result<ChaCha12Rng> {
    let Ok(state) = <&[u8; GENERATOR_STATE_BYTES]>::try_from(state) else {
        return Err(Error::invalid(
            "setRngState",
            format!(
                "expected a state of {GENERATOR_STATE_BYTES} bytes from getRngState, got {} bytes",
                state.len()
            ),
        ));
    };
    let mut g = ChaCha12Rng::from_seed(state[..32].try_into().expect("32 bytes"));
    g.set_stream(u64::from_le_bytes(
        state[32..40].try_into().expect("8 bytes"),
    ));
    g.set_word_pos(u128::from_le_bytes(
        state[40..].try_into().expect("16 bytes"),
    ));
    Ok(g)
}

#[cfg(test)]
mod tests {
    use rand::Rng;

    use super::*;

    // Local generators: the global one is shared with every other test running in parallel.
    #[test]
    fn a_restored_state_continues_the_same_stream() {
        let mut g = ChaCha12Rng::seed_from_u64(7);
        (0..13).for_each(|_| _ = g.random::<u32>());
        let state = state_of(&g);
        let next: Vec<u64> = (0..5).map(|_| g.random()).collect();
        let mut restored = generator_from(&state).unwrap();
        assert_eq!(
            (0..5).map(|_| restored.random()).collect::<Vec<u64>>(),
            next
        );
        assert!(generator_from(&state[1..]).is_err());
    }

    #[test]
    fn draws_match_rands_std_rng() {
        // Naming ChaCha12 instead of `StdRng` must not change any seeded run.
        let mut ours = ChaCha12Rng::seed_from_u64(3);
        let mut std = rand::rngs::StdRng::seed_from_u64(3);
        assert_eq!(
            (0..4).map(|_| ours.random()).collect::<Vec<f32>>(),
            (0..4).map(|_| std.random()).collect::<Vec<f32>>()
        );
    }
}
