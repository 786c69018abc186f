//! The two `--plot` charts as self-contained SVG (no fonts or scripts beyond the viewer's
//! defaults).
//!
//! - [`latency_cdf`]: x is latency on a log scale (decades from the fastest to the slowest
//!   sample), y the fraction of messages delivered within that latency; one line per design.
//! - [`ratio_bars`]: the headline ratios ([`crate::report::Report::headline_ratios`]), one
//!   horizontal bar per measured ratio from 1× to its value on a log scale, coloured by its
//!   goal (met, missed, none), with a tick at the goal's threshold.

use crate::report::{fmt_ratio, HeadlineRatio};
use crate::stats::Samples;
use std::fmt::Write as _;

/// One line of the plot.
pub struct Series<'a> {
    /// Legend text.
    pub label: &'a str,
    /// CSS colour.
    pub color: &'a str,
    /// Drawn dashed (the floor, a reference rather than a design).
    pub dashed: bool,
    /// The samples (nanoseconds).
    pub samples: &'a Samples,
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 56.0;
const MAX_POINTS: usize = 400;

/// Renders the CDF of every non-empty series.
pub fn latency_cdf(title: &str, series: &[Series<'_>]) -> String {
    let drawn: Vec<&Series<'_>> = series.iter().filter(|s| !s.samples.is_empty()).collect();
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    svg.push('\n');
    let _ = writeln!(
        svg,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;

    if drawn.is_empty() {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">no latency samples</text>"#,
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
        svg.push_str("</svg>\n");
        return svg;
    }

    // Axis range: whole decades around all samples (µs, at least 0.01 µs so log10 is defined).
    let min_us = drawn
        .iter()
        .filter_map(|s| s.samples.sorted_ns().first())
        .min()
        .copied()
        .unwrap_or(1) as f64
        / 1e3;
    let max_us = drawn
        .iter()
        .filter_map(|s| s.samples.max_ns())
        .max()
        .unwrap_or(1) as f64
        / 1e3;
    let lo_dec = min_us.max(0.01).log10().floor();
    let mut hi_dec = max_us.max(0.01).log10().ceil();
    if hi_dec <= lo_dec {
        hi_dec = lo_dec + 1.0;
    }
    let x_of = |us: f64| LEFT + (us.max(0.01).log10() - lo_dec) / (hi_dec - lo_dec) * plot_w;
    let y_of = |frac: f64| TOP + (1.0 - frac) * plot_h;

    // Grid and axes.
    let _ = writeln!(svg, r##"<g stroke="#ddd" stroke-width="1">"##);
    let mut dec = lo_dec;
    while dec <= hi_dec + 1e-9 {
        let x = x_of(10f64.powf(dec));
        let _ = writeln!(
            svg,
            r#"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}"/>"#,
            TOP + plot_h
        );
        dec += 1.0;
    }
    for i in 0..=4 {
        let y = y_of(i as f64 / 4.0);
        let _ = writeln!(
            svg,
            r#"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/>"#,
            LEFT + plot_w
        );
    }
    svg.push_str("</g>\n");
    let _ = writeln!(
        svg,
        r#"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="black"/>"#
    );
    let mut dec = lo_dec;
    while dec <= hi_dec + 1e-9 {
        let x = x_of(10f64.powf(dec));
        let _ = writeln!(
            svg,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            TOP + plot_h + 18.0,
            decade_label(dec as i32)
        );
        dec += 1.0;
    }
    for i in 0..=4 {
        let y = y_of(i as f64 / 4.0);
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}%</text>"#,
            LEFT - 6.0,
            y + 4.0,
            i * 25
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">latency from send to consumer (log scale)</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 14.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">messages delivered within</text>"#,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0
    );

    // One polyline per series, as a step function (the CDF is flat between samples).
    for s in &drawn {
        let mut pts = String::new();
        let mut prev_y = y_of(0.0);
        for (ns, frac) in s.samples.cdf(MAX_POINTS) {
            let x = x_of(ns as f64 / 1e3);
            let y = y_of(frac);
            let _ = write!(pts, "{x:.1},{prev_y:.1} {x:.1},{y:.1} ");
            prev_y = y;
        }
        let dash = if s.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{}" stroke-width="2"{dash} points="{}"/>"#,
            escape(s.color),
            pts.trim_end()
        );
    }

    // Legend, bottom right inside the plot (CDFs rise to the top left).
    // Wide enough for the longest entry (about 6.6 px per character at 12 px sans-serif).
    let longest = drawn
        .iter()
        .map(|s| s.label.chars().count() + 28)
        .max()
        .unwrap_or(0);
    let legend_x = (LEFT + plot_w - 40.0 - longest as f64 * 6.6).max(LEFT + 8.0);
    let mut legend_y = TOP + plot_h - 18.0 * drawn.len() as f64;
    for s in &drawn {
        let dash = if s.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let p50 = s.samples.percentile_ns(50.0).unwrap_or(0) as f64 / 1e3;
        let _ = writeln!(
            svg,
            r#"<line x1="{legend_x:.1}" y1="{legend_y:.1}" x2="{:.1}" y2="{legend_y:.1}" stroke="{}" stroke-width="2"{dash}/>"#,
            legend_x + 24.0,
            escape(s.color)
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}">{} (p50 {p50:.1} µs, n = {})</text>"#,
            legend_x + 30.0,
            legend_y + 4.0,
            escape(s.label),
            s.samples.len()
        );
        legend_y += 18.0;
    }
    svg.push_str("</svg>\n");
    svg
}

