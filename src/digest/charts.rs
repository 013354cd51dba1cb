//! PNG charts for digests and `/kpi chart`: daily line series, shares as a pie, and bars.
//!
//! Pure functions: data in, PNG bytes out. No file I/O and no system fonts: DejaVu Sans is
//! embedded (assets/fonts, licence in assets/fonts/LICENSE-DejaVu.txt) and registered with
//! plotters once per process. Charts are sized and lettered to stay readable in Discord's
//! inline preview. Empty input draws a "no data" chart instead of failing.

use std::sync::OnceLock;

use chrono::{Duration, NaiveDate};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ColorType, ImageEncoder};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

/// Chart width in pixels; Discord previews scale this down to about 550 px.
pub const WIDTH: u32 = 1000;
/// Chart height in pixels.
pub const HEIGHT: u32 = 500;

const FONT_FAMILY: &str = "sans-serif";
const FONT_REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FONT_BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

const TITLE_SIZE: f64 = 34.0;
const AXIS_LABEL_SIZE: f64 = 24.0;
const TICK_SIZE: f64 = 20.0;
const LEGEND_SIZE: f64 = 22.0;

/// Tableau-10 colours: distinct, colour-blind friendly, readable on white.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

const GRID: RGBColor = RGBColor(225, 225, 225);
const MUTED: RGBColor = RGBColor(110, 110, 110);

/// The colour of the `index`-th series or slice (cycles after ten).
pub fn series_colour(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// One named daily series, e.g. "complaints". Points may come in any order; non-finite
/// values are skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(NaiveDate, f64)>,
    /// A colour that carries meaning (complaints red, praise green); else the palette's.
    pub colour: Option<RGBColor>,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(NaiveDate, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
            colour: None,
        }
    }

    /// The same series drawn in `colour`.
    pub fn coloured(mut self, colour: RGBColor) -> Self {
        self.colour = Some(colour);
        self
    }
}

/// Colours with a meaning: bad news, good news (from the palette, colour-blind friendly).
pub const BAD: RGBColor = PALETTE[3];
pub const GOOD: RGBColor = PALETTE[2];

/// One share of a whole, e.g. mentions on one platform.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    pub label: String,
    pub value: f64,
}

impl Slice {
    pub fn new(label: impl Into<String>, value: f64) -> Self {
        Slice {
            label: label.into(),
            value,
        }
    }
}

/// One bar, e.g. an FRT bucket ("15-60 min") or a day ("Nov 21").
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: f64,
}

impl Bar {
    pub fn new(label: impl Into<String>, value: f64) -> Self {
        Bar {
            label: label.into(),
            value,
        }
    }
}

/// Titles and axis names of a chart. Put the unit in the axis label: "first response (min)".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Labels {
    pub title: String,
    pub x: String,
    pub y: String,
}

impl Labels {
    pub fn new(title: impl Into<String>, x: impl Into<String>, y: impl Into<String>) -> Self {
        Labels {
            title: title.into(),
            x: x.into(),
            y: y.into(),
        }
    }
}

/// Why a chart could not be drawn. Not expected in practice: every input has a drawing.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("drawing the chart failed: {0}")]
    Draw(String),
    #[error("encoding the chart as PNG failed: {0}")]
    Encode(String),
}

fn draw_err<E: std::fmt::Display>(e: E) -> ChartError {
    ChartError::Draw(e.to_string())
}

/// Registers the embedded fonts with plotters, once per process.
fn ensure_fonts() {
    static FONTS: OnceLock<()> = OnceLock::new();
    FONTS.get_or_init(|| {
        // The bytes are the fonts shipped in assets/fonts; a failure would mean a corrupt
        // asset, which the chart tests catch. Text then falls back to nothing, not a panic.
        let _ = plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT_REGULAR);
        let _ = plotters::style::register_font(FONT_FAMILY, FontStyle::Bold, FONT_BOLD);
    });
}

fn font(size: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::SansSerif, size, FontStyle::Normal)
}

fn bold(size: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::SansSerif, size, FontStyle::Bold)
}

/// Renders into an RGB buffer with `draw`, then encodes that buffer as PNG.
fn render<F>(draw: F) -> Result<Vec<u8>, ChartError>
where
    F: FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), ChartError>,
{
    ensure_fonts();
    let mut rgb = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        draw(&root)?;
        root.present().map_err(draw_err)?;
    }
    let mut png = Vec::with_capacity(64 * 1024);
    PngEncoder::new_with_quality(&mut png, CompressionType::Fast, FilterType::Sub)
        .write_image(&rgb, WIDTH, HEIGHT, ColorType::Rgb8)
        .map_err(|e| ChartError::Encode(e.to_string()))?;
    Ok(png)
}

