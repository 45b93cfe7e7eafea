//! Loss curves as PNG.
//!
//! [`plot_curves`] draws line charts of training curves: axes with ticks and labels, a grid,
//! a legend, several series in distinct colours, an optional log-scale y axis and optional EMA
//! smoothing drawn over the faint raw curve. [`plot_csv`] does the same straight from a
//! [`CsvLog`](super::log::CsvLog) file. Text uses a 5×7 bitmap font embedded below, so no
//! font crate or system font is needed; lines are anti-aliased.
//!
//! Non-finite values, magnitudes above 1e300 and, on a log axis, values below 1e-300 (zero and
//! negatives included) are skipped: the curve breaks there.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::log::{LogError, read_csv};

/// Errors while drawing or writing a chart.
#[derive(Debug, Error)]
pub enum PlotError {
    #[error("chart size {width}×{height} is outside 160×120 ..= 16384×16384")]
    InvalidSize { width: u32, height: u32 },
    #[error("cannot write '{path}': {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode PNG: {0}")]
    Png(#[from] png::EncodingError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("'{path}' has no column '{column}' (columns: {available:?})")]
    MissingColumn {
        path: PathBuf,
        column: String,
        available: Vec<String>,
    },
}

/// One named curve: `(x, y)` points drawn in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Legend entry; an empty name leaves the series out of the legend.
    pub name: String,
    /// `(x, y)` in drawing order; non-finite values break the curve.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A series from `(x, y)` points.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
        }
    }

    /// A series of `ys` at x = 0, 1, 2, …
    pub fn from_values(name: impl Into<String>, ys: &[f64]) -> Self {
        Self::new(name, ys.iter().enumerate().map(|(i, &y)| (i as f64, y)).collect())
    }
}

/// How to draw a chart. `PlotOptions { log_y: true, ..Default::default() }` for a log scale.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotOptions {
    /// Image width in pixels (160 to 16384).
    pub width: u32,
    /// Image height in pixels (120 to 16384).
    pub height: u32,
    /// Title under the x axis; empty leaves it out.
    pub x_label: String,
    /// Title beside the y axis, read upwards; empty leaves it out.
    pub y_label: String,
    /// Logarithmic y axis (values ≤ 0 are skipped).
    pub log_y: bool,
    /// EMA weight of the past in `[0, 1)`, e.g. 0.9: above 0, each series is drawn faint and
    /// its (bias-corrected) moving average solid on top.
    pub smoothing: f64,
    /// Fixed y range instead of the data's (e.g. to cut off the first steps' huge losses).
    pub y_range: Option<(f64, f64)>,
}

