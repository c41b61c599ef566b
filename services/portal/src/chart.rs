//! The season chart: daily steps against the daily goal, as server-rendered SVG (no script, no
//! charting library). [`chart`] is the pure geometry, unit-tested; [`svg`] draws it. The SVG
//! scales with its `viewBox`; every day carries its numbers in `data-` attributes.
//!
//! A day without a valid wear record is never drawn as a bar of zero: it is marked "not worn
//! enough" (the goal engine's validity rules decide, `fitex_goals::classify`). An outlier day is
//! drawn to the top and marked; today's bar, while the day runs, is "so far". A day with activity
//! logged by hand says so (`data-source`, `data-logged-minutes`).

use chrono::NaiveDate;
pub use fitex_goals::thousands;
use fitex_goals::{DayOutcome, SeasonDay, Validity};
use maud::{html, Markup};

/// The drawing's size in SVG user units (the `viewBox`).
pub const WIDTH: f64 = 480.0;
pub const HEIGHT: f64 = 240.0;
/// Room for the step labels on the left and the date labels below.
const LEFT: f64 = 74.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 34.0;
/// The non-wear mark's height: a fixed mark, not a bar of any number of steps.
const MARK: f64 = 10.0;

/// What a day's mark means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointKind {
    /// A valid day that reached its goal.
    Met,
    /// A valid day below its goal.
    Missed,
    /// A valid day without a goal yet.
    NoGoal,
    /// No valid wear record: no record, no data, non-wear or too little wear. No bar.
    NotWorn,
    /// More steps than the plausible bound: not used for goals; drawn to the top, marked.
    Outlier,
    /// Today, not over yet: the steps so far.
    Today,
}

impl PointKind {
    /// The `data-kind` value and CSS class.
    pub fn as_str(self) -> &'static str {
        match self {
            PointKind::Met => "met",
            PointKind::Missed => "missed",
            PointKind::NoGoal => "no-goal",
            PointKind::NotWorn => "not-worn",
            PointKind::Outlier => "outlier",
            PointKind::Today => "today",
        }
    }

    /// The day's result in plain words.
    pub fn words(self) -> &'static str {
        match self {
            PointKind::Met => "Goal met",
            PointKind::Missed => "Below goal",
            PointKind::NoGoal => "No goal yet",
            PointKind::NotWorn => "Not worn enough to count",
            PointKind::Outlier => "Unusually high: not counted for goals",
            PointKind::Today => "Today, so far",
        }
    }
}

/// A bar's top and height in user units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    pub y: f64,
    pub height: f64,
}

/// One day on the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartPoint {
    pub date: NaiveDate,
    pub kind: PointKind,
    /// The steps the day recorded; `None` without a record or when the provider holds no data
    /// (its zero means nothing).
    pub steps: Option<i32>,
    pub goal_steps: Option<i32>,
    /// The left edge of the day's slot.
    pub x: f64,
    /// `None` for a day not worn (a fixed mark instead), or today with nothing yet.
    pub bar: Option<Bar>,
    /// The goal line's height for the day.
    pub goal_y: Option<f64>,
    /// Minutes logged by hand for the day (0: none).
    pub logged_minutes: i32,
}

impl ChartPoint {
    /// Where the day's numbers come from (`data-source`): the device, activity logged by hand
    /// beside it, or logged activity alone when the provider had nothing for the day.
    pub fn source(&self) -> &'static str {
        match (self.logged_minutes > 0, self.steps.is_some()) {
            (false, _) => "device",
            (true, true) => "device+manual",
            (true, false) => "manual",
        }
    }
}

/// The whole chart's geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The width of one day's slot.
    pub slot: f64,
    /// The top of the step axis.
    pub y_max: i32,
    /// Step labels: (steps, y).
    pub ticks: Vec<(i32, f64)>,
    /// Each week's first day and its x.
    pub weeks: Vec<(NaiveDate, f64)>,
    pub points: Vec<ChartPoint>,
}

