// Renders Mermaid diagrams in headless Chromium with the real mermaid.js and
// fails if any of them does not parse, does not draw, or draws differently
// from what its source says.
//
// Usage: node check.mjs [--png DIR] [--fail-on-size] FILE_OR_DIR...
//
// Every `.mmd` file given (or found directly inside a given directory) is
// checked:
//   1. mermaid.parse() accepts it;
//   2. mermaid.render() returns a sequence-diagram SVG, not Mermaid's
//      "Syntax error" or "Maximum text size" picture;
//   3. Mermaid's own model of the diagram, and the drawing, have exactly one
//      message or note per arrow or note line of the source, and one actor
//      per participant line (so no statement was merged, split or invented);
//   4. the drawn text holds no undecoded entity code (`#59;`) and no leftover
//      placeholder from Mermaid's entity handling;
//   5. if NAME.expect.txt sits beside NAME.mmd, each of its lines appears
//      verbatim in the drawn text (this is how escaping is proven end to end).
// With --png DIR, each diagram is also saved as DIR/<name>.png.
//
// Mermaid refuses diagrams longer than its `maxTextSize` (50,000 characters by
// default; GitHub keeps that default) and draws an error box instead. To check
// the syntax of long diagrams too, this script raises the limit, and prints a
// warning for each diagram over the default; --fail-on-size makes that an error.
//
// Nothing is fetched from the network: mermaid.min.js is injected from
// node_modules, and every request the page makes is aborted.

import { chromium } from "playwright-core";
import { existsSync, readdirSync, readFileSync, statSync, mkdirSync } from "node:fs";
import { basename, join, resolve, dirname } from "node:path";
import { createRequire } from "node:module";

// The entity codes simnet's escape_text() writes, and the placeholders
// Mermaid uses while decoding them: none may survive into the drawing.
const ENTITY = /#(?:35|59|lt|gt|amp|quot|37|123|125|36|96|92|58);|\uFB02\u00B0|\u00B6\u00DF/;

const require = createRequire(import.meta.url);
const mermaidPath = require.resolve("mermaid/dist/mermaid.min.js");
const mermaidVersion = JSON.parse(
  readFileSync(join(dirname(mermaidPath), "..", "package.json"), "utf8"),
).version;

