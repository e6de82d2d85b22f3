//! PNG, JPEG and WebP files to `[C, H, W]` float32 tensors, and tensors back to PNG. Pixel values
//! match PIL's `Image.open(path).convert(mode)` exactly for PNG; JPEG and WebP decoders may differ
//! from libjpeg and libwebp by rounding.

use std::fs;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::RwLock;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{
    ColorType, DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder, ImageError,
    ImageFormat, ImageReader, Limits,
};

use crate::alloc;
use crate::error::{Error, Result, ShapeDisplay};
use crate::tensor::Tensor;

/// PIL's `Image.MAX_IMAGE_PIXELS`, past which it warns of a decompression bomb: any camera's
/// photo fits (50 megapixels is 50_000_000), and the largest image allowed decodes to about
/// 1 GiB of float32 RGB. A few hundred kilobytes of PNG can claim more.
pub const DEFAULT_MAX_IMAGE_PIXELS: u64 = 89_478_485;

/// The environment variable that sets the default pixel limit.
pub const MAX_PIXELS_ENV: &str = "FERRITE_MAX_IMAGE_PIXELS";

/// A limit set by `set_max_image_pixels`, which wins over the default.
static MAX_PIXELS: RwLock<Option<u64>> = RwLock::new(None);

/// The most pixels (width x height) an image may have to be decoded.
pub fn max_image_pixels() -> Result<u64> {
    if let Some(limit) = *MAX_PIXELS.read().unwrap_or_else(|e| e.into_inner()) {
        return Ok(limit);
    }
    match std::env::var(MAX_PIXELS_ENV) {
        Ok(text) => text.trim().parse().map_err(|_| {
            Error::invalid(
                "readImage",
                format!("{MAX_PIXELS_ENV} must be a whole number of pixels, got '{text}'"),
            )
        }),
        Err(_) => Ok(DEFAULT_MAX_IMAGE_PIXELS),
    }
}

/// Sets the most pixels an image may have to be decoded; `None` restores the default
/// (`FERRITE_MAX_IMAGE_PIXELS`, else `DEFAULT_MAX_IMAGE_PIXELS`).
pub fn set_max_image_pixels(pixels: Option<u64>) {
    *MAX_PIXELS.write().unwrap_or_else(|e| e.into_inner()) = pixels;
}

/// The channels `read_image` returns, named after PIL's modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorMode {
    /// Red, green and blue planes; a gray image is repeated into all three.
    Rgb,
    /// One luma plane.
    L,
}

impl ColorMode {
    pub fn parse(op: &'static str, name: &str) -> Result<ColorMode> {
        match name {
            "RGB" => Ok(ColorMode::Rgb),
            "L" => Ok(ColorMode::L),
            _ => Err(Error::invalid(
                op,
                format!("mode must be 'RGB' or 'L', got '{name}'"),
            )),
        }
    }
}

/// Whether a decoded image is turned upright by the orientation tag of its EXIF data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExifOrientation {
    /// Pixels as stored, like PIL's `Image.open`.
    #[default]
    Ignore,
    /// Rotated and flipped as the tag says, like PIL's `ImageOps.exif_transpose`.
    Apply,
}

/// Reads an 8-bit PNG, JPEG or WebP (gray, gray + alpha, RGB, RGBA or palette; alpha is dropped) into a float32
/// tensor of shape `[3, H, W]` (`Rgb`) or `[1, H, W]` (`L`) with values 0..=255.
pub fn read_image(path: &Path, mode: ColorMode) -> Result<Tensor> {
    let decoded = decode("readImage", path, ExifOrientation::Ignore)?;
    let color = decoded.color();
    let channels = color.channel_count() as usize;
    let (width, height) = (decoded.width() as usize, decoded.height() as usize);
    let pixels = decoded.as_bytes().chunks_exact(channels);
    let has_rgb = color.has_color();
    const OP: &str = "readImage";
    let plane = width * height;
    let data: Vec<f32> = match mode {
        ColorMode::L if has_rgb => {
            alloc::collect(OP, plane, pixels.map(|p| luma(p[0], p[1], p[2]) as f32))?
        }
        ColorMode::L => alloc::collect(OP, plane, pixels.map(|p| p[0] as f32))?,
        ColorMode::Rgb => {
            let mut planes = alloc::filled(OP, 3 * plane, 0f32)?;
            for (i, p) in pixels.enumerate() {
                for c in 0..3 {
                    planes[c * plane + i] = p[if has_rgb { c } else { 0 }] as f32;
                }
            }
            planes
        }
    };
    let c = if mode == ColorMode::Rgb { 3 } else { 1 };
    Tensor::from_f32(data, &[c, height, width])
}

