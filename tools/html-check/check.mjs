// Drives the page `simnet run --format html` writes, in headless Chromium,
// and checks what it shows against the same run's `--format jsonl` trace.
//
// Usage: node check.mjs [--big NAME] [--screenshot FILE] [--only NAME] DIR
//
// DIR holds pairs X.html / X.jsonl of one run each. Event i of the page is
// line i+1 of the JSONL (line 0 is the run_start header). Every page is
// opened from disk (file://) with every network request aborted; a page
// error, a console error or a request fails it. Then, per page:
//
//   load      window.simnetViewer is there, with count = JSONL lines - 1;
//             #e=K in the URL opens at event K; the hash follows the cursor;
//             #slider spans 0..count-1 and moves the cursor.
//   state     (a) at every tcp_state event (at most 200, evenly sampled):
//             #time is the JSONL "t", #position "event I of N", the
//             socket's row shows the state it went "to" (no row once
//             CLOSED), and every host's table is the set of sockets the
//             JSONL has open at that event, each in its state.
//   socket-cells  each such row has td.local, td.remote, td.sendq,
//             td.recvq, td.window.
//   timers    a socket entering TIME-WAIT shows a TIME-WAIT timer; a
//             socket shows a retransmission timer just before each of its
//             data retransmissions. td.timers is found in the socket's row
//             or as td.timers[data-socket=ID] in its table (the layout
//             book/src/reference/browser.md documents).
//   packet    (b) at every packet event (at most 200): flags, seq, ack, len,
//             src, dst, ttl, window, frame as the JSONL says; the hex dump
//             holds the IP header's first bytes; the decoded pane shows
//             what the page's data decoded; the diagram's arrow for the
//             frame is current, and lost exactly when the JSONL drops it.
//             At other events (at most 100), the packet pane shows the
//             event's frame or the latest packet before it.
//   keys      (c) ArrowRight/ArrowLeft/Home/End; Shift+Arrow to the next and
//             previous packet; s to each tcp_state; l to each frame_dropped;
//             r to each retransmission (a packet whose sequence range is
//             below what its side had already sent, per the JSONL); f to
//             a failed expectation's time; / focuses #search.
//   buttons   every button[data-step] lands where its key does.
//   list      the current .ev row is the cursor's; its text is the line.
//   filter    (d) one host in #filter-host: every row is an event of that
//             host (JSONL host/from/to), and next/prev (keys and buttons)
//             land on its events, skipping no event the host sent,
//             received or owns; one connection in #filter-connection;
//             one layer alone (input.layer).
//   search    (e) a word typed in #search (in another case): every row
//             contains it, and next lands on a row that does.
//   expect    #expectations lists the run's verdicts (class, data-at-ns),
//             and clicking one moves the cursor to its time.
//   scale     (f) with --big NAME, NAME.html (a run of 100,000 events or
//             more) is checked only for size and speed: at most 500 .ev
//             rows at the start, middle and end; the HTML at most twice
//             the JSONL's size; 50 ArrowRight steps (time printed, not
//             asserted); a few state and packet samples.
//
// With --screenshot FILE, three-way-handshake is saved at the server's
// SYN-ACK, 1400x900, to FILE.

import { chromium } from "playwright-core";
import { readdirSync, readFileSync, statSync, mkdirSync, existsSync } from "node:fs";
import { basename, join, resolve, dirname } from "node:path";
import { pathToFileURL } from "node:url";

const args = process.argv.slice(2);
let bigName = null;
let screenshot = null;
let only = null;
let dir = null;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--big") bigName = args[++i];
  else if (a === "--screenshot") screenshot = args[++i];
  else if (a === "--only") only = args[++i];
  else if (!dir) dir = a;
  else usage();
}
function usage() {
  console.error("usage: node check.mjs [--big NAME] [--screenshot FILE] [--only NAME] DIR");
  process.exit(2);
}
if (!dir || !existsSync(dir) || !statSync(dir).isDirectory()) usage();

const SAMPLE = 200;
const WAIT_MS = 3000;
const LAYERS = ["packet", "link", "tcp", "call", "app", "run"];

// ---------------------------------------------------------------- JSONL model

function loadRun(name) {
  const html = join(dir, `${name}.html`);
  const jsonl = join(dir, `${name}.jsonl`);
  const lines = readFileSync(jsonl, "utf8").split("\n").filter((l) => l);
  const header = JSON.parse(lines[0]);
  const events = lines.slice(1).map((l) => JSON.parse(l));
  return {
    name,
    html,
    jsonl,
    htmlSize: statSync(html).size,
    jsonlSize: statSync(jsonl).size,
    header,
    events,
    hosts: header.hosts.map((h) => h.name),
  };
}

/// Indexes where pred holds.
/** A TCP state change the page steps to: every tcp_state but the arming
 * and disarming of a listening slot. */
function isStateChange(e) {
  if (e.event !== "tcp_state") return false;
  return !((e.from === "CLOSED" && e.to === "LISTEN") || (e.from === "LISTEN" && e.to === "CLOSED"));
}

function where(events, pred) {
  const out = [];
  events.forEach((e, i) => pred(e, i) && out.push(i));
  return out;
}

/// At most n of the list, evenly spread, first and last included.
function sample(list, n = SAMPLE) {
  if (list.length <= n) return list;
  const out = [];
  for (let k = 0; k < n; k++) out.push(list[Math.round((k * (list.length - 1)) / (n - 1))]);
  return [...new Set(out)];
}

const MOD = 2 ** 32;
const HALF = 2 ** 31;
const ahead = (a, b) => {
  const d = (((a - b) % MOD) + MOD) % MOD;
  return d > 0 && d < HALF; // a is after b, in sequence space
};

/// For each packet event, whether its sequence range starts below the
/// highest sequence number its side had sent before it (per direction,
/// by absolute sequence number; a SYN with a new ISN starts afresh), and
/// how many sequence numbers it spans.
function retransmissions(events) {
  const sides = new Map();
  const out = new Map();
  events.forEach((e, i) => {
    if (e.event !== "packet" || e.protocol !== "tcp" || e.seq_abs == null) return;
    const syn = e.flags.includes("S");
    const fin = e.flags.includes("F");
    const span = e.payload_len + (syn ? 1 : 0) + (fin ? 1 : 0);
    const key = `${e.src}:${e.src_port}>${e.dst}:${e.dst_port}`;
    let side = sides.get(key);
    if (syn && (!side || side.isn !== e.seq_abs)) {
      side = { isn: e.seq_abs, hi: e.seq_abs };
      sides.set(key, side);
    }
    if (!side) {
      side = { isn: null, hi: e.seq_abs };
      sides.set(key, side);
    }
    const below = span > 0 && ahead(side.hi, e.seq_abs);
    const end0 = (e.seq_abs + span) % MOD;
    const whole = below && !ahead(end0, side.hi);
    // clear: a data (more than one byte: not a keep-alive or window probe),
    // SYN or FIN segment every byte of which was sent before
    out.set(i, { below, clear: whole && (e.payload_len > 1 || syn || fin), span, payload: e.payload_len, syn, fin });
    const end = (e.seq_abs + span) % MOD;
    if (ahead(end, side.hi)) side.hi = end;
  });
  return out;
}

