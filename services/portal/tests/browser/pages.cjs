// The participant pages the season and activity scripts do not cover — the start page, the sync
// status page in each of its states, the pasted-token pages and the error pages — in Chromium,
// driven by playwright-core, checked with axe-core. Called by tests/api/pages.rs (through
// tests/api/browser.rs) with CHROMIUM, PLAYWRIGHT_CORE and AXE_CORE set:
//   node pages.cjs PORTAL PLAN_FILE SHOT_DIR
// PLAN_FILE is a JSON list of visits, each in a fresh browser:
//   { name, width, path, cookie, steps }
// `cookie` is a `Cookie` header of a sign-in the test made (or null: no cookies); `steps` are done
// in order after opening `path`, each but `forget` waiting for the page it leads to:
//   { paste: TOKEN }   paste TOKEN on the start page and press "Use this token"
//   { click: LABEL }   press the button or link that says LABEL
//   { consent: QUERY } at a simulated consent page, add QUERY (`sim_user=…`) to its address, as a
//                      person choosing themselves (or declining) would
//   { forget: true }   drop the browser's cookies (a form left open until the session is gone)
// For each visit: PAGE (the answer's status, where the browser ended, the h1, the text), a
// full-page screenshot (SHOT_DIR/NAME-WIDTH.png), and the width and axe-core checks (report.cjs).
const fs = require('fs');
const { launch } = require('./launch.cjs');
const { report, checkPage } = require('./report.cjs');

const [portal, planFile, shotDir] = process.argv.slice(2);
const visits = JSON.parse(fs.readFileSync(planFile, 'utf8'));
const squeeze = (words) => words.replace(/\s+/g, ' ').trim();

// The cookies of a `Cookie` header, for the portal's address.
function cookies(header) {
  return header.split('; ').map((pair) => {
    const at = pair.indexOf('=');
    return { name: pair.slice(0, at), value: pair.slice(at + 1), url: portal };
  });
}

// Does `act` and waits for the page it leads to; that page's answer.
async function leadsTo(page, act) {
  const [response] = await Promise.all([page.waitForNavigation(), act()]);
  return response;
}

async function step(page, context, s) {
  if (s.forget) {
    await context.clearCookies();
    return null;
  }
  if (s.paste !== undefined) {
    await page.fill('#token', s.paste);
    return leadsTo(page, () => page.click('button:has-text("Use this token")'));
  }
  if (s.click) {
    const label = `text-is("${s.click}")`;
    return leadsTo(page, () => page.click(`button:${label}, a:${label}`));
  }
  if (s.consent) {
    return page.goto(`${page.url()}&${s.consent}`);
  }
  throw new Error(`unknown step ${JSON.stringify(s)}`);
}

async function visit(browser, v) {
  // The portal's CSP allows no script: bypassed so that the test can add axe-core.
  const context = await browser.newContext({
    viewport: { width: v.width, height: 900 }, bypassCSP: true,
  });
  if (v.cookie) await context.addCookies(cookies(v.cookie));
  const page = await context.newPage();
  let response = await page.goto(`${portal}${v.path}`);
  for (const s of v.steps) response = (await step(page, context, s)) || response;
  const heading = await page.textContent('h1');
  report('PAGE', {
    page: v.name,
    width: v.width,
    status: response.status(),
    path: new URL(page.url()).pathname,
    heading: squeeze(heading),
    text: squeeze(await page.textContent('body')),
  });
  await page.screenshot({ path: `${shotDir}/${v.name}-${v.width}.png`, fullPage: true });
  await checkPage(page, v.name);
  await context.close();
}

(async () => {
  const browser = await launch(['AXE_CORE']);
  try {
    for (const v of visits) await visit(browser, v);
  } finally {
    await browser.close();
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
