//! Images in and out, like PIL plus torchvision's `save_image`: PNG and JPEG files decoded into
//! `[C, H, W]` float32 tensors, tensors encoded as PNG, and a titled picture grid for showing
//! results side by side. Every file is written atomically.

mod chart;
mod codec;
mod grid;

pub use chart::{save_line_charts, Series};
pub use codec::{decode_rgb8, read_image, write_image, ColorMode};
pub use grid::{save_image_grid, GridOptions};
