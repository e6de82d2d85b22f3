//! Tensors to and from files. Every failure is an `Error::Io` naming the file, and a write
//! either replaces its target whole or leaves it untouched.

mod safetensors;

pub use self::safetensors::{load_safetensors, load_safetensors_metadata, save_safetensors};

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Writes `bytes` to `path` through a temporary file in the same directory, renamed over `path`
/// only once it is complete and flushed: a crash or a full disk mid-write cannot leave a
/// half-written file where a good one was.
pub(crate) fn write_atomically(op: &'static str, path: &Path, bytes: &[u8]) -> Result<()> {
    let temp = temp_path(op, path)?;
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
        ".{}.{}-{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    Ok(path.with_file_name(unique))
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