/// Colour of a bar whose goal is met.
pub const MET: &str = "#2ca02c";
/// Colour of a bar whose goal is missed.
pub const MISSED: &str = "#d62728";
/// Colour of a bar without a goal.
pub const NO_GOAL: &str = "#1f77b4";

const BAR_LABELS: f64 = 400.0;
const BAR_PLOT: f64 = 330.0;
const BAR_VALUES: f64 = 230.0;
const BAR_ROW: f64 = 20.0;
const BAR_TOP: f64 = 64.0;
const BAR_BOTTOM: f64 = 40.0;

/// Renders the headline ratios as horizontal bars: each measured ratio a `<rect class="bar">`
/// from 1× to its value (log scale) carrying the exact value in `data-ratio`, its value and goal
/// printed beside it as the table prints them, and each goal's threshold as a black
/// `<line class="goal">` across its row. A ratio that was not measured gets its label and
/// "not measured", no bar.
pub fn ratio_bars(title: &str, ratios: &[HeadlineRatio]) -> String {
    let width = BAR_LABELS + BAR_PLOT + BAR_VALUES;
    let height = BAR_TOP + BAR_ROW * ratios.len().max(1) as f64 + BAR_BOTTOM;
    let (left, right) = (BAR_LABELS, BAR_LABELS + BAR_PLOT);
    let bottom = height - BAR_BOTTOM;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="{width}" height="{height}" fill="white"/>"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        width / 2.0,
        escape(title)
    );
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="42" text-anchor="middle" font-size="11" fill="#444">bars from 1× to each ratio (log scale); green: goal met, red: goal missed, blue: no goal; black tick: the goal's threshold</text>"##,
        width / 2.0
    );

    // Whole decades around 1×, every ratio and every threshold (within 10^-3 .. 10^5).
    let values = ratios
        .iter()
        .flat_map(|r| [r.ratio, r.threshold.map(|t| t.value)])
        .flatten()
        .filter(|v| v.is_finite() && *v > 0.0)
        .chain([1.0]);
    let (lo, hi) = values.fold((1.0f64, 1.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let lo_dec = lo.log10().floor().max(-3.0);
    let mut hi_dec = hi.log10().ceil().min(5.0);
    if hi_dec <= lo_dec {
        hi_dec = lo_dec + 1.0;
    }
    let x_of = |r: f64| {
        let d = r.max(1e-300).log10().clamp(lo_dec, hi_dec);
        left + (d - lo_dec) / (hi_dec - lo_dec) * BAR_PLOT
    };

    // Decade grid, labels below, and the parity line at 1×.
    let _ = writeln!(svg, r##"<g stroke="#ddd" stroke-width="1">"##);
    let mut dec = lo_dec;
    while dec <= hi_dec + 1e-9 {
        let x = x_of(10f64.powf(dec));
        let _ = writeln!(
            svg,
            r#"<line x1="{x:.1}" y1="{BAR_TOP}" x2="{x:.1}" y2="{bottom:.1}"/>"#
        );
        dec += 1.0;
    }
    svg.push_str("</g>\n");
    let mut dec = lo_dec;
    while dec <= hi_dec + 1e-9 {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}×</text>"#,
            x_of(10f64.powf(dec)),
            bottom + 16.0,
            10f64.powi(dec as i32)
        );
        dec += 1.0;
    }
    let _ = writeln!(
        svg,
        r#"<rect x="{left}" y="{BAR_TOP}" width="{BAR_PLOT}" height="{:.1}" fill="none" stroke="black"/>"#,
        bottom - BAR_TOP
    );

    if ratios.is_empty() {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">no headline ratio</text>"#,
            left + BAR_PLOT / 2.0,
            BAR_TOP + 14.0
        );
    }
    let one = x_of(1.0);
    for (i, h) in ratios.iter().enumerate() {
        let y = BAR_TOP + BAR_ROW * i as f64;
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 8.0,
            y + 14.0,
            escape(&h.label)
        );
        let value_text = match (h.ratio, h.threshold, h.met()) {
            (None, _, _) => "not measured".to_string(),
            (Some(r), Some(t), Some(met)) => format!(
                "{} (goal {t}: {})",
                fmt_ratio(Some(r)),
                if met { "met" } else { "missed" }
            ),
            (Some(r), _, _) => fmt_ratio(Some(r)),
        };
        if let Some(r) = h.ratio {
            let color = match h.met() {
                Some(true) => MET,
                Some(false) => MISSED,
                None => NO_GOAL,
            };
            let x = x_of(r);
            let _ = writeln!(
                svg,
                r#"<rect class="bar" data-ratio="{r}" x="{:.1}" y="{:.1}" width="{:.1}" height="12" fill="{color}"/>"#,
                x.min(one),
                y + 4.0,
                (x - one).abs().max(1.0)
            );
        }
        if let Some(t) = h.threshold {
            let x = x_of(t.value);
            let _ = writeln!(
                svg,
                r#"<line class="goal" data-threshold="{}" x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="black" stroke-width="2"/>"#,
                t.value,
                y + 1.0,
                y + BAR_ROW - 1.0
            );
        }
        let _ = writeln!(
            svg,
            r#"<text class="value" x="{:.1}" y="{:.1}"{}>{}</text>"#,
            right + 8.0,
            y + 14.0,
            if h.ratio.is_some() {
                ""
            } else {
                r##" fill="#888""##
            },
            escape(&value_text)
        );
    }
    let _ = writeln!(
        svg,
        r#"<line x1="{one:.1}" y1="{BAR_TOP}" x2="{one:.1}" y2="{bottom:.1}" stroke="black" stroke-dasharray="4 3"/>"#
    );
    svg.push_str("</svg>\n");
    svg
}

