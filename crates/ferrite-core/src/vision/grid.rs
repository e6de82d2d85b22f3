//! `save_image_grid`: pictures side by side on a white page, each with a title, like a row of
//! matplotlib subplots showing `imshow(x, cmap='gray')` with `set_title`, saved as one PNG.

use std::path::Path;

use font8x8::{UnicodeFonts, BASIC_FONTS, GREEK_FONTS, LATIN_FONTS};

use super::codec::{image_dims, save_image, to_byte, OutputFormat};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

const OP: &str = "saveImageGrid";
/// White space around the page and between pictures, in unscaled pixels.
const MARGIN: usize = 8;
/// Glyphs are 8x8 pixels before scaling.
const GLYPH: usize = 8;
/// Space between a title and its picture.
const TITLE_GAP: usize = 4;
/// An empty box for characters the bitmap font lacks, as real fonts show.
const MISSING_GLYPH: [u8; 8] = [0x7E, 0x42, 0x42, 0x42, 0x42, 0x42, 0x7E, 0x00];
/// The page is allocated before encoding; refusing absurd sizes (a huge `scale`) keeps an
/// allocation failure from aborting the host process.
const MAX_PAGE_BYTES: usize = 1 << 30;

/// How `save_image_grid` lays out its pictures.
#[derive(Debug, Clone)]
pub struct GridOptions {
    /// One title per image, centred above it.
    pub titles: Option<Vec<String>>,
    /// Pictures per row before wrapping; all in one row when `None`.
    pub columns: Option<usize>,
    /// Stretch each image's own min..max over black..white like matplotlib's `imshow`
    /// autoscaling; otherwise values are clamped to 0..=255 and rounded.
    pub normalize: bool,
    /// Whole-number magnification of everything: pictures (nearest neighbour), text and margins.
    pub scale: usize,
}

impl Default for GridOptions {
    fn default() -> Self {
        GridOptions {
            titles: None,
            columns: None,
            normalize: true,
            scale: 1,
        }
    }
}

/// One picture ready to draw: its planar 8-bit values, size and title glyphs.
struct Picture {
    pixels: Vec<u8>,
    channels: usize,
    height: usize,
    width: usize,
    title: Vec<[u8; 8]>,
}

