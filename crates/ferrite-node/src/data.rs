//! Native datasets: decoded 8-bit images held in Rust, batches assembled and augmented off the
//! JS thread so that the next batch is ready while the current one trains.

use std::path::PathBuf;
use std::sync::Arc;

use ferrite_core::data::{
    self, ColorAdjustment, ImageFiles, ImageSet, JitterRanges, OnError, Transform,
};
use ferrite_core::vision::ExifOrientation;
use ferrite_core::{Error, Tensor};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::guard;
use crate::handle::{wrap, TensorHandle};

/// One transform as the TS layer describes it; `kind` selects which fields are read.
#[napi(object)]
pub struct TransformSpec {
    pub kind: String,
    /// Left, top, right, bottom.
    pub padding: Option<Vec<u32>>,
    pub fill: Option<u32>,
    pub p: Option<f64>,
    /// Height, width.
    pub size: Option<Vec<u32>>,
    pub pad_if_needed: Option<bool>,
    pub mean: Option<Vec<f64>>,
    pub std: Option<Vec<f64>>,
    pub antialias: Option<bool>,
    pub max_size: Option<u32>,
    /// `randomResizedCrop`: area fraction and aspect ratio ranges.
    pub scale: Option<Vec<f64>>,
    pub ratio: Option<Vec<f64>>,
    /// `resizedCrop`: top, left, height, width.
    pub crop: Option<Vec<u32>>,
    /// `colorJitter`: factor ranges.
    pub brightness: Option<Vec<f64>>,
    pub contrast: Option<Vec<f64>>,
    pub saturation: Option<Vec<f64>>,
    pub hue: Option<Vec<f64>>,
    /// `adjustColor`: the adjustments, in order.
    pub adjustments: Option<Vec<ColorAdjustmentSpec>>,
    /// `randomRotation`: the angle range, in degrees.
    pub degrees: Option<Vec<f64>>,
    /// `rotate`: the angle, in degrees.
    pub angle: Option<f64>,
    pub expand: Option<bool>,
    pub num_output_channels: Option<u32>,
}

/// One color adjustment: `kind` is brightness, contrast, saturation or hue.
#[napi(object)]
pub struct ColorAdjustmentSpec {
    pub kind: String,
    pub factor: f64,
}

fn transform(spec: &TransformSpec) -> ferrite_core::Result<Transform> {
    let missing =
        |field: &str| Error::invalid("transforms", format!("{} needs `{field}`", spec.kind));
    let sides = |v: &Option<Vec<u32>>| -> ferrite_core::Result<[usize; 4]> {
        match v.as_deref() {
            Some([l, t, r, b]) => Ok([*l as usize, *t as usize, *r as usize, *b as usize]),
            Some(_) => Err(Error::invalid(
                "transforms",
                format!("{}: padding must have 4 sides", spec.kind),
            )),
            None => Ok([0; 4]),
        }
    };
    let size = || match spec.size.as_deref() {
        Some([h, w]) => Ok((*h as usize, *w as usize)),
        _ => Err(missing("size")),
    };
    let fill = u8::try_from(spec.fill.unwrap_or(0))
        .map_err(|_| Error::invalid("transforms", "fill must be 0-255"))?;
    let pair = |v: &Option<Vec<f64>>, field: &str| match v.as_deref() {
        Some(&[lo, hi]) => Ok([lo, hi]),
        _ => Err(missing(field)),
    };
    let range = |v: &Option<Vec<f64>>, field: &str| v.as_ref().map(|_| pair(v, field)).transpose();
    let antialias = spec.antialias.unwrap_or(true);
    let expand = spec.expand.unwrap_or(false);
    Ok(match spec.kind.as_str() {
        "pad" => {
            let [left, top, right, bottom] = sides(&spec.padding)?;
            Transform::Pad {
                left,
                top,
                right,
                bottom,
                fill,
            }
        }
        "randomHorizontalFlip" => Transform::RandomHorizontalFlip {
            p: spec.p.ok_or_else(|| missing("p"))?,
        },
        "randomCrop" => {
            let (height, width) = size()?;
            Transform::RandomCrop {
                height,
                width,
                padding: sides(&spec.padding)?,
                pad_if_needed: spec.pad_if_needed.unwrap_or(false),
                fill,
            }
        }
        "centerCrop" => {
            let (height, width) = size()?;
            Transform::CenterCrop { height, width }
        }
        "resize" => Transform::Resize {
            size: spec
                .size
                .as_ref()
                .ok_or_else(|| missing("size"))?
                .iter()
                .map(|&v| v as usize)
                .collect(),
            max_size: spec.max_size.map(|v| v as usize),
            antialias,
        },
        "randomResizedCrop" => {
            let (height, width) = size()?;
            Transform::RandomResizedCrop {
                height,
                width,
                scale: pair(&spec.scale, "scale")?,
                ratio: pair(&spec.ratio, "ratio")?,
                antialias,
            }
        }
        "resizedCrop" => {
            let (height, width) = size()?;
            let Some(&[top, left, crop_height, crop_width]) = spec.crop.as_deref() else {
                return Err(missing("crop"));
            };
            Transform::ResizedCrop {
                top: top as usize,
                left: left as usize,
                crop_height: crop_height as usize,
                crop_width: crop_width as usize,
                height,
                width,
                antialias,
            }
        }
        "colorJitter" => Transform::ColorJitter(JitterRanges {
            brightness: range(&spec.brightness, "brightness")?,
            contrast: range(&spec.contrast, "contrast")?,
            saturation: range(&spec.saturation, "saturation")?,
            hue: range(&spec.hue, "hue")?,
        }),
        "adjustColor" => Transform::AdjustColor(
            spec.adjustments
                .as_ref()
                .ok_or_else(|| missing("adjustments"))?
                .iter()
                .map(|a| {
                    Ok(match a.kind.as_str() {
                        "brightness" => ColorAdjustment::Brightness(a.factor),
                        "contrast" => ColorAdjustment::Contrast(a.factor),
                        "saturation" => ColorAdjustment::Saturation(a.factor),
                        "hue" => ColorAdjustment::Hue(a.factor),
                        other => {
                            return Err(Error::invalid(
                                "transforms",
                                format!("unknown color adjustment '{other}'"),
                            ))
                        }
                    })
                })
                .collect::<ferrite_core::Result<_>>()?,
        ),
        "randomRotation" => Transform::RandomRotation {
            degrees: pair(&spec.degrees, "degrees")?,
            fill,
            expand,
        },
        "rotate" => Transform::Rotate {
            angle: spec.angle.ok_or_else(|| missing("angle"))?,
            fill,
            expand,
        },
        "grayscale" => Transform::Grayscale {
            channels: spec
                .num_output_channels
                .ok_or_else(|| missing("numOutputChannels"))? as usize,
        },
        "toTensor" => Transform::ToTensor,
        "normalize" => Transform::Normalize {
            mean: spec
                .mean
                .as_ref()
                .ok_or_else(|| missing("mean"))?
                .iter()
                .map(|&v| v as f32)
                .collect(),
            std: spec
                .std
                .as_ref()
                .ok_or_else(|| missing("std"))?
                .iter()
                .map(|&v| v as f32)
                .collect(),
        },
        other => {
            return Err(Error::invalid(
                "transforms",
                format!("unknown transform '{other}'"),
            ))
        }
    })
}

