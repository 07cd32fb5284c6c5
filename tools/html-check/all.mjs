// Every shipped scenario's page opens and steps without an error: loads in
// headless Chromium with every request refused, visits 30 events spread
// over the run (each panel drawn at each), presses every stepping key, and
// filters by the first host. A page error, a console error or a request
// fails it; the detailed checks against the JSON Lines are check.mjs's.
//
// Usage: node all.mjs DIR   (every DIR/*.html)
import { chromium } from "playwright-core";
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node all.mjs DIR");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
let failed = 0;
const files = readdirSync(dir).filter((f) => f.endsWith(".html")).sort();
// One page, reused: a context per file costs more than the checks.
const context = await browser.newContext({ offline: true, viewport: { width: 1400, height: 900 } });
const page = await context.newPage();
let problems = [];
let url = "";
await context.route("**/*", (route) => {
  if (route.request().url().split("#")[0] === url) return route.continue();
  problems.push(`request: ${route.request().url()}`);
  return route.abort();
});
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("console", (m) => {
  if (m.type() === "error") problems.push(`console error: ${m.text()}`);
});
for (const f of files) {
  problems = [];
  url = pathToFileURL(resolve(join(dir, f))).href;
  let n = 0;
  try {
    await page.goto(url, { waitUntil: "load", timeout: 60_000 });
    await page.waitForFunction(() => window.simnetViewer, null, { timeout: 10_000 });
    n = await page.evaluate(() => {
      const c = window.simnetViewer.count;
      const step = Math.max(1, Math.floor(c / 30));
      for (let i = 0; i < c; i += step) window.simnetViewer.go(i);
      window.simnetViewer.go(c - 1);
      return c;
    });
    for (const k of ["Home", "s", "r", "l", "f", "Shift+ArrowRight", "ArrowRight", "End", "Shift+ArrowLeft", "ArrowLeft"]) {
      await page.keyboard.press(k);
    }
    await page.selectOption("#filter-host", { index: 1 });
    await page.keyboard.press("Home");
    await page.keyboard.press("ArrowRight");
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
  } catch (e) {
    problems.push(`could not drive the page: ${e.message.split("\n")[0]}`);
  }
  if (problems.length) {
    failed++;
    console.log(`FAIL ${f} (${n} events): ${[...new Set(problems)].join("; ")}`);
  } else {
    console.log(`ok   ${f} (${n} events)`);
  }
}
await browser.close();
console.log(`html-check all: ${files.length - failed} of ${files.length} pages open and step without an error`);
process.exit(failed ? 1 : 0);
