//! Line charts as PNG, for training curves: one panel per series, each with a title, axis labels,
//! tick labels and the series drawn as a polyline with markers, like matplotlib's `plot`.

use std::path::Path;

use super::codec::{save_image, OutputFormat};
use super::grid::glyph;
use crate::error::{Error, Result};

const OP: &str = "plotCurves";
const GLYPH: usize = 8;
const PANEL_W: usize = 420;
const PANEL_H: usize = 300;
/// Room left of and below the plot area for tick labels and axis labels.
const LEFT: usize = 72;
const BOTTOM: usize = 44;
const TOP: usize = 28;
const RIGHT: usize = 16;
const BLACK: [u8; 3] = [0, 0, 0];
const GRAY: [u8; 3] = [225, 225, 225];
const BLUE: [u8; 3] = [31, 119, 180];

/// One panel: `values[i]` is plotted at x = i.
#[derive(Debug, Clone)]
pub struct Series {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub values: Vec<f64>,
}

struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Canvas {
    fn set(&mut self, x: i64, y: i64, color: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            let at = (y as usize * self.width + x as usize) * 3;
            self.pixels[at..at + 3].copy_from_slice(&color);
        }
    }

    /// Bresenham's line, `thickness` pixels wide.
    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), color: [u8; 3], thickness: i64) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            for ox in 0..thickness {
                for oy in 0..thickness {
                    self.set(x + ox - thickness / 2, y + oy - thickness / 2, color);
                }
            }
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    fn text(&mut self, s: &str, left: i64, top: i64, color: [u8; 3]) {
        for (k, c) in s.chars().enumerate() {
            for (gy, bits) in glyph(c).iter().enumerate() {
                for gx in (0..GLYPH).filter(|gx| bits >> gx & 1 == 1) {
                    self.set(left + (k * GLYPH + gx) as i64, top + gy as i64, color);
                }
            }
        }
    }

    /// Text read bottom to top, for the y-axis label.
    fn vertical_text(&mut self, s: &str, left: i64, bottom: i64, color: [u8; 3]) {
        for (k, c) in s.chars().enumerate() {
            for (gy, bits) in glyph(c).iter().enumerate() {
                for gx in (0..GLYPH).filter(|gx| bits >> gx & 1 == 1) {
                    self.set(left + gy as i64, bottom - (k * GLYPH + gx) as i64, color);
                }
            }
        }
    }
}

/// About five round tick values covering `lo..=hi` (1, 2 or 5 times a power of ten apart).
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(magnitude * 10.0);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

fn tick_label(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{v:.decimals$}")
}

/// Draws the series side by side and writes the PNG atomically.
pub fn save_line_charts(series: &[Series], path: &Path) -> Result<()> {
    if series.is_empty() {
        return Err(Error::invalid(OP, "nothing to plot"));
    }
    let mut canvas = Canvas {
        width: PANEL_W * series.len(),
        height: PANEL_H,
        pixels: vec![255; PANEL_W * series.len() * PANEL_H * 3],
    };
    for (panel, s) in series.iter().enumerate() {
        if s.values.iter().any(|v| !v.is_finite()) {
            return Err(Error::invalid(
                OP,
                format!("{}: values must be finite numbers", s.title),
            ));
        }
        let origin = (panel * PANEL_W) as i64;
        let (x0, x1) = (origin + LEFT as i64, origin + (PANEL_W - RIGHT) as i64);
        let (y0, y1) = (TOP as i64, (PANEL_H - BOTTOM) as i64);
        let title_left = origin + (PANEL_W as i64 - (s.title.chars().count() * GLYPH) as i64) / 2;
        canvas.text(&s.title, title_left, 8, BLACK);
        let (mut lo, mut hi) = s
            .values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        if s.values.is_empty() {
            (lo, hi) = (0.0, 1.0);
        }
        // Flat series get some room; every series gets a 5 % margin, as matplotlib does.
        let pad = if hi > lo {
            (hi - lo) * 0.05
        } else {
            lo.abs().max(1.0) * 0.05
        };
        (lo, hi) = (lo - pad, hi + pad);
        let n = s.values.len().max(2);
        let to_x = |i: f64| x0 + ((i / (n - 1) as f64) * (x1 - x0) as f64).round() as i64;
        let to_y = |v: f64| y1 - (((v - lo) / (hi - lo)) * (y1 - y0) as f64).round() as i64;
        let y_ticks = ticks(lo, hi);
        let y_step = if y_ticks.len() > 1 {
            y_ticks[1] - y_ticks[0]
        } else {
            hi - lo
        };
        for &t in &y_ticks {
            let y = to_y(t);
            canvas.line((x0, y), (x1, y), GRAY, 1);
            canvas.line((x0 - 4, y), (x0, y), BLACK, 1);
            let label = tick_label(t, y_step);
            canvas.text(&label, x0 - 6 - (label.len() * GLYPH) as i64, y - 4, BLACK);
        }
        let x_every = (n - 1).div_ceil(10).max(1);
        for i in (0..n).step_by(x_every) {
            let x = to_x(i as f64);
            canvas.line((x, y1), (x, y1 + 4), BLACK, 1);
            let label = i.to_string();
            canvas.text(&label, x - (label.len() * GLYPH / 2) as i64, y1 + 8, BLACK);
        }
        canvas.line((x0, y0), (x0, y1), BLACK, 1);
        canvas.line((x0, y1), (x1, y1), BLACK, 1);
        canvas.line((x0, y0), (x1, y0), BLACK, 1);
        canvas.line((x1, y0), (x1, y1), BLACK, 1);
        let points: Vec<(i64, i64)> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, &v)| (to_x(i as f64), to_y(v)))
            .collect();
        for pair in points.windows(2) {
            canvas.line(pair[0], pair[1], BLUE, 2);
        }
        for &(x, y) in &points {
            for dx in -2..=2 {
                for dy in -2..=2 {
                    canvas.set(x + dx, y + dy, BLUE);
                }
            }
        }
        let x_label_left = (x0 + x1) / 2 - (s.x_label.chars().count() * GLYPH / 2) as i64;
        canvas.text(&s.x_label, x_label_left, (PANEL_H - 16) as i64, BLACK);
        let y_label_bottom = (y0 + y1) / 2 + (s.y_label.chars().count() * GLYPH / 2) as i64;
        canvas.vertical_text(&s.y_label, origin + 6, y_label_bottom, BLACK);
    }
    save_image(
        OP,
        path,
        &canvas.pixels,
        (canvas.width, canvas.height, 3),
        OutputFormat::Png,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(
            ticks(0.0, 1.0),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(ticks(13.0, 61.0), vec![20.0, 30.0, 40.0, 50.0, 60.0]);
        assert_eq!(tick_label(0.4, 0.2), "0.4");
        assert_eq!(tick_label(40.0, 10.0), "40");
    }

    #[test]
    fn draws_one_panel_per_series() {
        let dir = std::env::temp_dir().join(format!("ferrite-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("curves.png");
        let s = |t: &str| Series {
            title: t.into(),
            x_label: "epoch".into(),
            y_label: t.into(),
            values: vec![2.0, 1.5, 1.2, 1.1],
        };
        save_line_charts(&[s("train loss"), s("test accuracy")], &path).unwrap();
        let img = image::open(&path).unwrap();
        assert_eq!(
            (img.width() as usize, img.height() as usize),
            (2 * PANEL_W, PANEL_H)
        );
        let nan = Series {
            values: vec![f64::NAN],
            ..s("x")
        };
        assert_eq!(
            save_line_charts(&[nan], &path).unwrap_err().code(),
            "InvalidArgument"
        );
    }
}
