// Opens every page of the built book in headless Chromium and fails unless
// each ```mermaid block became a drawn sequence diagram (no "Syntax error"
// picture, no block left as code), every image loaded, every link to a
// heading (`page.html#id`, in either edition: a translated heading has its
// own id) finds it, every link to a page of the book folder (a chapter, or
// a scenario's run page under runs/) finds the file, the page links to
// itself in the other edition (and, in the Korean one, labels its
// collapsible blocks in Korean), and the page asked for nothing outside the
// book folder.
//
// Usage: node check-book.mjs BOOK_HTML_DIR   (e.g. book/book)

import { chromium } from "playwright-core";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

// The ids of a page's elements, read once per page.
const idsOf = new Map();
function ids(file) {
  if (!idsOf.has(file)) {
    const text = readFileSync(file, "utf8");
    idsOf.set(file, new Set([...text.matchAll(/ id="([^"]+)"/g)].map((m) => m[1].replaceAll("&amp;", "&"))));
  }
  return idsOf.get(file);
}

const root = resolve(process.argv[2] ?? "book/book");
const skip = new Set(["print.html", "toc.html", "404.html"]);
// runs/ (in each edition) holds `simnet run --format html` pages, which
// book/build.sh writes next to the chapters; they are not chapters (the
// viewer has its own browser tests), so only the links to them are checked.
function pages(dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((f) => {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) return f === "runs" ? [] : pages(p);
      return f.endsWith(".html") && !skip.has(f) ? [p] : [];
    });
}
const files = pages(root);
if (files.length === 0) {
  console.error(`check-book: no pages under ${root}; run mdbook build first`);
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
const context = await browser.newContext({ offline: true, viewport: { width: 1400, height: 900 } });
const rootUrl = pathToFileURL(root).href;
let failed = 0;
let diagrams = 0;
for (const file of files) {
  const page = await context.newPage();
  const outside = [];
  const errors = [];
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(rootUrl)) return route.continue();
    outside.push(url);
    return route.abort();
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
  const blocks = await page.evaluate(() => document.querySelectorAll("pre.mermaid, code.language-mermaid").length);
  if (blocks > 0) {
    await page
      .waitForFunction(
        () => [...document.querySelectorAll("pre.mermaid")].every((p) => p.getAttribute("data-processed") === "true"),
        null,
        { timeout: 30000 },
      )
      .catch(() => errors.push("diagrams did not finish drawing within 30 s"));
  }
  const r = await page.evaluate(() => {
    const pres = [...document.querySelectorAll("pre.mermaid")];
    return {
      leftAsCode: document.querySelectorAll("code.language-mermaid").length,
      drawn: pres.filter((p) => p.querySelector("svg[aria-roledescription=sequence]")).length,
      total: pres.length,
      syntaxError: pres.some((p) => /Syntax error|Maximum text size/i.test(p.textContent)),
      brokenImages: [...document.images].filter((i) => !i.complete || i.naturalWidth === 0).map((i) => i.src),
      anchors: [...document.querySelectorAll("main a[href*='#']")].map((a) => a.href),
      links: [...document.querySelectorAll("main a[href]")].map((a) => a.href),
      otherEdition: document.querySelector("a.lang-switch")?.href ?? null,
      untranslatedLabels: document.documentElement.lang.startsWith("ko")
        ? [...document.querySelectorAll("details > summary")].filter((s) => /^(The scenario|Its summary)/.test(s.textContent)).length
        : 0,
    };
  });
  const deadAnchors = r.anchors.filter((href) => {
    const url = new URL(href);
    if (url.protocol !== "file:" || !url.pathname.endsWith(".html")) return false;
    let target;
    try {
      target = fileURLToPath(url);
      statSync(target);
    } catch {
      return true;
    }
    return !ids(target).has(decodeURIComponent(url.hash.slice(1)));
  });
  const deadLinks = r.links.filter((href) => {
    const url = new URL(href);
    if (url.protocol !== "file:" || !url.pathname.endsWith(".html")) return false;
    try {
      statSync(fileURLToPath(url));
      return false;
    } catch {
      return true;
    }
  });
  const problems = [...errors];
  if (r.leftAsCode) problems.push(`${r.leftAsCode} mermaid block(s) left as code`);
  if (r.syntaxError) problems.push("a diagram shows Mermaid's error picture");
  if (r.drawn !== r.total) problems.push(`${r.total - r.drawn} of ${r.total} diagrams not drawn as sequence diagrams`);
  if (r.brokenImages.length) problems.push(`images that did not load: ${r.brokenImages.join(", ")}`);
  if (deadAnchors.length) problems.push(`links to headings that are not there: ${deadAnchors.join(", ")}`);
  if (deadLinks.length) problems.push(`links to pages that are not there: ${[...new Set(deadLinks)].join(", ")}`);
  // Every page links to itself in the other edition (book/lang-switch.js).
  if (r.otherEdition === null) problems.push("no link to the other edition");
  else {
    try {
      statSync(fileURLToPath(new URL(r.otherEdition)));
    } catch {
      problems.push(`the other edition's page is missing: ${r.otherEdition}`);
    }
  }
  if (r.untranslatedLabels) problems.push(`${r.untranslatedLabels} <summary> label(s) left in English`);
  if (outside.length) problems.push(`requests outside the book: ${outside.join(", ")}`);
  const name = relative(root, file);
  if (problems.length) {
    failed++;
    console.log(`FAIL ${name}\n    ${problems.join("\n    ")}`);
  } else if (r.total > 0) {
    console.log(`ok   ${name} (${r.drawn} diagrams)`);
  }
  diagrams += r.drawn;
  await page.close();
}
await browser.close();
console.log(`${files.length} pages, ${diagrams} diagrams drawn, ${failed} failed`);
process.exit(failed ? 1 : 0);