fn transforms(specs: &[TransformSpec]) -> ferrite_core::Result<Vec<Transform>> {
    specs.iter().map(transform).collect()
}

/// How image files are read, as the TS layer describes it.
#[napi(object)]
pub struct ImageFileOptions {
    /// Turn images upright by their EXIF orientation tag.
    pub exif_orientation: bool,
    /// Leave out files that fail instead of failing.
    pub skip_errors: bool,
}

impl ImageFileOptions {
    fn parse(&self) -> (ExifOrientation, OnError) {
        (
            if self.exif_orientation {
                ExifOrientation::Apply
            } else {
                ExifOrientation::Ignore
            },
            if self.skip_errors {
                OnError::Skip
            } else {
                OnError::Fail
            },
        )
    }
}

#[napi]
pub struct NativeImageSet {
    set: Arc<ImageSet>,
    skipped: Vec<u32>,
}

#[napi]
impl NativeImageSet {
    /// Reads CIFAR-10 binary batch files, in order.
    #[napi(factory)]
    pub fn from_cifar_files(paths: Vec<String>) -> Result<NativeImageSet, String> {
        guard("CIFAR10", || data::read_cifar_files(&paths)).map(|set| NativeImageSet {
            set: Arc::new(set),
            skipped: Vec::new(),
        })
    }

    /// Decodes PNG, JPEG and WebP files on all threads, each converted to RGB, labelled `labels`.
    #[napi(factory)]
    pub fn from_image_files(
        paths: Vec<String>,
        labels: Vec<i64>,
        options: ImageFileOptions,
    ) -> Result<NativeImageSet, String> {
        let (orientation, on_error) = options.parse();
        guard("ImageFolder", || {
            data::read_image_files("ImageFolder", &paths, &labels, orientation, on_error)
        })
        .map(|(set, skipped)| NativeImageSet {
            set: Arc::new(set),
            skipped: skipped.into_iter().map(|i| i as u32).collect(),
        })
    }

    /// Positions in the file list given to `fromImageFiles` of the files left out.
    #[napi]
    pub fn skipped_positions(&self) -> Vec<u32> {
        self.skipped.clone()
    }

    #[napi(getter)]
    pub fn length(&self) -> u32 {
        self.set.len() as u32
    }

    #[napi]
    pub fn labels(&self) -> Vec<i64> {
        self.set.labels().to_vec()
    }

    /// The transformed images at `indices` and their labels, now.
    #[napi]
    pub fn load_batch(
        &self,
        env: Env,
        indices: Vec<u32>,
        specs: Vec<TransformSpec>,
        seed: i64,
    ) -> Result<Vec<TensorHandle>, String> {
        Source::Set(self.set.clone()).load_now(env, indices, &specs, seed)
    }