impl PlotOptions {
    /// Defaults adapted to the data: a log y axis when every value is positive and they span
    /// two decades or more (losses falling from 10 to 0.1, or a loss beside the learning
    /// rate), and smoothing 0.9 once a series has 200 points (per-step losses are noisy).
    pub fn suggested_for(series: &[Series]) -> Self {
        let values = || {
            series
                .iter()
                .flat_map(|s| s.points.iter())
                .map(|p| p.1)
                .filter(|y| y.is_finite())
        };
        let all_positive = values().next().is_some() && values().all(|y| y > 0.0);
        let (lo, hi) = values().fold((f64::INFINITY, 0.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
        let longest = series.iter().map(|s| s.points.len()).max().unwrap_or(0);
        Self {
            log_y: all_positive && hi >= 100.0 * lo,
            smoothing: if longest >= 200 { 0.9 } else { 0.0 },
            ..Self::default()
        }
    }
}

impl Default for PlotOptions {
    fn default() -> Self {
        Self {
            width: 800,
            height: 480,
            x_label: "step".into(),
            y_label: String::new(),
            log_y: false,
            smoothing: 0.0,
            y_range: None,
        }
    }
}

/// Colours of series 0, 1, 2, … (matplotlib's tab10), repeating after ten.
pub const SERIES_COLOURS: [[u8; 3]; 10] = [
    [0x1f, 0x77, 0xb4],
    [0xff, 0x7f, 0x0e],
    [0x2c, 0xa0, 0x2c],
    [0xd6, 0x27, 0x28],
    [0x94, 0x67, 0xbd],
    [0x8c, 0x56, 0x4b],
    [0xe3, 0x77, 0xc2],
    [0x7f, 0x7f, 0x7f],
    [0xbc, 0xbd, 0x22],
    [0x17, 0xbe, 0xcf],
];

/// The colour of series `index`.
pub fn series_colour(index: usize) -> [u8; 3] {
    SERIES_COLOURS[index % SERIES_COLOURS.len()]
}

/// Renders `series` and writes the chart to `path_png`.
pub fn plot_curves(
    path_png: impl AsRef<Path>,
    title: &str,
    series: &[Series],
    options: &PlotOptions,
) -> Result<(), PlotError> {
    render_curves(title, series, options)?.save_png(path_png)
}

/// Plots `columns` of a [`CsvLog`](super::log::CsvLog) file against its `step` column (no
/// columns: all of them) with [`PlotOptions::suggested_for`] the data. An empty `title` is
/// replaced by the file name without extension.
pub fn plot_csv(
    csv_path: impl AsRef<Path>,
    png_path: impl AsRef<Path>,
    title: &str,
    columns: &[&str],
) -> Result<(), PlotError> {
    let (title, series) = csv_series(csv_path.as_ref(), title, columns)?;
    plot_curves(png_path, &title, &series, &PlotOptions::suggested_for(&series))
}

/// [`plot_csv`] with explicit options.
pub fn plot_csv_with(
    csv_path: impl AsRef<Path>,
    png_path: impl AsRef<Path>,
    title: &str,
    columns: &[&str],
    options: &PlotOptions,
) -> Result<(), PlotError> {
    let (title, series) = csv_series(csv_path.as_ref(), title, columns)?;
    plot_curves(png_path, &title, &series, options)
}

/// The title (defaulted to the file stem) and one series per wanted column.
fn csv_series(csv_path: &Path, title: &str, columns: &[&str]) -> Result<(String, Vec<Series>), PlotError> {
    let (header, rows) = read_csv(csv_path)?;
    let wanted: Vec<&str> = if columns.is_empty() {
        header.iter().skip(1).map(String::as_str).collect()
    } else {
        columns.to_vec()
    };
    let mut series = Vec::with_capacity(wanted.len());
    for column in wanted {
        let Some(index) = header.iter().skip(1).position(|h| h == column).map(|i| i + 1) else {
            return Err(PlotError::MissingColumn {
                path: csv_path.to_path_buf(),
                column: column.to_string(),
                available: header.clone(),
            });
        };
        series.push(Series::new(
            column,
            rows.iter().map(|row| (row[0], row[index])).collect(),
        ));
    }
    let title = if title.is_empty() {
        csv_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        title.to_string()
    };
    Ok((title, series))
}

/// A rendered chart: RGB pixels plus the mapping from data to pixel coordinates.
#[derive(Debug, Clone)]
pub struct Chart {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
    area: PlotArea,
    x_axis: Axis,
    y_axis: Axis,
}

impl Chart {
    /// Image width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Image height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Row-major RGB8 pixels.
    pub fn pixels(&self) -> &[u8] {
        &self.rgb
    }

    /// The colour at pixel `(x, y)`, `(0, 0)` being the top left.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = 3 * (y as usize * self.width as usize + x as usize);
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// The plot area (inside the axes) as `(left, top, right, bottom)` pixel edges.
    pub fn plot_area(&self) -> (u32, u32, u32, u32) {
        let a = self.area;
        (a.left as u32, a.top as u32, a.right as u32, a.bottom as u32)
    }

    /// Where the data point `(x, y)` lies, in continuous pixel coordinates (pixel `(i, j)`
    /// covers `[i, i+1) × [j, j+1)`); `None` if it cannot be drawn (non-finite, ≤ 0 on a log
    /// axis). Points outside the axes' ranges map outside the plot area.
    pub fn data_to_pixel(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let tx = self.x_axis.fraction(x)?;
        let ty = self.y_axis.fraction(y)?;
        Some((
            self.area.left + tx * self.area.width(),
            self.area.bottom - ty * self.area.height(),
        ))
    }

    /// The chart as PNG bytes.
    pub fn encode_png(&self) -> Result<Vec<u8>, PlotError> {
        let mut bytes = Vec::new();
        self.write_png(&mut bytes)?;
        Ok(bytes)
    }

    /// Writes the chart as a PNG file.
    pub fn save_png(&self, path: impl AsRef<Path>) -> Result<(), PlotError> {
        let path = path.as_ref();
        let io_error = |source| PlotError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut writer = BufWriter::new(File::create(path).map_err(io_error)?);
        self.write_png(&mut writer)?;
        writer.flush().map_err(io_error)
    }

    fn write_png(&self, writer: impl Write) -> Result<(), PlotError> {
        let mut encoder = png::Encoder::new(writer, self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut png_writer = encoder.write_header()?;
        png_writer.write_image_data(&self.rgb)?;
        png_writer.finish()?;
        Ok(())
    }
}

/// Renders a chart in memory (what [`plot_curves`] writes).
pub fn render_curves(title: &str, series: &[Series], options: &PlotOptions) -> Result<Chart, PlotError> {
    let (width, height) = (options.width, options.height);
    if !(160..=16384).contains(&width) || !(120..=16384).contains(&height) {
        return Err(PlotError::InvalidSize { width, height });
    }
    let log_y = options.log_y;
    let plottable_y = |y: f64| within_limits(y) && (!log_y || y >= MIN_LOG_VALUE);
    let plottable = |&(x, y): &(f64, f64)| within_limits(x) && plottable_y(y);

    // Ranges from every drawable point.
    let mut x_bounds = Bounds::default();
    let mut y_bounds = Bounds::default();
    for point in series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|p| plottable(p))
    {
        x_bounds.add(point.0);
        y_bounds.add(point.1);
    }
    let has_data = x_bounds.is_set();
    let x_axis = Axis::linear_range(x_bounds, false);
    let y_axis = match options.y_range {
        Some((lo, hi)) if plottable_y(lo) && plottable_y(hi) && lo < hi => Axis { lo, hi, log: log_y },
        _ if log_y => Axis::log_range(y_bounds),
        _ => Axis::linear_range(y_bounds, true),
    };

    // Layout: the font scale follows the image size (2 at 800×480).
    let scale = (width / 400).min(height / 240).clamp(1, 4) as i64;
    let title_scale = scale + 1;
    let text_height = GLYPH_HEIGHT * scale;
    let pad = 4 * scale;
    let tick_length = 3 * scale;
    let top = if title.is_empty() {
        4 * pad
    } else {
        2 * pad + GLYPH_HEIGHT * title_scale + 2 * pad
    };
    let x_title_height = if options.x_label.is_empty() {
        0
    } else {
        text_height + pad
    };
    let bottom = height as i64 - (tick_length + pad + text_height + pad + x_title_height + pad);
    let plot_height = (bottom - top).max(1) as f64;
    let y_ticks = y_axis.ticks((plot_height / (22.0 * scale as f64)).clamp(2.0, 10.0) as usize);
    let y_labels_width = y_ticks
        .major
        .iter()
        .map(|t| text_width(&t.1, scale))
        .max()
        .unwrap_or(0);
    let y_title_width = if options.y_label.is_empty() {
        0
    } else {
        text_height + 2 * pad
    };
    let left = 2 * pad + y_title_width + y_labels_width + pad + tick_length;
    let plot_width = (width as i64 - 6 * pad - left).max(1) as f64;
    let x_ticks = x_axis.ticks((plot_width / (45.0 * scale as f64)).clamp(2.0, 10.0) as usize);
    let last_x_label = x_ticks.major.last().map(|t| text_width(&t.1, scale)).unwrap_or(0);
    let right = width as i64 - (6 * pad).max(last_x_label / 2 + pad);
    let area = PlotArea {
        left: left as f64,
        top: top as f64,
        right: right.max(left + 1) as f64,
        bottom: bottom.max(top + 1) as f64,
    };

    let mut canvas = Canvas::new(width as usize, height as usize);
    let mut chart = Chart {
        width,
        height,
        rgb: Vec::new(),
        area,
        x_axis,
        y_axis,
    };

    // Grid under the curves.
    for &(value, _) in &x_ticks.major {
        if let Some((px, _)) = chart.data_to_pixel(value, y_axis.lo) {
            canvas.vertical_line(px.floor() as i64, area.top as i64, area.bottom as i64, GRID, 1.0);
        }
    }
    for &(value, _) in &y_ticks.major {
        if let Some((_, py)) = chart.data_to_pixel(x_axis.lo, value) {
            canvas.horizontal_line(area.left as i64, area.right as i64, py.floor() as i64, GRID, 1.0);
        }
    }

    // Curves: each polyline is rasterised into a coverage mask first and composited once, so
    // overlapping segments of a faint curve don't pile up into dark blotches.
    let mut mask = Mask::new(area);
    let mut ink = vec![false; mask.coverage.len()];
    let smoothing = if options.smoothing.is_finite() {
        options.smoothing.clamp(0.0, 0.999)
    } else {
        0.0
    };
    let line_radius = 0.5 * scale as f64 + 0.25;
    for (index, s) in series.iter().enumerate() {
        let colour = rgb_f32(series_colour(index));
        let raw: Vec<Option<(f64, f64)>> = s
            .points
            .iter()
            .map(|p| {
                if plottable(p) {
                    chart.data_to_pixel(p.0, p.1)
                } else {
                    None
                }
            })
            .collect();
        if smoothing > 0.0 {
            mask.clear();
            mask.polyline(&raw, 0.6 * line_radius);
            canvas.composite(&mask, colour, 0.3, &mut ink);
            let smoothed: Vec<Option<(f64, f64)>> = ema(&s.points, smoothing, plottable)
                .into_iter()
                .map(|p| p.and_then(|(x, y)| chart.data_to_pixel(x, y)))
                .collect();
            mask.clear();
            mask.polyline(&smoothed, line_radius);
            canvas.composite(&mask, colour, 1.0, &mut ink);
        } else {
            mask.clear();
            mask.polyline(&raw, line_radius);
            canvas.composite(&mask, colour, 1.0, &mut ink);
        }
    }
    if !has_data {
        let message = "no data";
        let x = ((area.left + area.right) / 2.0) as i64 - text_width(message, scale) / 2;
        let y = ((area.top + area.bottom) / 2.0) as i64 - text_height / 2;
        canvas.text(x, y, message, scale, MUTED);
    }

    // Frame, ticks and tick labels.
    let (l, t, r, b) = (
        area.left as i64,
        area.top as i64,
        area.right as i64,
        area.bottom as i64,
    );
    canvas.horizontal_line(l - 1, r + 1, t - 1, AXIS, 1.0);
    canvas.horizontal_line(l - 1, r + 1, b, AXIS, 1.0);
    canvas.vertical_line(l - 1, t - 1, b + 1, AXIS, 1.0);
    canvas.vertical_line(r, t - 1, b + 1, AXIS, 1.0);
    for (value, label) in &x_ticks.major {
        let Some((px, _)) = chart.data_to_pixel(*value, y_axis.lo) else {
            continue;
        };
        let px = px.floor() as i64;
        canvas.vertical_line(px, b + 1, b + 1 + tick_length, AXIS, 1.0);
        let label_x = px - text_width(label, scale) / 2;
        canvas.text(label_x, b + 1 + tick_length + pad, label, scale, TEXT);
    }
    for &value in &x_ticks.minor {
        if let Some((px, _)) = chart.data_to_pixel(value, y_axis.lo) {
            canvas.vertical_line(px.floor() as i64, b + 1, b + 1 + tick_length / 2, AXIS, 1.0);
        }
    }
    for (value, label) in &y_ticks.major {
        let Some((_, py)) = chart.data_to_pixel(x_axis.lo, *value) else {
            continue;
        };
        let py = py.floor() as i64;
        canvas.horizontal_line(l - 1 - tick_length, l - 1, py, AXIS, 1.0);
        let label_x = l - 1 - tick_length - pad - text_width(label, scale);
        canvas.text(label_x, py - text_height / 2, label, scale, TEXT);
    }
    for &value in &y_ticks.minor {
        if let Some((_, py)) = chart.data_to_pixel(x_axis.lo, value) {
            canvas.horizontal_line(l - 1 - tick_length / 2, l - 1, py.floor() as i64, AXIS, 1.0);
        }
    }

    // Axis titles and the chart title.
    if !options.x_label.is_empty() {
        let x = (l + r) / 2 - text_width(&options.x_label, scale) / 2;
        let y = b + 1 + tick_length + pad + text_height + pad;
        canvas.text(x, y, &options.x_label, scale, TEXT);
    }
    if !options.y_label.is_empty() {
        let y_bottom = (t + b) / 2 + text_width(&options.y_label, scale) / 2;
        canvas.text_upwards(2 * pad, y_bottom, &options.y_label, scale, TEXT);
    }
    if !title.is_empty() {
        let x = (width as i64 - text_width(title, title_scale)) / 2;
        canvas.text(x.max(pad), 2 * pad, title, title_scale, TEXT);
    }

    draw_legend(&mut canvas, series, area, scale, &ink);

    chart.rgb = canvas.into_rgb8();
    Ok(chart)
}

/// Bias-corrected EMA of the plottable points, at the same x; `None` where the raw point is
/// not plottable (the curve breaks there as the raw one does).
fn ema(points: &[(f64, f64)], beta: f64, plottable: impl Fn(&(f64, f64)) -> bool) -> Vec<Option<(f64, f64)>> {
    let (mut average, mut weight) = (0.0, 0.0);
    points
        .iter()
        .map(|point| {
            if !plottable(point) {
                return None;
            }
            average = beta * average + (1.0 - beta) * point.1;
            weight = beta * weight + (1.0 - beta);
            Some((point.0, average / weight))
        })
        .collect()
}

/// Draws the legend in the corner of the plot area that hides the fewest curve pixels.
fn draw_legend(canvas: &mut Canvas, series: &[Series], area: PlotArea, scale: i64, ink: &[bool]) {
    let entries: Vec<(usize, &str)> = series
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.name.is_empty())
        .map(|(i, s)| (i, s.name.as_str()))
        .collect();
    if entries.is_empty() {
        return;
    }
    let pad = 3 * scale;
    let sample_length = 10 * scale;
    // Room for descenders plus one row of spacing.
    let row_height = (GLYPH_ROWS as i64 + 1) * scale;
    let names_width = entries
        .iter()
        .map(|(_, name)| text_width(name, scale))
        .max()
        .unwrap_or(0);
    let box_width = pad + sample_length + pad + names_width + pad;
    let box_height = pad + row_height * entries.len() as i64 - 3 * scale + pad;
    let margin = 3 * scale;
    let (l, t, r, b) = (
        area.left as i64,
        area.top as i64,
        area.right as i64,
        area.bottom as i64,
    );
    let corners = [
        (r - margin - box_width, t + margin),
        (l + margin, t + margin),
        (r - margin - box_width, b - margin - box_height),
        (l + margin, b - margin - box_height),
    ];
    let area_width = (r - l).max(1);
    let ink_under = |(x0, y0): (i64, i64)| {
        let mut count = 0usize;
        for y in y0.max(t)..(y0 + box_height).min(b) {
            for x in x0.max(l)..(x0 + box_width).min(r) {
                count += usize::from(ink[((y - t) * area_width + (x - l)) as usize]);
            }
        }
        count
    };
    // Ties keep the first corner (top right), where readers look first.
    let (x0, y0) = corners
        .iter()
        .copied()
        .min_by_key(|&corner| ink_under(corner))
        .unwrap_or(corners[0]);

    canvas.fill_rect(x0, y0, box_width, box_height, WHITE, 0.85);
    canvas.horizontal_line(x0, x0 + box_width, y0, LEGEND_BORDER, 1.0);
    canvas.horizontal_line(x0, x0 + box_width, y0 + box_height - 1, LEGEND_BORDER, 1.0);
    canvas.vertical_line(x0, y0, y0 + box_height, LEGEND_BORDER, 1.0);
    canvas.vertical_line(x0 + box_width - 1, y0, y0 + box_height, LEGEND_BORDER, 1.0);
    for (row, (index, name)) in entries.iter().enumerate() {
        let y = y0 + pad + row as i64 * row_height;
        let colour = rgb_f32(series_colour(*index));
        let line_y = y + GLYPH_HEIGHT * scale / 2;
        canvas.fill_rect(
            x0 + pad,
            line_y - scale / 2,
            sample_length,
            scale.max(2),
            colour,
            1.0,
        );
        canvas.text(x0 + pad + sample_length + pad, y, name, scale, TEXT);
    }
}

const WHITE: [f32; 3] = [1.0, 1.0, 1.0];
const TEXT: [f32; 3] = [0.1, 0.1, 0.1];
const AXIS: [f32; 3] = [0.2, 0.2, 0.2];
const MUTED: [f32; 3] = [0.55, 0.55, 0.55];
const GRID: [f32; 3] = [0.9, 0.9, 0.9];
const LEGEND_BORDER: [f32; 3] = [0.75, 0.75, 0.75];

fn rgb_f32(colour: [u8; 3]) -> [f32; 3] {
    colour.map(|c| c as f32 / 255.0)
}

/// Pixel edges of the plot area.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PlotArea {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

impl PlotArea {
    fn width(&self) -> f64 {
        self.right - self.left
    }