/// Every host's open TCP sockets after each event in `at` (sorted), as
/// Map(host -> Map(socket -> {state, local, remote})).
function socketsAt(events, at) {
  const open = new Map();
  const out = new Map();
  let k = 0;
  for (let i = 0; i < events.length && k < at.length; i++) {
    const e = events[i];
    if (e.event === "tcp_state") {
      if (!open.has(e.host)) open.set(e.host, new Map());
      if (e.to === "CLOSED") open.get(e.host).delete(e.socket);
      else open.get(e.host).set(e.socket, { state: e.to, local: e.local, remote: e.remote });
    }
    while (k < at.length && at[k] === i) {
      out.set(i, new Map([...open].map(([h, m]) => [h, new Map(m)])));
      k++;
    }
  }
  return out;
}

/// The layer the filter checkboxes put an event in.
function layerOf(e) {
  switch (e.event) {
    case "packet":
      return "packet";
    case "socket_call":
      return "call";
    case "app":
      return "app";
    case "tcp_state":
      return "tcp";
    default:
      return null; // not checked: a page may put frames, faults, data losses where it likes
  }
}

const belongs = (e, host) => e.host === host || e.from === host || e.to === host;

const norm = (s) => (s ?? "").replace(/\s+/g, " ").trim();
// Numbers as digits only: "65,535" and "65 535" are 65535.
const digits = (s) => norm(s).replace(/(\d)[,\u202f\u00a0 ](?=\d{3}\b)/g, "$1");
const hex2 = (n) => n.toString(16).padStart(2, "0");
const hexIp = (ip) => ip.split(".").map((o) => hex2(Number(o))).join("");

// ---------------------------------------------------------------- reporting

let failures = 0;
let passes = 0;
const report = [];

class Checker {
  constructor(run, check) {
    this.run = run;
    this.check = check;
    this.failed = 0;
    this.ran = 0;
    this.started = Date.now();
  }
  /// Records one comparison; returns whether it held.
  eq(index, what, expected, shown) {
    this.ran++;
    const ok = typeof expected === "function" ? expected(shown) : String(shown) === String(expected);
    if (!ok) this.fail(index, what, typeof expected === "function" ? expected.description : expected, shown);
    return ok;
  }
  ok(index, what, cond, detail = "") {
    this.ran++;
    if (!cond) this.fail(index, what, null, detail);
    return cond;
  }
  fail(index, what, expected, shown) {
    this.failed++;
    if (this.failed <= 5) {
      const at = index == null ? "" : ` event ${index}`;
      const exp = expected == null ? "" : ` expected ${JSON.stringify(expected)},`;
      const sh = shown === undefined ? "" : ` shown ${JSON.stringify(shown)}`;
      console.log(`  FAIL ${this.run.name} ${this.check}${at}: ${what}:${exp}${sh}`);
    }
  }
  done() {
    if (this.failed > 5) console.log(`  ... and ${this.failed - 5} more ${this.check} failures in ${this.run.name}`);
    const line = `${this.failed ? "FAIL" : "ok  "} ${this.run.name} ${this.check} (${this.ran} checks${
      this.failed ? `, ${this.failed} failed` : ""
    }; ${((Date.now() - this.started) / 1000).toFixed(1)} s)`;
    console.log(line);
    report.push({ run: this.run.name, check: this.check, failed: this.failed, ran: this.ran });
    if (this.failed) failures++;
    else passes++;
  }
}

// ---------------------------------------------------------------- the page

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

async function openPage(run, hash = "", showListen = true) {
  const context = await browser.newContext({
    offline: true,
    viewport: { width: 1400, height: 900 },
    deviceScaleFactor: 1,
  });
  // Every event steppable, the arming of listening slots included (the
  // page hides those by default; checkDefaultView checks that).
  if (showListen) await context.addInitScript(() => { window.simnetViewerOptions = { listenSlots: true }; });
  const page = await context.newPage();
  const problems = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("file:") && url.split("#")[0] === pathToFileURL(resolve(run.html)).href) {
      return route.continue();
    }
    problems.push(`request: ${url}`);
    return route.abort();
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });
  page.on("requestfailed", (r) => {
    const url = r.url();
    if (!url.startsWith("file:")) problems.push(`request failed: ${url}`);
  });
  const url = pathToFileURL(resolve(run.html)).href + hash;
  const started = Date.now();
  await page.goto(url, { waitUntil: "load", timeout: 120_000 });
  let ready = true;
  try {
    await page.waitForFunction(() => window.simnetViewer && typeof window.simnetViewer.go === "function", null, {
      timeout: 5_000,
    });
  } catch {
    ready = false;
  }
  return { page, context, problems, ready, loadMs: Date.now() - started };
}

/// Two animation frames: whatever the viewer draws on the next frame is drawn.
const settle = (page) =>
  page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 0)))));

/// Waits (in the page, up to WAIT_MS) until the cursor is at i, then two
/// animation frames more; returns the index the page then reports.
function waitIndex(page, i, goFirst = false) {
  return page.evaluate(
    async ({ i, goFirst, wait }) => {
      const v = window.simnetViewer;
      if (goFirst) v.go(i);
      const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
      const until = performance.now() + wait;
      while (v.index() !== i && performance.now() < until) await frame();
      await frame();
      await frame();
      await new Promise((r) => setTimeout(r, 0));
      return v.index();
    },
    { i, goFirst, wait: WAIT_MS },
  );
}

const go = (page, i) => waitIndex(page, i, true);

const index = (page) => page.evaluate(() => window.simnetViewer.index());

/// Presses a key with focus on the page body (not in the search box).
async function press(page, key) {
  const before = await page.evaluate(() => {
    if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
    return window.simnetViewer.index();
  });
  await page.keyboard.press(key);
  return afterMove(page, before);
}

async function click(page, step) {
  const before = await index(page);
  const button = page.locator(`button[data-step="${step}"]`);
  if ((await button.count()) !== 1) return { missing: true };
  await button.click({ timeout: WAIT_MS });
  return afterMove(page, before);
}