/// The y of `steps` on an axis from 0 to `y_max` (clamped to the plot).
fn y_of(steps: f64, y_max: i32) -> f64 {
    let plot = HEIGHT - TOP - BOTTOM;
    let share = (steps / f64::from(y_max.max(1))).clamp(0.0, 1.0);
    HEIGHT - BOTTOM - share * plot
}

/// The step axis for values up to `max`: its top and label interval, at most 5 intervals of a
/// round size.
pub fn step_axis(max: i32) -> (i32, i32) {
    const STEPS: [i64; 7] = [1_000, 2_000, 2_500, 5_000, 10_000, 20_000, 25_000];
    // In 64 bits: a glitched day of billions of steps must not overflow.
    let max = i64::from(max.max(1));
    let intervals = |step: i64| (max + step - 1) / step;
    let step = STEPS
        .into_iter()
        .find(|s| intervals(*s) <= 5)
        // Beyond the round sizes: a fifth of the highest value, rounded up to 10,000s.
        .unwrap_or_else(|| ((max + 4) / 5 + 9_999) / 10_000 * 10_000);
    let top = (intervals(step).max(1) * step).min(i64::from(i32::MAX));
    (top as i32, step as i32)
}

/// What a season day is on the chart; `today` is the running day, if the season still runs.
pub fn kind_of(day: &SeasonDay, today: Option<NaiveDate>) -> PointKind {
    match day.outcome {
        DayOutcome::Met => PointKind::Met,
        _ if Some(day.date) == today => PointKind::Today,
        DayOutcome::Missed => PointKind::Missed,
        DayOutcome::NoGoal => PointKind::NoGoal,
        DayOutcome::NoValidWear if day.validity == Some(Validity::Outlier) => PointKind::Outlier,
        DayOutcome::NoValidWear => PointKind::NotWorn,
    }
}

