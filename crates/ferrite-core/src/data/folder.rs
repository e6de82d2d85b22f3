//! Image files (PNG, JPEG or WebP) as torchvision's `ImageFolder` loads them, every image
//! converted to RGB: decoded all at once into an image set, or listed and decoded batch by batch
//! on the worker threads, so that memory follows the batch, not the data set.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;

use super::{load_batch, ImageSet, Transform};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use crate::vision::{decode_rgb8, ExifOrientation};

/// What happens to a file that cannot be read or decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// The error, naming the file, is returned.
    #[default]
    Fail,
    /// The file is left out and remembered.
    Skip,
}

/// Decodes `paths` on all threads into RGB images labelled `labels`, kept in the order given.
/// With `OnError::Fail`, when several files fail, the error names the first of them in that
/// order; with `OnError::Skip`, failed files are left out and their positions returned.
pub fn read_image_files<P: AsRef<Path> + Sync>(
    op: &'static str,
    paths: &[P],
    labels: &[i64],
    orientation: ExifOrientation,
    on_error: OnError,
) -> Result<(ImageSet, Vec<usize>)> {
    check_labels(op, paths.len(), labels.len())?;
    decode_into_set(op, paths, labels, orientation, on_error)
}

fn check_labels(op: &'static str, paths: usize, labels: usize) -> Result<()> {
    if paths != labels {
        return Err(Error::invalid(
            op,
            format!("{paths} files but {labels} labels"),
        ));
    }
    Ok(())
}

fn decode_into_set<P: AsRef<Path> + Sync>(
    op: &'static str,
    paths: &[P],
    labels: &[i64],
    orientation: ExifOrientation,
    on_error: OnError,
) -> Result<(ImageSet, Vec<usize>)> {
    let decoded: Vec<Result<(Vec<u8>, usize, usize)>> = paths
        .par_iter()
        .map(|p| decode_rgb8(op, p.as_ref(), orientation))
        .collect();
    let mut set = ImageSet::new();
    let mut skipped = Vec::new();
    for (position, (image, &label)) in decoded.into_iter().zip(labels).enumerate() {
        match (image, on_error) {
            (Ok((pixels, height, width)), _) => set.push(&pixels, height, width, 3, label)?,
            (Err(_), OnError::Skip) => skipped.push(position),
            (Err(e), OnError::Fail) => return Err(e),
        }
    }
    Ok((set, skipped))
}

/// Image files listed once and decoded when a batch needs them.
#[derive(Debug)]
pub struct ImageFiles {
    paths: Vec<PathBuf>,
    labels: Vec<i64>,
    orientation: ExifOrientation,
    on_error: OnError,
    /// Indices of the files skipped so far, each once.
    skipped: Mutex<BTreeSet<usize>>,
}