/// Draws `images` (each `[C, H, W]` with C = 1 or 3, or `[H, W]`) left to right, wrapping after
/// `columns`, with their titles above them, and writes the page as one PNG (RGB when any image
/// has colour, else gray).
pub fn save_image_grid(images: &[Tensor], path: &Path, options: &GridOptions) -> Result<()> {
    if images.is_empty() {
        return Err(Error::invalid(OP, "needs at least one image"));
    }
    if let Some(titles) = &options.titles {
        if titles.len() != images.len() {
            return Err(Error::invalid(
                OP,
                format!("got {} titles for {} images", titles.len(), images.len()),
            ));
        }
    }
    let columns = options.columns.unwrap_or(images.len());
    if columns == 0 || options.scale == 0 {
        return Err(Error::invalid(
            OP,
            format!(
                "columns and scale must be at least 1, got {columns} and {}",
                options.scale
            ),
        ));
    }
    let pictures = images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            let (channels, height, width) = image_dims(OP, &format!("image {i}"), image.shape())?;
            let title = options
                .titles
                .as_ref()
                .map_or(Vec::new(), |t| t[i].chars().map(glyph).collect());
            Ok(Picture {
                pixels: to_pixels(&image.to_vec_f64()?, options.normalize),
                channels,
                height,
                width,
                title,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Page::layout(&pictures, columns, options.titles.is_some(), options.scale)?
        .render(&pictures, path)
}

/// An image's planar values as the bytes it is drawn with.
fn to_pixels(values: &[f64], normalize: bool) -> Vec<u8> {
    if !normalize {
        return values.iter().map(|&v| to_byte(v)).collect();
    }
    let (lo, hi) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if hi <= lo {
        // A flat image is all vmin to matplotlib: black.
        return vec![0; values.len()];
    }
    // matplotlib's 256-entry colormap: level floor(t * 256), with t = 1 in the top level.
    values
        .iter()
        .map(|&v| ((v - lo) / (hi - lo) * 256.0).clamp(0.0, 255.0) as u8)
        .collect()
}

pub(super) fn glyph(c: char) -> [u8; 8] {
    BASIC_FONTS
        .get(c)
        .or_else(|| LATIN_FONTS.get(c))
        .or_else(|| GREEK_FONTS.get(c))
        .unwrap_or(MISSING_GLYPH)
}

/// Where every picture goes, in final (scaled) pixels.
struct Page {
    width: usize,
    height: usize,
    channels: usize,
    scale: usize,
    title_band: usize,
    /// Left edge and width of each column.
    columns: Vec<(usize, usize)>,
    /// Top edge of each row.
    rows: Vec<usize>,
}

impl Page {
    fn layout(pictures: &[Picture], columns: usize, titled: bool, scale: usize) -> Result<Page> {
        let too_large = || {
            Error::invalid(
                OP,
                format!("the page would be too large to draw (scale {scale})"),
            )
        };
        let scaled = |n: usize| n.checked_mul(scale).ok_or_else(too_large);
        let title_band = if titled {
            scaled(GLYPH + TITLE_GAP)?
        } else {
            0
        };
        let margin = scaled(MARGIN)?;
        let columns = columns.min(pictures.len());
        let mut column_widths = vec![0; columns];
        let mut row_heights = vec![0; pictures.len().div_ceil(columns)];
        for (i, p) in pictures.iter().enumerate() {
            let width = scaled(p.width.max(p.title.len() * GLYPH))?;
            let height = scaled(p.height)?
                .checked_add(title_band)
                .ok_or_else(too_large)?;
            column_widths[i % columns] = column_widths[i % columns].max(width);
            row_heights[i / columns] = row_heights[i / columns].max(height);
        }
        let edges = |sizes: &[usize]| -> Result<(Vec<usize>, usize)> {
            let mut at = margin;
            let mut starts = Vec::with_capacity(sizes.len());
            for &size in sizes {
                starts.push(at);
                at = at
                    .checked_add(size)
                    .and_then(|a| a.checked_add(margin))
                    .ok_or_else(too_large)?;
            }
            Ok((starts, at))
        };
        let (lefts, width) = edges(&column_widths)?;
        let (rows, height) = edges(&row_heights)?;
        let channels = if pictures.iter().any(|p| p.channels == 3) {
            3
        } else {
            1
        };
        match width
            .checked_mul(height)
            .and_then(|n| n.checked_mul(channels))
        {
            Some(bytes) if bytes <= MAX_PAGE_BYTES => {}
            _ => {
                return Err(Error::invalid(
                    OP,
                    format!("a {width}x{height} page is too large to draw (scale {scale})"),
                ))
            }
        }
        let columns = lefts.into_iter().zip(column_widths).collect();
        Ok(Page {
            width,
            height,
            channels,
            scale,
            title_band,
            columns,
            rows,
        })
    }

    fn render(&self, pictures: &[Picture], path: &Path) -> Result<()> {
        let mut page = vec![255u8; self.width * self.height * self.channels];
        for (i, p) in pictures.iter().enumerate() {
            let (left, column_width) = self.columns[i % self.columns.len()];
            let top = self.rows[i / self.columns.len()];
            let text_width = p.title.len() * GLYPH * self.scale;
            self.draw_text(
                &mut page,
                &p.title,
                left + (column_width - text_width) / 2,
                top,
            );
            self.draw_picture(
                &mut page,
                p,
                left + (column_width - p.width * self.scale) / 2,
                top + self.title_band,
            );
        }
        save_image(
            OP,
            path,
            &page,
            (self.width, self.height, self.channels),
            OutputFormat::Png,
        )
    }

    fn draw_picture(&self, page: &mut [u8], p: &Picture, left: usize, top: usize) {
        let plane = p.height * p.width;
        for y in 0..p.height * self.scale {
            let row = (top + y) * self.width + left;
            let source_row = (y / self.scale) * p.width;
            for x in 0..p.width * self.scale {
                let source = source_row + x / self.scale;
                for c in 0..self.channels {
                    // Gray pictures on a colour page repeat their one plane.
                    let plane_index = if p.channels == 1 { 0 } else { c };
                    page[(row + x) * self.channels + c] = p.pixels[plane_index * plane + source];
                }
            }
        }
    }

    /// Black text; bit `k` of a glyph row is its `k`-th pixel from the left.
    fn draw_text(&self, page: &mut [u8], glyphs: &[[u8; 8]], left: usize, top: usize) {
        for (k, rows) in glyphs.iter().enumerate() {
            for (gy, bits) in rows.iter().enumerate() {
                for gx in (0..GLYPH).filter(|gx| bits >> gx & 1 == 1) {
                    let x0 = left + (k * GLYPH + gx) * self.scale;
                    for y in top + gy * self.scale..top + (gy + 1) * self.scale {
                        let start = (y * self.width + x0) * self.channels;
                        page[start..start + self.scale * self.channels].fill(0);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_spans_black_to_white_like_matplotlib() {
        assert_eq!(
            to_pixels(&[-1.0, 0.0, 1.0, f64::NAN], true),
            vec![0, 128, 255, 0]
        );
        assert_eq!(to_pixels(&[5.0, 5.0], true), vec![0, 0]);
        assert_eq!(
            to_pixels(&[-3.0, 0.4, 254.6, 300.0], false),
            vec![0, 0, 255, 255]
        );
    }

    #[test]
    fn layout_wraps_after_columns_and_widens_for_long_titles() {
        let picture = |width, title: &str| Picture {
            pixels: vec![0; 2 * width],
            channels: 1,
            height: 2,
            width,
            title: title.chars().map(glyph).collect(),
        };
        let pictures = [picture(4, "abc"), picture(30, ""), picture(4, "")];
        let page = Page::layout(&pictures, 2, true, 1).unwrap();
        // Column 0 is as wide as the 3-glyph title (24 px), column 1 as its 30 px picture.
        assert_eq!(page.columns, vec![(8, 24), (40, 30)]);
        assert_eq!(page.rows, vec![8, 8 + 14 + 8]);
        assert_eq!((page.width, page.height, page.channels), (78, 52, 1));
        let scaled = Page::layout(&pictures, 2, true, 3).unwrap();
        assert_eq!((scaled.width, scaled.height), (3 * 78, 3 * 52));
    }

    #[test]
    fn unknown_characters_draw_a_box() {
        assert_eq!(glyph('\u{4e2d}'), MISSING_GLYPH);
        assert_ne!(glyph('a'), MISSING_GLYPH);
        assert_ne!(glyph('é'), MISSING_GLYPH);
    }
}