/// The index once a step has been taken (or 400 ms have passed without
/// one: a step may stay where it is), two animation frames later.
function afterMove(page, before) {
  return page.evaluate(async (before) => {
    const v = window.simnetViewer;
    const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
    const until = performance.now() + 400;
    while (v.index() === before && performance.now() < until) await frame();
    await frame();
    await frame();
    return v.index();
  }, before);
}

/// Everything the cursor's panels show, in one round trip.
function readPanels(page) {
  return page.evaluate(() => {
    const text = (el) => (el ? el.textContent : null);
    const q = (s) => document.querySelector(s);
    const sockets = {};
    for (const table of document.querySelectorAll("#sockets table.sockets")) {
      const rows = {};
      for (const tr of table.querySelectorAll("tr[data-socket]")) {
        const cell = (c) => text(tr.querySelector(`td.${c}`));
        // Timers: a cell of the row, or a td.timers[data-socket=ID] of their own.
        const own = table.querySelector(`td.timers[data-socket="${tr.dataset.socket}"]`);
        rows[tr.dataset.socket] = {
          timersAnywhere: cell("timers") ?? text(own),
          state: cell("state"),
          local: cell("local"),
          remote: cell("remote"),
          sendq: cell("sendq"),
          recvq: cell("recvq"),
          window: cell("window"),
          timers: cell("timers"),
        };
      }
      sockets[table.dataset.host] = rows;
    }
    const field = (f) => text(document.querySelector(`#packet [data-field="${f}"]`));
    const packet = {};
    for (const f of ["frame", "flags", "seq", "ack", "window", "src", "dst", "ttl", "len"]) packet[f] = field(f);
    const arrows = [...document.querySelectorAll("#diagram svg g.arrow")];
    const current = [...document.querySelectorAll("#events .ev.current")];
    return {
      index: window.simnetViewer.index(),
      time: text(q("#time")),
      position: text(q("#position")),
      hash: location.hash,
      slider: q("#slider") ? { value: q("#slider").value, min: q("#slider").min, max: q("#slider").max } : null,
      sockets,
      packet,
      hex: text(q("#packet-hex")),
      decoded: text(q("#packet-decoded")),
      arrows: arrows.length,
      currentArrows: arrows.filter((a) => a.classList.contains("current")).map((a) => a.dataset.frame),
      currentRows: current.map((r) => ({ index: r.dataset.index, text: r.textContent })),
      evCount: document.querySelectorAll("#events .ev").length,
    };
  });
}

function arrowOf(page, frame) {
  return page.evaluate((f) => {
    const a = document.querySelector(`#diagram svg g.arrow[data-frame="${f}"]`);
    return a ? { lost: a.classList.contains("lost"), current: a.classList.contains("current") } : null;
  }, frame);
}

function rows(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll("#events .ev")].map((r) => ({ index: Number(r.dataset.index), text: r.textContent })),
  );
}

const positionText = (i, n) => `event ${i + 1} of ${n}`;

// ---------------------------------------------------------------- the checks

async function checkPage(run, { big = false } = {}) {
  const N = run.events.length;
  const opened = await openPage(run);
  const { page, problems } = opened;
  console.log(`${run.name}: ${N} events, page loaded in ${opened.loadMs} ms`);
  const load = new Checker(run, "load");
  load.ok(null, "window.simnetViewer appears", opened.ready, "no window.simnetViewer 5 s after load");
  if (!opened.ready) {
    load.done();
    const body = await page.evaluate(() => document.body.innerText.slice(0, 200));
    console.log(`  (the page's body reads ${JSON.stringify(body)}; its other checks are skipped)`);
    reportProblems(run, problems);
    await opened.context.close();
    return;
  }
  const data = await page.evaluate(() => window.simnetViewer.data);
  const lines = await page.evaluate(() => window.simnetViewer.data.events.map((e) => e[2]));
  load.eq(null, "simnetViewer.count", N, await page.evaluate(() => window.simnetViewer.count));
  load.eq(null, "simnetViewer.data.events.length", N, lines.length);
  load.eq(null, "simnetViewer.data.seed", run.header.seed, data.seed);
  const embedded = await page.evaluate(() => {
    const s = document.getElementById("simnet-data");
    return s ? s.getAttribute("type") : null;
  });
  load.eq(null, "<script id=simnet-data> type", "application/json", embedded);
  const first = await readPanels(page);
  load.eq(0, "index() on opening without a hash", 0, first.index);
  load.eq(0, "#position", positionText(0, N), digits(first.position));
  load.eq(0, "#time", run.events[0].t, norm(first.time));
  load.ok(0, "#slider is there", first.slider != null);
  if (first.slider) {
    load.eq(0, "#slider min", "0", first.slider.min);
    load.eq(0, "#slider max", String(N - 1), first.slider.max);
  }
  const mid = Math.floor(N / 2);
  await go(page, mid);
  let p = await readPanels(page);
  load.eq(mid, "index() after go()", mid, p.index);
  load.eq(mid, "location.hash after go()", `#e=${mid}`, p.hash);
  load.eq(mid, "#slider value after go()", String(mid), p.slider?.value);
  load.eq(mid, "#position after go()", positionText(mid, N), digits(p.position));
  load.eq(mid, "#time after go()", run.events[mid].t, norm(p.time));
  load.ok(
    mid,
    "one .ev.current row, the cursor's",
    p.currentRows.length === 1 && Number(p.currentRows[0].index) === mid,
    JSON.stringify(p.currentRows.map((r) => r.index)),
  );
  // The slider moves the cursor.
  const target = Math.max(0, Math.min(N - 1, Math.floor(N / 3)));
  await page.evaluate((v) => {
    const s = document.querySelector("#slider");
    if (!s) return;
    s.value = String(v);
    s.dispatchEvent(new Event("input", { bubbles: true }));
    s.dispatchEvent(new Event("change", { bubbles: true }));
  }, target);
  load.eq(target, "index() after moving #slider", target, await waitIndex(page, target));
  // #e=K opens at K.
  for (const k of [...new Set([Math.min(N - 1, 3), N - 1])]) {
    await page.goto("about:blank");
    await page.goto(pathToFileURL(resolve(run.html)).href + `#e=${k}`, { waitUntil: "load" });
    try {
      await page.waitForFunction(() => window.simnetViewer, null, { timeout: 20_000 });
    } catch {}
    const shown = await waitIndex(page, k);
    load.eq(k, `index() when opened at #e=${k}`, k, shown);
    p = await readPanels(page);
    load.eq(k, `#position when opened at #e=${k}`, positionText(k, N), digits(p.position));
  }
  load.done();

  await checkDefaultView(run);
  if (big) {
    await checkScale(run, page);
  } else {
    await checkStates(run, page);
    await checkPackets(run, page, lines);
    await checkList(run, page, lines);
    await checkKeys(run, page, data);
    await checkButtons(run, page, data);
    await checkFilters(run, page, data, lines);
    await checkSearch(run, page, lines);
    await checkExpectations(run, page, data);
  }
  reportProblems(run, problems);
  await opened.context.close();
}