    fn height(&self) -> f64 {
        self.bottom - self.top
    }
}

/// Largest magnitude drawn: beyond it, axis spans and paddings could overflow `f64`.
const MAX_VALUE: f64 = 1e300;
/// Smallest value drawn on a log axis, for the same reason (and subnormals).
const MIN_LOG_VALUE: f64 = 1e-300;

fn within_limits(value: f64) -> bool {
    value.is_finite() && value.abs() <= MAX_VALUE
}

/// Min and max of the values seen.
#[derive(Debug, Clone, Copy, Default)]
struct Bounds(Option<(f64, f64)>);

impl Bounds {
    fn add(&mut self, value: f64) {
        self.0 = Some(match self.0 {
            Some((lo, hi)) => (lo.min(value), hi.max(value)),
            None => (value, value),
        });
    }

    fn is_set(&self) -> bool {
        self.0.is_some()
    }
}

/// The data range an axis shows.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
}

/// Tick positions: labelled major ticks (value, label) and unlabelled minor ones.
#[derive(Debug, Default)]
struct Ticks {
    major: Vec<(f64, String)>,
    minor: Vec<f64>,
}

impl Axis {
    /// The data range, widened around a single value, and by 5 % on each side if `pad`
    /// (y axes: curves shouldn't touch the frame).
    fn linear_range(bounds: Bounds, pad: bool) -> Self {
        let (lo, hi) = match bounds.0 {
            None => (0.0, 1.0),
            Some((lo, hi)) if hi - lo <= 1e-12 * lo.abs().max(hi.abs()) => {
                let half = if lo == 0.0 { 1.0 } else { 0.1 * lo.abs() };
                (lo - half, hi + half)
            }
            Some((lo, hi)) if pad => {
                let margin = 0.05 * (hi - lo);
                (lo - margin, hi + margin)
            }
            Some(range) => range,
        };
        Self { lo, hi, log: false }
    }

