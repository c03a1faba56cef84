//! The report's charts, drawn with plotters' SVG backend: each a self-contained `<svg>` (text
//! is left to the browser's sans-serif font, so no font files are needed or embedded).

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use std::fmt;

const WIDTH: u32 = 900;
const BAR: RGBColor = RGBColor(0x2f, 0x6f, 0xb3);
const NEGATIVE: RGBColor = RGBColor(0xc0, 0x39, 0x2b);
const FONT: &str = "sans-serif";

#[derive(Debug)]
pub struct ChartError(String);

impl fmt::Display for ChartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "drawing a chart: {}", self.0)
    }
}

impl std::error::Error for ChartError {}

fn drawing<E: std::error::Error>(error: E) -> ChartError {
    ChartError(error.to_string())
}

/// The value range of a bar chart: from 0 (or the most negative value) to the largest, with a
/// little room so the longest bar does not touch the frame.
fn value_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (low, high) = values.fold((0.0_f64, 0.0_f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let span = (high - low).max(1.0);
    (low - if low < 0.0 { span * 0.05 } else { 0.0 })..(high + span * 0.05)
}

fn label_at(labels: &[String], at: &SegmentValue<usize>) -> String {
    match at {
        SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

/// Horizontal bars, one per item, the first at the top (labels on the left).
pub fn horizontal_bars(items: &[(String, f64)], value_label: &str) -> Result<String, ChartError> {
    // The y axis counts upwards: the last row drawn is the first item.
    let items: Vec<(String, f64)> = items.iter().rev().cloned().collect();
    let labels: Vec<String> = items.iter().map(|(l, _)| shorten(l, 34)).collect();
    let height = 60 + 22 * items.len().max(1) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(230)
            .build_cartesian_2d(
                value_range(items.iter().map(|(_, v)| *v)),
                (0..items.len().max(1)).into_segmented(),
            )
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(items.len().max(1))
            .y_label_formatter(&|at| label_at(&labels, at))
            .x_desc(value_label)
            .label_style((FONT, 13))
            .draw()
            .map_err(drawing)?;
        chart
            .draw_series(items.iter().enumerate().map(|(i, (_, value))| {
                let color = if *value < 0.0 { NEGATIVE } else { BAR };
                let mut bar = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(i)),
                        (*value, SegmentValue::Exact(i + 1)),
                    ],
                    color.filled(),
                );
                bar.set_margin(3, 3, 0, 0);
                bar
            }))
            .map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

/// Vertical bars, one per item, in the order given (labels below, rotated when many).
pub fn vertical_bars(items: &[(String, f64)], value_label: &str) -> Result<String, ChartError> {
    let labels: Vec<String> = items.iter().map(|(l, _)| shorten(l, 16)).collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 340)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(70)
            .y_label_area_size(80)
            .build_cartesian_2d(
                (0..items.len().max(1)).into_segmented(),
                value_range(items.iter().map(|(_, v)| *v)),
            )
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(items.len().clamp(1, 40))
            .x_label_formatter(&|at| label_at(&labels, at))
            .x_label_style(
                (FONT, 12)
                    .into_font()
                    .transform(FontTransform::Rotate90)
                    .into_text_style(&root),
            )
            .y_desc(value_label)
            .label_style((FONT, 12))
            .draw()
            .map_err(drawing)?;
        chart
            .draw_series(items.iter().enumerate().map(|(i, (_, value))| {
                let color = if *value < 0.0 { NEGATIVE } else { BAR };
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), *value),
                    ],
                    color.filled(),
                );
                bar.set_margin(0, 0, 2, 2);
                bar
            }))
            .map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

/// A heat map of `values[row][column]` with the rows and columns labelled; darker is more.
pub fn heat_map(
    row_labels: &[String],
    column_labels: &[String],
    values: &[Vec<f64>],
) -> Result<String, ChartError> {
    let max = values
        .iter()
        .flatten()
        .copied()
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let (rows, columns) = (row_labels.len().max(1), column_labels.len().max(1));
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (WIDTH, 60 + 34 * rows as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(100)
            .build_cartesian_2d((0..columns).into_segmented(), (0..rows).into_segmented())
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(columns)
            .y_labels(rows)
            .x_label_formatter(&|at| label_at(column_labels, at))
            .y_label_formatter(&|at| label_at(row_labels, at))
            .label_style((FONT, 12))
            .draw()
            .map_err(drawing)?;
        let cells = values.iter().enumerate().flat_map(|(row, line)| {
            line.iter().enumerate().map(move |(column, value)| {
                let share = (value / max).clamp(0.0, 1.0);
                // White to the bar colour, by share of the largest cell.
                let mix = |full: u8| (255.0 - (255.0 - f64::from(full)) * share) as u8;
                let mut cell = Rectangle::new(
                    [
                        (SegmentValue::Exact(column), SegmentValue::Exact(row)),
                        (
                            SegmentValue::Exact(column + 1),
                            SegmentValue::Exact(row + 1),
                        ),
                    ],
                    RGBColor(mix(BAR.0), mix(BAR.1), mix(BAR.2)).filled(),
                );
                cell.set_margin(1, 1, 1, 1);
                cell
            })
        });
        chart.draw_series(cells).map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

/// `text` cut to `max` characters with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> Vec<(String, f64)> {
        vec![("France".into(), 171.0), ("Germany".into(), -40.0)]
    }

    #[test]
    fn bar_charts_are_svg_with_one_bar_per_item_and_their_labels() {
        for svg in [
            horizontal_bars(&items(), "revenue").unwrap(),
            vertical_bars(&items(), "revenue").unwrap(),
        ] {
            assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
            assert!(svg.contains("France") && svg.contains("Germany"));
            // The background is a rect too; one more per bar.
            assert!(svg.matches("<rect").count() >= 3, "{svg}");
            assert!(
                svg.contains("#C0392B") || svg.contains("#c0392b"),
                "negative bar colour"
            );
        }
    }

    #[test]
    fn a_heat_map_has_a_cell_per_value() {
        let rows = vec!["Mon".to_owned(), "Tue".to_owned()];
        let columns: Vec<String> = (0..3).map(|h| h.to_string()).collect();
        let svg = heat_map(&rows, &columns, &[vec![0.0, 1.0, 2.0], vec![3.0, 4.0, 5.0]]).unwrap();
        assert!(svg.matches("<rect").count() >= 7, "{svg}");
        assert!(svg.contains("Tue"));
    }

    #[test]
    fn empty_charts_still_draw() {
        assert!(horizontal_bars(&[], "x").unwrap().starts_with("<svg"));
        assert!(vertical_bars(&[], "x").unwrap().starts_with("<svg"));
    }

    #[test]
    fn long_labels_are_shortened() {
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abc", 4), "abc");
    }
}
