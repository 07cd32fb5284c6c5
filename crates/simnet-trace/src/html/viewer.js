// simnet's run viewer: step through one run, event by event.
//
// Everything is computed here from the JSON the page embeds (see
// crates/simnet-trace/src/html/data.rs for its layout): one pass over the
// events builds, per frame, its fate; per socket, the history of what the
// trace shows of it (state, queues, windows) and its timers; and the lists
// the step buttons jump along. After that, moving the cursor only looks
// things up (binary searches), and the panels draw only what is visible, so
// a run of 100,000+ events stays responsive.
//
// The page's contract with its browser tests (tools/html-check) is written
// in the book's "Stepping through a run in the browser" page: element ids,
// data attributes, keys and the #e=N hash.
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("simnet-data").textContent);
  const EV = D.events;
  const N = EV.length;
  const HOSTS = D.hosts;

  // ---- small helpers -------------------------------------------------
  const $ = (sel, root) => (root || document).querySelector(sel);
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    if (attrs) for (const k in attrs) {
      if (k === "class") e.className = attrs[k];
      else if (k === "text") e.textContent = attrs[k];
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), attrs[k]);
      else e.setAttribute(k, attrs[k]);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  }
  const SVG = "http://www.w3.org/2000/svg";
  function sv(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }
  // The trace's own time format: milliseconds with three decimals.
  function fmtTime(ns) {
    const us = Math.floor(ns / 1000);
    return Math.floor(us / 1000) + "." + String(us % 1000).padStart(3, "0") + "ms";
  }
  // The index of the last element of a sorted array <= x, or -1.
  function lastAtOrBefore(arr, x) {
    let lo = 0, hi = arr.length - 1, r = -1;
    while (lo <= hi) {
      const m = (lo + hi) >> 1;
      if (arr[m] <= x) { r = m; lo = m + 1; } else hi = m - 1;
    }
    return r;
  }
  function firstAfter(arr, x) {
    const k = lastAtOrBefore(arr, x) + 1;
    return k < arr.length ? arr[k] : -1;
  }
  function b64bytes(s) {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  const hostName = (h) => (h >= 0 && h < HOSTS.length ? HOSTS[h].name : "?");

  // ---- decoding a captured packet ----------------------------------------
  const FLAG_BITS = [[0x02, "S", "SYN"], [0x01, "F", "FIN"], [0x04, "R", "RST"], [0x08, "P", "PSH"], [0x20, "U", "URG"], [0x10, ".", "ACK"]];
  function flagString(f) {
    let s = "";
    for (const [bit, c] of FLAG_BITS) if (f & bit) s += c;
    return s || "none";
  }
  function flagWords(f) {
    return FLAG_BITS.filter(([bit]) => f & bit).map(([, , w]) => w).join(", ");
  }
  const ip4 = (b, i) => b[i] + "." + b[i + 1] + "." + b[i + 2] + "." + b[i + 3];
  const be16 = (b, i) => (b[i] << 8) | b[i + 1];
  const be32 = (b, i) => ((b[i] << 24) >>> 0) + (b[i + 1] << 16) + (b[i + 2] << 8) + b[i + 3];
  // IPv4 + TCP/UDP/ICMP header fields from the captured bytes.
  function decode(bytes, wireLen) {
    const p = { ok: false };
    if (bytes.length < 20 || bytes[0] >> 4 !== 4) return p;
    const ihl = (bytes[0] & 15) * 4;
    p.ok = true;
    p.ihl = ihl; p.tos = bytes[1]; p.total = be16(bytes, 2); p.id = be16(bytes, 4);
    p.fragFlags = bytes[6] >> 5; p.fragOffset = be16(bytes, 6) & 0x1fff;
    p.ttl = bytes[8]; p.proto = bytes[9]; p.ipsum = be16(bytes, 10);
    p.src = ip4(bytes, 12); p.dst = ip4(bytes, 16);
    const t = ihl;
    if (p.proto === 6 && bytes.length >= t + 20) {
      const off = (bytes[t + 12] >> 4) * 4;
      p.tcp = {
        sport: be16(bytes, t), dport: be16(bytes, t + 2), seq: be32(bytes, t + 4), ack: be32(bytes, t + 8),
        hlen: off, flags: bytes[t + 13] & 0x3f, window: be16(bytes, t + 14), sum: be16(bytes, t + 16), urg: be16(bytes, t + 18),
        options: tcpOptions(bytes.subarray(t + 20, Math.min(t + off, bytes.length))),
      };
      p.payloadOffset = t + off;
      p.payloadLen = p.total - ihl - off;
    } else if (p.proto === 17 && bytes.length >= t + 8) {
      p.udp = { sport: be16(bytes, t), dport: be16(bytes, t + 2), len: be16(bytes, t + 4), sum: be16(bytes, t + 6) };
      p.payloadOffset = t + 8;
      p.payloadLen = p.total - ihl - 8;
    } else if (p.proto === 1 && bytes.length >= t + 2) {
      p.icmp = { type: bytes[t], code: bytes[t + 1] };
      p.payloadOffset = t + 4;
      p.payloadLen = Math.max(0, p.total - ihl - 4);
    } else {
      p.payloadOffset = t;
      p.payloadLen = p.total - ihl;
    }
    p.wireLen = wireLen;
    return p;
  }
  function tcpOptions(o) {
    const out = [];
    for (let i = 0; i < o.length;) {
      const kind = o[i];
      if (kind === 0) { out.push("End of option list"); break; }
      if (kind === 1) { out.push("No-Operation"); i++; continue; }
      const len = o[i + 1];
      if (!len || len < 2 || i + len > o.length) { out.push("malformed option " + kind); break; }
      const v = o.subarray(i + 2, i + len);
      if (kind === 2 && len === 4) out.push("Maximum segment size: " + be16(v, 0));
      else if (kind === 3 && len === 3) out.push("Window scale: " + v[0] + " (multiply by " + (1 << v[0]) + ")");
      else if (kind === 4) out.push("SACK permitted");
      else if (kind === 5) {
        const blocks = [];
        for (let k = 0; k + 8 <= v.length; k += 8) blocks.push(be32(v, k) + "-" + be32(v, k + 4));
        out.push("SACK: " + blocks.join(" "));
      } else if (kind === 8 && len === 10) out.push("Timestamps: TSval " + be32(v, 0) + ", TSecr " + be32(v, 4));
      else out.push("option " + kind + " (" + len + " bytes)");
      i += len;
    }
    return out;
  }

  // Key log lines (TLS secrets for tools, `--keylog`) have no timeline line:
  // they keep a row of their own, so that every event of the JSON Lines has
  // one, and stay out of the diagram and the application events.
  const secret = new Set();
  for (let i = 0; i < N; i++) {
    const e = EV[i];
    if (e[2] == null) {
      secret.add(i);
      e[2] = (HOSTS[e[3]] ? HOSTS[e[3]].name : "*") + "  app  (a TLS key log line: a secret for tools, written by --keylog; not shown)";
    }
  }

  // ---- one pass over the run ---------------------------------------------
  // Event fields (see data.rs): [t, code, line, ...].
  const LAYER = { p: "packet", w: "packet", n: "link", m: "link", g: "link", d: "link", x: "link", q: "link", y: "link", u: "link", c: "link", z: "link", f: "link", s: "tcp", l: "tcp", k: "call", a: "app", t: "run", e: "run" };
  const hostOf = new Int32Array(N).fill(-1); // the host the event happens at
  const connOf = new Int32Array(N); // the connection number, 0 for none
  const frames = new Map(); // frame -> {send, end, endKind, reason, from, to, conn}
  const packetIdx = [], stateIdx = [], retransIdx = [], lossIdx = [];
  const sockets = new Map(); // "host/id" -> socket record
  const byTuple = new Map(); // "host|local|remote" -> socket key
  const hostSockets = HOSTS.map(() => []);
  const tagOf = new Map(); // event index -> analysis tag of a packet
  const decoded = new Map(); // event index -> decoded header, cached

  function socketRec(host, id) {
    const key = host + "/" + id;
    let s = sockets.get(key);
    if (!s) {
      s = {
        key, host, id, hist: [], histIdx: [], timers: { rto: [], persist: [], delack: [], timewait: [] },
        m: { state: "CLOSED", local: "", remote: "", conn: 0, written: 0, read: 0, sndNxt: 0, sndUna: 0, ourAck: 0,
          rcvSeen: 0, peerFinEnd: -1, ourFinEnd: -1, ourWnd: null, peerWnd: null, layered: false, udp: false },
      };
      sockets.set(key, s);
      hostSockets[host].push(s);
    }
    return s;
  }
  function openTimer(s, kind, i, extra) {
    const list = s.timers[kind];
    const last = list[list.length - 1];
    if (last && last.end === Infinity) return last;
    const t = Object.assign({ start: i, end: Infinity, fires: [] }, extra || {});
    list.push(t);
    return t;
  }
  function closeTimer(s, kind, i) {
    const list = s.timers[kind];
    const last = list[list.length - 1];
    if (last && last.end === Infinity) last.end = i;
  }
  function running(s, kind) {
    const list = s.timers[kind];
    const last = list[list.length - 1];
    return last && last.end === Infinity ? last : null;
  }
  // Derived figures of a socket's model.
  function dataAcked(m) { // bytes of ours the peer acknowledged
    let n = Math.max(0, m.sndUna - 1);
    if (m.ourFinEnd >= 0 && m.sndUna >= m.ourFinEnd) n -= 1;
    return Math.max(0, n);
  }
  function dataReceived(m) { // bytes we acknowledged
    let n = Math.max(0, m.ourAck - 1);
    if (m.peerFinEnd >= 0 && m.ourAck >= m.peerFinEnd) n -= 1;
    return Math.max(0, n);
  }
  function snapshot(s, i) {
    const m = s.m;
    const inflight = Math.max(0, m.sndNxt - m.sndUna);
    const snap = {
      state: m.state, local: m.local, remote: m.remote, conn: m.conn, inflight,
      sendq: m.layered ? inflight : Math.max(0, m.written - dataAcked(m)),
      recvq: m.layered ? null : Math.max(0, dataReceived(m) - m.read),
      ourWnd: m.ourWnd, peerWnd: m.peerWnd, layered: m.layered, udp: m.udp,
    };
    if (s.histIdx.length && s.histIdx[s.histIdx.length - 1] === i) s.hist[s.hist.length - 1] = snap;
    else { s.hist.push(snap); s.histIdx.push(i); }
  }
  // Timers that follow from the model after event i.
  function updateTimers(s, i) {
    const m = s.m;
    const inflight = m.sndNxt - m.sndUna;
    if (inflight > 0 && m.state !== "CLOSED" && m.state !== "TIME-WAIT") openTimer(s, "rto", i);
    else closeTimer(s, "rto", i);
    const waiting = m.layered ? inflight > 0 : m.written - dataAcked(m) > 0;
    if (m.peerWnd === 0 && waiting && m.state !== "CLOSED") openTimer(s, "persist", i);
    else closeTimer(s, "persist", i);
    if (m.rcvSeen > m.ourAck && m.ourAck > 0 && m.state !== "CLOSED") openTimer(s, "delack", i);
    else closeTimer(s, "delack", i);
  }

  // What a segment delivered to socket `s` tells of it: the peer's ACK and
  // window, and how far its data has arrived.
  function receive(s, p, pe) {
    const m = s.m;
    const f = p.tcp.flags;
    const seq = pe[10], ack = pe[11], win = pe[12];
    if (ack != null && (f & 0x10) && ack > m.sndUna) m.sndUna = Math.min(ack, m.sndNxt);
    if (win != null) m.peerWnd = win;
    if (seq != null) {
      const end = seq + p.payloadLen + (f & 2 ? 1 : 0) + (f & 1 ? 1 : 0);
      if (f & 1) m.peerFinEnd = end;
      if (seq <= Math.max(m.rcvSeen, m.ourAck) && end > m.rcvSeen) m.rcvSeen = end;
      if (f & 2) m.rcvSeen = Math.max(m.rcvSeen, end);
    }
  }
  const pendingSyn = new Map(); // tuple -> index of a SYN's delivery

  for (let i = 0; i < N; i++) {
    const e = EV[i];
    const code = e[1];
    switch (code) {
      case "p": {
        const [, , , frame, from, to, sock, conn, b64, len, seq, ack, win, tag] = e;
        hostOf[i] = from; connOf[i] = conn;
        packetIdx.push(i);
        frames.set(frame, { send: i, end: -1, endKind: null, reason: null, from, to, conn });
        if (tag) { tagOf.set(i, tag); if (tag === "retransmission") retransIdx.push(i); }
        const p = decode(b64bytes(b64), len);
        decoded.set(i, p);
        if (sock >= 0 && p.ok && p.tcp && seq != null) {
          const s = socketRec(from, sock);
          const m = s.m;
          const f = p.tcp.flags;
          const end = seq + p.payloadLen + (f & 2 ? 1 : 0) + (f & 1 ? 1 : 0);
          if (end > m.sndNxt) m.sndNxt = end;
          if (f & 1) m.ourFinEnd = end;
          if (ack != null && ack > m.ourAck) m.ourAck = ack;
          m.ourWnd = win;
          if (tag === "retransmission" || tag === "window-probe") {
            const t = running(s, tag === "retransmission" ? "rto" : "persist");
            if (t) t.fires.push(i);
          }
          updateTimers(s, i);
          snapshot(s, i);
        } else if (sock >= 0 && p.ok && p.udp) {
          const s = socketRec(from, sock);
          s.m.udp = true;
          if (!s.m.local) s.m.local = p.src + ":" + p.udp.sport;
          s.m.state = "UDP";
          snapshot(s, i);
        }
        break;
      }
      case "d": {
        const [, , , frame, to] = e;
        hostOf[i] = to;
        const fr = frames.get(frame);
        if (fr) {
          connOf[i] = fr.conn;
          if (fr.end < 0) { fr.end = i; fr.endKind = "delivered"; }
          const p = decoded.get(fr.send);
          const pe = EV[fr.send];
          if (p && p.ok && p.tcp) {
            const tuple = to + "|" + p.dst + ":" + p.tcp.dport + "|" + p.src + ":" + p.tcp.sport;
            const key = byTuple.get(tuple);
            const s = key && sockets.get(key);
            // A SYN reaches a listening socket before the state change that
            // names its peer: keep it until then.
            if (!s && (p.tcp.flags & 2)) pendingSyn.set(tuple, i);
            if (s) {
              receive(s, p, pe);
              updateTimers(s, i);
              snapshot(s, i);
            }
          }
        }
        break;
      }
      case "g": hostOf[i] = e[3]; break;
      case "x": case "q": case "y": case "u": case "c": case "z": case "f": case "w": case "n": case "m": {
        const frame = e[3];
        const fr = frames.get(frame);
        if (fr) {
          connOf[i] = fr.conn;
          hostOf[i] = code === "z" || code === "w" ? e[4] : fr.from;
          if (code === "x" || code === "z") {
            if (fr.end < 0) { fr.end = i; fr.endKind = code === "x" ? "dropped" : "discarded"; fr.reason = code === "x" ? e[6] : e[5]; }
            if (code === "x") lossIdx.push(i);
          }
          if (code === "u") frames.set(e[4], Object.assign({}, fr, { send: fr.send, end: -1, endKind: null, copyOf: frame }));
        }
        break;
      }
      case "s": {
        const [, , , host, id, local, remote, , to, , conn] = e;
        hostOf[i] = host; connOf[i] = conn;
        const s = socketRec(host, id);
        const m = s.m;
        m.state = to; m.local = local; m.remote = remote || ""; m.conn = conn;
        if (remote) {
          const tuple = host + "|" + local + "|" + remote;
          byTuple.set(tuple, s.key);
          const syn = pendingSyn.get(tuple);
          if (syn !== undefined) {
            pendingSyn.delete(tuple);
            const fr = frames.get(EV[syn][3]);
            if (fr) receive(s, decoded.get(fr.send), EV[fr.send]);
          }
        }
        if (to === "TIME-WAIT") openTimer(s, "timewait", i);
        else closeTimer(s, "timewait", i);
        if (!(e[7] === "CLOSED" && to === "LISTEN") && !(e[7] === "LISTEN" && to === "CLOSED")) stateIdx.push(i);
        updateTimers(s, i);
        snapshot(s, i);
        break;
      }
      case "l": case "k": case "a": {
        const host = e[3];
        hostOf[i] = host;
        const sock = code === "l" ? e[4] : e[5];
        if (sock >= 0) {
          const s = sockets.get(host + "/" + sock);
          if (s) {
            connOf[i] = s.m.conn;
            if (code === "k" && e[6] === "send") { s.m.written += e[7]; updateTimers(s, i); snapshot(s, i); }
            else if (code === "k" && e[6] === "recv") { s.m.read += e[7]; snapshot(s, i); }
            else if (code === "a" && String(e[6]).startsWith("tls.") && !s.m.layered) { s.m.layered = true; snapshot(s, i); }
          }
        }
        break;
      }
      default:
        break;
    }
  }
  // Each socket's lifetime: from its first record to its return to CLOSED,
  // listening until it first leaves LISTEN.
  for (const s of sockets.values()) {
    s.born = s.histIdx.length ? s.histIdx[0] : Infinity;
    s.died = Infinity;
    s.listenUntil = s.born;
    let listening = true;
    for (let k = 0; k < s.hist.length; k++) {
      const st = s.hist[k].state;
      if (listening && st !== "LISTEN") { listening = false; s.listenUntil = s.histIdx[k]; }
      if (listening && k === s.hist.length - 1) s.listenUntil = Infinity;
      if (st === "CLOSED" && k > 0) { s.died = s.histIdx[k]; break; }
    }
  }
  // Expectations, by when they were decided (the run's end for whole-run claims).
  const EXP = D.expectations.map((x, k) => {
    const at = x.at_ns == null ? D.end_ns : x.at_ns;
    // The last event at or before that time: where the claim is settled.
    let lo = 0, hi = N - 1, r = 0;
    while (lo <= hi) { const m = (lo + hi) >> 1; if (EV[m][0] <= at) { r = m; lo = m + 1; } else hi = m - 1; }
    return Object.assign({ k, atNs: at, index: r }, x);
  });
  const failedIdx = EXP.filter((x) => !x.passed).map((x) => x.index).sort((a, b) => a - b);

  // ---- filters -------------------------------------------------------------
  // Arming a listening socket (one per backlog slot) and disarming it are
  // bookkeeping of listen(): hidden unless "listen slots" is ticked, as the
  // text timeline hides them. (window.simnetViewerOptions, set before the
  // page loads, may preset it: the browser tests step through every event.)
  const preset = window.simnetViewerOptions || {};
  const filter = { host: -1, conn: 0, layers: new Set(["packet", "link", "tcp", "call", "app", "run"]), text: "", listenSlots: !!preset.listenSlots };
  function isArming(i) {
    const e = EV[i];
    return e[1] === "s" && ((e[7] === "CLOSED" && e[8] === "LISTEN") || (e[7] === "LISTEN" && e[8] === "CLOSED"));
  }
  let visible = null; // Int32Array of event indexes passing the filters
  let diagRows = null; // Int32Array of event indexes drawn in the diagram
  function passes(i, forDiagram) {
    const e = EV[i];
    if (!forDiagram && !filter.listenSlots && isArming(i)) return false;
    if (filter.conn && connOf[i] !== filter.conn) return false;
    if (filter.host >= 0) {
      if (forDiagram) {
        const fr = "pdx".includes(e[1]) ? frames.get(e[3]) : null;
        if (fr ? fr.from !== filter.host && fr.to !== filter.host : hostOf[i] !== filter.host) return false;
      } else if (hostOf[i] !== filter.host) return false;
    }
    if (forDiagram) return true;
    if (!filter.layers.has(LAYER[e[1]])) return false;
    if (filter.text && !searchText(i).includes(filter.text)) return false;
    return true;
  }
  function searchText(i) {
    return (fmtTime(EV[i][0]) + " " + EV[i][2]).toLowerCase();
  }
  function isDiagramEvent(i) {
    const e = EV[i];
    const c = e[1];
    if (c === "a") return !secret.has(i);
    if (c === "p" || c === "x") return true;
    if (c === "d") { const fr = frames.get(e[3]); return !!fr && fr.end === i; }
    if (c === "s") return !(e[7] === "CLOSED" && e[8] === "LISTEN") && !(e[7] === "LISTEN" && e[8] === "CLOSED");
    return false;
  }
  function applyFilters() {
    const v = [], dr = [];
    for (let i = 0; i < N; i++) {
      if (passes(i, false)) v.push(i);
      if (isDiagramEvent(i) && passes(i, true)) dr.push(i);
    }
    visible = Int32Array.from(v);
    diagRows = Int32Array.from(dr);
    $("#shown").textContent = visible.length === N ? N + " events" : visible.length + " of " + N + " events shown";
    listSpacer.style.height = visible.length * ROW + "px";
    render(true);
  }

  // ---- the cursor ------------------------------------------------------------
  let cur = 0;
  function go(i, opts) {
    i = Math.max(0, Math.min(N - 1, i | 0));
    cur = i;
    render(!(opts && opts.noScroll));
  }
  // The next/previous filtered event among `list` (sorted indexes).
  function stepIn(list, dir) {
    if (dir > 0) {
      for (let k = lastAtOrBefore(list, cur) + 1; k < list.length; k++) if (passes(list[k], false)) return list[k];
    } else {
      for (let k = lastAtOrBefore(list, cur - 1); k >= 0; k--) if (passes(list[k], false)) return list[k];
    }
    return -1;
  }
  function step(kind) {
    let t = -1;
    switch (kind) {
      case "first": t = visible.length ? visible[0] : 0; break;
      case "last": t = visible.length ? visible[visible.length - 1] : N - 1; break;
      case "next": t = firstAfter(visible, cur); break;
      case "prev": { const k = lastAtOrBefore(visible, cur - 1); t = k >= 0 ? visible[k] : -1; break; }
      case "next-packet": t = stepIn(packetIdx, 1); break;
      case "prev-packet": t = stepIn(packetIdx, -1); break;
      case "next-state": t = stepIn(stateIdx, 1); break;
      case "next-retransmission": t = stepIn(retransIdx, 1); break;
      case "next-loss": t = stepIn(lossIdx, 1); break;
      case "next-failed": t = firstAfter(failedIdx, cur); break;
    }
    if (t >= 0) go(t);
    else flash(kind);
  }
  function flash(kind) {
    const b = $('button[data-step="' + kind + '"]');
    if (b) { b.animate([{ background: "#ffe3e3" }, { background: "#fff" }], 400); }
  }

  // ---- layout ----------------------------------------------------------------
  const ROW = 20;
  const body = document.body;
  const hdr = el("header", null,
    el("h1", { text: D.name }),
    el("span", { class: "muted", text: "seed " + D.seed + " · " + N + " events · " + HOSTS.length + " hosts · " + D.connections.length + " connections" }),
    D.description ? el("details", null, el("summary", { text: "what this scenario shows" }), el("div", { text: D.description })) : null);
  const slider = el("input", { id: "slider", type: "range", min: "0", max: String(Math.max(0, N - 1)), value: "0", "aria-label": "cursor" });
  const btn = (kind, label, title) => el("button", { "data-step": kind, title, onclick: () => step(kind) }, label);
  const bar = el("div", { id: "bar" },
    btn("first", "|◀", "first event (Home)"), btn("prev-packet", "◀◀", "previous packet (Shift+←)"), btn("prev", "◀", "previous event (←)"),
    btn("next", "▶", "next event (→)"), btn("next-packet", "▶▶", "next packet (Shift+→)"), btn("last", "▶|", "last event (End)"),
    el("span", { class: "sep" }),
    btn("next-state", "state ▸", "next TCP state change (s)"), btn("next-retransmission", "retransmission ▸", "next retransmission (r)"),
    btn("next-loss", "loss ▸", "next lost frame (l)"), btn("next-failed", "failed ▸", "where the next failed expectation was decided (f)"),
    el("span", { class: "sep" }), slider, el("span", { id: "time" }), el("span", { id: "position" }),
    el("div", { id: "keys" }, "Keys: ", el("kbd", { text: "←" }), " ", el("kbd", { text: "→" }), " one event · ",
      el("kbd", { text: "Shift" }), "+", el("kbd", { text: "←" }), el("kbd", { text: "→" }), " one packet · ",
      el("kbd", { text: "s" }), " next state change · ", el("kbd", { text: "r" }), " retransmission · ", el("kbd", { text: "l" }), " loss · ",
      el("kbd", { text: "f" }), " failed expectation · ", el("kbd", { text: "/" }), " search · ", el("kbd", { text: "Home" }), " ", el("kbd", { text: "End" }),
      ". Click any event, arrow or row to move there."));
  const hostSel = el("select", { id: "filter-host", "aria-label": "host" }, el("option", { value: "", text: "every host" }),
    ...HOSTS.map((h) => el("option", { value: h.name, text: h.name + " (" + h.address + ")" })));
  const connSel = el("select", { id: "filter-connection", "aria-label": "connection" }, el("option", { value: "", text: "every connection" }),
    ...D.connections.map((c) => el("option", { value: String(c.number), text: "#" + c.number + " " + c.client + " → " + c.server })));
  const layerBoxes = ["packet", "link", "tcp", "call", "app", "run"].map((l) =>
    el("label", null, el("input", { type: "checkbox", class: "layer", value: l, checked: "" }), " " + l));
  const listenBox = el("input", { type: "checkbox", id: "show-listen" });
  listenBox.checked = filter.listenSlots;
  const listenLabel = el("label", { title: "show each listening socket (backlog slot) being armed and disarmed" }, listenBox, " listen slots");
  const search = el("input", { id: "search", type: "search", placeholder: "search (/)", "aria-label": "search" });
  const filters = el("div", { id: "filters" }, hostSel, connSel, ...layerBoxes, listenLabel, search, el("span", { id: "shown" }));
  const listSpacer = el("div", { class: "spacer" });
  const list = el("div", { id: "events", tabindex: "0" }, listSpacer);
  const diagram = el("div", { id: "diagram" });
  const socketsPanel = el("div", { id: "sockets", class: "panel" });
  const packetPanel = el("div", { id: "packet", class: "panel" });
  const appPanel = el("ul", { id: "app-events", class: "plain panel" });
  const expPanel = el("ul", { id: "expectations", class: "plain panel" });
  const main = el("main", null,
    el("section", null, el("h2", { text: "Timeline" }), filters, list),
    el("section", null, el("h2", { text: "Sequence diagram" }), diagram),
    el("section", null,
      el("h2", { text: "Sockets at the cursor" }), socketsPanel,
      el("h2", { text: "Packet" }), packetPanel,
      el("h2", { text: "Application events" }), appPanel,
      el("h2", { text: "Expectations" }), expPanel));
  body.append(hdr, bar, main);

  // ---- the event list (virtual: only rows in view exist) ------------------
  function renderList(scroll) {
    const pos = lastAtOrBefore(visible, cur);
    const listH = sizes.listH || 400;
    // Read once, before this render changes anything (a read after a change
    // would make the browser lay the page out again).
    let top = list.scrollTop;
    if (scroll && pos >= 0) {
      const y = pos * ROW;
      if (y < top || y + ROW > top + listH) {
        top = Math.max(0, y - listH / 2);
        list.scrollTop = top;
      }
    }
    const first = Math.max(0, Math.floor(top / ROW) - 10);
    const last = Math.min(visible.length, Math.ceil((top + listH) / ROW) + 10);
    const rows = [];
    for (let k = first; k < last; k++) {
      const i = visible[k];
      const e = EV[i];
      const cls = "ev k-" + e[1] + (i === cur ? " current" : "") + (tagOf.get(i) === "retransmission" ? " retrans" : "");
      const row = el("div", { class: cls, "data-index": String(i), "data-host": hostOf[i] >= 0 ? hostName(hostOf[i]) : "", style: "top:" + k * ROW + "px" },
        el("span", { class: "t", text: fmtTime(e[0]) }), e[2]);
      rows.push(row);
    }
    listSpacer.replaceChildren(...rows);
  }
  list.addEventListener("scroll", () => renderList(false));
  list.addEventListener("click", (ev) => {
    const r = ev.target.closest(".ev");
    if (r) go(+r.dataset.index, { noScroll: true });
  });

  // ---- the sequence diagram ------------------------------------------------
  const DROW = 24, HEAD = 28;
  function packetLabel(i) {
    const e = EV[i];
    const p = decoded.get(i);
    let s;
    if (p && p.tcp) {
      s = flagString(p.tcp.flags) + " seq=" + e[10] + (e[11] != null ? " ack=" + e[11] : "") + (p.payloadLen ? " len=" + p.payloadLen : "");
    } else if (p && p.udp) s = "UDP len=" + p.payloadLen;
    else if (p && p.icmp) s = "ICMP type " + p.icmp.type + " code " + p.icmp.code;
    else s = "frame " + e[3];
    const dec = e[14];
    if (dec && dec.length) s += "  " + dec[0] + (dec.length > 1 ? " +" + (dec.length - 1) : "");
    return s;
  }
  function renderDiagram() {
    const w = sizes.diagramW || 600, h = sizes.diagramH || 400;
    const rowsFit = Math.max(4, Math.floor((h - HEAD - 10) / DROW));
    const svg = sv("svg", { viewBox: "0 0 " + w + " " + h, width: w, height: h });
    const k0 = lastAtOrBefore(diagRows, cur);
    const center = Math.max(0, k0);
    let from = Math.max(0, center - Math.floor(rowsFit / 2));
    const to = Math.min(diagRows.length, from + rowsFit);
    from = Math.max(0, to - rowsFit);
    // Which hosts get a column: every host when few, else those in view.
    let cols;
    if (HOSTS.length <= 6) cols = HOSTS.map((_, k) => k);
    else {
      const set = new Set();
      for (let k = from; k < to; k++) {
        const e = EV[diagRows[k]];
        const fr = "pdx".includes(e[1]) ? frames.get(e[3]) : null;
        if (fr) { set.add(fr.from); if (fr.to >= 0) set.add(fr.to); } else if (hostOf[diagRows[k]] >= 0) set.add(hostOf[diagRows[k]]);
      }
      cols = [...set].sort((a, b) => a - b);
      if (filter.host >= 0 && !set.has(filter.host)) cols.unshift(filter.host);
    }
    const colW = w / Math.max(1, cols.length);
    const xOf = new Map(cols.map((hst, k) => [hst, (k + 0.5) * colW]));
    const yOfRow = (k) => HEAD + (k - from + 0.5) * DROW;
    for (const hst of cols) {
      const x = xOf.get(hst);
      svg.append(sv("text", { class: "hostname", x, y: 16 }, hostName(hst)));
      svg.append(sv("line", { class: "lifeline", x1: x, x2: x, y1: HEAD - 6, y2: h }));
    }
    const defs = sv("defs", {});
    defs.append(markerDef("ah", "#495057"), markerDef("ahc", "#1c6dd0"), markerDef("ahr", "#e67700"));
    svg.append(defs);
    if (k0 >= from && k0 < to) {
      const y = yOfRow(k0);
      svg.append(sv("line", { class: "cursorline", x1: 0, x2: w, y1: y, y2: y }));
    }
    const curFrame = frameAtCursor();
    const drawn = new Set();
    const rowOf = (i) => { const k = lastAtOrBefore(diagRows, i); return k >= 0 && diagRows[k] === i ? k : -1; };
    for (let k = from; k < to; k++) {
      const i = diagRows[k];
      const e = EV[i];
      if (e[1] === "p" || e[1] === "d" || e[1] === "x") {
        const frame = e[3];
        if (drawn.has(frame)) continue;
        drawn.add(frame);
        const fr = frames.get(frame);
        if (!fr) continue;
        const x1 = xOf.get(fr.from), x2 = fr.to >= 0 ? xOf.get(fr.to) : undefined;
        const ks = rowOf(fr.send), ke = fr.end >= 0 ? rowOf(fr.end) : -1;
        const y1 = ks >= 0 ? yOfRow(ks) : HEAD - 4;
        let y2 = ke >= 0 ? yOfRow(ke) : (fr.end >= 0 ? y1 : h);
        if (x1 === undefined) continue;
        const lost = fr.endKind === "dropped" || fr.endKind === "discarded";
        const tag = tagOf.get(fr.send);
        const g = sv("g", { class: "arrow" + (lost ? " lost" : "") + (tag === "retransmission" ? " retrans" : "") + (fr.end < 0 ? " inflight" : "") + (frame === curFrame ? " current" : ""), "data-frame": String(frame) });
        let xe = x2 === undefined ? x1 + (colW / 2) * (x1 < w / 2 ? 1 : -1) : x2;
        if (lost) { xe = (x1 + xe) / 2; if (y2 <= y1) y2 = y1 + DROW * 0.6; }
        const marker = lost ? null : frame === curFrame ? "url(#ahc)" : tag === "retransmission" ? "url(#ahr)" : "url(#ah)";
        const line = sv("line", { x1, y1, x2: xe, y2 });
        if (marker) line.setAttribute("marker-end", marker);
        g.append(line);
        if (lost) g.append(sv("text", { x: xe - 4, y: y2 + 4, "font-weight": 700 }, "✕"));
        const lx = (x1 + xe) / 2, ly = (y1 + y2) / 2 - 3;
        const label = packetLabel(fr.send) + (lost ? "  (" + fr.reason + ")" : "");
        const fit = Math.max(12, Math.floor(Math.max(Math.abs(xe - x1), colW * 0.8) / 6.7));
        const text = sv("text", { x: lx, y: ly, "text-anchor": "middle" }, label.length > fit ? label.slice(0, fit - 1) + "…" : label);
        text.append(sv("title", {}, label));
        g.append(text);
        g.addEventListener("click", () => go(fr.send));
        svg.append(g);
      } else if (e[1] === "s" || e[1] === "a") {
        const x = xOf.get(hostOf[i]);
        if (x === undefined) continue;
        const label = e[1] === "s" ? e[7] + " → " + e[8] : e[7];
        const y = yOfRow(k);
        const tw = Math.min(colW - 8, 7 * label.length + 10);
        const g = sv("g", { class: "note " + (e[1] === "a" ? "app" : "state") + (i === cur ? " current" : ""), "data-index": String(i) });
        g.append(sv("rect", { x: x - tw / 2, y: y - 8, width: tw, height: 16, rx: 3 }));
        g.append(sv("text", { x, y: y + 4, "text-anchor": "middle" }, label.length * 7 > tw ? label.slice(0, Math.floor(tw / 7) - 1) + "…" : label));
        g.addEventListener("click", () => go(i));
        svg.append(g);
      }
    }
    if (from > 0) svg.append(sv("text", { class: "more", x: 4, y: HEAD - 2 }, "↑ " + from + " earlier"));
    if (to < diagRows.length) svg.append(sv("text", { class: "more", x: 4, y: h - 4 }, "↓ " + (diagRows.length - to) + " later"));
    diagram.replaceChildren(svg);
  }
  function markerDef(id, color) {
    const m = sv("marker", { id, viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
    m.append(sv("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: color, stroke: "none" }));
    return m;
  }

  // ---- sockets at the cursor ---------------------------------------------
  function snapAt(s, i) {
    const k = lastAtOrBefore(s.histIdx, i);
    return k >= 0 ? s.hist[k] : null;
  }
  function timerAt(list, i) {
    // Timers of one kind never overlap and are sorted by start.
    let lo = 0, hi = list.length - 1, r = -1;
    while (lo <= hi) { const m = (lo + hi) >> 1; if (list[m].start <= i) { r = m; lo = m + 1; } else hi = m - 1; }
    return r >= 0 && list[r].end > i ? list[r] : null;
  }
  function timersText(s, i, snap) {
    const out = [];
    const t = (ix) => fmtTime(EV[ix][0]);
    const rto = timerAt(s.timers.rto, i);
    if (rto) {
      const next = rto.fires.find((f) => f > i);
      out.push("retransmission timer: " + snap.inflight + " B unacknowledged; " +
        (next !== undefined ? "fires at " + t(next) : rto.end < N ? "stopped by the ACK at " + t(rto.end) : "still running when the run ended"));
    }
    const per = timerAt(s.timers.persist, i);
    if (per) {
      const next = per.fires.find((f) => f > i);
      out.push("persist timer (zero window): " + (next !== undefined ? "probes at " + t(next) : per.end < N ? "window opened at " + t(per.end) : "window still shut when the run ended"));
    }
    const da = timerAt(s.timers.delack, i);
    if (da) out.push("delayed ACK: " + (da.end < N ? "sent at " + t(da.end) : "pending at the end"));
    const tw = timerAt(s.timers.timewait, i);
    if (tw) out.push("TIME-WAIT: " + (tw.end < N ? "ends at " + t(tw.end) : "still waiting when the run ended"));
    return out.join("; ");
  }
  const MAX_SOCKET_ROWS = 60;
  const unfolded = new Set(); // hosts whose listening sockets are all shown
  function renderSockets() {
    const frag = [];
    for (let h = 0; h < HOSTS.length; h++) {
      if (filter.host >= 0 && h !== filter.host) continue;
      const rows = [];
      let more = 0;
      // Connections first, then the listening sockets (each backlog slot is
      // one): two passes over the host's sockets in id order, each socket
      // tested by its lifetime alone, so a host with 10,000 sockets costs a
      // few comparisons per socket and a lookup per row shown.
      const shown = [];
      for (const listening of [false, true]) {
        for (const s of hostSockets[h]) {
          if (cur < s.born || cur >= s.died) continue;
          if ((cur < s.listenUntil) !== listening) continue;
          if (filter.conn && (listening || snapAt(s, cur).conn !== filter.conn)) continue;
          if (shown.length >= MAX_SOCKET_ROWS) { more++; continue; }
          shown.push(s);
        }
      }
      let listening = 0;
      for (const s of shown) {
        const snap = snapAt(s, cur);
        // Idle listening sockets (one per backlog slot) are folded after
        // the first two: their rows are there, hidden until asked for.
        const folded = snap.state === "LISTEN" && ++listening > 2 && !unfolded.has(h);
        const changed = s.histIdx[lastAtOrBefore(s.histIdx, cur)] === cur;
        const wnd = snap.udp ? "" : (snap.ourWnd == null ? "–" : snap.ourWnd) + " / " + (snap.peerWnd == null ? "–" : snap.peerWnd);
        const cls = (changed ? "changed" : "") + (folded ? " folded" : "");
        rows.push(el("tr", { "data-socket": String(s.id), class: cls },
          el("td", { class: "id", text: String(s.id) }),
          el("td", { class: "state", text: snap.state }),
          el("td", { class: "local", text: snap.local }),
          el("td", { class: "remote", text: snap.remote }),
          el("td", { class: "sendq", text: snap.udp ? "" : String(snap.sendq) }),
          el("td", { class: "recvq", text: snap.udp ? "" : snap.recvq == null ? "TLS" : String(snap.recvq) }),
          el("td", { class: "window", text: wnd })));
        // Timers get a line of their own under the socket: they are sentences.
        const timers = snap.udp ? "" : timersText(s, cur, snap);
        if (timers) rows.push(el("tr", { class: "timers-row " + cls }, el("td"), el("td", { class: "timers", colspan: "6", "data-socket": String(s.id), text: "↳ " + timers })));
      }
      if (listening > 2 && !unfolded.has(h)) {
        const host = h;
        rows.push(el("tr", { class: "unfold" }, el("td"), el("td", { colspan: "6" },
          el("a", { href: "#", onclick: (ev) => { ev.preventDefault(); unfolded.add(host); renderSockets(); } },
            "… " + (listening - 2) + " more listening sockets (the rest of the backlog): show"))));
      }
      const cap = el("caption", { text: HOSTS[h].name + " (" + HOSTS[h].address + ")" + (rows.length ? "" : ": no open sockets") });
      const head = el("tr", null, ...["#", "state", "local", "remote", "Send-Q", "Recv-Q", "wnd ours/peer"].map((x) => el("th", { text: x })));
      const table = el("table", { class: "sockets", "data-host": HOSTS[h].name }, cap, el("thead", null, head), el("tbody", null, ...rows));
      frag.push(table);
      if (more) frag.push(el("div", { class: "muted", text: "… and " + more + " more sockets (choose a connection to narrow)" }));
    }
    if (!frag.length) frag.push(el("div", { class: "muted", text: "no host selected" }));
    socketsPanel.replaceChildren(...frag);
  }

  // ---- the packet at the cursor ----------------------------------------
  function frameAtCursor() {
    const e = EV[cur];
    if ("pdxquyczfwnm".includes(e[1])) return e[3];
    const k = lastAtOrBefore(packetIdx, cur);
    return k >= 0 ? EV[packetIdx[k]][3] : -1;
  }
  function hexDump(bytes) {
    const lines = [];
    for (let o = 0; o < bytes.length; o += 16) {
      const row = bytes.subarray(o, o + 16);
      const hex = [...row].map((b) => b.toString(16).padStart(2, "0")).join(" ");
      const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
      lines.push(o.toString(16).padStart(4, "0") + "  " + hex.padEnd(48) + " " + ascii);
    }
    return lines.join("\n");
  }
  function httpHead(bytes) {
    const text = new TextDecoder("latin1").decode(bytes);
    if (!/^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH|CONNECT|TRACE) |^HTTP\/1\.[01] /.test(text)) return null;
    const end = text.indexOf("\r\n\r\n");
    return (end >= 0 ? text.slice(0, end) : text + "\n…").replace(/\r/g, "");
  }
  function renderPacket() {
    const frame = frameAtCursor();
    const fr = frames.get(frame);
    if (!fr) { packetPanel.replaceChildren(el("div", { class: "muted", text: "no packet yet" })); return; }
    const i = fr.send;
    const e = EV[i];
    const p = decoded.get(i);
    const bytes = b64bytes(e[8]);
    const rows = [];
    const row = (name, value, field) => rows.push(el("tr", null, el("td", { text: name }), el("td", field ? { "data-field": field, text: String(value) } : { text: String(value) })));
    const fate = fr.endKind === "delivered" ? "delivered to " + hostName(fr.to) + " at " + fmtTime(EV[fr.end][0])
      : fr.endKind ? fr.endKind + " (" + fr.reason + ") at " + fmtTime(EV[fr.end][0]) : "still in flight when the run ended";
    const head = el("div", null, el("b", { "data-field": "frame", text: String(frame) }), " · sent by " + hostName(fr.from) + " at " + fmtTime(e[0]) + " · " + fate + " ",
      tagOf.get(i) ? el("span", { class: "tag", text: tagOf.get(i) }) : null, fr.endKind && fr.endKind !== "delivered" ? el("span", { class: "tag lost", text: "lost" }) : null,
      fr.conn ? el("span", { class: "muted", text: " · connection #" + fr.conn }) : null);
    if (!p.ok) {
      packetPanel.replaceChildren(head, el("div", { text: "not an IPv4 packet (" + e[9] + " bytes)" }));
      return;
    }
    rows.push(el("tr", null, el("th", { colspan: "2", text: "Internet Protocol version 4" })));
    row("Header length", p.ihl + " bytes");
    row("Total length", p.total, "len");
    row("Identification", "0x" + p.id.toString(16).padStart(4, "0") + " (" + p.id + ")");
    row("Flags", (p.fragFlags & 2 ? "Don't fragment" : "none") + ", fragment offset " + p.fragOffset);
    row("Time to live", p.ttl, "ttl");
    row("Protocol", p.proto === 6 ? "TCP (6)" : p.proto === 17 ? "UDP (17)" : p.proto === 1 ? "ICMP (1)" : p.proto);
    row("Header checksum", "0x" + p.ipsum.toString(16).padStart(4, "0"));
    row("Source address", p.src);
    row("Destination address", p.dst);
    if (p.tcp) {
      const t = p.tcp;
      rows.push(el("tr", null, el("th", { colspan: "2", text: "Transmission Control Protocol" })));
      rows.push(el("tr", null, el("td", { text: "Source" }), el("td", { "data-field": "src", text: p.src + ":" + t.sport })));
      rows.push(el("tr", null, el("td", { text: "Destination" }), el("td", { "data-field": "dst", text: p.dst + ":" + t.dport })));
      rows.push(el("tr", null, el("td", { text: "Sequence number" }), el("td", null, el("span", { "data-field": "seq", text: String(e[10]) }), el("span", { class: "muted", text: " (relative; raw " + t.seq + ")" }))));
      rows.push(el("tr", null, el("td", { text: "Acknowledgment" }), el("td", null, el("span", { "data-field": "ack", text: e[11] == null ? "" : String(e[11]) }), el("span", { class: "muted", text: e[11] == null ? "— (no ACK flag)" : " (relative; raw " + t.ack + ")" }))));
      row("Header length", t.hlen + " bytes");
      rows.push(el("tr", null, el("td", { text: "Flags" }), el("td", null, el("span", { "data-field": "flags", text: flagString(t.flags) }), el("span", { class: "muted", text: "  " + flagWords(t.flags) }))));
      rows.push(el("tr", null, el("td", { text: "Window" }), el("td", null, el("span", { "data-field": "window", text: String(e[12]) }), el("span", { class: "muted", text: " bytes (field " + t.window + ")" }))));
      row("Checksum", "0x" + t.sum.toString(16).padStart(4, "0"));
      row("Urgent pointer", t.urg);
      row("Options", t.options.length ? t.options.join("; ") : "none");
      row("Payload", p.payloadLen + " bytes");
    } else if (p.udp) {
      rows.push(el("tr", null, el("th", { colspan: "2", text: "User Datagram Protocol" })));
      rows.push(el("tr", null, el("td", { text: "Source" }), el("td", { "data-field": "src", text: p.src + ":" + p.udp.sport })));
      rows.push(el("tr", null, el("td", { text: "Destination" }), el("td", { "data-field": "dst", text: p.dst + ":" + p.udp.dport })));
      row("Length", p.udp.len);
      row("Checksum", "0x" + p.udp.sum.toString(16).padStart(4, "0"));
      row("Payload", p.payloadLen + " bytes");
    } else if (p.icmp) {
      rows.push(el("tr", null, el("th", { colspan: "2", text: "Internet Control Message Protocol" })));
      row("Type", p.icmp.type);
      row("Code", p.icmp.code);
    }
    const payload = bytes.subarray(Math.min(p.payloadOffset, bytes.length));
    const cut = p.payloadLen > payload.length ? "\n… " + (p.payloadLen - payload.length) + " more payload bytes are not in the page (it keeps the first " + D.payload_bytes + ")" : "";
    const dec = [];
    const http = payload.length ? httpHead(payload) : null;
    if (http) dec.push(http);
    else if (e[14] && e[14].length) dec.push(...e[14]);
    packetPanel.replaceChildren(head, el("table", { class: "fields" }, ...rows),
      el("div", { id: "packet-decoded", text: dec.join("\n") }),
      el("div", { id: "packet-hex", text: hexDump(bytes) + cut }));
  }

  // ---- application events, expectations --------------------------------
  const appIdx = [];
  for (let i = 0; i < N; i++) if (EV[i][1] === "a" && !secret.has(i)) appIdx.push(i);
  function renderApp() {
    const items = [];
    for (let k = lastAtOrBefore(appIdx, cur); k >= 0 && items.length < 30; k--) {
      const i = appIdx[k];
      if (filter.host >= 0 && hostOf[i] !== filter.host) continue;
      if (filter.conn && connOf[i] !== filter.conn) continue;
      const e = EV[i];
      items.push(el("li", { class: i === cur ? "current" : "", "data-index": String(i), title: e[6] + ": " + e[7], onclick: () => go(i) },
        fmtTime(e[0]) + " " + hostName(e[3]) + " " + e[6] + "  " + e[7]));
    }
    if (!items.length) items.push(el("li", { class: "muted", text: "none yet" }));
    appPanel.replaceChildren(...items);
  }
  function renderExpectations() {
    if (!EXP.length) { expPanel.replaceChildren(el("li", { class: "muted", text: "this scenario claims nothing" })); return; }
    expPanel.replaceChildren(...EXP.map((x) => el("li", {
      class: "expectation " + (x.passed ? "passed" : "failed") + (x.index <= cur ? " decided" : ""),
      "data-at-ns": String(x.atNs), onclick: () => go(x.index),
    }, x.label, el("div", { class: "when", text: (x.passed ? "held" : "FAILED") + " (observed " + x.observed + "), decided " + (x.at_ns == null ? "at the end of the run, " : "at ") + fmtTime(x.atNs) }))));
  }

  // ---- drawing everything at the cursor -----------------------------------
  // The panels' sizes, read only when the window changes: reading a size
  // after changing the page makes the browser lay it out again.
  const sizes = {};
  function measure() {
    sizes.diagramW = diagram.clientWidth;
    sizes.diagramH = diagram.clientHeight;
    sizes.listH = list.clientHeight;
  }
  function render(scroll) {
    slider.value = String(cur);
    $("#time").textContent = N ? fmtTime(EV[cur][0]) : "";
    $("#position").textContent = "event " + (cur + 1) + " of " + N;
    renderList(scroll);
    renderSockets();
    renderPacket();
    renderApp();
    renderExpectations();
    renderDiagram();
    const hash = "#e=" + cur;
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }

  // ---- input ------------------------------------------------------------------
  slider.addEventListener("input", () => go(+slider.value, {}));
  hostSel.addEventListener("change", () => { filter.host = hostSel.value === "" ? -1 : HOSTS.findIndex((h) => h.name === hostSel.value); applyFilters(); });
  connSel.addEventListener("change", () => { filter.conn = connSel.value === "" ? 0 : +connSel.value; applyFilters(); });
  for (const l of layerBoxes) {
    const box = l.querySelector("input");
    box.addEventListener("change", () => { if (box.checked) filter.layers.add(box.value); else filter.layers.delete(box.value); applyFilters(); });
  }
  listenBox.addEventListener("change", () => { filter.listenSlots = listenBox.checked; applyFilters(); });
  let searchTimer = 0;
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { filter.text = search.value.trim().toLowerCase(); applyFilters(); }, 120);
  });
  search.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { clearTimeout(searchTimer); filter.text = search.value.trim().toLowerCase(); applyFilters(); step("next"); ev.preventDefault(); }
    if (ev.key === "Escape") search.blur();
  });
  document.addEventListener("keydown", (ev) => {
    const t = ev.target;
    if (t && (t.tagName === "INPUT" && t.type !== "range" && t.type !== "checkbox" || t.tagName === "SELECT")) return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const keys = {
      ArrowRight: ev.shiftKey ? "next-packet" : "next", ArrowLeft: ev.shiftKey ? "prev-packet" : "prev",
      Home: "first", End: "last", s: "next-state", r: "next-retransmission", l: "next-loss", f: "next-failed",
    };
    if (ev.key === "/") { search.focus(); ev.preventDefault(); return; }
    const kind = keys[ev.key];
    if (kind) { step(kind); ev.preventDefault(); }
  });
  window.addEventListener("resize", () => { measure(); render(false); });
  window.addEventListener("hashchange", () => { const m = /^#e=(\d+)$/.exec(location.hash); if (m && +m[1] !== cur) go(+m[1]); });

  // The tests' handle, and a reader's console.
  window.simnetViewer = { data: D, index: () => cur, go: (i) => go(i), count: N };

  // Where the page opens: #e=N, read before the first render rewrites it.
  const m = /^#e=(\d+)$/.exec(location.hash);
  cur = m ? Math.min(N - 1, +m[1]) : 0;
  measure();
  applyFilters();
  // The diagram needs the layout's size: draw it again once the page has one.
  requestAnimationFrame(() => { measure(); render(true); });
})();