    /// Like [`Axis::linear_range`] with the padding in log space.
    fn log_range(bounds: Bounds) -> Self {
        let (lo, hi) = match bounds.0 {
            None => (1.0, 10.0),
            Some((lo, hi)) => {
                // In decades, so that ranges like 1e-300..1e300 don't overflow `hi / lo`.
                let (a, b) = (lo.log10(), hi.log10());
                let margin = if b - a <= 1e-12 {
                    2f64.log10()
                } else {
                    0.05 * (b - a)
                };
                (10f64.powf(a - margin), 10f64.powf(b + margin))
            }
        };
        Self { lo, hi, log: true }
    }

    /// Position of `value` along the axis: 0 at `lo`, 1 at `hi`.
    fn fraction(&self, value: f64) -> Option<f64> {
        if !value.is_finite() {
            return None;
        }
        if self.log {
            (value > 0.0).then(|| (value.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln()))
        } else {
            Some((value - self.lo) / (self.hi - self.lo))
        }
    }

    /// About `target` labelled ticks inside the range.
    fn ticks(&self, target: usize) -> Ticks {
        if self.log {
            log_ticks(self.lo, self.hi, target)
        } else {
            linear_ticks(self.lo, self.hi, target)
        }
    }
}

/// Multiples of 1, 2, 2.5 or 5 × 10^k, about `target` of them in `[lo, hi]`.
fn linear_ticks(lo: f64, hi: f64, target: usize) -> Ticks {
    let step = nice_step((hi - lo) / target.max(1) as f64);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    if !step.is_finite() || step <= 0.0 || last.saturating_sub(first) > 1000 {
        // Degenerate range (a user `y_range` of 1..1+1e-300, say): no ticks rather than a hang.
        return Ticks::default();
    }
    let major = (first..=last)
        .map(|k| {
            let value = k as f64 * step;
            (value, format_tick(value, step))
        })
        .collect();
    Ticks {
        major,
        minor: Vec::new(),
    }
}

fn nice_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = [1.0, 2.0, 2.5, 5.0]
        .into_iter()
        .find(|&n| fraction <= n * (1.0 + 1e-9))
        .unwrap_or(10.0);
    nice * magnitude
}