/** The page as a reader first sees it: the arming and disarming of
 * listening slots (CLOSED <-> LISTEN) hidden, so → goes from listen() to
 * what follows it; ticking "listen slots" shows them again. */
async function checkDefaultView(run) {
  const c = new Checker(run, "default-view");
  const opened = await openPage(run, "", false);
  const { page } = opened;
  if (!opened.ready) {
    c.fail(null, "the page opens", null, "no window.simnetViewer");
    c.done();
    await opened.context.close();
    return;
  }
  const arming = (e) => e.event === "tcp_state" && ((e.from === "CLOSED" && e.to === "LISTEN") || (e.from === "LISTEN" && e.to === "CLOSED"));
  c.eq(null, "#show-listen unticked", false, await page.evaluate(() => document.querySelector("#show-listen")?.checked));
  const expected = run.events.findIndex((e, i) => i > 0 && !arming(e));
  await go(page, 0);
  if (expected > 0) c.eq(0, "ArrowRight from event 0 skips the listening slots' arming", expected, await press(page, "ArrowRight"));
  const shownArming = await page.evaluate(() => [...document.querySelectorAll("#events .ev")].filter((r) => / (CLOSED -> LISTEN|LISTEN -> CLOSED)/.test(r.textContent)).length);
  c.eq(0, "rows of arming shown", 0, shownArming);
  await page.evaluate(() => document.querySelector("#show-listen")?.click());
  await settle(page);
  await go(page, 0);
  c.eq(0, "ArrowRight from event 0 with listen slots shown", Math.min(1, run.events.length - 1), await press(page, "ArrowRight"));
  c.done();
  await opened.context.close();
}

function reportProblems(run, problems) {
  const c = new Checker(run, "errors");
  c.ran++;
  for (const pr of [...new Set(problems)]) c.fail(null, "no page error, console error or network request", null, pr);
  c.done();
}

// (a) socket tables at every tcp_state event.
async function checkStates(run, page, limit = SAMPLE) {
  const c = new Checker(run, "state");
  const cells = new Checker(run, "socket-cells");
  const timers = new Checker(run, "timers");
  const at = sample(where(run.events, (e) => e.event === "tcp_state"), limit);
  const truth = socketsAt(run.events, at);
  for (const i of at) {
    const e = run.events[i];
    const shown = await go(page, i);
    if (!c.eq(i, "index() after go()", i, shown)) continue;
    const p = await readPanels(page);
    c.eq(i, "#time", e.t, norm(p.time));
    c.eq(i, "#position", positionText(i, run.events.length), digits(p.position));
    const table = p.sockets[e.host];
    const row = table?.[String(e.socket)];
    if (e.to === "CLOSED") {
      c.ok(i, `${e.host} socket ${e.socket} has no row once CLOSED`, !row, row && `a row in ${norm(row.state)}`);
    } else {
      c.eq(i, `${e.host} socket ${e.socket} td.state`, e.to, row ? norm(row.state) : "(no row)");
      if (row) {
        const port = e.local.split(":")[1];
        c.ok(i, `${e.host} socket ${e.socket} td.local shows port ${port}`, norm(row.local).endsWith(`:${port}`), norm(row.local));
        if (e.remote) c.ok(i, `${e.host} socket ${e.socket} td.remote`, norm(row.remote).includes(e.remote), norm(row.remote));
        const missing = ["sendq", "recvq", "window"].filter((k) => row[k] == null);
        cells.ok(i, `${e.host} tr[data-socket=${e.socket}] has td.sendq, td.recvq, td.window`, !missing.length, `no ${missing.map((m) => "td." + m).join(", ")} in the row`);
        if (e.to === "TIME-WAIT")
          timers.ok(i, `${e.host} socket ${e.socket} in TIME-WAIT shows a TIME-WAIT timer (td.timers)`, /TIME-WAIT/.test(row.timersAnywhere ?? ""), row.timersAnywhere ?? "(no td.timers)");
      }
    }
    // Every host's table: the sockets the JSONL has open, each in its state.
    for (const [host, open] of truth.get(i)) {
      const shownRows = p.sockets[host] ?? {};
      for (const [sock, s] of open) {
        const r = shownRows[String(sock)];
        c.eq(i, `${host} socket ${sock} td.state (its last tcp_state)`, s.state, r ? norm(r.state) : "(no row)");
      }
      const known = new Set(run.events.filter((x) => x.event === "tcp_state" && x.host === host).map((x) => String(x.socket)));
      const stale = Object.keys(shownRows).filter((s) => known.has(s) && !open.has(Number(s)));
      c.ok(i, `${host}: no row for a CLOSED socket`, !stale.length, `rows for sockets ${stale.join(", ")}`);
    }
  }
  // The retransmission timer runs just before each retransmission.
  const rx = retransmissions(run.events);
  for (const j of sample([...rx].filter(([j, r]) => r.clear && !r.syn && run.events[j].socket != null).map(([j]) => j), 20)) {
    const e = run.events[j];
    if (!timers.eq(j - 1, "index() after go()", j - 1, await go(page, j - 1))) continue;
    const p = await readPanels(page);
    const row = p.sockets[e.from]?.[String(e.socket)];
    timers.ok(j - 1, `${e.from} socket ${e.socket} shows a retransmission timer before its retransmission at event ${j}`, /retransmi/i.test(row?.timersAnywhere ?? ""), row ? row.timersAnywhere ?? "(no td.timers)" : "(no row)");
  }
  c.done();
  cells.done();
  timers.done();
}

