// Drives Chromium through the participant pages with playwright-core (from npm; no browser
// download). Called by tests/api/browser.rs, one step per call, with CHROMIUM set to the browser
// it found on PATH and PLAYWRIGHT_CORE to the npm package:
//   connect   PORTAL USER STATE_FILE SHOT_DIR  — sign in through "Connect your Fitbit"; save cookies
//   reconnect PORTAL USER STATE_FILE SHOT_DIR  — open the status page (now "reconnect required"),
//                                               screenshot it, click Reconnect, sign in again
//   google    PORTAL USER STATE_FILE SHOT_DIR  — in a fresh browser, sign in through "Connect with
//                                               Google"; screenshot the start and status pages
// The simulated sign-in pages (Fitbit's and Google's) list no one here, so the script picks USER
// by adding `sim_user` to the simulator's URL, as a person choosing themselves would.
const { launch } = require('./launch.cjs');

const [mode, portal, user, stateFile, shotDir] = process.argv.slice(2);
const text = async (page) => (await page.textContent('body')).replace(/\s+/g, ' ').trim();

const FITBIT_CONSENT = '/oauth2/authorize';
const GOOGLE_CONSENT = '/google/o/oauth2/v2/auth';

async function signInAt(page, consentPath) {
  try {
    await page.waitForURL((url) => url.pathname === consentPath, { timeout: 10000 });
  } catch (error) {
    console.log(`STUCK before ${consentPath} at ${page.url()}: ${await text(page)}`);
    throw error;
  }
  await page.goto(`${page.url()}&sim_user=${encodeURIComponent(user)}`);
  try {
    await page.waitForURL((url) => url.pathname === '/status', { timeout: 15000 });
  } catch (error) {
    console.log(`STUCK at ${page.url()}: ${await text(page)}`);
    throw error;
  }
}

(async () => {
  const browser = await launch();
  try {
    // Only `reconnect` continues a signed-in session; the others start with no cookies.
    const context = await browser.newContext(
      mode === 'reconnect' ? { storageState: stateFile, viewport: { width: 1000, height: 900 } }
                           : { viewport: { width: 1000, height: 900 } });
    const page = await context.newPage();
    if (mode === 'connect') {
      await page.goto(`${portal}/`);
      await page.click('a:has-text("Connect your Fitbit")');
      await signInAt(page, FITBIT_CONSENT);
      await context.storageState({ path: stateFile });
      console.log(`CONNECTED ${await text(page)}`);
    } else if (mode === 'google') {
      await page.goto(`${portal}/`);
      await page.screenshot({ path: `${shotDir}/start.png`, fullPage: true });
      await page.click('a:has-text("Connect with Google")');
      await signInAt(page, GOOGLE_CONSENT);
      await context.storageState({ path: stateFile });
      console.log(`CONNECTED ${await text(page)}`);
      await page.screenshot({ path: `${shotDir}/google-connected.png`, fullPage: true });
    } else {
      await page.goto(`${portal}/status`);
      console.log(`BEFORE ${await text(page)}`);
      await page.screenshot({ path: `${shotDir}/reconnect-required.png`, fullPage: true });
      await page.click('a:has-text("Reconnect Fitbit"), button:has-text("Reconnect Fitbit")');
      await signInAt(page, FITBIT_CONSENT);
      console.log(`AFTER ${await text(page)}`);
      await page.screenshot({ path: `${shotDir}/reconnected.png`, fullPage: true });
    }
  } finally {
    await browser.close();
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
