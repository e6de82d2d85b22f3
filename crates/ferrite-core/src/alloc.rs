//! The one place tensor buffers are allocated. Every buffer is reserved fallibly, so a request the
//! allocator cannot meet is an `OutOfMemory` error rather than an abort of the whole process, and
//! a request above the allocation limit (by default the machine's physical memory) is refused
//! before anything is reserved: Linux overcommits, so such a request would "succeed" and the
//! process would be killed later, when the pages are touched.

use std::sync::{OnceLock, RwLock};

use crate::error::{Bytes, Error, Result};

/// The environment variable that sets the default allocation limit, in bytes.
pub const LIMIT_ENV: &str = "FERRITE_MAX_ALLOC_BYTES";

/// A limit set by `set_allocation_limit`, which wins over the default.
static LIMIT: RwLock<Option<usize>> = RwLock::new(None);

/// The largest single buffer Ferrite will try to allocate, in bytes.
pub fn allocation_limit() -> Result<usize> {
    limit_for("getAllocationLimit")
}

/// The allocation limit, or an error reported under `op` when `FERRITE_MAX_ALLOC_BYTES` is not
/// a number.
fn limit_for(op: &'static str) -> Result<usize> {
    if let Some(limit) = *LIMIT.read().unwrap_or_else(|e| e.into_inner()) {
        return Ok(limit);
    }
    default_limit().map_err(|detail| Error::invalid(op, detail))
}

/// Sets the largest single buffer Ferrite will try to allocate; `None` restores the default
/// (`FERRITE_MAX_ALLOC_BYTES`, else the machine's physical memory).
pub fn set_allocation_limit(bytes: Option<usize>) {
    *LIMIT.write().unwrap_or_else(|e| e.into_inner()) = bytes;
}

/// `FERRITE_MAX_ALLOC_BYTES` when set, else the machine's physical memory, read once.
fn default_limit() -> std::result::Result<usize, String> {
    static DEFAULT: OnceLock<std::result::Result<usize, String>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| match std::env::var(LIMIT_ENV) {
            Ok(text) => text
                .trim()
                .parse()
                .map_err(|_| format!("{LIMIT_ENV} must be a whole number of bytes, got '{text}'")),
            Err(_) => Ok(physical_memory().unwrap_or(usize::MAX)),
        })
        .clone()
}

/// An empty vector with room for exactly `len` elements, for kernels that write every element.
pub(crate) fn with_capacity<T>(op: &'static str, len: usize) -> Result<Vec<T>> {
    ensure_within_limit::<T>(op, len)?;
    reserve(op, len)
}

/// Fails unless `len` elements of `T` fit the allocation limit: for kernels that size their
/// own buffers, checked before any is made.
pub(crate) fn ensure_within_limit<T>(op: &'static str, len: usize) -> Result<()> {
    let requested = len as u128 * std::mem::size_of::<T>() as u128;
    check_limit(op, requested, limit_for(op)?)
}

fn check_limit(op: &'static str, requested: u128, limit: usize) -> Result<()> {
    if requested <= limit as u128 {
        return Ok(());
    }
    Err(Error::OutOfMemory {
        op,
        requested,
        reason: format!(
            "that is more than the allocation limit ({}) of {}; raise it with \
             ft.setAllocationLimit(bytes) or the {LIMIT_ENV} environment variable",
            limit_source(),
            Bytes(limit as u128)
        ),
    })
}

fn reserve<T>(op: &'static str, len: usize) -> Result<Vec<T>> {
    let mut buffer = Vec::new();
    buffer
        .try_reserve_exact(len)
        .map_err(|_| Error::OutOfMemory {
            op,
            requested: len as u128 * std::mem::size_of::<T>() as u128,
            reason: "the system has no memory left for it".into(),
        })?;
    Ok(buffer)
}

/// `len` copies of `value`.
pub(crate) fn filled<T: Clone>(op: &'static str, len: usize, value: T) -> Result<Vec<T>> {
    let mut buffer = with_capacity(op, len)?;
    buffer.resize(len, value);
    Ok(buffer)
}