// (b) the packet pane, the hex dump, the decoded pane, the diagram.
async function checkPackets(run, page, lines, limit = SAMPLE) {
  const c = new Checker(run, "packet");
  const events = run.events;
  const packets = where(events, (e) => e.event === "packet");
  const dropped = new Set(events.filter((e) => e.event === "frame_dropped").map((e) => e.frame));
  const decoded = await page.evaluate(() =>
    Object.fromEntries(
      window.simnetViewer.data.events.flatMap((e, i) => (e[1] === "p" ? [[i, e[e.length - 1]]] : [])),
    ),
  );
  for (const i of sample(packets, limit)) {
    const e = events[i];
    if (!c.eq(i, "index() after go()", i, await go(page, i))) continue;
    const p = await readPanels(page);
    const f = p.packet;
    const num = (v) => (v == null ? "(none)" : digits(v));
    c.eq(i, "[data-field=frame]", String(e.frame), (f.frame ?? "").match(/\d+/)?.[0] ?? num(f.frame));
    c.eq(i, "[data-field=flags]", e.flags, norm(f.flags));
    if (e.seq != null) c.eq(i, "[data-field=seq]", String(e.seq), num(f.seq));
    if (e.ack != null) c.eq(i, "[data-field=ack]", String(e.ack), num(f.ack));
    else {
      const none = (s) => s == null || !/\d/.test(s);
      none.description = "no number (the packet has no ACK)";
      c.eq(i, "[data-field=ack]", none, f.ack);
    }
    if (e.window != null) c.eq(i, "[data-field=window]", String(e.window), num(f.window));
    c.eq(i, "[data-field=len]", String(e.ip_len), num(f.len));
    c.eq(i, "[data-field=ttl]", String(e.ttl), num(f.ttl));
    if (e.src_port != null) {
      c.eq(i, "[data-field=src]", `${e.src}:${e.src_port}`, norm(f.src));
      c.eq(i, "[data-field=dst]", `${e.dst}:${e.dst_port}`, norm(f.dst));
    }
    const hex = (p.hex ?? "").replace(/\s+/g, "").toLowerCase();
    const start = `45${"00"}${hex2(e.ip_len >> 8)}${hex2(e.ip_len & 255)}`;
    c.ok(i, `#packet-hex holds the IP header's first bytes ${start}`, hex.includes(start), (p.hex ?? "").slice(0, 60));
    c.ok(i, `#packet-hex holds the source address ${hexIp(e.src)}`, hex.includes(hexIp(e.src)), (p.hex ?? "").slice(0, 120));
    for (const d of decoded[i] ?? []) {
      c.ok(i, `#packet-decoded shows ${JSON.stringify(d)}`, norm(p.decoded).includes(norm(d)), norm(p.decoded).slice(0, 120));
    }
    const a = await arrowOf(page, e.frame);
    if (c.ok(i, `#diagram svg g.arrow[data-frame=${e.frame}] exists`, a != null)) {
      c.ok(i, `the arrow of frame ${e.frame} is .current`, a.current);
      c.eq(i, `the arrow of frame ${e.frame} is .lost`, dropped.has(e.frame), a.lost);
    }
    c.ok(
      i,
      "exactly one .current arrow, the packet's",
      p.currentArrows.length === 1 && p.currentArrows[0] === String(e.frame),
      p.currentArrows.join(","),
    );
  }
  // Events that are not packets: their own frame, or the latest packet.
  let latest = null;
  const expected = new Map();
  events.forEach((e, i) => {
    if (e.event === "packet") latest = e.frame;
    else expected.set(i, e.frame ?? latest);
  });
  for (const i of sample([...expected.keys()].filter((i) => expected.get(i) != null), Math.floor(limit / 2))) {
    if (!c.eq(i, "index() after go()", i, await go(page, i))) continue;
    const p = await readPanels(page);
    const frame = expected.get(i);
    c.eq(i, `[data-field=frame] at a ${events[i].event}`, String(frame), (p.packet.frame ?? "").match(/\d+/)?.[0] ?? "(none)");
  }
  // Every dropped frame's arrow is .lost.
  for (const i of sample(where(events, (e) => e.event === "frame_dropped"), limit)) {
    await go(page, i);
    const a = await arrowOf(page, events[i].frame);
    c.ok(i, `the arrow of dropped frame ${events[i].frame} exists and is .lost`, a?.lost === true, JSON.stringify(a));
  }
  c.done();
}

// The event list at the cursor.
async function checkList(run, page, lines) {
  const c = new Checker(run, "list");
  for (const i of sample([...run.events.keys()], 40)) {
    await go(page, i);
    const p = await readPanels(page);
    const what = lines[i] == null ? `the .ev.current rows' data-index (at a ${run.events[i].event} ${run.events[i].kind ?? ""} event, whose line is null)` : "the .ev.current rows' data-index";
    if (!c.eq(i, what, String(i), p.currentRows.map((r) => r.index).join(","))) continue;
    if (lines[i]) c.ok(i, "the current row's text holds the event's line", norm(p.currentRows[0].text).includes(norm(lines[i])), norm(p.currentRows[0].text));
    c.ok(i, "at most 500 .ev rows", p.evCount <= 500, p.evCount);
  }
  c.done();
}

/// Steps with `step` from `from` while the expectation list lasts; each step
/// must land on the next one; reports the first miss and stops.
async function walk(c, page, from, step, expected, what) {
  await go(page, from);
  let at = from;
  const forward = expected.length === 0 || expected[0] > from;
  for (const want of expected.filter((i) => (forward ? i > from : i < from))) {
    const got = await step();
    if (!c.eq(at, `${what} from event ${at}`, want, got)) return;
    at = got;
  }
}

