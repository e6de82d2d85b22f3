//! Image files: `readImage`, `writeImage` and `saveImageGrid` over `ferrite_core::vision`.

use std::path::Path;

use ferrite_core::vision::{self, ColorMode, GridOptions};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{guard, limit_to_js};
use crate::handle::{wrap, TensorHandle};

#[napi]
pub fn read_image(env: Env, path: String, mode: String) -> Result<TensorHandle, String> {
    guard("readImage", || {
        vision::read_image(Path::new(&path), ColorMode::parse("readImage", &mode)?)
    })
    .map(|t| wrap(&env, t))
}

/// The most pixels an image may have to be decoded (`Infinity` when there is no limit).
#[napi]
pub fn max_image_pixels() -> Result<f64, String> {
    guard("getMaxImagePixels", || {
        vision::max_image_pixels().map(|p| limit_to_js(p, u64::MAX))
    })
}

/// Sets the most pixels an image may have to be decoded; `None` restores the default.
#[napi]
pub fn set_max_image_pixels(pixels: Option<f64>) {
    vision::set_max_image_pixels(pixels.map(|p| p as u64));
}

/// `quality` is checked to be 1..=100 by the TypeScript wrapper; larger values saturate and
/// are refused by the core.
#[napi]
pub fn write_image(tensor: TensorHandle, path: String, quality: Option<u32>) -> Result<(), String> {
    let t = tensor.get("writeImage")?;
    let quality = quality.map(|q| u8::try_from(q).unwrap_or(u8::MAX));
    guard("writeImage", || {
        vision::write_image(&t, Path::new(&path), quality)
    })
}

/// `GridOptions` as JS passes them; the TypeScript wrapper fills in the defaults.
#[napi(object)]
pub struct ImageGridOptions {
    pub titles: Option<Vec<String>>,
    pub columns: Option<u32>,
    pub normalize: bool,
    pub scale: u32,
}

#[napi]
pub fn save_image_grid(
    images: Vec<TensorHandle>,
    path: String,
    options: ImageGridOptions,
) -> Result<(), String> {
    let tensors = images
        .iter()
        .map(|t| t.get("saveImageGrid"))
        .collect::<Result<Vec<_>, String>>()?;
    let options = GridOptions {
        titles: options.titles,
        columns: options.columns.map(|c| c as usize),
        normalize: options.normalize,
        scale: options.scale as usize,
    };
    guard("saveImageGrid", || {
        vision::save_image_grid(&tensors, Path::new(&path), &options)
    })
}

/// One panel of a line chart.
#[napi(object)]
pub struct ChartSeries {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub values: Vec<f64>,
}

/// Draws each series in its own panel, side by side, and writes a PNG.
#[napi]
pub fn save_line_charts(series: Vec<ChartSeries>, path: String) -> Result<(), String> {
    let series: Vec<vision::Series> = series
        .into_iter()
        .map(|s| vision::Series {
            title: s.title,
            x_label: s.x_label,
            y_label: s.y_label,
            values: s.values,
        })
        .collect();
    guard("plotCurves", || {
        vision::save_line_charts(&series, Path::new(&path))
    })
}