impl ImageFiles {
    pub fn new(
        paths: Vec<PathBuf>,
        labels: Vec<i64>,
        orientation: ExifOrientation,
        on_error: OnError,
    ) -> Result<ImageFiles> {
        check_labels("ImageFolder", paths.len(), labels.len())?;
        Ok(ImageFiles {
            paths,
            labels,
            orientation,
            on_error,
            skipped: Mutex::new(BTreeSet::new()),
        })
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    pub fn labels(&self) -> &[i64] {
        &self.labels
    }

    /// The files skipped so far (with `OnError::Skip`), in dataset order.
    pub fn skipped(&self) -> Vec<&Path> {
        let skipped = self.skipped.lock().unwrap_or_else(|e| e.into_inner());
        skipped.iter().map(|&i| self.paths[i].as_path()).collect()
    }

    /// Decodes the files at `indices` on all threads, then transforms and stacks them as
    /// `load_batch` does: images `[B, C, H, W]` float32 and labels `[B]` int64. Skipped files
    /// leave the batch shorter; the others close up, each drawing the random transforms of the
    /// position it takes.
    pub fn load_batch(
        &self,
        indices: &[usize],
        transforms: &[Transform],
        seed: u64,
    ) -> Result<(Tensor, Tensor)> {
        const OP: &str = "DataLoader";
        let mut paths = Vec::with_capacity(indices.len());
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            let path = self.paths.get(i).ok_or_else(|| {
                Error::index(
                    OP,
                    format!(
                        "index {i} is out of range for a dataset of {} images",
                        self.len()
                    ),
                )
            })?;
            paths.push(path);
            labels.push(self.labels[i]);
        }
        let (set, failed) = decode_into_set(
            "ImageFolder",
            &paths,
            &labels,
            self.orientation,
            self.on_error,
        )?;
        if !failed.is_empty() {
            let mut skipped = self.skipped.lock().unwrap_or_else(|e| e.into_inner());
            skipped.extend(failed.iter().map(|&position| indices[position]));
        }
        let positions: Vec<usize> = (0..set.len()).collect();
        load_batch(&set, &positions, transforms, seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::codecs::png::PngEncoder;
    use image::{ExtendedColorType, ImageEncoder};
    use std::fs;
    use std::path::PathBuf;

    fn write_png(path: &Path, pixels: &[u8], width: u32, height: u32, color: ExtendedColorType) {
        let mut png = Vec::new();
        PngEncoder::new(&mut png)
            .write_image(pixels, width, height, color)
            .unwrap();
        fs::write(path, png).unwrap();
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ferrite-folder-{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn gray_and_rgba_become_rgb_in_the_order_given() {
        let dir = temp_dir("convert");
        let (gray, rgba) = (dir.join("gray.png"), dir.join("rgba.png"));
        write_png(&gray, &[10, 20], 2, 1, ExtendedColorType::L8);
        write_png(
            &rgba,
            &[1, 2, 3, 0, 4, 5, 6, 255],
            1,
            2,
            ExtendedColorType::Rgba8,
        );
        let (set, skipped) = read_image_files(
            "ImageFolder",
            &[&rgba, &gray],
            &[5, 7],
            ExifOrientation::Ignore,
            OnError::Fail,
        )
        .unwrap();
        assert!(skipped.is_empty());
        assert_eq!(set.labels(), &[5, 7]);
        let first = set.image(0).unwrap();
        assert_eq!((first.height, first.width, first.channels), (2, 1, 3));
        assert_eq!(
            first.pixels,
            &[1, 2, 3, 4, 5, 6],
            "alpha is dropped, not blended"
        );
        let second = set.image(1).unwrap();
        assert_eq!((second.height, second.width), (1, 2));
        assert_eq!(second.pixels, &[10, 10, 10, 20, 20, 20]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errors_name_the_first_bad_file_unless_skipped() {
        let dir = temp_dir("errors");
        let good = dir.join("good.png");
        write_png(&good, &[0, 0, 0], 1, 1, ExtendedColorType::Rgb8);
        let (bad, missing) = (dir.join("bad.png"), dir.join("missing.png"));
        fs::write(&bad, b"not an image").unwrap();
        let read = |paths: &[&PathBuf], labels: &[i64], on_error| {
            read_image_files(
                "ImageFolder",
                paths,
                labels,
                ExifOrientation::Ignore,
                on_error,
            )
        };
        let err = read(&[&good, &bad, &missing], &[0, 0, 0], OnError::Fail).unwrap_err();
        assert_eq!(err.code(), "Io");
        assert!(
            err.to_string()
                .starts_with(&format!("ImageFolder: {}: ", bad.display())),
            "{err}"
        );
        let (set, skipped) = read(&[&bad, &good, &missing], &[0, 1, 2], OnError::Skip).unwrap();
        assert_eq!((set.labels(), skipped), (&[1][..], vec![0, 2]));
        let err = read(&[&good], &[0, 1], OnError::Fail).unwrap_err();
        assert_eq!(err.code(), "InvalidArgument");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lazy_batches_match_the_decoded_set_and_count_skipped_files() {
        let dir = temp_dir("lazy");
        let paths: Vec<PathBuf> = (0..4).map(|i| dir.join(format!("{i}.png"))).collect();
        for (i, path) in paths.iter().enumerate() {
            let pixels: Vec<u8> = (0..2 * 3 * 3).map(|v| (v * 7 + i * 31) as u8).collect();
            write_png(path, &pixels, 3, 2, ExtendedColorType::Rgb8);
        }
        let labels = vec![3, 1, 4, 1];
        let (set, _) = read_image_files(
            "ImageFolder",
            &paths,
            &labels,
            ExifOrientation::Ignore,
            OnError::Fail,
        )
        .unwrap();
        let transforms = [
            Transform::RandomHorizontalFlip { p: 0.5 },
            Transform::ToTensor,
        ];
        let files = ImageFiles::new(
            paths.clone(),
            labels,
            ExifOrientation::Ignore,
            OnError::Skip,
        )
        .unwrap();
        let indices = [2, 0, 3];
        let (lazy_images, lazy_labels) = files.load_batch(&indices, &transforms, 9).unwrap();
        let (images, labels) = load_batch(&set, &indices, &transforms, 9).unwrap();
        assert_eq!(lazy_images.shape(), &[3, 3, 2, 3]);
        assert_eq!(
            lazy_images.to_vec_f32().unwrap(),
            images.to_vec_f32().unwrap()
        );
        assert_eq!(
            lazy_labels.to_vec_f64().unwrap(),
            labels.to_vec_f64().unwrap()
        );

        fs::write(&paths[0], b"corrupt").unwrap();
        let (images, labels) = files.load_batch(&[0, 1, 0], &transforms, 9).unwrap();
        assert_eq!(images.shape(), &[1, 3, 2, 3]);
        assert_eq!(labels.to_vec_f64().unwrap(), vec![1.0]);
        assert_eq!(files.skipped(), vec![paths[0].as_path()]);
        let err = files.load_batch(&[4], &transforms, 9).unwrap_err();
        assert_eq!(err.code(), "IndexOutOfRange");
        fs::remove_dir_all(&dir).unwrap();
    }
}