// (c) the keyboard.
async function checkKeys(run, page, data) {
  const c = new Checker(run, "keys");
  const events = run.events;
  const N = events.length;
  const hashNow = () => page.evaluate(() => location.hash);
  await go(page, 0);
  const k = Math.min(7, N - 1);
  let got = 0;
  for (let n = 0; n < k; n++) got = await press(page, "ArrowRight");
  c.eq(0, `ArrowRight ${k} times from event 0`, k, got);
  c.eq(k, "location.hash after the keys", `#e=${k}`, await hashNow());
  got = await press(page, "ArrowLeft");
  c.eq(k, "ArrowLeft", k - 1, got);
  got = await press(page, "End");
  c.eq(k - 1, "End", N - 1, got);
  c.eq(N - 1, "location.hash after End", `#e=${N - 1}`, await hashNow());
  got = await press(page, "Home");
  c.eq(N - 1, "Home", 0, got);

  const packets = where(events, (e) => e.event === "packet");
  await walk(c, page, 0, () => press(page, "Shift+ArrowRight"), packets.filter((i) => i > 0).slice(0, 60), "Shift+ArrowRight (next packet)");
  const back = packets.filter((i) => i < N - 1).reverse().slice(0, 30);
  await walk(c, page, N - 1, () => press(page, "Shift+ArrowLeft"), back, "Shift+ArrowLeft (previous packet)");
  // Arming or disarming a listening slot (CLOSED <-> LISTEN) is bookkeeping
  // of listen(), as the text timeline treats it: `s` skips it.
  const stateChanges = where(events, isStateChange);
  const states = stateChanges.slice(1, 81);
  await walk(c, page, stateChanges[0] ?? 0, () => press(page, "s"), states, "s (next state change)");
  const drops = where(events, (e) => e.event === "frame_dropped");
  if (drops.length) await walk(c, page, 0, () => press(page, "l"), drops.slice(0, 60), "l (next frame_dropped)");

  // r: a packet whose sequence range its side had already sent. Keep-alives
  // and window probes also re-send a byte; the page may or may not stop at
  // them, but it must stop at every data, SYN or FIN retransmission.
  const rx = retransmissions(events);
  const below = [...rx].filter(([, r]) => r.below).map(([i]) => i);
  const clear = [...rx].filter(([, r]) => r.clear).map(([i]) => i);
  if (below.length) {
    await go(page, 0);
    let at = 0;
    for (let n = 0; n < 60; n++) {
      const mustReach = clear.find((i) => i > at);
      const got = await press(page, "r");
      if (got === at) {
        c.ok(at, "r (next retransmission) stays only when none is left", mustReach == null, `stayed; the JSONL retransmits at event ${mustReach}`);
        break;
      }
      const r = rx.get(got);
      if (!c.ok(at, "r lands on a packet whose sequence range was already sent (JSONL seq_abs)", r?.below === true, `event ${got}: ${events[got].event} ${events[got].flags ?? ""} seq=${events[got].seq}`)) break;
      if (!c.ok(at, "r skips no retransmission", mustReach == null || got <= mustReach, `landed on ${got}, past the retransmission at ${mustReach}`)) break;
      at = got;
    }
  } else {
    await go(page, 0);
    c.eq(0, "r with no retransmission in the run (stays)", 0, await press(page, "r"));
  }

  // f: to the time of the next failed expectation.
  const failedAt = data.expectations.filter((x) => !x.passed && x.at_ns != null).map((x) => x.at_ns).sort((a, b) => a - b);
  if (failedAt.length) {
    await go(page, 0);
    const got = await press(page, "f");
    c.ok(0, `f lands at the failed expectation's time (${failedAt[0]} ns)`, near(events, got, failedAt[0]), `event ${got} at ${events[got]?.t_ns} ns`);
  }

  await go(page, 0);
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.keyboard.press("/");
  await settle(page);
  c.eq(0, "/ focuses", "search", await page.evaluate(() => document.activeElement && document.activeElement.id));
  const typed = await page.evaluate(() => document.querySelector("#search")?.value);
  c.eq(0, "/ is not typed into the search box", "", typed ?? "");
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  c.done();
}

/// Whether the cursor at event i sits at time t: t lies between the times
/// of its neighbours.
function near(events, i, t) {
  if (i == null || i < 0 || i >= events.length) return false;
  const lo = i > 0 ? events[i - 1].t_ns : -Infinity;
  const hi = i + 1 < events.length ? events[i + 1].t_ns : Infinity;
  return lo <= t && t <= hi;
}

async function checkButtons(run, page, data) {
  const c = new Checker(run, "buttons");
  const events = run.events;
  const N = events.length;
  const next = (from, pred) => events.findIndex((e, i) => i > from && pred(e, i));
  const prev = (from, pred) => {
    for (let i = from - 1; i >= 0; i--) if (pred(events[i], i)) return i;
    return -1;
  };
  const rx = retransmissions(events);
  const from = Math.floor(N / 4);
  const cases = [
    ["first", from, 0],
    ["last", from, N - 1],
    ["next", from, from + 1],
    ["prev", from, from - 1],
    ["next-packet", from, next(from, (e) => e.event === "packet")],
    ["prev-packet", from, prev(from, (e) => e.event === "packet")],
    ["next-state", from, next(from, isStateChange)],
    ["next-loss", 0, next(0, (e) => e.event === "frame_dropped")],
    ["next-retransmission", 0, 0],
    ["next-failed", 0, null],
  ];
  const failedAt = data.expectations.filter((x) => !x.passed && x.at_ns != null).map((x) => x.at_ns).sort((a, b) => a - b);
  for (const [step, start, want] of cases) {
    await go(page, start);
    const got = await click(page, step);
    if (got?.missing) {
      c.ok(start, `button[data-step=${step}] exists (once)`, false);
      continue;
    }
    if (step === "next-failed" && failedAt.length) {
      c.ok(start, `${step} lands at the failed expectation's time (${failedAt[0]} ns)`, near(events, got, failedAt[0]), `event ${got} at ${events[got]?.t_ns} ns`);
    } else if (want == null || want < 0) {
      c.ran++; // nothing to go to: any answer but a page error is fine
    } else if (step === "next-retransmission") {
      const mustReach = [...rx].find(([i, r]) => i > start && r.clear)?.[0];
      if (got === start) c.ok(start, `${step} stays only when no retransmission is left`, mustReach == null, `stayed; the JSONL retransmits at event ${mustReach}`);
      else c.ok(start, `${step} lands on a retransmission, skipping none`, rx.get(got)?.below === true && (mustReach == null || got <= mustReach), `event ${got}; the first clear one is ${mustReach}`);
    } else {
      c.eq(start, `button[data-step=${step}] from event ${start}`, want, got);
    }
  }
  c.done();
}

async function setFilter(page, selector, value) {
  const el = page.locator(selector);
  if ((await el.count()) !== 1) return false;
  await el.selectOption(value, { timeout: WAIT_MS });
  await settle(page);
  await page.waitForTimeout(50);
  await settle(page);
  return true;
}

async function setLayers(page, keep) {
  await page.evaluate((keep) => {
    for (const box of document.querySelectorAll("input.layer")) {
      const want = keep == null || keep.includes(box.value);
      if (box.checked !== want) box.click();
    }
  }, keep);
  await settle(page);
  await page.waitForTimeout(50);
  await settle(page);
}

