// Chromium for the browser scripts, launched the same way by each of them: the browser the Rust
// test found (CHROMIUM) driven by playwright-core from npm (PLAYWRIGHT_CORE; no browser download),
// with nothing that reaches the network on its own.
//   const { launch } = require('./launch.cjs');
//   const browser = await launch(['AXE_CORE']); // the script's own variables beyond those two
// or, for a signed-in participant's pages at several widths, `atEachWidth` and `open`.

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Exits (status 2) unless every variable the script needs is set: the scripts run through
// tests/api/browser.rs, which sets them.
function requireEnv(names) {
  for (const name of names) {
    if (!process.env[name]) {
      console.error(`${name} is not set: run this through tests/api/browser.rs`);
      process.exit(2);
    }
  }
}

async function launch(moreEnv = []) {
  requireEnv(['CHROMIUM', 'PLAYWRIGHT_CORE', ...moreEnv]);
  const { chromium } = require(process.env.PLAYWRIGHT_CORE);
  return chromium.launch({ executablePath: process.env.CHROMIUM, args: ARGS });
}

// Runs the script: for each of `widths`, a browser context signed in with STATE_FILE's cookies and
// its page handed to `visit(page, width)`. The portal's CSP allows no script at all, so it is
// bypassed: axe-core is added by the test, never by the page. Exits 1 on any error.
function atEachWidth(stateFile, widths, moreEnv, visit) {
  (async () => {
    const browser = await launch(moreEnv);
    try {
      for (const width of widths) {
        const context = await browser.newContext({
          storageState: stateFile, viewport: { width, height: 900 }, bypassCSP: true,
        });
        await visit(await context.newPage(), width);
        await context.close();
      }
    } finally {
      await browser.close();
    }
  })().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}

// Opens `path` of the portal; throws unless it answered 2xx at that path (not, say, the start
// page of a browser that is not signed in).
async function open(page, portal, path) {
  const response = await page.goto(`${portal}${path}`);
  if (!response.ok() || new URL(page.url()).pathname !== path) {
    const width = page.viewportSize().width;
    throw new Error(`${path} at ${width} px: ${response.status()} at ${page.url()}`);
  }
}

module.exports = { launch, atEachWidth, open };
