// "My season" and "My team" in Chromium, driven by playwright-core, checked with axe-core (both
// from npm; no browser download). Called by tests/api/browser.rs with CHROMIUM, PLAYWRIGHT_CORE
// and AXE_CORE set:
//   node season.cjs PORTAL STATE_FILE SHOT_DIR
// STATE_FILE holds the cookies of a participant who signed in (reconnect.cjs `connect`). For each
// page, at 1280 and at 360 px wide: a full-page screenshot (SHOT_DIR/season-1280.png, …), the
// page's width against the viewport's (no horizontal scrolling), and axe-core's violations. Then
// the chart's days and the leaderboard's rows as the browser sees them. Each result is one line,
// `NAME JSON`, for the Rust test to check against the database.
const { atEachWidth, open } = require('./launch.cjs');
const { report, checkPage } = require('./report.cjs');

const [portal, stateFile, shotDir] = process.argv.slice(2);
const WIDTHS = [1280, 360];

atEachWidth(stateFile, WIDTHS, ['AXE_CORE'], async (page, width) => {
  for (const name of ['season', 'team']) {
    await open(page, portal, `/${name}`);
    await page.screenshot({ path: `${shotDir}/${name}-${width}.png`, fullPage: true });
    await checkPage(page, name);
    if (name === 'season') {
      const chart = await page.$eval('svg.chart', (svg) => svg.getBoundingClientRect().width);
      report('CHART_WIDTH', { width, chart });
      if (width === WIDTHS[0]) {
        report('POINTS', await page.$$eval('svg.chart g.day', (days) => days.map((d) => [
          d.dataset.date, d.dataset.kind, d.dataset.steps, d.dataset.goal,
        ])));
      }
    } else if (width === WIDTHS[0]) {
      report('LEADERBOARD', await page.$$eval('table.leaderboard tbody tr', (rows) => rows.map(
        (r) => ({ team: r.dataset.team, current: r.getAttribute('aria-current') === 'true' }),
      )));
    }
  }
});
