// "Log activity" in Chromium, driven by playwright-core, checked with axe-core. Called by
// tests/api/activity.rs (through tests/api/browser.rs) with CHROMIUM, PLAYWRIGHT_CORE and AXE_CORE
// set:
//   node activity.cjs PORTAL STATE_FILE SHOT_DIR TODAY
// STATE_FILE holds the cookies of a participant who signed in (reconnect.cjs `connect`) and is in
// a running season; TODAY is their today (YYYY-MM-DD). At 1280 and at 360 px wide: log an activity
// through the form (LOGGED: the note and the entries shown after it), then submit a bad one —
// no kind, 0 minutes, the tracker question unanswered — (ERRORS: the answer's status, the error
// summary's links and where they lead, each field's message and marking, the values kept). Each
// state is screenshotted (SHOT_DIR/activity-1280.png, activity-errors-1280.png, …) and checked
// for width and with axe-core (report.cjs).
const { atEachWidth, open } = require('./launch.cjs');
const { report, checkPage } = require('./report.cjs');

const [portal, stateFile, shotDir, today] = process.argv.slice(2);
const WIDTHS = [1280, 360];
// A different activity at each width, so each is told apart in the database.
const GOOD = { 1280: { kind: 'cycling', minutes: '40' }, 360: { kind: 'swimming', minutes: '25' } };

// Submits the page's entry form; the answer to the POST (after any redirect, the page shown).
async function submit(page, button) {
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.click(`form.entry button:has-text("${button}")`),
  ]);
  return response;
}

async function logGood(page, width) {
  await page.fill('#day', today);
  await page.selectOption('#kind', GOOD[width].kind);
  await page.fill('#minutes', GOOD[width].minutes);
  await page.check('#intensity-moderate');
  await page.check('#device_worn-no');
  const response = await submit(page, 'Log this activity');
  report('LOGGED', {
    width,
    status: response.status(),
    path: new URL(page.url()).pathname,
    note: (await page.textContent('main [role=status]')).trim(),
    entries: await page.$$eval('ul.entries li', (items) => items.map((li) => ({
      id: Number(li.dataset.entry), day: li.dataset.day, kind: li.dataset.kind,
      minutes: Number(li.dataset.minutes), intensity: li.dataset.intensity,
      deviceWorn: li.dataset.deviceWorn === 'true',
    }))),
  });
}

async function submitBad(page, width) {
  await page.selectOption('#kind', '');
  await page.fill('#minutes', '0');
  await page.check('#intensity-moderate');
  const response = await submit(page, 'Log this activity');
  const errors = await page.evaluate(() => {
    const summary = document.querySelector('.error-summary');
    const text = (element) => (element ? element.textContent.replace(/\s+/g, ' ').trim() : null);
    return {
      summaryRole: summary && summary.getAttribute('role'),
      // Each link and the control it leads to.
      links: [...document.querySelectorAll('.error-summary a')].map((a) => {
        const target = document.getElementById(a.getAttribute('href').slice(1));
        return { href: a.getAttribute('href'), text: text(a), leadsTo: target && target.name };
      }),
      // Each field's message, and whether its controls are marked invalid and described by it.
      fields: ['day', 'kind', 'minutes', 'intensity', 'device_worn'].map((field) => {
        const controls = [...document.querySelectorAll(`[name="${field}"]`)];
        const error = document.getElementById(`${field}-error`);
        const describedBy = (c) => (c.closest('fieldset') || c).getAttribute('aria-describedby') || '';
        return {
          field,
          message: text(error),
          invalid: controls.every((c) => c.getAttribute('aria-invalid') === 'true'),
          describedByError: controls.every((c) => describedBy(c).split(' ').includes(`${field}-error`)),
        };
      }),
      minutesKept: document.getElementById('minutes').value,
      title: document.title,
    };
  });
  report('ERRORS', { width, status: response.status(), ...errors });
}

atEachWidth(stateFile, WIDTHS, ['AXE_CORE'], async (page, width) => {
  await open(page, portal, '/activity');
  await logGood(page, width);
  await page.screenshot({ path: `${shotDir}/activity-${width}.png`, fullPage: true });
  await checkPage(page, 'activity');
  await submitBad(page, width);
  await page.screenshot({ path: `${shotDir}/activity-errors-${width}.png`, fullPage: true });
  await checkPage(page, 'activity with errors');
});
