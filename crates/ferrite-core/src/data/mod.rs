//! Datasets held natively as 8-bit images, and batch assembly with torchvision-style transforms
//! run in parallel over the samples, so that data loading never keeps training waiting.

mod cifar;
mod folder;
mod transforms;

pub use cifar::{parse_cifar_records, read_cifar_files, CIFAR_RECORD_BYTES};
pub use folder::{read_image_files, ImageFiles, OnError};
pub use transforms::{load_batch, ColorAdjustment, JitterRanges, Transform};

use crate::error::{Error, Result};

/// Decoded images in height x width x channels byte order, with their labels.
#[derive(Debug, Default, Clone)]
pub struct ImageSet {
    pixels: Vec<u8>,
    entries: Vec<Entry>,
    labels: Vec<i64>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    offset: usize,
    height: usize,
    width: usize,
    channels: usize,
}

/// One image borrowed from a set: HWC bytes.
#[derive(Debug, Clone, Copy)]
pub struct ImageRef<'a> {
    pub pixels: &'a [u8],
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl ImageSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one HWC image and its label.
    pub fn push(
        &mut self,
        pixels: &[u8],
        height: usize,
        width: usize,
        channels: usize,
        label: i64,
    ) -> Result<()> {
        if pixels.len() != height * width * channels {
            return Err(Error::invalid(
                "ImageSet",
                format!(
                    "{} bytes cannot hold a {height}x{width} image with {channels} channels",
                    pixels.len()
                ),
            ));
        }
        self.entries.push(Entry {
            offset: self.pixels.len(),
            height,
            width,
            channels,
        });
        self.pixels.extend_from_slice(pixels);
        self.labels.push(label);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn labels(&self) -> &[i64] {
        &self.labels
    }

    /// Bytes held, for memory reporting.
    pub fn bytes(&self) -> usize {
        self.pixels.len() + self.labels.len() * 8
    }

    pub fn image(&self, index: usize) -> Result<ImageRef<'_>> {
        let e = self.entries.get(index).ok_or_else(|| {
            Error::index(
                "dataset",
                format!(
                    "index {index} is out of range for a dataset of {} images",
                    self.len()
                ),
            )
        })?;
        Ok(ImageRef {
            pixels: &self.pixels[e.offset..e.offset + e.height * e.width * e.channels],
            height: e.height,
            width: e.width,
            channels: e.channels,
        })
    }
}