const args = process.argv.slice(2);
const DEFAULT_MAX_TEXT_SIZE = 50000;
let pngDir = null;
let failOnSize = false;
const inputs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--fail-on-size") {
    failOnSize = true;
  } else if (args[i] === "--png") {
    pngDir = args[++i];
    if (!pngDir) {
      console.error("--png needs a directory");
      process.exit(2);
    }
  } else {
    inputs.push(args[i]);
  }
}
const files = inputs.flatMap((p) =>
  statSync(p).isDirectory()
    ? readdirSync(p)
        .filter((f) => f.endsWith(".mmd"))
        .sort()
        .map((f) => join(p, f))
    : [p],
);
if (files.length === 0) {
  console.error("usage: node check.mjs [--png DIR] FILE_OR_DIR...  (no .mmd files found)");
  process.exit(2);
}
if (pngDir) mkdirSync(pngDir, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const context = await browser.newContext({
  offline: true,
  viewport: { width: 1400, height: 900 },
  deviceScaleFactor: 1,
});
const page = await context.newPage();
const requests = [];
await page.route("**/*", (route) => {
  requests.push(route.request().url());
  return route.abort();
});
await page.setContent("<!doctype html><html><body><div id=out></div></body></html>");
await page.addScriptTag({ path: mermaidPath });
await page.evaluate(() => {
  window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", maxTextSize: 10_000_000 });
});

let failed = 0;
for (const [i, file] of files.entries()) {
  const source = readFileSync(file, "utf8");
  const lines = source.split("\n").map((l) => l.trim());
  const arrows = lines.filter((l) => /^[A-Za-z0-9_]+(->>|-->>|-x|--x|-\)|--\))[A-Za-z0-9_]+:/.test(l)).length;
  const notes = lines.filter((l) => l.startsWith("Note ")).length;
  const expected = {
    arrows,
    notes,
    messages: arrows + notes,
    actors: lines.filter((l) => l.startsWith("participant ")).length,
  };
  let tooLong = false;
  if (source.length > DEFAULT_MAX_TEXT_SIZE) {
    tooLong = true;
    console.log(
      `warn ${file} is ${source.length} characters: Mermaid's default maxTextSize ` +
        `(${DEFAULT_MAX_TEXT_SIZE}) refuses it; narrow it down (connection, time window, max_events)`,
    );
  }
  const result = await page.evaluate(
    async ({ source, id }) => {
      const out = document.getElementById("out");
      out.innerHTML = "";
      try {
        await window.mermaid.parse(source);
        const diagram = await window.mermaid.mermaidAPI.getDiagramFromText(source);
        const messages = diagram.db.getMessages().length;
        const actors = diagram.db.getActorKeys().length;
        const { svg } = await window.mermaid.render(id, source);
        out.innerHTML = svg;
        const element = out.querySelector("svg");
        const role = element ? element.getAttribute("aria-roledescription") : null;
        const drawn = {
          messages: out.querySelectorAll(".messageLine0, .messageLine1").length,
          notes: out.querySelectorAll("rect.note").length,
        };
        // The drawn words only (the SVG's <style> holds CSS like `#333;`).
        const text = [...out.querySelectorAll("svg text")].map((t) => t.textContent).join("\n");
        return { ok: true, svg, text, messages, actors, role, drawn };
      } catch (e) {
        return { ok: false, error: String(e && e.message ? e.message : e) };
      }
    },
    { source, id: `diagram${i}` },
  );
  const problems = [];
  if (!result.ok) {
    problems.push(result.error.split("\n").slice(0, 6).join("\n    "));
  } else {
    if (/Syntax error|Maximum text size/i.test(result.svg))
      problems.push("Mermaid drew an error picture instead of the diagram");
    if (result.role !== "sequence") problems.push(`Mermaid drew a ${result.role}, not a sequence diagram`);
    if (result.drawn.messages !== expected.arrows)
      problems.push(`the drawing has ${result.drawn.messages} arrows, the source ${expected.arrows}`);
    if (result.drawn.notes !== expected.notes)
      problems.push(`the drawing has ${result.drawn.notes} notes, the source ${expected.notes}`);
    if (result.messages !== expected.messages)
      problems.push(
        `Mermaid sees ${result.messages} messages and notes, the source has ${expected.messages}`,
      );
    if (result.actors !== expected.actors)
      problems.push(`Mermaid sees ${result.actors} participants, the source declares ${expected.actors}`);
    const leftover = result.text.match(ENTITY);
    if (leftover) problems.push(`undecoded entity in the drawing: ${JSON.stringify(leftover[0])}`);
    const expectFile = file.replace(/\.mmd$/, ".expect.txt");
    if (existsSync(expectFile)) {
      for (const want of readFileSync(expectFile, "utf8").split("\n").filter((l) => l)) {
        if (!result.text.includes(want)) problems.push(`the drawing does not show ${JSON.stringify(want)}`);
      }
    }
  }
  if (tooLong && failOnSize) problems.push("too long for Mermaid's default maxTextSize");
  if (problems.length) {
    failed++;
    console.log(`FAIL ${file}\n    ${problems.join("\n    ")}`);
  } else {
    console.log(`ok   ${file} (${result.actors} participants, ${result.messages} messages and notes)`);
    if (pngDir) {
      const png = join(pngDir, basename(file).replace(/\.mmd$/, ".png"));
      // Draw at natural size: Mermaid scales the SVG down to the page width.
      await page.evaluate(() => {
        const svg = document.querySelector("#out svg");
        const width = svg.viewBox.baseVal.width;
        svg.style.maxWidth = "none";
        svg.setAttribute("width", String(width));
      });
      await page.locator("#out svg").screenshot({ path: png });
    }
  }
}
const chromiumVersion = browser.version();
await browser.close();

if (requests.length) {
  console.log(`FAIL the page tried to fetch: ${requests.join(", ")}`);
  failed++;
}
console.log(`mermaid ${mermaidVersion}, Chromium ${chromiumVersion}`);
console.log(`mermaid-check: ${files.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