/// Reads an 8-bit PNG, JPEG or WebP as interleaved RGB bytes (height x width x 3) with its height
/// and width, like PIL's `Image.open(path).convert('RGB')`: gray is repeated, alpha dropped. Errors
/// are `Io`, name the file and are reported under `op`.
pub fn decode_rgb8(
    op: &'static str,
    path: &Path,
    orientation: ExifOrientation,
) -> Result<(Vec<u8>, usize, usize)> {
    let decoded = decode(op, path, orientation)?;
    let (width, height) = (decoded.width() as usize, decoded.height() as usize);
    Ok((decoded.into_rgb8().into_raw(), height, width))
}

/// Reads and decodes one 8-bit gray, gray + alpha, RGB or RGBA image (palettes are expanded).
fn decode(op: &'static str, path: &Path, orientation: ExifOrientation) -> Result<DynamicImage> {
    let bytes = fs::read(path).map_err(|e| Error::io(op, path, e))?;
    // The format comes from the bytes alone: a file's extension says nothing about its content.
    let format = match image::guess_format(&bytes) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP)) => f,
        Ok(other) => {
            return Err(Error::io(
                op,
                path,
                format!("a {other:?} image; only PNG, JPEG and WebP can be read"),
            ))
        }
        Err(_) => return Err(Error::io(op, path, "not a PNG, JPEG or WebP image")),
    };
    // A file that still ends in its end marker (JPEG's EOI, PNG's IEND chunk), or as long as its
    // RIFF header says (WebP), is full length: whatever is wrong inside it is corruption, not
    // truncation.
    let full_length = match format {
        ImageFormat::Jpeg => bytes.ends_with(&[0xFF, 0xD9]),
        ImageFormat::WebP => riff_is_complete(&bytes),
        _ => bytes.ends_with(b"IEND\xAE\x42\x60\x82"),
    };
    let truncated = match format {
        ImageFormat::Jpeg => !full_length && jpeg_ends_early(&bytes),
        ImageFormat::WebP => !full_length,
        _ => false,
    };
    if truncated {
        return Err(Error::io(op, path, "the file is truncated"));
    }
    let failed = |e| decode_error(op, path, e, full_length);
    let decoded = contain_panics(op, path, || {
        let mut reader = ImageReader::with_format(io::Cursor::new(&bytes), format);
        // The pixel count is checked below, from the header; the codec's own memory limit would
        // refuse images that a raised pixel limit allows.
        reader.limits(Limits::no_limits());
        let mut decoder = reader.into_decoder().map_err(failed)?;
        let (width, height) = decoder.dimensions();
        check_pixels(op, path, width, height, max_image_pixels()?)?;
        let turn = match orientation {
            ExifOrientation::Apply => Some(decoder.orientation().map_err(failed)?),
            ExifOrientation::Ignore => None,
        };
        let mut decoded = DynamicImage::from_decoder(decoder).map_err(failed)?;
        if let Some(turn) = turn {
            decoded.apply_orientation(turn);
        }
        Ok(decoded)
    })?;
    match decoded.color() {
        ColorType::L8 | ColorType::La8 | ColorType::Rgb8 | ColorType::Rgba8 => Ok(decoded),
        other => Err(Error::io(
            op,
            path,
            format!("{other:?} pixels; only 8-bit images can be read"),
        )),
    }
}