/// Decades when the range spans at least two of them (every n-th over a wide range; with 2 and
/// 5 too over two or three decades if they fit), else
/// 1-2-5 or 1…9 multiples, else linear ticks; unlabelled minor ticks at the other multiples.
fn log_ticks(lo: f64, hi: f64, target: usize) -> Ticks {
    let tolerance = 1e-9;
    let in_range = |v: f64| v >= lo * (1.0 - tolerance) && v <= hi * (1.0 + tolerance);
    let first_decade = (lo.log10().floor() as i32).max(-330);
    let last_decade = (hi.log10().ceil() as i32).min(330);
    let decade_value = |k: i32| 10f64.powi(k);
    let with_multipliers = |multipliers: &[f64]| -> Vec<f64> {
        (first_decade..=last_decade)
            .flat_map(|k| multipliers.iter().map(move |&m| m * decade_value(k)))
            .filter(|&v| in_range(v))
            .collect()
    };
    let label = |v: f64| format_tick(v, decade_value(v.log10().floor() as i32));

    let decades = with_multipliers(&[1.0]);
    let all_multiples = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
    if (2..=3).contains(&decades.len()) {
        // Two or three decades alone leave the axis nearly unlabelled: add 2 and 5 if they fit.
        let dense = with_multipliers(&[1.0, 2.0, 5.0]);
        if dense.len() <= target {
            let minor = with_multipliers(&all_multiples)
                .into_iter()
                .filter(|v| !dense.contains(v))
                .collect();
            return Ticks {
                major: dense.into_iter().map(|v| (v, label(v))).collect(),
                minor,
            };
        }
    }
    if decades.len() >= 2 {
        let stride = decades.len().div_ceil(target.max(2)).max(1);
        let major: Vec<f64> = decades
            .iter()
            .copied()
            .filter(|v| (v.log10().round() as i64).rem_euclid(stride as i64) == 0)
            .collect();
        let minor = if stride == 1 && decades.len() <= 8 {
            with_multipliers(&[2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
        } else {
            decades.iter().copied().filter(|v| !major.contains(v)).collect()
        };
        return Ticks {
            major: major.into_iter().map(|v| (v, label(v))).collect(),
            minor,
        };
    }
    for multipliers in [
        &[1.0, 2.0, 5.0][..],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    ] {
        let major = with_multipliers(multipliers);
        if major.len() >= 3 || (multipliers.len() == 9 && major.len() >= 2) {
            let minor = with_multipliers(&all_multiples)
                .into_iter()
                .filter(|v| !major.contains(v))
                .collect();
            return Ticks {
                major: major.into_iter().map(|v| (v, label(v))).collect(),
                minor,
            };
        }
    }
    linear_ticks(lo, hi, target)
}

/// A tick label: `0`, `0.25`, `12k`, `1.5M`, `1e-3`, `2.5e-4`, with as many decimals as the
/// tick step needs; exponent form for steps below 0.01 and values from 1e9.
fn format_tick(value: f64, step: f64) -> String {
    let magnitude = value.abs();
    if magnitude < step.abs() * 1e-6 || magnitude == 0.0 {
        return "0".into();
    }
    // By the step, not the value, so that a linear axis is all in one notation.
    if step.abs() < 1e-2 || magnitude >= 1e9 {
        let exponent = magnitude.log10().floor() as i32;
        let scale = 10f64.powi(exponent);
        let mut mantissa_decimals = decimals_for(step / scale).min(3);
        let mut mantissa = round_to(value / scale, mantissa_decimals);
        let mut exponent = exponent;
        if mantissa.abs() >= 10.0 {
            mantissa /= 10.0;
            exponent += 1;
            mantissa_decimals = mantissa_decimals.saturating_sub(1);
        }
        return format!("{}e{exponent}", trimmed(mantissa, mantissa_decimals));
    }
    let (divisor, suffix) = if magnitude >= 1e6 {
        (1e6, "M")
    } else if magnitude >= 1e3 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    let decimals = decimals_for(step / divisor);
    format!("{}{suffix}", trimmed(value / divisor, decimals))
}

/// Decimals needed to write multiples of `step` exactly (0.25 → 2, 5 → 0), at most 10.
fn decimals_for(step: f64) -> usize {
    let step = step.abs();
    (0..10)
        .find(|&d| {
            let scaled = step * 10f64.powi(d as i32);
            (scaled - scaled.round()).abs() <= 1e-6 * scaled.max(1.0)
        })
        .unwrap_or(10)
}

fn round_to(value: f64, decimals: usize) -> f64 {
    let factor = 10f64.powi(decimals as i32);
    (value * factor).round() / factor
}

/// `value` with `decimals` decimals, trailing zeros dropped.
fn trimmed(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    if text == "-0" { "0".into() } else { text }
}

/// Anti-aliased coverage of one polyline over the plot area.
struct Mask {
    area: PlotArea,
    width: usize,
    height: usize,
    coverage: Vec<f32>,
}

impl Mask {
    fn new(area: PlotArea) -> Self {
        let width = area.width().max(1.0) as usize;
        let height = area.height().max(1.0) as usize;
        Self {
            area,
            width,
            height,
            coverage: vec![0.0; width * height],
        }
    }

    fn clear(&mut self) {
        self.coverage.fill(0.0);
    }

    /// Segments between consecutive drawable points; a point with no drawable neighbour is
    /// drawn as a dot so single values stay visible.
    fn polyline(&mut self, points: &[Option<(f64, f64)>], radius: f64) {
        for (i, point) in points.iter().enumerate() {
            let Some(p) = *point else { continue };
            let previous = i.checked_sub(1).and_then(|j| points[j]);
            let next = points.get(i + 1).copied().flatten();
            if let Some(q) = next {
                self.segment(p, q, radius);
            } else if previous.is_none() {
                self.segment(p, p, radius + 1.5);
            }
        }
    }

    /// Coverage of a capsule of `radius` around segment `a`–`b` (pixel-centre distance).
    fn segment(&mut self, a: (f64, f64), b: (f64, f64), radius: f64) {
        let (ox, oy) = (self.area.left, self.area.top);
        let (ax, ay, bx, by) = (a.0 - ox, a.1 - oy, b.0 - ox, b.1 - oy);
        let reach = radius + 1.0;
        let x_min = (ax.min(bx) - reach).floor().max(0.0);
        let x_max = (ax.max(bx) + reach).ceil().min(self.width as f64);
        let y_min = (ay.min(by) - reach).floor().max(0.0);
        let y_max = (ay.max(by) + reach).ceil().min(self.height as f64);
        if x_min >= x_max || y_min >= y_max {
            return;
        }
        let (dx, dy) = (bx - ax, by - ay);
        let length_squared = dx * dx + dy * dy;
        for y in y_min as usize..y_max as usize {
            for x in x_min as usize..x_max as usize {
                let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
                let t = if length_squared > 0.0 {
                    (((px - ax) * dx + (py - ay) * dy) / length_squared).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (qx, qy) = (ax + t * dx - px, ay + t * dy - py);
                let distance = (qx * qx + qy * qy).sqrt();
                let coverage = (radius + 0.5 - distance).clamp(0.0, 1.0) as f32;
                let cell = &mut self.coverage[y * self.width + x];
                *cell = cell.max(coverage);
            }
        }
    }
}

/// An RGB image in linear-blend floats.
struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<[f32; 3]>,
}

impl Canvas {
    fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            pixels: vec![WHITE; width * height],
        }
    }

    fn blend(&mut self, x: i64, y: i64, colour: [f32; 3], alpha: f32) {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 {
            return;
        }
        let pixel = &mut self.pixels[y as usize * self.width + x as usize];
        for c in 0..3 {
            pixel[c] += alpha * (colour[c] - pixel[c]);
        }
    }

    fn fill_rect(&mut self, x: i64, y: i64, width: i64, height: i64, colour: [f32; 3], alpha: f32) {
        for yy in y..y + height {
            for xx in x..x + width {
                self.blend(xx, yy, colour, alpha);
            }
        }
    }

    /// Pixels `x0..x1` of row `y`.
    fn horizontal_line(&mut self, x0: i64, x1: i64, y: i64, colour: [f32; 3], alpha: f32) {
        self.fill_rect(x0, y, x1 - x0, 1, colour, alpha);
    }

    /// Pixels `y0..y1` of column `x`.
    fn vertical_line(&mut self, x: i64, y0: i64, y1: i64, colour: [f32; 3], alpha: f32) {
        self.fill_rect(x, y0, 1, y1 - y0, colour, alpha);
    }

    /// Blends `colour` through the mask; marks covered pixels as ink (for legend placement).
    fn composite(&mut self, mask: &Mask, colour: [f32; 3], alpha: f32, ink: &mut [bool]) {
        let (left, top) = (mask.area.left as i64, mask.area.top as i64);
        for y in 0..mask.height {
            for x in 0..mask.width {
                let coverage = mask.coverage[y * mask.width + x];
                if coverage > 0.0 {
                    self.blend(left + x as i64, top + y as i64, colour, alpha * coverage);
                    ink[y * mask.width + x] |= coverage > 0.25;
                }
            }
        }
    }

    /// Text with its top-left corner at `(x, y)`, each font pixel a `scale`×`scale` block.
    fn text(&mut self, x: i64, y: i64, text: &str, scale: i64, colour: [f32; 3]) {
        for (i, ch) in text.chars().enumerate() {
            let glyph = glyph(ch);
            let origin = x + i as i64 * GLYPH_ADVANCE * scale;
            for (row, bits) in glyph.iter().enumerate() {
                for column in 0..GLYPH_WIDTH {
                    if bits & (1 << (GLYPH_WIDTH - 1 - column)) != 0 {
                        let px = origin + column * scale;
                        let py = y + row as i64 * scale;
                        self.fill_rect(px, py, scale, scale, colour, 1.0);
                    }
                }
            }
        }
    }

    /// Text turned 90° anticlockwise, read bottom to top, starting at `(x, y_bottom)`.
    fn text_upwards(&mut self, x: i64, y_bottom: i64, text: &str, scale: i64, colour: [f32; 3]) {
        for (i, ch) in text.chars().enumerate() {
            let glyph = glyph(ch);
            let along = i as i64 * GLYPH_ADVANCE * scale;
            for (row, bits) in glyph.iter().enumerate() {
                for column in 0..GLYPH_WIDTH {
                    if bits & (1 << (GLYPH_WIDTH - 1 - column)) != 0 {
                        // Text-space (along, across) maps to screen (x + across, y - along).
                        let px = x + row as i64 * scale;
                        let py = y_bottom - along - (column + 1) * scale;
                        self.fill_rect(px, py, scale, scale, colour, 1.0);
                    }
                }
            }
        }
    }

    fn into_rgb8(self) -> Vec<u8> {
        self.pixels
            .iter()
            .flat_map(|p| p.map(|c| (c.clamp(0.0, 1.0) * 255.0).round() as u8))
            .collect()
    }
}

const GLYPH_WIDTH: i64 = 5;
/// Cap height: what layout reserves for a line of text.
const GLYPH_HEIGHT: i64 = 7;
/// Cap height plus the descender rows of `g j p q y` (drawn below the line, in its padding).
const GLYPH_ROWS: usize = 9;
/// Glyph width plus one column of spacing.
const GLYPH_ADVANCE: i64 = GLYPH_WIDTH + 1;

fn text_width(text: &str, scale: i64) -> i64 {
    let count = text.chars().count() as i64;
    if count == 0 {
        0
    } else {
        (count * GLYPH_ADVANCE - 1) * scale
    }
}

/// Rows of the glyph for `ch`, top to bottom, bit 4 the leftmost pixel; `?` for characters
/// outside printable ASCII.
fn glyph(ch: char) -> [u8; GLYPH_ROWS] {
    let mut rows = [0; GLYPH_ROWS];
    if let Some((_, tall)) = DESCENDERS.iter().find(|(c, _)| *c == ch) {
        for (row, text) in rows.iter_mut().zip(tall) {
            *row = glyph_row(text);
        }
        return rows;
    }
    let index = match ch {
        ' '..='~' => ch as usize - ' ' as usize,
        _ => '?' as usize - ' ' as usize,
    };
    for (row, text) in rows.iter_mut().zip(&FONT[index]) {
        *row = glyph_row(text);
    }
    rows
}

