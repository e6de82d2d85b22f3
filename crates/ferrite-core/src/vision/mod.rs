//! Images in and out, like PIL plus torchvision's `save_image`: PNG, JPEG and WebP files decoded into
//! `[C, H, W]` float32 tensors, tensors encoded as PNG, and a titled picture grid for showing
//! results side by side. Every file is written atomically.

mod chart;
mod codec;
mod grid;

pub use chart::{save_line_charts, Series};
pub use codec::{
    decode_rgb8, max_image_pixels, read_image, set_max_image_pixels, write_image, ColorMode,
    ExifOrientation, DEFAULT_MAX_IMAGE_PIXELS, MAX_PIXELS_ENV,
};
pub use grid::{save_image_grid, GridOptions};