/// The first `len` items of `items`, in a buffer reserved before any is produced.
pub(crate) fn collect<T>(
    op: &'static str,
    len: usize,
    items: impl IntoIterator<Item = T>,
) -> Result<Vec<T>> {
    let mut buffer = with_capacity(op, len)?;
    buffer.extend(items.into_iter().take(len));
    Ok(buffer)
}

fn limit_source() -> &'static str {
    let set = LIMIT.read().unwrap_or_else(|e| e.into_inner()).is_some();
    if set {
        "set by ft.setAllocationLimit"
    } else if std::env::var_os(LIMIT_ENV).is_some() {
        "set by FERRITE_MAX_ALLOC_BYTES"
    } else {
        "this machine's memory"
    }
}

/// Total physical memory, or the container's memory limit when that is lower.
#[cfg(unix)]
fn physical_memory() -> Option<usize> {
    // SAFETY: sysconf only reads a system constant.
    let (pages, page_size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let total = usize::try_from(pages)
        .ok()?
        .checked_mul(usize::try_from(page_size).ok()?)?;
    Some(cgroup_limit().map_or(total, |limit| limit.min(total)))
}

/// The memory limit of this process's cgroup (v2, then v1), as Docker and Kubernetes set it.
#[cfg(target_os = "linux")]
fn cgroup_limit() -> Option<usize> {
    [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|path| std::fs::read_to_string(path).ok()?.trim().parse().ok())
}

#[cfg(all(unix, not(target_os = "linux")))]
fn cgroup_limit() -> Option<usize> {
    None
}

#[cfg(windows)]
fn physical_memory() -> Option<usize> {
    use windows_sys::Win32::System::SystemInformation::{GlobalMemoryStatusEx, MEMORYSTATUSEX};
    // SAFETY: a zeroed MEMORYSTATUSEX with its length set is what GlobalMemoryStatusEx expects.
    let mut status: MEMORYSTATUSEX = unsafe { std::mem::zeroed() };
    status.dwLength = std::mem::size_of::<MEMORYSTATUSEX>() as u32;
    // SAFETY: `status` is a valid, writable MEMORYSTATUSEX for the call's duration.
    let ok = unsafe { GlobalMemoryStatusEx(&mut status) } != 0;
    ok.then(|| usize::try_from(status.ullTotalPhys).unwrap_or(usize::MAX))
}

#[cfg(not(any(unix, windows)))]
fn physical_memory() -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn physical_memory_is_known_and_plausible() {
        let total = physical_memory().expect("physical memory");
        assert!(total >= 64 << 20, "{total} bytes");
    }

    #[test]
    fn requests_over_the_limit_are_refused_before_reserving() {
        let err = check_limit("zeros", 4 << 40, 1 << 30).unwrap_err();
        assert_eq!(err.code(), "OutOfMemory");
        let text = err.to_string();
        assert!(
            text.starts_with(
                "zeros: cannot allocate 4398046511104 bytes (4.0 TiB): that is more than the \
                 allocation limit ("
            ),
            "{text}"
        );
        assert!(
            text.contains(") of 1073741824 bytes (1.0 GiB); raise it with"),
            "{text}"
        );
        assert!(text.contains("ft.setAllocationLimit(bytes) or the FERRITE_MAX_ALLOC_BYTES"));
        assert!(check_limit("zeros", 1 << 30, 1 << 30).is_ok());
        // Beyond any machine's memory, so the default limit refuses it too.
        let err = with_capacity::<f32>("zeros", 1 << 60).unwrap_err();
        assert_eq!(err.code(), "OutOfMemory");
    }

    #[test]
    fn allocator_refusals_are_errors_not_aborts() {
        // More than isize::MAX bytes: no allocator can give it, and `Vec::with_capacity` would abort.
        let err = reserve::<u64>("zeros", usize::MAX / 4).unwrap_err();
        assert_eq!(err.code(), "OutOfMemory");
        assert!(err.to_string().contains("no memory left"), "{err}");
    }

    #[test]
    fn buffers_hold_what_was_asked() {
        assert_eq!(filled("full", 3, 7i64).unwrap(), vec![7, 7, 7]);
        assert_eq!(collect("arange", 2, 0..10).unwrap(), vec![0, 1]);
        assert!(with_capacity::<f32>("x", 0).unwrap().is_empty());
    }
}