/// Title at the top, then a centred grey message (used for empty input).
fn draw_no_data(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    title: &str,
) -> Result<(), ChartError> {
    let body = root
        .margin(16, 16, 16, 16)
        .titled(title, bold(TITLE_SIZE).color(&BLACK))
        .map_err(draw_err)?;
    let (w, h) = body.dim_in_pixel();
    let style = font(40.0)
        .color(&MUTED)
        .pos(Pos::new(HPos::Center, VPos::Center));
    body.draw_text(
        "no data for this period",
        &style,
        (w as i32 / 2, h as i32 / 2),
    )
    .map_err(draw_err)?;
    Ok(())
}

/// "1.2k" style tick labels so the y axis stays narrow.
fn short_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1_000_000.0 {
        format!("{:.1}M", v / 1_000_000.0)
    } else if a >= 10_000.0 {
        format!("{:.0}k", v / 1_000.0)
    } else if a >= 1_000.0 {
        format!("{:.1}k", v / 1_000.0)
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Upper end of the y axis: the maximum plus headroom, never an empty range.
fn y_top(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        1.0
    } else {
        max * 1.12
    }
}

/// Line chart of one or more named daily series, dates on the x axis, with a legend.
///
/// Series with no (finite) points still appear in the legend; when no series has any point
/// the chart says "no data".
pub fn line_chart(labels: &Labels, series: &[Series]) -> Result<Vec<u8>, ChartError> {
    let colours: Vec<RGBColor> = series
        .iter()
        .enumerate()
        .map(|(i, s)| s.colour.unwrap_or_else(|| series_colour(i)))
        .collect();
    let cleaned: Vec<(String, Vec<(NaiveDate, f64)>)> = series
        .iter()
        .map(|s| {
            let mut pts: Vec<(NaiveDate, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|(_, v)| v.is_finite())
                .collect();
            pts.sort_by_key(|(d, _)| *d);
            (s.name.clone(), pts)
        })
        .collect();
    let all = cleaned.iter().flat_map(|(_, p)| p.iter());
    let (mut first, mut last, mut lo, mut hi) =
        (None::<NaiveDate>, None::<NaiveDate>, 0.0f64, 0.0f64);
    for (d, v) in all {
        first = Some(first.map_or(*d, |f| f.min(*d)));
        last = Some(last.map_or(*d, |l| l.max(*d)));
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    let (Some(first), Some(last)) = (first, last) else {
        return render(|root| draw_no_data(root, &labels.title));
    };
    let span = (last - first).num_days() as f64;
    // A single day still gets a visible x range around it.
    let (x0, x1) = if span < 1.0 { (-0.5, 0.5) } else { (0.0, span) };
    let y0 = if lo < 0.0 { lo * 1.12 } else { 0.0 };
    let y1 = y_top(hi);
    let day = |d: NaiveDate| (d - first).num_days() as f64;

    render(|root| {
        let body = root
            .margin(16, 0, 0, 0)
            .titled(&labels.title, bold(TITLE_SIZE).color(&BLACK))
            .map_err(draw_err)?;
        let (legend_area, plot_area) = body.split_vertically(44);
        let names: Vec<&str> = cleaned.iter().map(|(n, _)| n.as_str()).collect();
        draw_legend_row(&legend_area, &names, &colours)?;
        let mut chart = ChartBuilder::on(&plot_area)
            .margin(16)
            .margin_top(4)
            .margin_right(36)
            .x_label_area_size(70)
            .y_label_area_size(90)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(draw_err)?;
        let max_x_labels = ((span as usize) + 1).clamp(2, 8);
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .x_labels(max_x_labels)
            .y_labels(6)
            .x_label_formatter(&|x| {
                let rounded = x.round();
                if (x - rounded).abs() > 0.01 {
                    return String::new();
                }
                (first + Duration::days(rounded as i64))
                    .format("%b %d")
                    .to_string()
            })
            .y_label_formatter(&|y| short_number(*y))
            .x_desc(&labels.x)
            .y_desc(&labels.y)
            .axis_desc_style(font(AXIS_LABEL_SIZE))
            .label_style(font(TICK_SIZE))
            .draw()
            .map_err(draw_err)?;

        for (i, (_, pts)) in cleaned.iter().enumerate() {
            let colour = colours.get(i).copied().unwrap_or_else(|| series_colour(i));
            let line = colour.stroke_width(4);
            chart
                .draw_series(LineSeries::new(
                    pts.iter().map(|(d, v)| (day(*d), *v)),
                    line,
                ))
                .map_err(draw_err)?;
            // Dots make sparse series (few days) readable.
            if pts.len() <= 31 {
                chart
                    .draw_series(
                        pts.iter()
                            .map(|(d, v)| Circle::new((day(*d), *v), 5, colour.filled())),
                    )
                    .map_err(draw_err)?;
            }
        }
        Ok(())
    })
}

/// One centred row of "coloured line + name" entries, above the plot so it never hides data.
fn draw_legend_row(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    names: &[&str],
    colours: &[RGBColor],
) -> Result<(), ChartError> {
    const SWATCH: i32 = 30;
    const GAP: i32 = 10;
    const SPACING: i32 = 34;
    let style = font(LEGEND_SIZE)
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let widths: Vec<i32> = names
        .iter()
        .map(|n| {
            area.estimate_text_size(n, &style)
                .map(|(w, _)| w as i32)
                .unwrap_or(n.chars().count() as i32 * 12)
        })
        .collect();
    let total: i32 = widths.iter().map(|w| SWATCH + GAP + w).sum::<i32>()
        + SPACING * (names.len() as i32 - 1).max(0);
    let (aw, ah) = area.dim_in_pixel();
    let mut x = ((aw as i32 - total) / 2).max(8);
    let y = ah as i32 / 2;
    for (i, (name, w)) in names.iter().zip(&widths).enumerate() {
        let colour = colours.get(i).copied().unwrap_or_else(|| series_colour(i));
        area.draw(&PathElement::new(
            vec![(x, y), (x + SWATCH, y)],
            colour.stroke_width(6),
        ))
        .map_err(draw_err)?;
        area.draw_text(name, &style, (x + SWATCH + GAP, y))
            .map_err(draw_err)?;
        x += SWATCH + GAP + w + SPACING;
    }
    Ok(())
}

/// Pie chart of shares with a legend giving each label, its percentage and its count.
///
/// Slices with zero, negative or non-finite values are left out; when nothing is left the
/// chart says "no data".
pub fn pie_chart(title: &str, slices: &[Slice]) -> Result<Vec<u8>, ChartError> {
    let kept: Vec<&Slice> = slices
        .iter()
        .filter(|s| s.value.is_finite() && s.value > 0.0)
        .collect();
    let total: f64 = kept.iter().map(|s| s.value).sum();
    if kept.is_empty() || total <= 0.0 {
        return render(|root| draw_no_data(root, title));
    }
    render(|root| {
        let body = root
            .margin(16, 16, 16, 16)
            .titled(title, bold(TITLE_SIZE).color(&BLACK))
            .map_err(draw_err)?;
        let (w, _) = body.dim_in_pixel();
        let (pie_area, legend_area) = body.split_horizontally((w as f64 * 0.48) as u32);
        let (pw, ph) = pie_area.dim_in_pixel();
        let cx = pw as f64 / 2.0 + 20.0;
        let cy = ph as f64 / 2.0;
        let radius = (pw.min(ph) as f64 / 2.0 - 12.0).max(20.0);

        let mut start = -std::f64::consts::FRAC_PI_2; // 12 o'clock, clockwise
        for (i, s) in kept.iter().enumerate() {
            let share = s.value / total;
            let sweep = share * std::f64::consts::TAU;
            let steps = ((sweep / 0.02).ceil() as usize).max(2);
            let mut pts = Vec::with_capacity(steps + 2);
            if share < 0.9999 {
                pts.push((cx.round() as i32, cy.round() as i32));
            }
            for k in 0..=steps {
                let a = start + sweep * k as f64 / steps as f64;
                pts.push((
                    (cx + radius * a.cos()).round() as i32,
                    (cy + radius * a.sin()).round() as i32,
                ));
            }
            let colour = series_colour(i);
            pie_area
                .draw(&Polygon::new(pts.clone(), colour.filled()))
                .map_err(draw_err)?;
            pie_area
                .draw(&PathElement::new(pts, WHITE.stroke_width(2)))
                .map_err(draw_err)?;
            // Percentage inside slices big enough to hold it.
            if share >= 0.06 {
                let mid = start + sweep / 2.0;
                let r = if share > 0.9999 { 0.0 } else { radius * 0.62 };
                let style = bold(24.0)
                    .color(&WHITE)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                pie_area
                    .draw_text(
                        &format!("{:.0}%", share * 100.0),
                        &style,
                        (
                            (cx + r * mid.cos()).round() as i32,
                            (cy + r * mid.sin()).round() as i32,
                        ),
                    )
                    .map_err(draw_err)?;
            }
            start += sweep;
        }

        // Legend: colour square, label, percentage and count, one row per slice.
        let (_, lh) = legend_area.dim_in_pixel();
        let rows = kept.len().min(12) as i32;
        let row_h = ((lh as i32 - 20) / rows.max(1)).clamp(26, 44);
        let top = (lh as i32 - row_h * rows) / 2;
        for (i, s) in kept.iter().take(12).enumerate() {
            let y = top + row_h * i as i32 + row_h / 2;
            let colour = series_colour(i);
            legend_area
                .draw(&Rectangle::new(
                    [(10, y - 11), (32, y + 11)],
                    colour.filled(),
                ))
                .map_err(draw_err)?;
            let text = format!(
                "{}  {:.1}%  ({})",
                s.label,
                s.value / total * 100.0,
                short_number(s.value)
            );
            let style = font(LEGEND_SIZE)
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center));
            legend_area
                .draw_text(&text, &style, (44, y))
                .map_err(draw_err)?;
        }
        if kept.len() > 12 {
            let style = font(LEGEND_SIZE - 2.0)
                .color(&MUTED)
                .pos(Pos::new(HPos::Left, VPos::Center));
            legend_area
                .draw_text(
                    &format!("+ {} more", kept.len() - 12),
                    &style,
                    (44, top + row_h * rows + row_h / 2),
                )
                .map_err(draw_err)?;
        }
        Ok(())
    })
}

