//! Tensors to and from files. Every failure is an `Error::Io` naming the file, and a write
//! either replaces its target whole or leaves it untouched.

mod safetensors;

pub use self::safetensors::{load_safetensors, load_safetensors_metadata, save_safetensors};

use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Writes `bytes` to `path` through a temporary file in the same directory, renamed over `path`
/// only once it is complete and flushed: a crash or a full disk mid-write cannot leave a
/// half-written file where a good one was. Temporary files that killed writers left behind for
/// `path` are removed first, freeing their space before this one needs it.
pub(crate) fn write_atomically(op: &'static str, path: &Path, bytes: &[u8]) -> Result<()> {
    let temp = temp_path(op, path)?;
    remove_stale_temp_files(path);
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        });
    if let Err(err) = written.and_then(|()| fs::rename(&temp, path)) {
        // Best effort: the write has already failed, and that is the error worth reporting.
        let _ = fs::remove_file(&temp);
        return Err(Error::io(op, path, err));
    }
    Ok(())
}

/// A hidden sibling of `path` that no other writer (thread or process) picks at the same time.
fn temp_path(op: &'static str, path: &Path) -> Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| Error::io(op, path, "the path does not name a file"))?;
    let unique = format!(
        "{}{}-{}.tmp",
        temp_prefix(name),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    Ok(path.with_file_name(unique))
}

/// What every temporary file of a target named `name` starts with.
fn temp_prefix(name: &OsStr) -> String {
    format!(".{}.", name.to_string_lossy())
}

/// Removes the temporary files of `path` whose writer is gone, best effort: a file this cannot
/// remove costs space, not correctness, so it never fails the write.
fn remove_stale_temp_files(path: &Path) {
    let (Some(name), Some(dir)) = (path.file_name(), path.parent()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefix = temp_prefix(name);
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let writer = file_name
            .to_str()
            .and_then(|f| {
                f.strip_prefix(&prefix)?
                    .strip_suffix(".tmp")?
                    .split_once('-')
            })
            .filter(|(_, n)| n.parse::<u64>().is_ok())
            .and_then(|(pid, _)| pid.parse::<u32>().ok());
        // This process's own temporary files may belong to writes in progress on other threads.
        let stale =
            writer.is_some_and(|pid| pid != std::process::id() && writer_is_gone(pid, &entry));
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether process `pid`, which wrote the temporary file `entry`, has exited.
#[cfg(unix)]
fn writer_is_gone(pid: u32, _entry: &fs::DirEntry) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // Signal 0 only checks that the process exists; EPERM means it does, under another user.
    let signalled = unsafe { libc::kill(pid, 0) } == 0;
    !signalled && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// Whether process `pid`, which wrote the temporary file `entry`, has exited: no process has
/// that id, or the one that has is a finished process whose handle someone still holds.
#[cfg(windows)]
fn writer_is_gone(pid: u32, _entry: &fs::DirEntry) -> bool {
    use std::ffi::c_void;

    const PROCESS_QUERY_LIMITED_INFORMATION: u32 = 0x1000;
    const STILL_ACTIVE: u32 = 259;
    const ERROR_INVALID_PARAMETER: i32 = 87;

    #[link(name = "kernel32")]
    extern "system" {
        fn OpenProcess(access: u32, inherit_handle: i32, pid: u32) -> *mut c_void;
        fn GetExitCodeProcess(process: *mut c_void, exit_code: *mut u32) -> i32;
        fn CloseHandle(handle: *mut c_void) -> i32;
    }

    // SAFETY: OpenProcess reads no memory of ours; it returns a handle or null.
    let process = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if process.is_null() {
        // Access denied means the process exists, under another user.
        return std::io::Error::last_os_error().raw_os_error() == Some(ERROR_INVALID_PARAMETER);
    }
    let mut exit_code = 0;
    // SAFETY: `process` is the handle opened above, with the rights GetExitCodeProcess needs, and
    // `exit_code` outlives the call; the handle is closed once, after its last use.
    unsafe {
        let known = GetExitCodeProcess(process, &mut exit_code) != 0;
        CloseHandle(process);
        known && exit_code != STILL_ACTIVE
    }
}

/// Elsewhere, by age: a writer writes its file in one pass and renames it as soon as it is
/// flushed, so a temporary file untouched for a day belongs to no write in progress.
#[cfg(not(any(unix, windows)))]
fn writer_is_gone(_pid: u32, entry: &fs::DirEntry) -> bool {
    const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);
    entry
        .metadata()
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > ABANDONED_AFTER))
}

#[cfg(test)]
pub(crate) mod test_dir {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A fresh directory under the system temp dir, removed when dropped.
    pub struct TestDir(PathBuf);

    impl TestDir {
        pub fn new() -> TestDir {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("ferrite-io-test-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            TestDir(dir)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }

        /// The names of the files in the directory, sorted.
        pub fn entries(&self) -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(&self.0)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_dir::TestDir;
    use super::*;

    #[test]
    fn replaces_the_target_and_leaves_no_temporary_file() {
        let dir = TestDir::new();
        let target = dir.path().join("a.bin");
        fs::write(&target, b"old").unwrap();
        write_atomically("save", &target, b"new contents").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new contents");
        assert_eq!(dir.entries(), vec!["a.bin"]);
    }

    #[cfg(unix)]
    #[test]
    fn temporary_files_of_exited_writers_are_removed_by_the_next_write() {
        let dir = TestDir::new();
        let target = dir.path().join("m.safetensors");
        let exited = {
            let mut child = std::process::Command::new("true").spawn().unwrap();
            child.wait().unwrap();
            child.id()
        };
        let alive = std::os::unix::process::parent_id();
        let own = std::process::id();
        let keep = [
            format!(".m.safetensors.{alive}-0.tmp"),
            format!(".m.safetensors.{own}-999999.tmp"),
            format!(".other.safetensors.{exited}-0.tmp"),
            format!(".m.safetensors.{exited}-x.tmp"),
            format!("m.safetensors.{exited}-0.tmp"),
        ];
        let stale = [
            format!(".m.safetensors.{exited}-0.tmp"),
            format!(".m.safetensors.{exited}-17.tmp"),
        ];
        for name in keep.iter().chain(&stale) {
            fs::write(dir.path().join(name), b"partial").unwrap();
        }
        write_atomically("save", &target, b"data").unwrap();
        let mut want: Vec<String> = keep.to_vec();
        want.push("m.safetensors".into());
        want.sort();
        assert_eq!(dir.entries(), want);
    }

    #[test]
    fn a_failed_write_cleans_up_and_names_the_file() {
        let dir = TestDir::new();
        // A directory cannot be replaced by a file, so the final rename fails after the write.
        let target = dir.path().join("taken");
        fs::create_dir(&target).unwrap();
        let err = write_atomically("save", &target, b"data").unwrap_err();
        assert_eq!(err.code(), "Io");
        assert!(
            err.to_string()
                .starts_with(&format!("save: {}: ", target.display())),
            "{err}"
        );
        assert_eq!(dir.entries(), vec!["taken"]);

        let missing = dir.path().join("no-such-dir").join("a.bin");
        let err = write_atomically("save", &missing, b"data").unwrap_err();
        assert!(err.to_string().contains("no-such-dir"), "{err}");
    }
}