/// Lays out `days` (from the season's first day, in date order) on a chart as wide as
/// `season_length` days; `today` is the running day while the season runs.
pub fn chart(days: &[SeasonDay], season_length: u32, today: Option<NaiveDate>) -> Chart {
    let slot = (WIDTH - LEFT - RIGHT) / f64::from(season_length.max(1));
    let kinds: Vec<PointKind> = days.iter().map(|d| kind_of(d, today)).collect();
    // The axis fits the goals and the bars drawn to scale (outliers are drawn to the top).
    let scaled = days.iter().zip(&kinds).filter_map(|(day, kind)| match kind {
        PointKind::NotWorn | PointKind::Outlier => None,
        _ => day.steps,
    });
    let max = days.iter().filter_map(|d| d.goal_steps).chain(scaled).max().unwrap_or(0);
    let (y_max, interval) = step_axis(max.max(1_000));
    let ticks =
        (0..=y_max / interval).map(|i| (i * interval, y_of(f64::from(i * interval), y_max)));
    let base = HEIGHT - BOTTOM;
    let points = days
        .iter()
        .zip(kinds)
        .enumerate()
        .map(|(index, (day, kind))| {
            let steps = match (day.validity, day.steps) {
                (_, None) => None,
                // A day the provider holds no data for is stored as zeros that mean nothing.
                (Some(Validity::NonWear), Some(0)) => None,
                (_, steps) => steps,
            };
            let bar = match (kind, steps) {
                (PointKind::NotWorn, _) | (_, None) => None,
                (PointKind::Outlier, _) => Some(Bar { y: TOP, height: base - TOP }),
                (_, Some(steps)) => {
                    let y = y_of(f64::from(steps), y_max);
                    Some(Bar { y, height: base - y })
                }
            };
            ChartPoint {
                date: day.date,
                kind,
                steps,
                goal_steps: day.goal_steps,
                x: LEFT + slot * index as f64,
                bar,
                goal_y: day.goal_steps.map(|g| y_of(f64::from(g), y_max)),
                logged_minutes: day.logged_minutes,
            }
        })
        .collect();
    let first = days.first().map(|d| d.date);
    let weeks = first
        .map(|start| {
            (0..season_length.div_ceil(7))
                .map(|w| {
                    (
                        start + chrono::Duration::days(i64::from(w) * 7),
                        LEFT + slot * f64::from(w * 7),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Chart { slot, y_max, ticks: ticks.collect(), weeks, points }
}

/// "Mon 3 Mar".
pub fn short_date(date: NaiveDate) -> String {
    date.format("%a %-d %b").to_string()
}

fn number(x: f64) -> String {
    format!("{x:.1}")
}

/// The chart as SVG; `title` and `summary` name it for screen readers (the same numbers are in
/// the table beside it).
pub fn svg(chart: &Chart, title: &str, summary: &str) -> Markup {
    let base = HEIGHT - BOTTOM;
    let width = (chart.slot * 0.72).max(1.0);
    let inset = (chart.slot - width) / 2.0;
    // The goal as one stepped line: a level segment over each day that has a goal.
    let goal_path: String = chart
        .points
        .iter()
        .filter_map(|p| {
            p.goal_y.map(|y| format!("M{} {}h{}", number(p.x), number(y), number(chart.slot)))
        })
        .collect();
    // At most 4 date labels, so that they never run into each other at any width.
    let every = chart.weeks.len().div_ceil(4).max(1);
    html! {
        svg.chart viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img"
            aria-labelledby="chart-title chart-summary" data-y-max=(chart.y_max) {
            title id="chart-title" { (title) }
            desc id="chart-summary" { (summary) }
            defs {
                pattern id="not-worn" patternUnits="userSpaceOnUse" width="4" height="4"
                    patternTransform="rotate(45)" {
                    rect width="2" height="4" fill="#5b6472" {}
                }
            }
            @for (steps, y) in &chart.ticks {
                line.grid x1=(LEFT) x2=(WIDTH - RIGHT) y1=(number(*y)) y2=(number(*y)) {}
                text.axis x=(LEFT - 6.0) y=(number(y + 6.0)) text-anchor="end" { (thousands(*steps)) }
            }
            @for (index, (start, x)) in chart.weeks.iter().enumerate() {
                @if index % every == 0 {
                    text.axis x=(number(*x)) y=(HEIGHT - 10.0) { (start.format("%-d %b")) }
                }
            }
            @for p in &chart.points {
                g class=(format!("day {}", p.kind.as_str())) data-date=(p.date) data-kind=(p.kind.as_str())
                    data-steps=(p.steps.map(|s| s.to_string()).unwrap_or_default())
                    data-goal=(p.goal_steps.map(|s| s.to_string()).unwrap_or_default())
                    data-source=(p.source())
                    data-logged-minutes=[(p.logged_minutes > 0).then_some(p.logged_minutes)] {
                    title {
                        (short_date(p.date)) ": "
                        @if let Some(steps) = p.steps { (thousands(steps)) " steps; " }
                        @if p.logged_minutes > 0 { (thousands(p.logged_minutes)) " minutes logged; " }
                        @if let Some(goal) = p.goal_steps { "goal " (thousands(goal)) "; " }
                        (p.kind.words())
                    }
                    @match (p.bar, p.kind) {
                        (Some(bar), _) => {
                            rect.bar x=(number(p.x + inset)) y=(number(bar.y)) width=(number(width))
                                height=(number(bar.height)) {}
                            @if p.kind == PointKind::Outlier {
                                path.outlier-mark d=(format!("M{} {}l{} -8l{} 8z", number(p.x + inset - 2.0), number(TOP), number(width / 2.0 + 2.0), number(width / 2.0 + 2.0))) {}
                            }
                        }
                        (None, PointKind::NotWorn) => {
                            rect.not-worn x=(number(p.x + inset)) y=(number(base - MARK))
                                width=(number(width)) height=(MARK) fill="url(#not-worn)" {}
                        }
                        (None, _) => {}
                    }
                }
            }
            path.goal d=(goal_path) {}
            line.baseline x1=(LEFT) x2=(WIDTH - RIGHT) y1=(base) y2=(base) {}
        }
    }
}

/// The chart's styles (added to the page's `style` element).
pub const CSS: &str = "
svg.chart{display:block;width:100%;max-width:30rem;height:auto;margin:1rem 0}
svg.chart .grid{stroke:#d8dde6;stroke-width:1}
svg.chart .baseline{stroke:#1d2430;stroke-width:1.5}
svg.chart .axis{font-size:18px;fill:#1d2430}
svg.chart .bar{fill:#00707a}
svg.chart .missed .bar,svg.chart .no-goal .bar{fill:#7fb8bd}
svg.chart .today .bar{fill:#fff;stroke:#00707a;stroke-width:1.5}
svg.chart .outlier .bar{fill:#b45309}
svg.chart .outlier-mark{fill:#b45309}
svg.chart .not-worn{stroke:#5b6472;stroke-width:1}
svg.chart .goal{fill:none;stroke:#1d2430;stroke-width:2.5}
";

#[cfg(test)]
mod tests {
    use super::*;

    fn date(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 2).unwrap() + chrono::Duration::days(n)
    }

    fn day(
        n: i64,
        steps: Option<i32>,
        goal: Option<i32>,
        validity: Option<Validity>,
        outcome: DayOutcome,
    ) -> SeasonDay {
        SeasonDay { date: date(n), steps, goal_steps: goal, validity, outcome, logged_minutes: 0 }
    }

    #[test]
    fn the_step_axis_is_round_and_fits_the_highest_value() {
        assert_eq!(step_axis(0), (1_000, 1_000));
        assert_eq!(step_axis(4_200), (5_000, 1_000));
        assert_eq!(step_axis(8_000), (8_000, 2_000));
        assert_eq!(step_axis(9_100), (10_000, 2_000));
        assert_eq!(step_axis(12_400), (12_500, 2_500));
        assert_eq!(step_axis(45_000), (50_000, 10_000));
        for max in [1, 999, 7_777, 23_456, 44_999, 120_000, 1_000_000, 3_333_333] {
            let (top, interval) = step_axis(max);
            assert!(top >= max && top / interval <= 5 && top % interval == 0, "{max}");
        }
    }

    #[test]
    fn bars_are_to_scale_and_the_goal_sits_at_its_height() {
        use fitex_goals::DayOutcome::*;
        let days = [
            day(0, Some(10_000), Some(5_000), Some(Validity::Valid), Met),
            day(1, Some(2_500), Some(5_000), Some(Validity::Valid), Missed),
        ];
        let c = chart(&days, 56, None);
        assert_eq!(c.y_max, 10_000);
        let base = HEIGHT - BOTTOM;
        let plot = base - TOP;
        let [met, missed] = [&c.points[0], &c.points[1]];
        assert_eq!((met.kind, missed.kind), (PointKind::Met, PointKind::Missed));
        assert_eq!(met.bar, Some(Bar { y: TOP, height: plot }));
        let quarter = missed.bar.unwrap();
        assert!((quarter.height - plot / 4.0).abs() < 1e-9, "{quarter:?}");
        assert!((met.goal_y.unwrap() - (base - plot / 2.0)).abs() < 1e-9);
        assert!((missed.x - met.x - c.slot).abs() < 1e-9, "one slot a day");
        assert!(
            (c.slot * 56.0 - (WIDTH - LEFT - RIGHT)).abs() < 1e-9,
            "the season fills the width"
        );
        assert_eq!(c.ticks.first().map(|t| t.0), Some(0));
        assert_eq!(c.ticks.last().map(|t| t.0), Some(10_000));
        assert_eq!(c.weeks.len(), 8);
        assert_eq!(c.weeks[1].0, date(7));
    }

    #[test]
    fn a_day_not_worn_is_a_mark_never_a_bar_of_zero() {
        use fitex_goals::DayOutcome::*;
        let days = [
            day(0, Some(0), Some(5_000), Some(Validity::NonWear), NoValidWear), // no data
            day(1, Some(7_000), Some(5_000), Some(Validity::InsufficientWear), NoValidWear),
            day(2, None, Some(5_000), None, NoValidWear), // nothing stored
            day(3, Some(60_000), Some(5_000), Some(Validity::Outlier), NoValidWear),
            day(4, Some(1_200), Some(5_000), Some(Validity::InsufficientWear), NoValidWear),
        ];
        let c = chart(&days, 7, Some(date(4)));
        let kinds: Vec<PointKind> = c.points.iter().map(|p| p.kind).collect();
        use crate::chart::PointKind::*;
        assert_eq!(kinds, [NotWorn, NotWorn, NotWorn, Outlier, Today]);
        for p in &c.points[..3] {
            assert_eq!(p.bar, None, "{p:?}");
        }
        assert_eq!(c.points[0].steps, None, "a no-data zero is not shown as steps");
        assert_eq!(c.points[1].steps, Some(7_000), "the recorded steps are still told");
        // The outlier reaches the top without stretching the axis; today shows its steps so far.
        assert_eq!(c.y_max, 5_000);
        assert_eq!(c.points[3].bar.map(|b| b.y), Some(TOP));
        assert!(c.points[4].bar.is_some_and(|b| b.height > 0.0));
    }

    #[test]
    fn the_svg_carries_each_days_numbers() {
        use fitex_goals::DayOutcome::*;
        let days = [
            day(0, Some(6_200), Some(7_500), Some(Validity::Valid), Missed),
            day(1, Some(0), Some(7_500), Some(Validity::NonWear), NoValidWear),
        ];
        let html = svg(&chart(&days, 14, None), "Steps", "Two days").into_string();
        assert!(
            html.contains(
                r#"data-date="2026-03-02" data-kind="missed" data-steps="6200" data-goal="7500""#
            ),
            "{html}"
        );
        assert!(
            html.contains(
                r#"data-date="2026-03-03" data-kind="not-worn" data-steps="" data-goal="7500""#
            ),
            "{html}"
        );
        assert!(html.contains(r#"role="img" aria-labelledby="chart-title chart-summary""#));
        assert_eq!(html.matches("class=\"bar\"").count(), 1, "no bar for the day not worn");
        assert_eq!(html.matches(r#"data-source="device">"#).count(), 2, "{html}");
        assert!(!html.contains("data-logged-minutes"), "{html}");
    }

    #[test]
    fn a_day_with_logged_activity_says_where_its_numbers_come_from() {
        use fitex_goals::DayOutcome::*;
        let logged = |d: SeasonDay, minutes| SeasonDay { logged_minutes: minutes, ..d };
        let days = [
            logged(day(0, Some(6_200), Some(7_500), Some(Validity::Valid), Met), 45),
            // Nothing from the provider that day: a swim without the tracker, logged.
            logged(day(1, Some(0), Some(7_500), Some(Validity::NonWear), Met), 60),
            day(2, Some(8_000), Some(7_500), Some(Validity::Valid), Met),
        ];
        let c = chart(&days, 14, None);
        let sources: Vec<&str> = c.points.iter().map(ChartPoint::source).collect();
        assert_eq!(sources, ["device+manual", "manual", "device"]);
        let html = svg(&c, "Steps", "Three days").into_string();
        for (date, source, minutes) in
            [("2026-03-02", "device+manual", 45), ("2026-03-03", "manual", 60)]
        {
            let marked = format!(
                r#"data-date="{date}" data-kind="met" data-steps="{}" data-goal="7500" data-source="{source}" data-logged-minutes="{minutes}">"#,
                if source == "manual" { "" } else { "6200" }
            );
            assert!(html.contains(&marked), "{marked} in {html}");
        }
        assert!(html.contains("60 minutes logged; "), "{html}");
        assert!(html.contains(r#"data-date="2026-03-04" data-kind="met" data-steps="8000" data-goal="7500" data-source="device">"#));
    }

    #[test]
    fn numbers_read_plainly() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(7_500), "7,500");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(short_date(date(0)), "Mon 2 Mar");
    }
}