/// Bar chart of labelled values (an FRT histogram, volume per day). Values are printed on
/// the bars when there are few enough of them to stay legible. Non-finite values count as 0;
/// no bars at all draws "no data".
pub fn bar_chart(labels: &Labels, bars: &[Bar]) -> Result<Vec<u8>, ChartError> {
    if bars.is_empty() {
        return render(|root| draw_no_data(root, &labels.title));
    }
    let values: Vec<f64> = bars
        .iter()
        .map(|b| {
            if b.value.is_finite() {
                b.value.max(0.0)
            } else {
                0.0
            }
        })
        .collect();
    let max = values.iter().copied().fold(0.0f64, f64::max);
    let n = bars.len();
    let y1 = y_top(max);
    // Show at most ~12 category labels; thin them out evenly beyond that.
    let every = n.div_ceil(12).max(1);

    render(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&labels.title, bold(TITLE_SIZE).color(&BLACK))
            .margin(16)
            .margin_right(30)
            .x_label_area_size(70)
            .y_label_area_size(90)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0.0f64..y1)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .x_labels(n + 1)
            .y_labels(6)
            .x_label_formatter(&|x| {
                let r = x.round();
                if (x - r).abs() > 0.01 || r < 0.0 {
                    return String::new();
                }
                let i = r as usize;
                if i % every != 0 {
                    return String::new();
                }
                bars.get(i).map(|b| b.label.clone()).unwrap_or_default()
            })
            .y_label_formatter(&|y| short_number(*y))
            .x_desc(&labels.x)
            .y_desc(&labels.y)
            .axis_desc_style(font(AXIS_LABEL_SIZE))
            .label_style(font(TICK_SIZE))
            .draw()
            .map_err(draw_err)?;
        let colour = series_colour(0);
        chart
            .draw_series(values.iter().enumerate().map(|(i, v)| {
                let x = i as f64;
                Rectangle::new([(x - 0.38, 0.0), (x + 0.38, *v)], colour.filled())
            }))
            .map_err(draw_err)?;
        if n <= 16 {
            draw_bar_values(&mut chart, &values, y1)?;
        }
        Ok(())
    })
}

fn draw_bar_values(
    chart: &mut ChartContext<'_, BitMapBackend<'_>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    values: &[f64],
    y1: f64,
) -> Result<(), ChartError> {
    let style = font(TICK_SIZE)
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    chart
        .draw_series(values.iter().enumerate().map(|(i, v)| {
            // Just above the bar, inside the plot.
            let y = (*v + y1 * 0.01).min(y1);
            Text::new(short_number(*v), (i as f64, y), style.clone())
        }))
        .map_err(draw_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_numbers_stay_short() {
        assert_eq!(short_number(3.0), "3");
        assert_eq!(short_number(1234.0), "1.2k");
        assert_eq!(short_number(25_000.0), "25k");
        assert_eq!(short_number(2.5), "2.50");
        assert_eq!(short_number(2_500_000.0), "2.5M");
    }

    #[test]
    fn y_axis_never_collapses() {
        assert_eq!(y_top(0.0), 1.0);
        assert_eq!(y_top(f64::NAN), 1.0);
        assert!(y_top(10.0) > 10.0);
    }
}
