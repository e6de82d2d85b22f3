//! Image files (PNG or JPEG) decoded in parallel into an image set, as torchvision's
//! `ImageFolder` loads them: every image converted to RGB.

use std::path::Path;

use rayon::prelude::*;

use super::ImageSet;
use crate::error::{Error, Result};
use crate::vision::decode_rgb8;

/// Decodes `paths` on all threads into RGB images labelled `labels`, kept in the order given.
/// When several files fail, the error names the first of them in that order.
pub fn read_image_files<P: AsRef<Path> + Sync>(
    op: &'static str,
    paths: &[P],
    labels: &[i64],
) -> Result<ImageSet> {
    if paths.len() != labels.len() {
        return Err(Error::invalid(
            op,
            format!("{} files but {} labels", paths.len(), labels.len()),
        ));
    }
    let decoded: Vec<Result<(Vec<u8>, usize, usize)>> = paths
        .par_iter()
        .map(|p| decode_rgb8(op, p.as_ref()))
        .collect();
    let mut set = ImageSet::new();
    for (image, &label) in decoded.into_iter().zip(labels) {
        let (pixels, height, width) = image?;
        set.push(&pixels, height, width, 3, label)?;
    }
    Ok(set)
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
        let set = read_image_files("ImageFolder", &[&rgba, &gray], &[5, 7]).unwrap();
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
    fn errors_name_the_first_bad_file() {
        let dir = temp_dir("errors");
        let good = dir.join("good.png");
        write_png(&good, &[0, 0, 0], 1, 1, ExtendedColorType::Rgb8);
        let (bad, missing) = (dir.join("bad.png"), dir.join("missing.png"));
        fs::write(&bad, b"not an image").unwrap();
        let err =
            read_image_files("ImageFolder", &[&good, &bad, &missing], &[0, 0, 0]).unwrap_err();
        assert_eq!(err.code(), "Io");
        assert!(
            err.to_string()
                .starts_with(&format!("ImageFolder: {}: ", bad.display())),
            "{err}"
        );
        let err = read_image_files("ImageFolder", &[&good], &[0, 1]).unwrap_err();
        assert_eq!(err.code(), "InvalidArgument");
        fs::remove_dir_all(&dir).unwrap();
    }
}
