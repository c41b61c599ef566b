// "My season" and "My team" in Chromium, driven by playwright-core, checked with axe-core (both
// from npm; no browser download). Called by tests/api/browser.rs with CHROMIUM, PLAYWRIGHT_CORE
// and AXE_CORE set:
//   node season.cjs PORTAL STATE_FILE SHOT_DIR
// STATE_FILE holds the cookies of a participant who signed in (reconnect.cjs `connect`). For each
// page, at 1280 and at 360 px wide: a full-page screenshot (SHOT_DIR/season-1280.png, …), the
// page's width against the viewport's (no horizontal scrolling), and axe-core's violations. Then
// the chart's days and the leaderboard's rows as the browser sees them. Each result is one line,
// `NAME JSON`, for the Rust test to check against the database.
for (const name of ['CHROMIUM', 'PLAYWRIGHT_CORE', 'AXE_CORE']) {
  if (!process.env[name]) {
    console.error(`${name} is not set: run this through tests/api/browser.rs`);
    process.exit(2);
  }
}
const path = require('path');
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
const AXE = path.join(process.env.AXE_CORE, 'axe.min.js');

const [portal, stateFile, shotDir] = process.argv.slice(2);
const WIDTHS = [1280, 360];

function report(name, value) {
  console.log(`${name} ${JSON.stringify(value)}`);
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    for (const width of WIDTHS) {
      // The portal's CSP allows no script at all; axe-core is added by the test, not the page.
      const context = await browser.newContext({
        storageState: stateFile, viewport: { width, height: 900 }, bypassCSP: true,
      });
      const page = await context.newPage();
      for (const name of ['season', 'team']) {
        const response = await page.goto(`${portal}/${name}`);
        if (!response.ok() || new URL(page.url()).pathname !== `/${name}`) {
          throw new Error(`/${name} at ${width} px: ${response.status()} at ${page.url()}`);
        }
        await page.screenshot({ path: `${shotDir}/${name}-${width}.png`, fullPage: true });
        const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
        report('WIDTH', { page: name, width, scrollWidth });
        await page.addScriptTag({ path: AXE });
        const violations = await page.evaluate(async () => {
          const results = await window.axe.run(document, { resultTypes: ['violations'] });
          return results.violations.map((v) => ({
            id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')),
          }));
        });
        report('AXE', { page: name, width, violations });
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
      await context.close();
    }
  } finally {
    await browser.close();
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
