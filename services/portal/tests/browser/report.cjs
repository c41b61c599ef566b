// What the browser scripts report back to the Rust test: one line per result, `NAME JSON`, and the
// checks every page gets — axe-core's violations (AXE_CORE, from npm; added by the test, never by
// the page, whose CSP allows no script) and the page's width against the viewport's.

const path = require('path');

function report(name, value) {
  console.log(`${name} ${JSON.stringify(value)}`);
}

// Reports WIDTH (no horizontal scrolling when scrollWidth <= width) and AXE (the violations) for
// the page as it is now; `what` names it in both.
async function checkPage(page, what) {
  const width = page.viewportSize().width;
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  report('WIDTH', { page: what, width, scrollWidth });
  await page.addScriptTag({ path: path.join(process.env.AXE_CORE, 'axe.min.js') });
  const violations = await page.evaluate(async () => {
    const results = await window.axe.run(document, { resultTypes: ['violations'] });
    return results.violations.map((v) => ({
      id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')),
    }));
  });
  report('AXE', { page: what, width, violations });
}

module.exports = { report, checkPage };