// (d) filters.
async function checkFilters(run, page, data, lines) {
  const c = new Checker(run, "filter");
  const events = run.events;
  const N = events.length;
  const hostOf = (i) => {
    const w = (lines[i] ?? "").trim().split(/\s+/)[0];
    return run.hosts.includes(w) ? w : null;
  };
  const options = await page.evaluate(() =>
    [...document.querySelectorAll("select#filter-host option")].map((o) => o.value),
  );
  c.ok(null, "select#filter-host offers all and every host", ["", ...run.hosts].every((h) => options.includes(h)), JSON.stringify(options));
  // The host with the fewest events of its own, and the first host.
  const counts = run.hosts.map((h) => [h, events.filter((e) => belongs(e, h)).length]).filter(([, n]) => n > 0);
  counts.sort((a, b) => a[1] - b[1]);
  const hosts = [...new Set([counts[0]?.[0], run.hosts[0]].filter(Boolean))];
  for (const host of hosts) {
    await go(page, 0);
    if (!c.ok(null, "select#filter-host is there", await setFilter(page, "select#filter-host", host))) break;
    const mine = where(events, (e) => belongs(e, host));
    const owned = where(events, (_, i) => hostOf(i) === host);
    await go(page, mine[0]);
    const check = async (at) => {
      const shown = await rows(page);
      c.ok(at, `rows are shown with #filter-host=${host}`, shown.length > 0, "no .ev rows");
      const foreign = shown.filter((r) => !belongs(events[r.index] ?? {}, host));
      c.ok(
        at,
        `every row with #filter-host=${host} is an event of ${host} (JSONL host/from/to)`,
        !foreign.length,
        foreign.slice(0, 3).map((r) => `${r.index}: ${norm(r.text).slice(0, 70)}`).join(" | "),
      );
    };
    await check(mine[0]);
    // Next and previous, with keys and buttons.
    let at = await index(page);
    for (let n = 0; n < 25 && at < N - 1; n++) {
      const got = n % 5 === 4 ? await click(page, "next") : await press(page, "ArrowRight");
      const limit = owned.find((i) => i > at);
      if (got === at && limit == null) break;
      const ok =
        got > at && belongs(events[got], host) && (limit == null || got <= limit);
      if (!c.ok(at, `next with #filter-host=${host} lands on the next event of ${host}`, ok, `event ${got} (${events[got]?.event} ${JSON.stringify(norm(lines[got]).slice(0, 60))}); the next owned by ${host} is ${limit}`)) break;
      if (got === at) break;
      at = got;
    }
    await check(at);
    const mid = mine[Math.floor(mine.length / 2)];
    await go(page, mid);
    at = mid;
    for (let n = 0; n < 25 && at > 0; n++) {
      const got = n % 5 === 4 ? await click(page, "prev") : await press(page, "ArrowLeft");
      let limit = null;
      for (let i = at - 1; i >= 0; i--) if (hostOf(i) === host) { limit = i; break; }
      if (limit == null && got === at) break;
      const ok = got < at && belongs(events[got], host) && (limit == null || got >= limit);
      if (!c.ok(at, `prev with #filter-host=${host} lands on the previous event of ${host}`, ok, `event ${got} (${events[got]?.event}); the previous owned by ${host} is ${limit}`)) break;
      at = got;
    }
    await check(at);
  }
  await setFilter(page, "select#filter-host", "");

  // One connection.
  if (data.connections.length) {
    const conn = data.connections[0];
    const ends = [conn.client, conn.server];
    await go(page, 0);
    if (c.ok(null, "select#filter-connection is there", await setFilter(page, "select#filter-connection", String(conn.number)))) {
      const shown = await rows(page);
      c.ok(null, `rows are shown with #filter-connection=${conn.number}`, shown.length > 0, "no .ev rows");
      const wrong = shown.filter((r) => {
        const e = events[r.index];
        if (!e) return true;
        if (e.event === "packet" && e.src_port != null)
          return !(ends.includes(`${e.src}:${e.src_port}`) && ends.includes(`${e.dst}:${e.dst_port}`));
        if (e.event === "tcp_state") return !ends.includes(e.local) || (e.remote != null && !ends.includes(e.remote));
        return false;
      });
      c.ok(null, `every packet and tcp_state row with #filter-connection=${conn.number} is ${conn.client} <> ${conn.server}`, !wrong.length, wrong.slice(0, 3).map((r) => `${r.index}: ${norm(r.text).slice(0, 70)}`).join(" | "));
      await setFilter(page, "select#filter-connection", "");
    }
  }

  // One layer alone.
  const boxes = await page.evaluate(() => [...document.querySelectorAll("input.layer")].map((b) => b.value));
  c.ok(null, "input.layer for packet, link, tcp, call, app, run", LAYERS.every((l) => boxes.includes(l)), JSON.stringify(boxes));
  for (const layer of ["packet", "call"]) {
    if (!boxes.includes(layer)) continue;
    await go(page, 0);
    await setLayers(page, [layer]);
    const shown = await rows(page);
    c.ok(null, `rows are shown with only the ${layer} layer`, shown.length > 0, "no .ev rows");
    const wrong = shown.filter((r) => layerOf(events[r.index] ?? {}) !== layer);
    c.ok(null, `every row with only the ${layer} layer is a ${layer} event`, !wrong.length, wrong.slice(0, 3).map((r) => `${r.index}: ${events[r.index]?.event}`).join(" | "));
    const firstOf = where(events, (e) => layerOf(e) === layer);
    if (firstOf.length > 1) {
      await go(page, firstOf[0]);
      c.eq(firstOf[0], `next with only the ${layer} layer`, firstOf[1], await press(page, "ArrowRight"));
    }
  }
  await setLayers(page, null);
  c.done();
}

// (e) search.
async function checkSearch(run, page, lines) {
  const c = new Checker(run, "search");
  const word = ["FIN", "GET", "ping", "ClientHello", "SYN-RECEIVED"].find((w) =>
    lines.some((l) => (l ?? "").toLowerCase().includes(w.toLowerCase())),
  );
  if (!c.ok(null, "a word to search for", word != null)) return c.done();
  // Typed in the other case: the search ignores case.
  const typed = word === word.toUpperCase() ? word.toLowerCase() : word.toUpperCase();
  const box = page.locator("input#search");
  if (!c.ok(null, "input#search is there", (await box.count()) === 1)) return c.done();
  await go(page, 0);
  await box.fill(typed);
  const matches = (t) => (t ?? "").toLowerCase().includes(word.toLowerCase());
  try {
    await page.waitForFunction(
      (w) => {
        const r = [...document.querySelectorAll("#events .ev")];
        return r.length > 0 && r.every((x) => x.textContent.toLowerCase().includes(w));
      },
      word.toLowerCase(),
      { timeout: WAIT_MS },
    );
  } catch {}
  const shown = await rows(page);
  const hits = where(lines, (l) => matches(l));
  c.ok(null, `rows are shown when searching ${JSON.stringify(typed)}`, shown.length > 0, "no .ev rows");
  const wrong = shown.filter((r) => !matches(r.text));
  c.ok(null, `every row contains ${JSON.stringify(word)} (searched as ${JSON.stringify(typed)})`, !wrong.length, wrong.slice(0, 3).map((r) => `${r.index}: ${norm(r.text).slice(0, 70)}`).join(" | "));
  c.ok(null, `the rows are the events whose line contains ${JSON.stringify(word)}`, shown.every((r) => hits.includes(r.index)) && shown.length >= Math.min(hits.length, 20), `${shown.length} rows, ${hits.length} matching lines`);
  if (hits.length > 1) {
    await go(page, hits[0]);
    c.eq(hits[0], `ArrowRight while searching ${JSON.stringify(typed)}`, hits[1], await press(page, "ArrowRight"));
    c.eq(hits[1], `ArrowLeft while searching ${JSON.stringify(typed)}`, hits[0], await press(page, "ArrowLeft"));
  }
  await box.fill("");
  await settle(page);
  c.done();
}

