//! CIFAR-10's binary record format: one label byte, then 1024 red, 1024 green and 1024 blue
//! bytes (32 rows of 32 pixels each), records back to back with no header.

use super::ImageSet;
use crate::error::{Error, Result};

pub const CIFAR_RECORD_BYTES: usize = 1 + 3 * 32 * 32;

/// Parses records read from `source` (named in errors) into an image set with 10 classes.
pub fn parse_cifar_records(bytes: &[u8], source: &str, into: &mut ImageSet) -> Result<()> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(CIFAR_RECORD_BYTES) {
        return Err(Error::Io {
            op: "CIFAR10",
            path: source.to_string(),
            detail: format!(
                "{} bytes is not a whole number of {CIFAR_RECORD_BYTES}-byte CIFAR-10 records (truncated, or not a CIFAR-10 batch file)",
                bytes.len()
            ),
        });
    }
    let mut hwc = vec![0u8; 32 * 32 * 3];
    for (r, record) in bytes.chunks_exact(CIFAR_RECORD_BYTES).enumerate() {
        let label = record[0];
        if label > 9 {
            return Err(Error::Io {
                op: "CIFAR10",
                path: source.to_string(),
                detail: format!(
                    "record {r} has label {label}, but CIFAR-10 labels are 0-9 (corrupt file?)"
                ),
            });
        }
        let planes = &record[1..];
        for (i, px) in hwc.chunks_exact_mut(3).enumerate() {
            px[0] = planes[i];
            px[1] = planes[1024 + i];
            px[2] = planes[2048 + i];
        }
        into.push(&hwc, 32, 32, 3, label as i64)?;
    }
    Ok(())
}

/// Reads CIFAR-10 batch files (`data_batch_1.bin`, ..., or cifar10-mini's `train.bin`) in order.
pub fn read_cifar_files(paths: &[impl AsRef<std::path::Path>]) -> Result<ImageSet> {
    let mut set = ImageSet::new();
    for path in paths {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io("CIFAR10", path, e))?;
        parse_cifar_records(&bytes, &path.display().to_string(), &mut set)?;
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_become_hwc_images_with_labels() {
        let mut record = vec![7u8];
        record.extend((0..3072).map(|i| (i / 1024) as u8 * 100 + (i % 3) as u8));
        let mut set = ImageSet::new();
        parse_cifar_records(&record.repeat(2), "x.bin", &mut set).unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.labels(), &[7, 7]);
        let img = set.image(1).unwrap();
        assert_eq!((img.height, img.width, img.channels), (32, 32, 3));
        // Byte i of the record body is (i / 1024) * 100 + i % 3; pixels interleave the three planes.
        assert_eq!(&img.pixels[..6], &[0, 101, 202, 1, 102, 200]);
    }

    #[test]
    fn truncated_and_mislabelled_files_name_the_file() {
        let mut set = ImageSet::new();
        let err = parse_cifar_records(&[0u8; 3000], "data/train.bin", &mut set).unwrap_err();
        assert_eq!(err.code(), "Io");
        assert!(
            err.to_string().contains("data/train.bin: 3000 bytes"),
            "{err}"
        );
        let mut bad = vec![0u8; CIFAR_RECORD_BYTES];
        bad[0] = 12;
        let err = parse_cifar_records(&bad, "t.bin", &mut set).unwrap_err();
        assert!(err.to_string().contains("record 0 has label 12"), "{err}");
    }
}