fn decade_label(dec: i32) -> String {
    let us = 10f64.powi(dec);
    if us >= 1e6 {
        format!("{} s", us / 1e6)
    } else if us >= 1e3 {
        format!("{} ms", us / 1e3)
    } else {
        format!("{us} µs")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers_in(points: &str) -> Vec<(f64, f64)> {
        points
            .split_whitespace()
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn three_series_three_lines_inside_the_plot() {
        let old = Samples::from_unsorted((1..=500).map(|i| 20_000 + i * 100).collect());
        let stream = Samples::from_unsorted((1..=500).map(|i| 8_000 + i * 10).collect());
        let floor = Samples::from_unsorted((1..=500).map(|i| 5_000 + i * 5).collect());
        let svg = latency_cdf(
            "CDF <sim> & co",
            &[
                Series {
                    label: "old loop",
                    color: "#d62728",
                    dashed: false,
                    samples: &old,
                },
                Series {
                    label: "stream",
                    color: "#1f77b4",
                    dashed: false,
                    samples: &stream,
                },
                Series {
                    label: "floor",
                    color: "#777",
                    dashed: true,
                    samples: &floor,
                },
            ],
        );
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("CDF &lt;sim&gt; &amp; co"));
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert_eq!(
            svg.matches("stroke-dasharray").count(),
            2,
            "floor line and its legend"
        );
        // Decade ticks from 1 µs to 100 µs.
        for tick in [">1 µs<", ">10 µs<", ">100 µs<"] {
            assert!(svg.contains(tick), "missing {tick}");
        }
        for line in svg.lines().filter(|l| l.starts_with("<polyline")) {
            let pts = line
                .split("points=\"")
                .nth(1)
                .unwrap()
                .trim_end_matches("\"/>");
            let pts = numbers_in(pts);
            assert!(!pts.is_empty());
            for w in pts.windows(2) {
                assert!(w[1].0 >= w[0].0 - 1e-9, "x goes backwards: {w:?}");
                assert!(w[1].1 <= w[0].1 + 1e-9, "CDF goes down: {w:?}");
            }
            for (x, y) in pts {
                assert!((LEFT..=WIDTH - RIGHT).contains(&x), "x {x}");
                assert!((TOP..=HEIGHT - BOTTOM).contains(&y), "y {y}");
            }
        }
        // The CDF reaches 100% at the top edge.
        assert!(svg.contains(&format!(",{TOP:.1}\"/>")));
        // The legend gives each median.
        assert!(svg.contains("stream (p50 10.5 µs, n = 500)"));
    }

    #[test]
    fn empty_series_are_skipped_and_all_empty_says_so() {
        let empty = Samples::default();
        let one = Samples::from_unsorted(vec![1_000]);
        let svg = latency_cdf(
            "t",
            &[
                Series {
                    label: "a",
                    color: "red",
                    dashed: false,
                    samples: &empty,
                },
                Series {
                    label: "b",
                    color: "blue",
                    dashed: false,
                    samples: &one,
                },
            ],
        );
        assert_eq!(svg.matches("<polyline").count(), 1);
        let none = latency_cdf(
            "t",
            &[Series {
                label: "a",
                color: "red",
                dashed: false,
                samples: &empty,
            }],
        );
        assert!(none.contains("no latency samples"));
        assert!(!none.contains("<polyline"));
    }

    /// Checks that every tag is closed in order (self-closing or by its end tag), that quotes
    /// pair up inside tags and that the root is one `<svg>`; returns the element count.
    fn check_balanced(svg: &str) -> usize {
        let mut open: Vec<&str> = Vec::new();
        let (mut rest, mut elements) = (svg, 0);
        while let Some(start) = rest.find('<') {
            assert!(
                !rest[..start].contains('>'),
                "stray '>' in text: {}",
                &rest[..start]
            );
            let end = rest[start..].find('>').expect("unclosed tag") + start;
            let tag = &rest[start + 1..end];
            assert!(!tag.contains('<'), "'<' inside a tag: {tag}");
            assert_eq!(tag.matches('"').count() % 2, 0, "unpaired quote: {tag}");
            let name = tag
                .trim_start_matches('/')
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .unwrap();
            if tag.starts_with('/') {
                assert_eq!(open.pop(), Some(name), "</{name}> closes the wrong tag");
            } else {
                if open.is_empty() {
                    assert!(elements == 0 && name == "svg", "second root <{name}>");
                }
                elements += 1;
                if !tag.ends_with('/') {
                    open.push(name);
                }
            }
            rest = &rest[end + 1..];
        }
        assert!(open.is_empty(), "unclosed: {open:?}");
        assert!(rest.trim().is_empty(), "text after the root: {rest}");
        elements
    }

    /// The value of attribute `name` in each element of `class`.
    fn attr_of_class(svg: &str, class: &str, name: &str) -> Vec<f64> {
        svg.lines()
            .filter(|l| l.contains(&format!("class=\"{class}\"")))
            .map(|l| {
                let v = l.split(&format!(" {name}=\"")).nth(1).unwrap();
                v[..v.find('"').unwrap()].parse().unwrap()
            })
            .collect()
    }

    #[test]
    fn ratio_bars_are_well_formed_one_bar_per_measured_ratio_with_the_reports_numbers() {
        let report = crate::report::tests::sample_report();
        let heads = report.headline_ratios();
        let svg = ratio_bars("Headline <ratios> & co", &heads);
        check_balanced(&svg);
        assert!(svg.contains("Headline &lt;ratios&gt; &amp; co"));
        let measured: Vec<f64> = heads.iter().filter_map(|h| h.ratio).collect();
        assert!(measured.len() >= 20, "{heads:#?}");
        // One bar per measured ratio, in order, carrying the report's value.
        assert_eq!(attr_of_class(&svg, "bar", "data-ratio"), measured);
        // One goal tick per threshold, at it.
        let thresholds: Vec<f64> = heads
            .iter()
            .filter_map(|h| h.threshold.map(|t| t.value))
            .collect();
        assert_eq!(attr_of_class(&svg, "goal", "data-threshold"), thresholds);
        // Colour by the goal's verdict.
        let count = |verdict: Option<bool>| {
            heads
                .iter()
                .filter(|h| h.ratio.is_some() && h.met() == verdict)
                .count()
        };
        assert_eq!(
            svg.matches("class=\"bar\" data-ratio").count(),
            measured.len()
        );
        for (colour, verdict) in [(MET, Some(true)), (MISSED, Some(false)), (NO_GOAL, None)] {
            let bars = svg
                .lines()
                .filter(|l| {
                    l.contains("class=\"bar\"") && l.contains(&format!("fill=\"{colour}\""))
                })
                .count();
            assert_eq!(bars, count(verdict), "{colour}");
        }
        assert!(count(Some(true)) > 0 && count(Some(false)) > 0 && count(None) > 0);
        // The printed numbers are the table's, and the ratios the JSON's.
        let v: serde_json::Value =
            serde_json::from_str(&report.to_json().to_pretty_string()).unwrap();
        let json_ratio = |key: &str| v["ratios"][key].as_f64().unwrap();
        // serde_json's default float parsing may be one unit in the last place off.
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
        let find = |label: &str| {
            heads
                .iter()
                .find(|h| h.label == label)
                .and_then(|h| h.ratio)
                .unwrap_or_else(|| panic!("no {label}"))
        };
        for (label, key) in [
            (
                "delivery latency p50, old/stream",
                "latency_p50_old_over_stream",
            ),
            ("burst throughput, stream/old", "throughput_stream_over_old"),
            (
                "burst throughput, stream/floor",
                "throughput_stream_over_floor",
            ),
            (
                "memory per idle port, 10000 ports, old/stream",
                "rss_per_port_old_over_stream",
            ),
            (
                "shutdown, 10000 ports, old/stream",
                "shutdown_old_over_stream",
            ),
            (
                "RPC, 64 async clients, slow handler, stream/old",
                "rpc_64_slow_stream_over_old",
            ),
        ] {
            assert!(
                close(find(label), json_ratio(key)),
                "{label} vs ratios.{key}"
            );
        }
        assert!(
            (find("delivery latency p50, dispatch/stream")
                * json_ratio("latency_p50_stream_over_dispatch")
                - 1.0)
                .abs()
                < 1e-12
        );
        let table = report.render_text();
        for h in heads.iter().filter(|h| h.ratio.is_some()) {
            let shown = fmt_ratio(h.ratio);
            assert!(
                table.contains(&shown),
                "{} {shown} not in the table",
                h.label
            );
            assert!(
                svg.contains(&format!(">{shown}")),
                "{shown} not in the chart"
            );
        }
        // The JSON lists the same ratios.
        let listed = v["headline_ratios"].as_array().unwrap();
        assert_eq!(listed.len(), heads.len());
        for (j, h) in listed.iter().zip(&heads) {
            assert_eq!(j["label"], h.label.as_str());
            match (j["ratio"].as_f64(), h.ratio) {
                (Some(a), Some(b)) => assert!(close(a, b), "{}: {a} vs {b}", h.label),
                (a, b) => assert_eq!(a, b, "{}", h.label),
            }
            assert_eq!(j["met"].as_bool(), h.met());
        }
    }

    #[test]
    fn ratio_bars_leave_unmeasured_ratios_without_a_bar() {
        use crate::report::{HeadlineRatio, Threshold};
        let heads = vec![
            HeadlineRatio {
                label: "a/b".into(),
                ratio: None,
                goal: None,
                threshold: Some(Threshold::at_least(20.0)),
            },
            HeadlineRatio {
                label: "c/d".into(),
                ratio: Some(0.5),
                goal: None,
                threshold: None,
            },
        ];
        let svg = ratio_bars("t", &heads);
        check_balanced(&svg);
        assert_eq!(attr_of_class(&svg, "bar", "data-ratio"), vec![0.5]);
        assert!(svg.contains(">not measured<"));
        assert!(svg.contains(">0.50×<"));
        // The axis spans 0.1× to 100× (the ratio and the threshold); a bar below 1× ends at 1×.
        assert!(svg.contains(">0.1×<") && svg.contains(">100×<"));
        let bar = svg.lines().find(|l| l.contains("class=\"bar\"")).unwrap();
        assert!(
            bar.contains("x=\"476.9\"") && bar.contains("width=\"33.1\""),
            "{bar}"
        );
        let empty = ratio_bars("t", &[]);
        check_balanced(&empty);
        assert!(empty.contains("no headline ratio"));
    }

    #[test]
    fn the_latency_cdf_is_well_formed() {
        let s = Samples::from_unsorted(vec![1_000, 2_000, 30_000]);
        let svg = latency_cdf(
            "t",
            &[Series {
                label: "a <b>",
                color: "red",
                dashed: true,
                samples: &s,
            }],
        );
        check_balanced(&svg);
    }

    #[test]
    fn decade_labels_switch_units() {
        assert_eq!(decade_label(-1), "0.1 µs");
        assert_eq!(decade_label(2), "100 µs");
        assert_eq!(decade_label(3), "1 ms");
        assert_eq!(decade_label(6), "1 s");
    }
}