/// `"#.#.."` → `0b10100`.
fn glyph_row(row: &str) -> u8 {
    row.bytes().fold(0, |bits, b| (bits << 1) | u8::from(b == b'#'))
}

/// Lowercase letters with descenders, which a 5×7 cell can only squash (`g` would read as
/// `9`): their x-height matches the other lowercase letters and two rows hang below.
#[rustfmt::skip]
const DESCENDERS: [(char, [&str; GLYPH_ROWS]); 5] = [
    ('g', [".....", ".....", ".####", "#...#", "#...#", "#...#", ".####", "....#", ".###."]),
    ('j', ["...#.", ".....", "..##.", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."]),
    ('p', [".....", ".....", "####.", "#...#", "#...#", "#...#", "####.", "#....", "#...."]),
    ('q', [".....", ".....", ".####", "#...#", "#...#", "#...#", ".####", "....#", "....#"]),
    ('y', [".....", ".....", "#...#", "#...#", "#...#", "#...#", ".####", "....#", ".###."]),
];

/// A 5×7 pixel font for printable ASCII (space to `~`), drawn as text so it can be read and
/// fixed in place.
#[rustfmt::skip]
const FONT: [[&str; 7]; 95] = [
    [".....", ".....", ".....", ".....", ".....", ".....", "....."], // ' '
    ["..#..", "..#..", "..#..", "..#..", "..#..", ".....", "..#.."], // !
    [".#.#.", ".#.#.", ".#.#.", ".....", ".....", ".....", "....."], // "
    [".#.#.", ".#.#.", "#####", ".#.#.", "#####", ".#.#.", ".#.#."], // #
    ["..#..", ".####", "#.#..", ".###.", "..#.#", "####.", "..#.."], // $
    ["##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"], // %
    [".##..", "#..#.", "#.#..", ".#...", "#.#.#", "#..#.", ".##.#"], // &
    ["..#..", "..#..", ".#...", ".....", ".....", ".....", "....."], // '
    ["...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."], // (
    [".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."], // )
    [".....", "..#..", "#.#.#", ".###.", "#.#.#", "..#..", "....."], // *
    [".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."], // +
    [".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."], // ,
    [".....", ".....", ".....", "#####", ".....", ".....", "....."], // -
    [".....", ".....", ".....", ".....", ".....", ".##..", ".##.."], // .
    [".....", "....#", "...#.", "..#..", ".#...", "#....", "....."], // /
    [".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."], // 0
    ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."], // 1
    [".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"], // 2
    ["#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."], // 3
    ["...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."], // 4
    ["#####", "#....", "####.", "....#", "....#", "#...#", ".###."], // 5
    ["..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."], // 6
    ["#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."], // 7
    [".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."], // 8
    [".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."], // 9
    [".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."], // :
    [".....", ".##..", ".##..", ".....", ".##..", "..#..", ".#..."], // ;
    ["...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#."], // <
    [".....", ".....", "#####", ".....", "#####", ".....", "....."], // =
    [".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."], // >
    [".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."], // ?
    [".###.", "#...#", "....#", ".##.#", "#.#.#", "#.#.#", ".###."], // @
    [".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"], // A
    ["####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."], // B
    [".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."], // C
    ["###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."], // D
    ["#####", "#....", "#....", "####.", "#....", "#....", "#####"], // E
    ["#####", "#....", "#....", "####.", "#....", "#....", "#...."], // F
    [".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"], // G
    ["#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"], // H
    [".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."], // I
    ["..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."], // J
    ["#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"], // K
    ["#....", "#....", "#....", "#....", "#....", "#....", "#####"], // L
    ["#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"], // M
    ["#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"], // N
    [".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."], // O
    ["####.", "#...#", "#...#", "####.", "#....", "#....", "#...."], // P
    [".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"], // Q
    ["####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"], // R
    [".####", "#....", "#....", ".###.", "....#", "....#", "####."], // S
    ["#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."], // T
    ["#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."], // U
    ["#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."], // V
    ["#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."], // W
    ["#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"], // X
    ["#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."], // Y
    ["#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"], // Z
    [".###.", ".#...", ".#...", ".#...", ".#...", ".#...", ".###."], // [
    [".....", "#....", ".#...", "..#..", "...#.", "....#", "....."], // \
    [".###.", "...#.", "...#.", "...#.", "...#.", "...#.", ".###."], // ]
    ["..#..", ".#.#.", "#...#", ".....", ".....", ".....", "....."], // ^
    [".....", ".....", ".....", ".....", ".....", ".....", "#####"], // _
    [".#...", "..#..", "...#.", ".....", ".....", ".....", "....."], // `
    [".....", ".....", ".###.", "....#", ".####", "#...#", ".####"], // a
    ["#....", "#....", "#.##.", "##..#", "#...#", "#...#", "####."], // b
    [".....", ".....", ".###.", "#....", "#....", "#...#", ".###."], // c
    ["....#", "....#", ".##.#", "#..##", "#...#", "#...#", ".####"], // d
    [".....", ".....", ".###.", "#...#", "#####", "#....", ".###."], // e
    ["..##.", ".#..#", ".#...", "###..", ".#...", ".#...", ".#..."], // f
    [".....", ".####", "#...#", "#...#", ".####", "....#", ".###."], // g
    ["#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#"], // h
    ["..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###."], // i
    ["...#.", ".....", "..##.", "...#.", "...#.", "#..#.", ".##.."], // j
    ["#....", "#....", "#..#.", "#.#..", "##...", "#.#..", "#..#."], // k
    [".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."], // l
    [".....", ".....", "##.#.", "#.#.#", "#.#.#", "#...#", "#...#"], // m
    [".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#"], // n
    [".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###."], // o
    [".....", ".....", "####.", "#...#", "####.", "#....", "#...."], // p
    [".....", ".....", ".##.#", "#..##", ".####", "....#", "....#"], // q
    [".....", ".....", "#.##.", "##..#", "#....", "#....", "#...."], // r
    [".....", ".....", ".###.", "#....", ".###.", "....#", "####."], // s
    [".#...", ".#...", "###..", ".#...", ".#...", ".#..#", "..##."], // t
    [".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#"], // u
    [".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#.."], // v
    [".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#."], // w
    [".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#"], // x
    [".....", ".....", "#...#", "#...#", ".####", "....#", ".###."], // y
    [".....", ".....", "#####", "...#.", "..#..", ".#...", "#####"], // z
    ["...#.", "..#..", "..#..", ".#...", "..#..", "..#..", "...#."], // {
    ["..#..", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."], // |
    [".#...", "..#..", "..#..", "...#.", "..#..", "..#..", ".#..."], // }
    [".....", ".....", ".#...", "#.#.#", "...#.", ".....", "....."], // ~
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::log::CsvLog;

    /// A fresh directory under the system temp dir, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let unique = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let dir =
                std::env::temp_dir().join(format!("momask-train-plot-{tag}-{}-{unique}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("create temp dir");
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Decodes a PNG file into (width, height, RGB8 pixels).
    fn decode(path: &Path) -> (u32, u32, Vec<u8>) {
        let file = std::io::BufReader::new(File::open(path).expect("open png"));
        let mut reader = png::Decoder::new(file).read_info().expect("png header");
        let mut buffer = vec![0; reader.output_buffer_size().expect("buffer size")];
        let info = reader.next_frame(&mut buffer).expect("png frame");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        buffer.truncate(info.buffer_size());
        (info.width, info.height, buffer)
    }

    fn close_to(pixel: [u8; 3], colour: [u8; 3], tolerance: i32) -> bool {
        pixel
            .iter()
            .zip(colour)
            .all(|(&a, b)| (a as i32 - b as i32).abs() <= tolerance)
    }

    /// Whether a pixel within `radius` of the continuous point `(x, y)` has `colour`.
    fn coloured_near(chart: &Chart, (x, y): (f64, f64), colour: [u8; 3], radius: i64) -> bool {
        let (cx, cy) = (x.floor() as i64, y.floor() as i64);
        (cy - radius..=cy + radius).any(|py| {
            (cx - radius..=cx + radius).any(|px| {
                px >= 0
                    && py >= 0
                    && px < chart.width() as i64
                    && py < chart.height() as i64
                    && close_to(chart.pixel(px as u32, py as u32), colour, 24)
            })
        })
    }

    fn count_colour(chart: &Chart, colour: [u8; 3]) -> usize {
        chart
            .pixels()
            .chunks(3)
            .filter(|p| close_to([p[0], p[1], p[2]], colour, 24))
            .count()
    }

    #[test]
    fn png_has_the_size_and_curves_where_the_data_is() {
        let dir = TempDir::new("curves");
        let rising = Series::new(
            "rising",
            (0..=100).map(|i| (i as f64 * 100.0, i as f64 * 0.01)).collect(),
        );
        let falling = Series::new(
            "falling",
            (0..=100)
                .map(|i| (i as f64 * 100.0, 1.0 - i as f64 * 0.01))
                .collect(),
        );
        let options = PlotOptions {
            y_label: "loss".into(),
            ..Default::default()
        };
        let series = [rising, falling];
        let path = dir.0.join("curves.png");
        plot_curves(&path, "two curves", &series, &options).unwrap();
        let (width, height, pixels) = decode(&path);
        assert_eq!((width, height), (800, 480));

        let chart = render_curves("two curves", &series, &options).unwrap();
        assert_eq!(
            chart.pixels(),
            pixels.as_slice(),
            "the file holds the rendered chart"
        );
        assert_eq!(chart.pixel(0, 0), [255, 255, 255], "white background");
        for (index, s) in series.iter().enumerate() {
            // Off the crossing at x = 5000 and away from the legend corner.
            for &(x, y) in [&s.points[20], &s.points[35], &s.points[80]] {
                let at = chart.data_to_pixel(x, y).unwrap();
                assert!(
                    coloured_near(&chart, at, series_colour(index), 1),
                    "{} at ({x}, {y})",
                    s.name
                );
            }
        }
        // Nothing of the curves' colours far from them, e.g. at the plot's bottom-middle.
        let bottom_middle = chart.data_to_pixel(5000.0, 0.1).unwrap();
        assert!(!coloured_near(&chart, bottom_middle, series_colour(0), 3));
        assert!(!coloured_near(&chart, bottom_middle, series_colour(1), 3));
        // Dark text (ticks, labels, title) exists outside the plot area.
        let (left, top, _, bottom) = chart.plot_area();
        let dark = |x: u32, y: u32| chart.pixel(x, y).iter().all(|&c| c < 80);
        assert!(
            (0..left.saturating_sub(2)).any(|x| (top..bottom).any(|y| dark(x, y))),
            "y tick labels"
        );
        assert!(
            (bottom + 2..480).any(|y| (0..800).any(|x| dark(x, y))),
            "x tick labels"
        );
        assert!(
            (0..top.saturating_sub(2)).any(|y| (0..800).any(|x| dark(x, y))),
            "title"
        );
    }

    #[test]
    fn log_scale_makes_geometric_curves_straight() {
        // y = 10^(-3 t): a straight line on a log axis from 1 down to 1e-3.
        let points: Vec<(f64, f64)> = (0..=200)
            .map(|i| (i as f64, 10f64.powf(-3.0 * i as f64 / 200.0)))
            .collect();
        let options = PlotOptions {
            log_y: true,
            ..Default::default()
        };
        let chart = render_curves("log", &[Series::new("", points.clone())], &options).unwrap();
        let start = chart.data_to_pixel(0.0, 1.0).unwrap();
        let end = chart.data_to_pixel(200.0, 1e-3).unwrap();
        let colour = series_colour(0);
        for t in [0.25, 0.5, 0.75] {
            let on_line = (start.0 + t * (end.0 - start.0), start.1 + t * (end.1 - start.1));
            assert!(coloured_near(&chart, on_line, colour, 1), "t = {t}");
        }
        // On a linear axis the same data hugs the bottom: the pixel midpoint is empty.
        let linear = render_curves("linear", &[Series::new("", points)], &PlotOptions::default()).unwrap();
        let start = linear.data_to_pixel(0.0, 1.0).unwrap();
        let end = linear.data_to_pixel(200.0, 1e-3).unwrap();
        let middle = ((start.0 + end.0) / 2.0, (start.1 + end.1) / 2.0);
        assert!(!coloured_near(&linear, middle, colour, 2));
        // Three decades, equally spaced.
        let gaps: Vec<f64> = [1.0, 0.1, 0.01, 1e-3]
            .windows(2)
            .map(|w| chart.data_to_pixel(0.0, w[1]).unwrap().1 - chart.data_to_pixel(0.0, w[0]).unwrap().1)
            .collect();
        assert!(
            gaps.iter().all(|g| (g - gaps[0]).abs() < 1e-9 && *g > 50.0),
            "{gaps:?}"
        );
        // Non-positive values are skipped on a log axis, not fatal.
        let with_zero = Series::from_values("z", &[1.0, 0.0, -1.0, 0.5, 0.25]);
        render_curves("zeros", &[with_zero], &options).unwrap();
    }

    #[test]
    fn smoothing_draws_a_faint_raw_curve_under_the_average() {
        // Alternating 0/1: the EMA sits near 0.5, the raw curve zigzags faintly around it.
        let ys: Vec<f64> = (0..400).map(|i| (i % 2) as f64).collect();
        let options = PlotOptions {
            smoothing: 0.95,
            ..Default::default()
        };
        let chart = render_curves("smooth", &[Series::from_values("acc", &ys)], &options).unwrap();
        let colour = series_colour(0);
        let middle = chart.data_to_pixel(300.0, 0.5).unwrap();
        assert!(coloured_near(&chart, middle, colour, 2), "solid average");
        // The raw curve is blended at 30 %: lighter than the series colour, but tinted.
        let (left, top, right, _) = chart.plot_area();
        let near_top = chart.data_to_pixel(300.0, 1.0).unwrap().1.floor() as u32;
        let faint = (left + (right - left) / 2..right - 5)
            .map(|x| chart.pixel(x, near_top))
            .filter(|p| p[0] < 235 && p[0] > 120 && p[2] > p[0])
            .count();
        assert!(
            faint > 5 && near_top > top,
            "faint raw curve at the top of the zigzag ({faint})"
        );
        assert_eq!(
            ema(&[(0.0, 2.0), (1.0, f64::NAN), (2.0, 4.0)], 0.5, |p| p
                .1
                .is_finite())[2],
            Some((2.0, 10.0 / 3.0))
        );
    }

    #[test]
    fn edge_cases_render_without_panicking() {
        let options = PlotOptions::default();
        let cases: Vec<Vec<Series>> = vec![
            vec![],
            vec![Series::new("empty", vec![])],
            vec![Series::from_values(
                "nan",
                &[f64::NAN, f64::INFINITY, f64::NEG_INFINITY],
            )],
            vec![Series::new("single", vec![(5.0, 3.0)])],
            vec![Series::from_values("constant", &[2.0; 50])],
            vec![Series::from_values("zeros", &[0.0; 5])],
            vec![Series::new("one x", vec![(7.0, 1.0), (7.0, 2.0)])],
            vec![Series::from_values("huge", &[1e300, -1e300, 5e-310])],
        ];
        for series in &cases {
            for log_y in [false, true] {
                let options = PlotOptions {
                    log_y,
                    ..options.clone()
                };
                let chart = render_curves("edge", series, &options).unwrap();
                assert_eq!((chart.width(), chart.height()), (800, 480));
                chart.encode_png().unwrap();
            }
        }
        // A single point is drawn as a dot at its place.
        let single = render_curves("one", &[Series::new("", vec![(5.0, 3.0)])], &options).unwrap();
        let at = single.data_to_pixel(5.0, 3.0).unwrap();
        assert!(coloured_near(&single, at, series_colour(0), 0));
        // A constant series is a horizontal line in the middle of the plot.
        let constant = render_curves("c", &[Series::from_values("", &[2.0; 50])], &options).unwrap();
        let (_, top, _, bottom) = constant.plot_area();
        let at = constant.data_to_pixel(25.0, 2.0).unwrap();
        assert!((at.1 - (top + bottom) as f64 / 2.0).abs() < 1.0);
        assert!(coloured_near(&constant, at, series_colour(0), 0));
        // NaN in the middle breaks the line: no colour around the gap's middle.
        let ys = [1.0, 1.0, 1.0, 1.0, f64::NAN, f64::NAN, f64::NAN, 1.0, 1.0, 0.0];
        let gap = render_curves("gap", &[Series::from_values("", &ys)], &options).unwrap();
        assert!(!coloured_near(
            &gap,
            gap.data_to_pixel(5.0, 1.0).unwrap(),
            series_colour(0),
            2
        ));
        assert!(coloured_near(
            &gap,
            gap.data_to_pixel(2.0, 1.0).unwrap(),
            series_colour(0),
            0
        ));
        // Too small an image is a typed error.
        let tiny = PlotOptions { width: 10, ..options };
        assert!(matches!(
            render_curves("", &[], &tiny),
            Err(PlotError::InvalidSize { .. })
        ));
    }

    #[test]
    fn many_series_get_distinct_colours_and_a_legend() {
        let series: Vec<Series> = (0..4)
            .map(|k| {
                Series::new(
                    format!("s{k}"),
                    (0..50).map(|i| (i as f64, (k * 10 + i) as f64)).collect(),
                )
            })
            .collect();
        let chart = render_curves("four", &series, &PlotOptions::default()).unwrap();
        for k in 0..4 {
            assert!(count_colour(&chart, series_colour(k)) > 100, "series {k}");
        }
        let colours: std::collections::HashSet<[u8; 3]> = (0..10).map(series_colour).collect();
        assert_eq!(colours.len(), 10);
        // The curves rise to the top right, so the legend goes top left, over no curve.
        // At 800×480 (font scale 2): margin 6, padding 6, rows of 20 px, the sample line 7 px
        // below the row top.
        let (left, top, _, _) = chart.plot_area();
        for k in 0..4 {
            let sample = chart.pixel(left + 6 + 6 + 5, top + 6 + 6 + 7 + 20 * k);
            assert!(
                close_to(sample, series_colour(k as usize), 8),
                "legend entry {k}: {sample:?}"
            );
        }
    }

    #[test]
    fn plot_csv_reads_a_log() {
        let dir = TempDir::new("csv");
        let mut log = CsvLog::create(&dir.0, "vq", &["loss", "lr"]).unwrap();
        for step in 1..=300u64 {
            log.row(step, &[1.0 / step as f64, 2e-4]).unwrap();
        }
        let png_path = dir.0.join("vq.png");
        let options = PlotOptions {
            log_y: true,
            smoothing: 0.9,
            ..Default::default()
        };
        plot_csv_with(log.path(), &png_path, "", &["loss"], &options).unwrap();
        let (width, height, _) = decode(&png_path);
        assert_eq!((width, height), (800, 480));
        plot_csv(log.path(), &png_path, "vq", &[]).unwrap();
        assert!(matches!(
            plot_csv(log.path(), &png_path, "vq", &["acc"]),
            Err(PlotError::MissingColumn { .. })
        ));
        // Loss 1 → 1/300 beside lr 2e-4, 300 rows: log scale and smoothing.
        let (_, series) = csv_series(log.path(), "", &[]).unwrap();
        let suggested = PlotOptions::suggested_for(&series);
        assert!(suggested.log_y && suggested.smoothing > 0.0);
        let linear = PlotOptions::suggested_for(&[Series::from_values("acc", &[0.2, 0.5, 0.0])]);
        assert!(!linear.log_y && linear.smoothing == 0.0);
        if let Ok(keep) = std::env::var("MOMASK_PLOT_SAMPLE") {
            plot_csv(log.path(), Path::new(&keep), "momask train vq", &["loss", "lr"]).unwrap();
        }
    }

    #[test]
    fn tick_labels() {
        assert_eq!(format_tick(0.25, 0.25), "0.25");
        assert_eq!(format_tick(0.5, 0.25), "0.5");
        assert_eq!(format_tick(3.0 * 0.1, 0.1), "0.3");
        assert_eq!(format_tick(12000.0, 2000.0), "12k");
        assert_eq!(format_tick(12500.0, 500.0), "12.5k");
        assert_eq!(format_tick(1.5e6, 5e5), "1.5M");
        assert_eq!(format_tick(1e-3, 1e-3), "1e-3");
        assert_eq!(format_tick(3.0 * 1e-4, 1e-4), "3e-4");
        assert_eq!(format_tick(2.5e-4, 5e-5), "2.5e-4");
        assert_eq!(format_tick(2e9, 1e9), "2e9");
        assert_eq!(format_tick(1e-17, 0.1), "0");
        assert_eq!(format_tick(-0.2, 0.1), "-0.2");
        assert_eq!(format_tick(500.0, 100.0), "500");
        let ticks = linear_ticks(0.0, 1.0, 4);
        let labels: Vec<&str> = ticks.major.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["0", "0.25", "0.5", "0.75", "1"]);
        let decades = log_ticks(1e-4, 1.0, 6);
        let labels: Vec<&str> = decades.major.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["1e-4", "1e-3", "0.01", "0.1", "1"]);
        assert_eq!(decades.minor.len(), 4 * 8);
        let narrow = log_ticks(0.15, 0.9, 6);
        let labels: Vec<&str> = narrow.major.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"]);
        assert!(log_ticks(1e-12, 1e12, 6).major.len() <= 7);
        let two_decades = log_ticks(0.02, 4.0, 7);
        let labels: Vec<&str> = two_decades.major.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["0.02", "0.05", "0.1", "0.2", "0.5", "1", "2"]);
        assert!(!log_ticks(0.31, 0.35, 6).major.is_empty());
    }

    #[test]
    fn font_covers_printable_ascii() {
        for row in FONT.iter().flatten() {
            assert_eq!(row.len(), 5);
            assert!(row.bytes().all(|b| b == b'#' || b == b'.'));
        }
        assert_eq!(
            glyph('1'),
            [
                0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0, 0
            ]
        );
        assert_eq!(glyph('y')[7..], [0b00001, 0b01110]);
        for (_, rows) in DESCENDERS {
            assert!(
                rows.iter()
                    .all(|row| row.len() == 5 && row.bytes().all(|b| b == b'#' || b == b'.'))
            );
        }
        assert_eq!(glyph('é'), glyph('?'));
        assert_eq!(text_width("abc", 2), (3 * 6 - 1) * 2);
    }
}