async function checkExpectations(run, page, data) {
  const c = new Checker(run, "expect");
  const items = await page.evaluate(() =>
    [...document.querySelectorAll("#expectations li.expectation")].map((li) => ({
      passed: li.classList.contains("passed"),
      failed: li.classList.contains("failed"),
      at: li.getAttribute("data-at-ns"),
      text: li.textContent,
    })),
  );
  c.eq(null, "#expectations li.expectation count", data.expectations.length, items.length);
  data.expectations.forEach((x, k) => {
    const li = items[k];
    if (!li) return;
    c.ok(null, `expectation ${k + 1} is .${x.passed ? "passed" : "failed"}`, li.passed === x.passed && li.failed === !x.passed, `passed=${li.passed} failed=${li.failed}`);
    if (x.at_ns != null) c.eq(null, `expectation ${k + 1} data-at-ns`, String(x.at_ns), li.at);
    c.ok(null, `expectation ${k + 1} shows its label`, norm(li.text).includes(norm(x.label)), norm(li.text).slice(0, 80));
  });
  for (const [k, x] of data.expectations.entries()) {
    if (x.at_ns == null || !items[k]) continue;
    await go(page, x.passed ? run.events.length - 1 : 0);
    await page.locator("#expectations li.expectation").nth(k).click({ timeout: WAIT_MS });
    await settle(page);
    const got = await index(page);
    c.ok(got, `clicking expectation ${k + 1} moves the cursor to ${x.at_ns} ns`, near(run.events, got, x.at_ns), `event ${got} at ${run.events[got]?.t_ns} ns`);
  }
  c.done();
}

// (f) scale.
async function checkScale(run, page) {
  const c = new Checker(run, "scale");
  const N = run.events.length;
  const ratio = run.htmlSize / run.jsonlSize;
  console.log(
    `  ${run.name}: ${N} events; HTML ${run.htmlSize} bytes, JSONL ${run.jsonlSize} bytes, ratio ${ratio.toFixed(3)}`,
  );
  c.ok(null, "at least 100,000 events", N >= 100_000, N);
  c.ok(null, "the HTML is at most twice the JSONL's size", ratio <= 2, ratio.toFixed(3));
  const evs = () => page.evaluate(() => document.querySelectorAll(".ev").length);
  c.ok(0, ".ev nodes at the start under 500", (await evs()) < 500, await evs());
  for (const i of [Math.floor(N / 2), N - 1]) {
    const t0 = Date.now();
    const got = await go(page, i);
    console.log(`  ${run.name}: go(${i}) took ${Date.now() - t0} ms`);
    c.eq(i, "index() after go()", i, got);
    const p = await readPanels(page);
    c.ok(i, ".ev nodes under 500", p.evCount < 500, p.evCount);
    c.eq(i, "#time", run.events[i].t, norm(p.time));
    c.eq(i, "#position", positionText(i, N), digits(p.position));
  }
  await go(page, Math.floor(N / 2));
  const start = await index(page);
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  const t0 = Date.now();
  for (let n = 1; n <= 50; n++) {
    await page.keyboard.press("ArrowRight");
    try {
      await page.waitForFunction((w) => window.simnetViewer.index() === w, start + n, { timeout: 10_000 });
    } catch {}
  }
  await settle(page);
  const ms = Date.now() - t0;
  c.eq(start, "50 ArrowRight steps", start + 50, await index(page));
  console.log(`  ${run.name}: 50 ArrowRight steps took ${ms} ms, ${(ms / 50).toFixed(1)} ms a step`);
  c.ok(start + 50, ".ev nodes under 500 after stepping", (await evs()) < 500, await evs());
  c.done();
  await checkStates(run, page, 20);
  await checkPackets(run, page, await page.evaluate(() => window.simnetViewer.data.events.map((e) => e[2])), 20);
}

// (g) the screenshot.
async function takeScreenshot(run, file) {
  // The server's SYN-ACK: the event after its socket went SYN-RECEIVED.
  const i = run.events.findIndex((e) => e.event === "packet" && e.from === "server" && e.flags === "S.");
  const opened = await openPage(run, `#e=${i}`, false);
  const c = new Checker(run, "screenshot");
  if (c.ok(i, "the viewer is there", opened.ready)) {
    c.eq(i, "index() when opened at the server's SYN-ACK", i, await waitIndex(opened.page, i));
    mkdirSync(dirname(file), { recursive: true });
    await opened.page.screenshot({ path: file, fullPage: false });
    console.log(`  saved ${file} (1400x900, event ${i})`);
  }
  c.done();
  await opened.context.close();
}

// ---------------------------------------------------------------- main

const names = readdirSync(dir)
  .filter((f) => f.endsWith(".html") && existsSync(join(dir, f.replace(/\.html$/, ".jsonl"))))
  .map((f) => f.replace(/\.html$/, ""))
  .filter((n) => !only || n === only)
  .sort();
if (!names.length) {
  console.error(`html-check: no X.html with its X.jsonl in ${dir}`);
  process.exit(2);
}
if (bigName && !names.includes(bigName) && !only) {
  console.error(`html-check: --big ${bigName}: no ${bigName}.html in ${dir}`);
  process.exit(2);
}
for (const name of names) {
  const run = loadRun(name);
  await checkPage(run, { big: name === bigName });
}
if (screenshot) {
  const name = names.find((n) => n.endsWith("three-way-handshake"));
  if (name) await takeScreenshot(loadRun(name), screenshot);
  else {
    console.log("FAIL --screenshot: no three-way-handshake page");
    failures++;
  }
}
const version = browser.version();
await browser.close();
console.log(`Chromium ${version}`);
console.log(`html-check: ${passes} check groups passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
