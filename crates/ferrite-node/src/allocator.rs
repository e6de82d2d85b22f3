//! The addon's allocator: mimalloc, keeping freed memory for a while before returning it.
//!
//! The system allocator returns every large tensor buffer to the OS, and the page faults on the
//! next allocation slow memory-bound ops down. mimalloc keeps freed pages for its purge delay;
//! its default (1 s) is shorter than the gap between a training step's frees and re-allocations,
//! so the delay here is 10 s: memory still goes back to the OS 10 s after a process stops using
//! it. The measurements behind both choices are in bench/KERNELS.md.

use std::ffi::c_long;

// ASan (npm run test:asan) sees only the system allocator's blocks, not mimalloc's pages.
#[cfg(not(feature = "asan"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 2's `mi_option_t` (libmimalloc-sys names no constant for it).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const PURGE_DELAY_MS: c_long = 10_000;
/// Set by a user to choose the delay, which then wins.
const PURGE_DELAY_VARIABLE: &str = "MIMALLOC_PURGE_DELAY";

#[napi_derive::module_init]
fn keep_freed_memory() {
    if std::env::var_os(PURGE_DELAY_VARIABLE).is_none() {
        // SAFETY: runs once as the addon loads, before any thread of ours allocates.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, PURGE_DELAY_MS) }
    }
}

/// Takes back the blocks of this thread's heap that other threads freed. mimalloc hands such a
/// block back to its heap only when that heap next allocates from the same page, so a data
/// loader's worker thread, whose batches the main thread frees, kept their pages: RSS of a `fit`
/// run crept up by a quarter over 10,000 steps while every count of live memory stayed flat.
pub fn reclaim_remote_frees() {
    #[cfg(not(feature = "asan"))]
    // SAFETY: collects the calling thread's own heap; `false` only frees what is free already.
    unsafe {
        libmimalloc_sys::mi_collect(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purge_delay() -> c_long {
        // SAFETY: reads an option.
        unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }
    }

    #[test]
    fn the_purge_delay_is_ten_seconds_unless_the_user_chose_one() {
        let test = "allocator::tests::the_purge_delay_is_ten_seconds_unless_the_user_chose_one";
        if let Some(chosen) = std::env::var_os(PURGE_DELAY_VARIABLE) {
            // Also the child below: mimalloc read the variable into option PURGE_DELAY, so that
            // index is the purge delay's.
            assert_eq!(purge_delay().to_string(), chosen.to_string_lossy());
            return;
        }
        assert_eq!(purge_delay(), PURGE_DELAY_MS);
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--nocapture"])
            .env(PURGE_DELAY_VARIABLE, "1234")
            .output()
            .unwrap();
        let output = String::from_utf8_lossy(&child.stdout);
        assert!(
            child.status.success() && output.contains("1 passed"),
            "{output}"
        );
    }
}