/// Runs a codec on one file. A codec that panics on malformed input fails this file with an `Io`
/// error naming it, so that one bad file neither takes down a whole batch nor escapes
/// `onError: 'skip'`.
fn contain_panics<T>(
    op: &'static str,
    path: &Path,
    codec: impl FnOnce() -> Result<T>,
) -> Result<T> {
    panic::catch_unwind(AssertUnwindSafe(codec)).unwrap_or_else(|payload| {
        let detail = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("no message");
        Err(Error::io(
            op,
            path,
            format!("the image data is corrupt: the decoder gave up ({detail})"),
        ))
    })
}

/// True when a RIFF file (WebP) holds at least the bytes its header announces.
fn riff_is_complete(bytes: &[u8]) -> bool {
    match bytes.get(4..8) {
        Some(&[a, b, c, d]) => bytes.len() as u64 >= 8 + u32::from_le_bytes([a, b, c, d]) as u64,
        _ => false,
    }
}

/// Refuses an image of more than `limit` pixels before it is decoded.
fn check_pixels(op: &'static str, path: &Path, width: u32, height: u32, limit: u64) -> Result<()> {
    let pixels = width as u64 * height as u64;
    if pixels <= limit {
        return Ok(());
    }
    Err(Error::io(
        op,
        path,
        format!(
            "a {width}x{height} image ({pixels} pixels) is over the limit of {limit} pixels; raise \
             it with ft.vision.setMaxImagePixels(pixels) or the {MAX_PIXELS_ENV} environment variable"
        ),
    ))
}

/// PIL's default JPEG quality.
pub const DEFAULT_JPEG_QUALITY: u8 = 75;

/// Writes a `[C, H, W]` (C = 1 or 3) or `[H, W]` tensor as an 8-bit image, values clamped to
/// 0..=255 and rounded (NaN becomes 0). The format comes from the extension, as PIL's
/// `Image.save` picks it: `.png`, or `.jpg`/`.jpeg` at `quality` 1..=100 (default 75).
pub fn write_image(tensor: &Tensor, path: &Path, quality: Option<u8>) -> Result<()> {
    const OP: &str = "writeImage";
    let format = output_format(OP, path, quality)?;
    let (channels, height, width) = image_dims(OP, "the image", tensor.shape())?;
    let values = tensor.to_vec_f64()?;
    let plane = height * width;
    let mut pixels = vec![0u8; values.len()];
    for (c, channel) in values.chunks_exact(plane).enumerate() {
        for (i, &v) in channel.iter().enumerate() {
            pixels[i * channels + c] = to_byte(v);
        }
    }
    save_image(OP, path, &pixels, (width, height, channels), format)
}

/// How an image file is encoded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum OutputFormat {
    Png,
    Jpeg { quality: u8 },
}

fn output_format(op: &'static str, path: &Path, quality: Option<u8>) -> Result<OutputFormat> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let format = match extension.as_deref() {
        Some("png") if quality.is_some() => {
            return Err(Error::invalid(
                op,
                format!(
                    "quality applies to JPEG files only; {} is a PNG file",
                    path.display()
                ),
            ));
        }
        Some("png") => OutputFormat::Png,
        Some("jpg" | "jpeg") => OutputFormat::Jpeg {
            quality: quality.unwrap_or(DEFAULT_JPEG_QUALITY),
        },
        _ => {
            return Err(Error::invalid(
                op,
                format!(
                    "cannot tell the image format of {}: expected a .png, .jpg or .jpeg file name",
                    path.display()
                ),
            ));
        }
    };
    if let OutputFormat::Jpeg { quality } = format {
        if !(1..=100).contains(&quality) {
            return Err(Error::invalid(
                op,
                format!("quality must be 1 to 100, as PIL's; got {quality}"),
            ));
        }
    }
    Ok(format)
}

/// PIL's `convert('L')` for RGB: ITU-R 601-2 luma in 16-bit fixed point, rounded to nearest.
/// PIL documents `R * 299/1000 + G * 587/1000 + B * 114/1000`, but its code (`L24` in
/// Convert.c) rounds; truncating that formula differs from PIL by one in about half of all pixels.
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 19595 + g as u32 * 38470 + b as u32 * 7471 + 0x8000) >> 16) as u8
}