    /// Like `loadBatch`, on a worker thread; errors resolve as `{ errorCode, errorMessage }` so
    /// that their code survives the trip.
    #[napi(ts_return_type = "Promise<LoadedBatch>")]
    pub fn load_batch_async(
        &self,
        indices: Vec<u32>,
        specs: Vec<TransformSpec>,
        seed: i64,
    ) -> AsyncTask<LoadBatch> {
        Source::Set(self.set.clone()).load_task(indices, &specs, seed)
    }
}

/// Image files decoded batch by batch, on the thread that assembles the batch.
#[napi]
pub struct NativeImageFiles {
    files: Arc<ImageFiles>,
}

#[napi]
impl NativeImageFiles {
    #[napi(constructor)]
    pub fn new(
        paths: Vec<String>,
        labels: Vec<i64>,
        options: ImageFileOptions,
    ) -> Result<NativeImageFiles, String> {
        let (orientation, on_error) = options.parse();
        let paths = paths.into_iter().map(PathBuf::from).collect();
        guard("ImageFolder", || {
            ImageFiles::new(paths, labels, orientation, on_error)
        })
        .map(|files| NativeImageFiles {
            files: Arc::new(files),
        })
    }

    #[napi(getter)]
    pub fn length(&self) -> u32 {
        self.files.len() as u32
    }

    #[napi]
    pub fn labels(&self) -> Vec<i64> {
        self.files.labels().to_vec()
    }

    /// The files skipped so far, in dataset order.
    #[napi]
    pub fn skipped(&self) -> Vec<String> {
        self.files
            .skipped()
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    }

    /// The files at `indices`, decoded, transformed and stacked with their labels, now.
    #[napi]
    pub fn load_batch(
        &self,
        env: Env,
        indices: Vec<u32>,
        specs: Vec<TransformSpec>,
        seed: i64,
    ) -> Result<Vec<TensorHandle>, String> {
        Source::Files(self.files.clone()).load_now(env, indices, &specs, seed)
    }

    /// Like `loadBatch`, on a worker thread, errors resolved as `NativeImageSet`'s are.
    #[napi(ts_return_type = "Promise<LoadedBatch>")]
    pub fn load_batch_async(
        &self,
        indices: Vec<u32>,
        specs: Vec<TransformSpec>,
        seed: i64,
    ) -> AsyncTask<LoadBatch> {
        Source::Files(self.files.clone()).load_task(indices, &specs, seed)
    }
}

/// Where a batch's images come from: decoded already, or files to decode.
enum Source {
    Set(Arc<ImageSet>),
    Files(Arc<ImageFiles>),
}

impl Source {
    fn load(
        &self,
        indices: &[usize],
        transforms: &[Transform],
        seed: u64,
    ) -> ferrite_core::Result<(Tensor, Tensor)> {
        match self {
            Source::Set(set) => data::load_batch(set, indices, transforms, seed),
            Source::Files(files) => files.load_batch(indices, transforms, seed),
        }
    }

    /// `loadBatch`: the batch on this thread.
    fn load_now(
        &self,
        env: Env,
        indices: Vec<u32>,
        specs: &[TransformSpec],
        seed: i64,
    ) -> Result<Vec<TensorHandle>, String> {
        let indices: Vec<usize> = indices.into_iter().map(|i| i as usize).collect();
        let (images, labels) = guard("DataLoader", || {
            self.load(&indices, &transforms(specs)?, seed as u64)
        })?;
        Ok(vec![wrap(&env, images), wrap(&env, labels)])
    }

    /// `loadBatchAsync`: the batch on a libuv worker.
    fn load_task(
        self,
        indices: Vec<u32>,
        specs: &[TransformSpec],
        seed: i64,
    ) -> AsyncTask<LoadBatch> {
        AsyncTask::new(LoadBatch {
            source: self,
            indices: indices.into_iter().map(|i| i as usize).collect(),
            transforms: transforms(specs),
            seed: seed as u64,
        })
    }
}

pub struct LoadBatch {
    source: Source,
    indices: Vec<usize>,
    transforms: ferrite_core::Result<Vec<Transform>>,
    seed: u64,
}

#[napi(object, object_from_js = false)]
pub struct LoadedBatch {
    pub images: Option<TensorHandle>,
    pub labels: Option<TensorHandle>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

impl Task for LoadBatch {
    type Output = std::result::Result<(Tensor, Tensor), napi::Error<String>>;
    type JsValue = LoadedBatch;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        crate::allocator::reclaim_remote_frees();
        let transforms = std::mem::replace(&mut self.transforms, Ok(Vec::new()));
        Ok(guard("DataLoader", || {
            self.source.load(&self.indices, &transforms?, self.seed)
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        Ok(match output {
            Ok((images, labels)) => LoadedBatch {
                images: Some(wrap(&env, images)),
                labels: Some(wrap(&env, labels)),
                error_code: None,
                error_message: None,
            },
            Err(e) => LoadedBatch {
                images: None,
                labels: None,
                error_code: Some(e.status.clone()),
                error_message: Some(e.reason.clone()),
            },
        })
    }
}
