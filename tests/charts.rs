//! Chart rendering: every chart is a decodable PNG of the advertised size, empty and odd
//! input never fails, and series get distinct colours. Set CAREPULSE_CHART_DIR to a directory
//! to also write the rendered PNGs there for a visual check.

use carepulse::digest::charts::{
    bar_chart, line_chart, pie_chart, series_colour, Bar, Labels, Series, Slice, HEIGHT, WIDTH,
};
use chrono::NaiveDate;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 1).unwrap() + chrono::Duration::days(i64::from(d))
}

fn decode(png: &[u8]) -> image::RgbImage {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .expect("decodable PNG")
        .to_rgb8()
}

fn save(name: &str, png: &[u8]) {
    if let Ok(dir) = std::env::var("CAREPULSE_CHART_DIR") {
        std::fs::write(format!("{dir}/{name}.png"), png).expect("write chart");
    }
}

fn count_colour(img: &image::RgbImage, c: plotters::style::RGBColor) -> usize {
    img.pixels().filter(|p| p.0 == [c.0, c.1, c.2]).count()
}

#[test]
fn line_chart_draws_each_series_in_its_own_colour() {
    let complaints = Series::new(
        "complaints",
        (0..14).map(|d| (day(d), f64::from(10 + d % 5))).collect(),
    );
    let praise = Series::new(
        "praise",
        (0..14)
            .rev()
            .map(|d| (day(d), f64::from(3 + d % 3)))
            .collect(),
    );
    let png = line_chart(
        &Labels::new(
            "Complaints vs praise, last 14 days",
            "day",
            "messages per day",
        ),
        &[complaints, praise],
    )
    .unwrap();
    save("line", &png);
    let img = decode(&png);
    assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
    let first = count_colour(&img, series_colour(0));
    let second = count_colour(&img, series_colour(1));
    assert!(first > 500, "first series drawn: {first} px");
    assert!(second > 500, "second series drawn: {second} px");
    assert_ne!(series_colour(0), series_colour(1));
}

#[test]
fn line_chart_handles_a_single_day_and_long_ranges() {
    let one = line_chart(
        &Labels::new("Mentions today", "day", "mentions"),
        &[Series::new("mentions", vec![(day(0), 42.0)])],
    )
    .unwrap();
    save("line_one_day", &one);
    assert!(count_colour(&decode(&one), series_colour(0)) > 20);

    let long = line_chart(
        &Labels::new("Mentions vs resolved, 90 days", "day", "per day"),
        &[
            Series::new(
                "mentions",
                (0..90)
                    .map(|d| (day(d), 1000.0 + f64::from(d * 37 % 400)))
                    .collect(),
            ),
            Series::new(
                "resolved",
                (0..90)
                    .map(|d| (day(d), 800.0 + f64::from(d * 53 % 300)))
                    .collect(),
            ),
            Series::new("with a gap", vec![(day(10), f64::NAN), (day(20), 500.0)]),
        ],
    )
    .unwrap();
    save("line_long", &long);
    assert_eq!(decode(&long).dimensions(), (WIDTH, HEIGHT));
}

#[test]
fn empty_input_draws_a_no_data_chart() {
    let labels = Labels::new("Mentions trend", "day", "mentions");
    let cases = [
        line_chart(&labels, &[]).unwrap(),
        line_chart(&labels, &[Series::new("mentions", vec![])]).unwrap(),
        line_chart(&labels, &[Series::new("x", vec![(day(1), f64::INFINITY)])]).unwrap(),
        pie_chart("Mentions by platform", &[]).unwrap(),
        pie_chart(
            "Mentions by platform",
            &[Slice::new("x", 0.0), Slice::new("y", -3.0)],
        )
        .unwrap(),
        bar_chart(&labels, &[]).unwrap(),
    ];
    save("no_data", &cases[0]);
    for png in &cases {
        let img = decode(png);
        assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
        // Nothing in a series colour, but some dark text (title and message).
        assert_eq!(count_colour(&img, series_colour(0)), 0);
        assert!(img.pixels().filter(|p| p.0[0] < 128).count() > 200);
    }
}

#[test]
fn pie_chart_gives_each_slice_area_in_proportion() {
    let png = pie_chart(
        "Mentions by platform",
        &[
            Slice::new("X", 600.0),
            Slice::new("Facebook", 300.0),
            Slice::new("Mastodon", 100.0),
            Slice::new("Bluesky", 20.0),
        ],
    )
    .unwrap();
    save("pie", &png);
    let img = decode(&png);
    let x = count_colour(&img, series_colour(0)) as f64;
    let fb = count_colour(&img, series_colour(1)) as f64;
    let ratio = x / fb;
    assert!((1.7..2.3).contains(&ratio), "X/Facebook area ratio {ratio}");
    assert!(
        count_colour(&img, series_colour(3)) > 100,
        "smallest slice visible"
    );
}

#[test]
fn pie_chart_with_one_slice_fills_the_disc() {
    let png = pie_chart("Mentions by platform", &[Slice::new("X", 5.0)]).unwrap();
    save("pie_one", &png);
    assert!(count_colour(&decode(&png), series_colour(0)) > 50_000);
}

#[test]
fn bar_chart_heights_follow_values() {
    let bars = vec![
        Bar::new("<15 min", 40.0),
        Bar::new("15-60 min", 20.0),
        Bar::new("1-4 h", 10.0),
        Bar::new("4-24 h", 5.0),
        Bar::new(">24 h", f64::NAN),
    ];
    let png = bar_chart(
        &Labels::new(
            "First response time",
            "time to first reply",
            "conversations",
        ),
        &bars,
    )
    .unwrap();
    save("bar", &png);
    let img = decode(&png);
    // Column heights of the bar colour at each bar's centre: strictly decreasing.
    let c = series_colour(0);
    let heights: Vec<usize> = (0..4)
        .map(|i| {
            let plot_left = 106.0;
            let plot_w = f64::from(WIDTH) - plot_left - 30.0;
            let x = (plot_left + plot_w * (f64::from(i) + 0.5) / 5.0) as u32;
            (0..HEIGHT)
                .filter(|y| img.get_pixel(x, *y).0 == [c.0, c.1, c.2])
                .count()
        })
        .collect();
    assert!(
        heights.windows(2).all(|w| w[0] > w[1]) && heights[3] > 0,
        "bar heights {heights:?}"
    );
    let many: Vec<Bar> = (0..60)
        .map(|d| Bar::new(format!("Nov {d}"), f64::from(d)))
        .collect();
    let png = bar_chart(&Labels::new("Volume per day", "day", "mentions"), &many).unwrap();
    save("bar_many", &png);
    decode(&png);
}