/// A value in 0..=255 as a pixel byte; `as` saturates, so NaN becomes 0.
pub(super) fn to_byte(v: f64) -> u8 {
    v.clamp(0.0, 255.0).round() as u8
}

/// `(channels, height, width)` of an image tensor: `[C, H, W]` with C = 1 or 3, or `[H, W]`.
pub(super) fn image_dims(
    op: &'static str,
    what: &str,
    shape: &[usize],
) -> Result<(usize, usize, usize)> {
    let (c, h, w) = match *shape {
        [c @ (1 | 3), h, w] => (c, h, w),
        [h, w] => (1, h, w),
        _ => {
            return Err(Error::shape(
                op,
                format!(
                    "{what} must have shape [C, H, W] with C = 1 or 3, or [H, W]; got {}",
                    ShapeDisplay(shape)
                ),
            ));
        }
    };
    if h == 0 || w == 0 {
        return Err(Error::shape(
            op,
            format!("{what} has no pixels (shape {})", ShapeDisplay(shape)),
        ));
    }
    Ok((c, h, w))
}

/// Encodes interleaved 8-bit gray or RGB pixels as `format` and writes them atomically to `path`.
pub(super) fn save_image(
    op: &'static str,
    path: &Path,
    pixels: &[u8],
    (width, height, channels): (usize, usize, usize),
    format: OutputFormat,
) -> Result<()> {
    // PNG stores each side in 32 bits, JPEG in 16.
    let (name, max_side) = match format {
        OutputFormat::Png => ("PNG", u32::MAX as usize),
        OutputFormat::Jpeg { .. } => ("JPEG", u16::MAX as usize),
    };
    if width > max_side || height > max_side {
        return Err(Error::invalid(
            op,
            format!("a {width}x{height} image is too large for {name} ({max_side} pixels a side at most)"),
        ));
    }
    let color = if channels == 1 {
        ExtendedColorType::L8
    } else {
        ExtendedColorType::Rgb8
    };
    let (w, h) = (width as u32, height as u32);
    let mut bytes = Vec::new();
    match format {
        OutputFormat::Png => PngEncoder::new(&mut bytes).write_image(pixels, w, h, color),
        OutputFormat::Jpeg { quality } => {
            JpegEncoder::new_with_quality(&mut bytes, quality).write_image(pixels, w, h, color)
        }
    }
    .map_err(|e| Error::io(op, path, format!("cannot encode as {name}: {e}")))?;
    crate::io::write_atomically(op, path, &bytes)
}

/// True when a JPEG stream runs out before its end-of-image marker. The JPEG decoder paints
/// the missing part gray and succeeds; PIL refuses such files ("image file is truncated"), and
/// so do we. Segments are skipped by their length, so an EXIF thumbnail's own marker does not count.
fn jpeg_ends_early(bytes: &[u8]) -> bool {
    let mut at = 2; // past the start-of-image marker
    while at + 1 < bytes.len() {
        if bytes[at] != 0xFF {
            // Entropy-coded scan data (or stray bytes, which decoders skip too).
            at += 1;
            continue;
        }
        match bytes[at + 1] {
            0xD9 => return false,
            0xFF => at += 1, // fill byte before a marker
            // Stuffed 0xFF inside scan data, and the markers that carry no length.
            0x00 | 0x01 | 0xD0..=0xD7 => at += 2,
            _ => match bytes.get(at + 2..at + 4) {
                // The length counts itself but not the marker.
                Some(&[high, low]) => at += 2 + u16::from_be_bytes([high, low]) as usize,
                _ => return true,
            },
        }
    }
    true
}

/// The decoder's error, reworded. Running out of data in a full-length file means a corrupt
/// length or marker sent the decoder past the end.
fn decode_error(op: &'static str, path: &Path, err: ImageError, full_length: bool) -> Error {
    match err {
        ImageError::IoError(e) if e.kind() == io::ErrorKind::UnexpectedEof && !full_length => {
            Error::io(op, path, "the file is truncated")
        }
        ImageError::IoError(e) if e.kind() == io::ErrorKind::UnexpectedEof => Error::io(
            op,
            path,
            "the image data is corrupt (it ends before the image does)",
        ),
        other @ (ImageError::Decoding(_) | ImageError::IoError(_)) if full_length => {
            Error::io(op, path, format!("the image data is corrupt: {other}"))
        }
        other => Error::io(op, path, format!("cannot decode: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luma_rounds_like_pil() {
        // np.asarray(Image.new('RGB', (1, 1), c).convert('L'))[0, 0] for each colour c (Pillow 13).
        for (rgb, expected) in [
            ((255, 0, 0), 76),
            ((0, 255, 0), 150),
            ((0, 0, 255), 29),
            ((1, 2, 3), 2),
            ((200, 100, 50), 124),
            ((255, 255, 255), 255),
        ] {
            assert_eq!(luma(rgb.0, rgb.1, rgb.2), expected, "{rgb:?}");
        }
    }

    #[test]
    fn jpeg_end_is_found_past_thumbnails_and_stuffed_bytes() {
        // SOI, an APP1 segment holding a thumbnail's own EOI, SOS, scan data with a stuffed 0xFF
        // and a restart marker, then EOI.
        let app1 = [0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD9, 0x00, 0x00];
        let sos = [0xFF, 0xDA, 0x00, 0x02];
        let scan = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56];
        let whole = [&[0xFF, 0xD8][..], &app1, &sos, &scan, &[0xFF, 0xD9]].concat();
        assert!(!jpeg_ends_early(&whole));
        for cut in 2..whole.len() {
            assert!(jpeg_ends_early(&whole[..cut]), "cut at {cut}");
        }
        let with_trailing_bytes = [&whole[..], &[0x00, 0x11]].concat();
        assert!(!jpeg_ends_early(&with_trailing_bytes));
    }

    #[test]
    fn images_over_the_pixel_limit_are_refused_by_their_header() {
        let path = Path::new("big.png");
        assert!(check_pixels("readImage", path, 9459, 9459, DEFAULT_MAX_IMAGE_PIXELS).is_ok());
        let err =
            check_pixels("readImage", path, 12000, 12000, DEFAULT_MAX_IMAGE_PIXELS).unwrap_err();
        assert_eq!(err.code(), "Io");
        assert_eq!(
            err.to_string(),
            "readImage: big.png: a 12000x12000 image (144000000 pixels) is over the limit of \
             89478485 pixels; raise it with ft.vision.setMaxImagePixels(pixels) or the \
             FERRITE_MAX_IMAGE_PIXELS environment variable"
        );
    }

    #[test]
    fn a_codec_that_panics_fails_only_its_file_with_an_io_error() {
        let path = Path::new("photos/cat/odd.jpg");
        let err = contain_panics("ImageFolder", path, || -> Result<()> {
            let rows: Vec<u8> = Vec::new();
            panic!("row {} out of range", rows.len() + 7)
        })
        .unwrap_err();
        assert_eq!(err.code(), "Io");
        assert_eq!(
            err.to_string(),
            "ImageFolder: photos/cat/odd.jpg: the image data is corrupt: the decoder gave up (row 7 out of range)"
        );
        assert_eq!(contain_panics("ImageFolder", path, || Ok(3)).unwrap(), 3);
    }

    #[test]
    fn a_full_length_jpeg_with_corrupt_data_is_called_corrupt() {
        let photo = fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/astronaut.jpg"),
        )
        .unwrap();
        let scan = photo.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        // Garbage that reads as a marker segment whose length runs past the end of the file.
        let mut corrupt = photo.clone();
        for (i, b) in corrupt[scan + 400..scan + 464].iter_mut().enumerate() {
            *b = [0xFF, 0xC4, 0xFF, 0xFF][i % 4];
        }
        let dir = std::env::temp_dir().join(format!("ferrite-corrupt-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("corrupt.jpg");
        fs::write(&path, &corrupt).unwrap();
        let err = read_image(&path, ColorMode::Rgb).unwrap_err();
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(err.code(), "Io");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "readImage: {}: the image data is corrupt",
                path.display()
            )),
            "{text}"
        );
    }

    #[test]
    fn write_then_read_round_trips() {
        let dir = std::env::temp_dir().join(format!("ferrite-vision-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("round-trip.png");
        let values = vec![
            0.0,
            0.4,
            254.6,
            300.0,
            -5.0,
            f32::NAN,
            10.0,
            20.0,
            30.0,
            40.0,
            50.0,
            60.0,
        ];
        write_image(&Tensor::from_f32(values, &[3, 2, 2]).unwrap(), &path, None).unwrap();
        let read = read_image(&path, ColorMode::Rgb).unwrap();
        assert_eq!(read.shape(), &[3, 2, 2]);
        assert_eq!(
            read.to_vec_f32().unwrap(),
            vec![0.0, 0.0, 255.0, 255.0, 0.0, 0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
        );
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file is left behind"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn jpeg_round_trips_close_to_the_pixels_and_quality_trades_size() {
        let dir = std::env::temp_dir().join(format!("ferrite-jpeg-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        // A smooth RGB gradient, which JPEG keeps well at high quality.
        let (h, w) = (24usize, 40usize);
        let values: Vec<f32> = (0..3 * h * w)
            .map(|i| {
                let (c, y, x) = (i / (h * w), i / w % h, i % w);
                (40 * c + 3 * y + 4 * x) as f32
            })
            .collect();
        let image = Tensor::from_f32(values.clone(), &[3, h, w]).unwrap();
        let (fine, coarse) = (dir.join("fine.jpg"), dir.join("coarse.JPEG"));
        write_image(&image, &fine, Some(95)).unwrap();
        write_image(&image, &coarse, Some(10)).unwrap();
        assert!(fs::metadata(&coarse).unwrap().len() < fs::metadata(&fine).unwrap().len());
        let read = read_image(&fine, ColorMode::Rgb)
            .unwrap()
            .to_vec_f32()
            .unwrap();
        let worst = read
            .iter()
            .zip(&values)
            .map(|(a, b)| (a - b.min(255.0)).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= 6.0, "largest error at quality 95: {worst}");
        let gray = dir.join("gray.jpg");
        write_image(
            &Tensor::from_f32(vec![128.0; 64], &[8, 8]).unwrap(),
            &gray,
            None,
        )
        .unwrap();
        assert_eq!(read_image(&gray, ColorMode::L).unwrap().shape(), &[1, 8, 8]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_format_comes_from_the_extension_and_quality_is_checked() {
        let image = Tensor::from_f32(vec![0.0; 4], &[2, 2]).unwrap();
        for (path, quality, wanted) in [
            ("x.bmp", None, "expected a .png, .jpg or .jpeg file name"),
            (
                "no-extension",
                None,
                "expected a .png, .jpg or .jpeg file name",
            ),
            ("x.png", Some(90), "quality applies to JPEG files only"),
            ("x.jpg", Some(0), "quality must be 1 to 100"),
            ("x.jpg", Some(101), "quality must be 1 to 100"),
        ] {
            let err = write_image(&image, Path::new(path), quality).unwrap_err();
            assert_eq!(err.code(), "InvalidArgument", "{path}");
            assert!(err.to_string().contains(wanted), "{path}: {err}");
        }
    }

    #[test]
    fn rejects_bad_shapes_and_missing_files() {
        let err = write_image(
            &Tensor::from_f32(vec![0.0; 8], &[2, 2, 2]).unwrap(),
            Path::new("x.png"),
            None,
        )
        .unwrap_err();
        assert_eq!(err.code(), "ShapeMismatch");
        let err = read_image(Path::new("/nonexistent/ferrite.png"), ColorMode::L).unwrap_err();
        assert_eq!(err.code(), "Io");
        assert!(
            err.to_string()
                .starts_with("readImage: /nonexistent/ferrite.png: "),
            "{err}"
        );
    }
}
