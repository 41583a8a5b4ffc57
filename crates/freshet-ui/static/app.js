// Freshet streaming UI: live charts, batch tables, pipeline drawing, sources, live results.
// Dependency-free. Data comes from /api/v1/* and the server-sent events of /api/v1/events.
// Every chart carries data-points="N" (the points it drew) for tests and tooling.
"use strict";

(function () {
  const TOKEN = new URLSearchParams(location.search).get("token");
  const KEEP = 600; // batches kept for the charts
  const SVGNS = "http://www.w3.org/2000/svg";

  const st = {
    status: null,
    batches: [], // completed, oldest first
    active: [],
    graph: { nodes: [], edges: [] },
    sources: [],
    rateHistory: new Map(), // source id -> [rate per second], one per snapshot
    outputs: [],
    health: null,
    chosenNode: null,
    chosenOutput: null,
    dirty: { charts: true, tables: true, graph: true, sources: true, results: true, summary: true, health: true },
  };

  // ---------- helpers ----------

  function url(path) {
    if (!TOKEN) return path;
    return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
  }

  async function getJson(path) {
    const r = await fetch(url(path), { cache: "no-store" });
    if (!r.ok) throw new Error(path + ": " + r.status);
    return r.json();
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  const $ = (id) => document.getElementById(id);

  function fmtNum(n) {
    if (n === null || n === undefined) return "—";
    if (Math.abs(n) >= 1e9) return (n / 1e9).toFixed(2) + " G";
    if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(2) + " M";
    if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1) + " k";
    return Number.isInteger(n) ? String(n) : n.toFixed(1);
  }

  function fmtMs(ms) {
    if (ms === null || ms === undefined) return "—";
    if (ms >= 60000) return (ms / 60000).toFixed(1) + " min";
    if (ms >= 1000) return (ms / 1000).toFixed(2) + " s";
    if (ms >= 10) return ms.toFixed(0) + " ms";
    if (ms >= 1 || ms === 0) return ms.toFixed(1) + " ms";
    return (ms * 1000).toFixed(0) + " µs";
  }

  // Batch times are milliseconds of the job's clock: wall-clock times show as a time of day.
  function fmtTime(t) {
    if (t === null || t === undefined) return "—";
    if (t < 86400000 * 365) return t + " ms";
    const d = new Date(t);
    const p = (x, n) => String(x).padStart(n || 2, "0");
    return p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds()) + "." + p(d.getMilliseconds(), 3);
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const e = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * e) return m * e;
    return 10 * e;
  }

  function mark(...what) {
    for (const w of what) st.dirty[w] = true;
  }

  // ---------- charts (timeline + histogram per metric, as Spark's streaming tab) ----------

  const METRICS = [
    { key: "input_rate", title: "Input rate", unit: "records/s", fmt: (v) => fmtNum(v) + "/s" },
    { key: "scheduling_delay_ms", title: "Scheduling delay", unit: "ms", fmt: fmtMs },
    { key: "processing_time_ms", title: "Processing time", unit: "ms", fmt: fmtMs },
    { key: "total_delay_ms", title: "Total delay", unit: "ms", fmt: fmtMs },
  ];

  function buildCharts() {
    const root = $("charts");
    for (const m of METRICS) {
      const row = el("div", { class: "chart-row", id: "row-" + m.key },
        el("div", { class: "chart-stat" },
          el("div", { class: "chart-title", text: m.title }),
          el("div", { class: "chart-avg", id: "avg-" + m.key, text: "—" }),
          el("div", { class: "muted small", id: "max-" + m.key, text: "" })),
        el("div", { class: "chart timeline", id: "tl-" + m.key, "data-points": "0", "data-metric": m.key }),
        el("div", { class: "chart histogram", id: "hist-" + m.key, "data-points": "0", "data-metric": m.key }));
      root.append(row);
    }
  }

  function drawTimeline(host, pts, m, interval) {
    const W = 640, H = 150, L = 56, R = 10, T = 10, B = 24;
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "plot", role: "img", "aria-label": m.title + " timeline" });
    const ymax = niceMax(Math.max(...pts.map((p) => p[1]), 0));
    const t0 = pts.length ? pts[0][0] : 0;
    const t1 = pts.length ? Math.max(pts[pts.length - 1][0], t0 + interval) : 1;
    const x = (t) => L + ((t - t0) / (t1 - t0 || 1)) * (W - L - R);
    const y = (v) => T + (1 - v / ymax) * (H - T - B);
    for (let i = 0; i <= 5; i++) {
      const v = (ymax * i) / 5;
      s.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
      s.append(svg("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, m.fmt(v)));
    }
    if (pts.length) {
      s.append(svg("text", { x: L, y: H - 6, class: "axis" }, fmtTime(t0)));
      s.append(svg("text", { x: W - R, y: H - 6, class: "axis", "text-anchor": "end" }, fmtTime(t1)));
      let d = "";
      pts.forEach((p, i) => { d += (i ? "L" : "M") + x(p[0]).toFixed(1) + " " + y(p[1]).toFixed(1); });
      const area = d + `L${x(pts[pts.length - 1][0]).toFixed(1)} ${y(0)}L${x(t0).toFixed(1)} ${y(0)}Z`;
      s.append(svg("path", { d: area, class: "area" }));
      s.append(svg("path", { d, class: "line", "data-points": pts.length }));
      const dots = pts.length <= 120 ? pts : [pts[pts.length - 1]];
      for (const p of dots) {
        const c = svg("circle", { cx: x(p[0]).toFixed(1), cy: y(p[1]).toFixed(1), r: pts.length <= 120 ? 2.5 : 3.5, class: "dot" });
        c.append(svg("title", {}, fmtTime(p[0]) + ": " + m.fmt(p[1])));
        s.append(c);
      }
    } else {
      s.append(svg("text", { x: W / 2, y: H / 2, class: "axis", "text-anchor": "middle" }, "waiting for batches…"));
    }
    // A click opens the batch nearest to where it lands.
    if (pts.length) {
      s.classList.add("clickable");
      s.addEventListener("click", (ev) => {
        const box = s.getBoundingClientRect();
        const t = t0 + ((((ev.clientX - box.left) / box.width) * W - L) / (W - L - R)) * (t1 - t0);
        let best = pts[0];
        for (const p of pts) if (Math.abs(p[0] - t) < Math.abs(best[0] - t)) best = p;
        location.hash = "#/batch/" + best[0];
      });
    }
    host.replaceChildren(s);
    host.setAttribute("data-points", String(pts.length));
  }

  function drawHistogram(host, values, m) {
    const W = 260, H = 150, L = 8, R = 8, T = 10, B = 24, BINS = 12;
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "plot", role: "img", "aria-label": m.title + " histogram" });
    const vmax = niceMax(Math.max(...values, 0));
    const counts = new Array(BINS).fill(0);
    for (const v of values) counts[Math.min(BINS - 1, Math.floor((v / vmax) * BINS))]++;
    const cmax = Math.max(...counts, 1);
    const bw = (W - L - R) / BINS;
    counts.forEach((c, i) => {
      const h = (c / cmax) * (H - T - B);
      const r = svg("rect", { x: (L + i * bw + 1).toFixed(1), y: (H - B - h).toFixed(1), width: (bw - 2).toFixed(1), height: h.toFixed(1), class: "bar" });
      r.append(svg("title", {}, `${m.fmt((vmax * i) / BINS)} – ${m.fmt((vmax * (i + 1)) / BINS)}: ${c} batches`));
      s.append(r);
    });
    s.append(svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "grid" }));
    s.append(svg("text", { x: L, y: H - 6, class: "axis" }, m.fmt(0)));
    s.append(svg("text", { x: W - R, y: H - 6, class: "axis", "text-anchor": "end" }, m.fmt(vmax)));
    host.replaceChildren(s);
    host.setAttribute("data-points", String(values.length));
    host.setAttribute("data-bins", String(counts.filter((c) => c > 0).length));
  }

  function renderCharts() {
    const interval = st.status ? st.status.batch_interval_ms : 1000;
    const b = st.batches;
    for (const m of METRICS) {
      const pts = b.map((x) => [x.time, x[m.key]]);
      drawTimeline($("tl-" + m.key), pts, m, interval);
      drawHistogram($("hist-" + m.key), pts.map((p) => p[1]), m);
      const vals = pts.map((p) => p[1]);
      const avg = vals.length ? vals.reduce((a, c) => a + c, 0) / vals.length : null;
      $("avg-" + m.key).textContent = avg === null ? "—" : "avg " + m.fmt(avg);
      $("max-" + m.key).textContent = vals.length ? "max " + m.fmt(Math.max(...vals)) : "";
    }
    $("chart-span").textContent = b.length ? `last ${b.length} batches` : "";
  }

  // ---------- tables ----------

  function renderTables() {
    const act = $("active-table").tBodies[0];
    act.replaceChildren(...(st.active.length ? st.active.map((a) =>
      el("tr", {}, el("td", { text: fmtTime(a.time) }),
        el("td", {}, el("span", { class: "pill " + (a.processing ? "pill-run" : "pill-idle"), text: a.processing ? "processing" : "queued" })),
        el("td", { class: "num", text: fmtMs(a.elapsed_ms) }))) :
      [el("tr", {}, el("td", { colspan: "3", class: "muted", text: "none" }))]));
    const done = $("completed-table").tBodies[0];
    const rows = st.batches.slice(-50).reverse().map((b) =>
      el("tr", {},
        el("td", {}, el("a", { href: "#/batch/" + b.time, text: fmtTime(b.time) })),
        el("td", { class: "num", text: fmtNum(b.records) }),
        el("td", { class: "num", text: fmtNum(b.input_rate) + "/s" }),
        el("td", { class: "num", text: fmtMs(b.scheduling_delay_ms) }),
        el("td", { class: "num", text: fmtMs(b.processing_time_ms) }),
        el("td", { class: "num", text: fmtMs(b.total_delay_ms) })));
    done.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "6", class: "muted", text: "no batch completed yet" }))]));
  }

  function fmtBytes(n) {
    if (n >= 1 << 30) return (n / (1 << 30)).toFixed(1) + " GiB";
    if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + " MiB";
    if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + " KiB";
    return n + " B";
  }

  function renderSummary() {
    const s = st.status;
    const state = $("state");
    if (s) {
      $("s-interval").textContent = fmtMs(s.batch_interval_ms);
      $("s-workers").textContent = s.workers;
      $("s-completed").textContent = fmtNum(s.batches_completed);
      $("s-active").textContent = st.active.length;
      $("s-skipped").textContent = fmtNum(s.skipped_records);
      $("s-state").textContent = fmtNum(s.state_keys || 0);
      const c = s.last_checkpoint;
      $("s-checkpoint").textContent = c ? fmtMs(c.duration_ms) + " · " + fmtBytes(c.bytes) : "none";
      $("s-checkpoint").title = c ? (s.checkpoints_written + " written; last at " + fmtTime(c.time)) : "no checkpoint directory, or none written yet";
      $("s-since").textContent = fmtTime(s.first_batch_time);
      const h = st.health;
      const failed = h ? h.checkpoints.failed : 0;
      const problems = h ? h.incidents.length : 0;
      $("s-problems").textContent = problems ? problems + (failed ? " · " + failed + " checkpoint failures" : "") : "none";
      $("s-problems").className = "value" + (problems ? " err" : "");
      state.textContent = s.running ? "running" : (s.history ? "recorded · " + s.history.ended : "stopped");
      const rec = s.history;
      $("recorded").hidden = !rec;
      if (rec) {
        $("recorded-text").textContent = "run " + rec.run + ", " + rec.ended +
          (rec.ended_at_ms ? " at " + new Date(rec.ended_at_ms).toLocaleString() : "") +
          (rec.error ? ": " + rec.error : "") +
          (rec.damaged_lines ? " · " + rec.damaged_lines + " damaged lines of the event log were skipped" : "");
      }
      const behind = s.backlog && s.backlog.falling_behind;
      $("behind").hidden = !behind;
      if (behind) {
        $("behind-text").textContent = s.backlog.batches + " batches due and not done, the oldest since " +
          fmtTime(s.backlog.oldest) + ": processing takes longer than the batch interval";
      }
      state.className = "pill " + (s.running ? "pill-run" : "pill-stop");
    }
    $("s-records").textContent = fmtNum(st.sources.reduce((a, x) => a + x.records_total, 0));
  }

  // ---------- pipeline drawing ----------

  function renderGraph() {
    const host = $("pipeline");
    const { nodes, edges } = st.graph;
    if (!nodes.length) {
      host.replaceChildren(el("p", { class: "muted", text: "The pipeline appears once the job has started." }));
      host.setAttribute("data-nodes", "0");
      return;
    }
    // Layers: longest path from a source.
    const layer = new Map(nodes.map((n) => [n.id, 0]));
    for (let pass = 0; pass < nodes.length; pass++) {
      let changed = false;
      for (const e of edges) {
        const l = layer.get(e.from) + 1;
        if (layer.has(e.to) && l > layer.get(e.to)) { layer.set(e.to, l); changed = true; }
      }
      if (!changed) break;
    }
    const cols = [];
    for (const n of nodes) (cols[layer.get(n.id)] = cols[layer.get(n.id)] || []).push(n);
    // Boxes as wide as the longest name (up to a limit; longer names are cut with an ellipsis
    // and shown whole on hover and in the node's detail).
    const title = (n) => n.label || n.name;
    const MAXC = 30;
    const longest = Math.max(...nodes.map((n) => Math.min(title(n).length, MAXC)));
    const NW = Math.max(150, Math.min(14 + longest * 7.6 + 12, 260)), NH = 58, GX = 64, GY = 22, P = 16;
    const cut = (t) => (t.length > MAXC ? t.slice(0, MAXC - 1) + "…" : t);
    const rowsMax = Math.max(...cols.map((c) => (c ? c.length : 0)));
    const W = P * 2 + cols.length * NW + (cols.length - 1) * GX;
    const H = P * 2 + rowsMax * NH + (rowsMax - 1) * GY;
    const pos = new Map();
    cols.forEach((c, i) => (c || []).forEach((n, j) => {
      const off = ((rowsMax - c.length) * (NH + GY)) / 2;
      pos.set(n.id, { x: P + i * (NW + GX), y: P + off + j * (NH + GY) });
    }));
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "graph", role: "img", "aria-label": "pipeline" });
    const defs = svg("defs");
    const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
    marker.append(svg("path", { d: "M0 0L10 5L0 10z", class: "arrow" }));
    defs.append(marker);
    s.append(defs);
    for (const e of edges) {
      const a = pos.get(e.from), b = pos.get(e.to);
      if (!a || !b) continue;
      const x1 = a.x + NW, y1 = a.y + NH / 2, x2 = b.x - 2, y2 = b.y + NH / 2, mx = (x1 + x2) / 2;
      s.append(svg("path", { d: `M${x1} ${y1}C${mx} ${y1} ${mx} ${y2} ${x2} ${y2}`, class: "edge", "marker-end": "url(#arrow)" }));
    }
    for (const n of nodes) {
      const p = pos.get(n.id);
      const g = svg("g", { class: "node node-" + n.kind + (st.chosenNode === n.id ? " chosen" : ""), transform: `translate(${p.x},${p.y})`, "data-id": n.id, "data-records": n.records_total, tabindex: "0" });
      g.append(svg("rect", { width: NW, height: NH, rx: 8 }));
      g.append(svg("rect", { width: 5, height: NH, rx: 2, class: "kind-bar" }));
      g.append(svg("text", { x: 14, y: 22, class: "node-name" }, cut(title(n))));
      g.append(svg("text", { x: NW - 8, y: 44, class: "node-kind", "text-anchor": "end" }, n.label ? n.name : n.kind));
      g.append(svg("text", { x: 14, y: 44, class: "node-count" }, fmtNum(n.records_total) + " · " + fmtNum(n.records_last_batch)));
      g.append(svg("title", {}, `${title(n)}${n.label ? " (" + n.name + ")" : ""} #${n.id}: ${n.records_total} records emitted, ${n.records_last_batch} in the last batch`));
      const open = () => { st.chosenNode = n.id; mark("graph"); render(); showNode(n.id); };
      g.addEventListener("click", open);
      g.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
      s.append(g);
    }
    host.replaceChildren(s);
    host.setAttribute("data-nodes", String(nodes.length));
  }

  // A node's detail: its figures, and what it did in the newest completed batch.
  async function showNode(id) {
    const host = $("node-detail");
    const n = st.graph.nodes.find((x) => x.id === id);
    if (!n) { host.hidden = true; return; }
    host.hidden = false;
    const rows = [["Operator", n.name], ["Name", n.label || "—"], ["Kind", n.kind], ["Node", "#" + n.id],
      ["Records emitted", fmtNum(n.records_total)], ["In the last batch", fmtNum(n.records_last_batch)]];
    const h = st.health;
    const et = h && h.event_time.find((e) => e.node === id);
    if (et) rows.push(["Watermark", et.watermark === null ? "—" : fmtTime(et.watermark)], ["Late records", fmtNum(et.late_records)]);
    const keys = st.status && st.status.state ? st.status.state.find((x) => x.node === id) : null;
    if (keys) rows.push(["State keys", fmtNum(keys.keys)]);
    const last = st.batches[st.batches.length - 1];
    const figs = () => el("div", { class: "figures" }, ...rows.map(([k, v]) => el("div", {}, el("span", { class: "label", text: k }), el("span", { class: "value", text: v }))));
    host.replaceChildren(el("h3", { text: n.label || n.name }), figs());
    if (!last) return;
    try {
      const d = await getJson("/api/v1/batches/" + last.time);
      const o = d.operators.find((x) => x.node === id);
      if (o) {
        rows.push(["Busy in batch " + fmtTime(d.time), fmtMs(o.busy_ms)], ["Records in · out", fmtNum(o.records_in) + " · " + fmtNum(o.records_out)]);
        host.replaceChildren(el("h3", { text: n.label || n.name }), figs(),
          el("p", {}, el("a", { href: "#/batch/" + d.time, text: "Open batch " + fmtTime(d.time) })));
      }
    } catch (e) { /* the batch left the recent list: the figures above stand */ }
  }

  // ---------- sources ----------

  function sparkline(id, values) {
    const W = 140, H = 28;
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "spark" });
    const max = niceMax(Math.max(...values, 0));
    let d = "";
    values.forEach((v, i) => {
      const x = values.length > 1 ? (i / (values.length - 1)) * (W - 4) + 2 : W / 2;
      d += (i ? "L" : "M") + x.toFixed(1) + " " + (H - 2 - (v / max) * (H - 4)).toFixed(1);
    });
    if (d) s.append(svg("path", { d, class: "line" }));
    const box = el("span", { class: "chart sparkline", id: "spark-" + id, "data-points": String(values.length) });
    box.append(s);
    return box;
  }

  // A source's lag per partition (Kafka: "topic/partition"), as a small table under its row.
  function partitionLag(s) {
    const parts = s.partition_lag || [];
    if (!parts.length) return [];
    const table = el("table", { class: "tbl partition-lag", id: "partition-lag-" + s.id, "data-points": String(parts.length) },
      el("thead", {}, el("tr", {}, el("th", { text: "Partition" }), el("th", { class: "num", text: "Lag" }))),
      el("tbody", {}, ...parts.map((p) => el("tr", {}, el("td", { text: p.partition }), el("td", { class: "num", text: fmtNum(p.lag) })))));
    return [el("tr", { class: "partition-lag-row" }, el("td", {}), el("td", { colspan: "8" }, table))];
  }

  function renderSources() {
    const body = $("sources-table").tBodies[0];
    const rows = st.sources.flatMap((s) => {
      const cls = { running: "pill-run", not_a_receiver: "pill-idle", restarting: "pill-warn", stopped: "pill-stop" }[s.state] || "pill-idle";
      return [el("tr", {},
        el("td", {}, el("strong", { text: s.name }), el("span", { class: "muted small", text: " #" + s.id })),
        el("td", {}, el("span", { class: "pill " + cls, text: s.state.replace(/_/g, " ") })),
        el("td", { class: "num", text: fmtNum(s.records_total) }),
        el("td", { class: "num", text: fmtNum(s.last_batch_records) }),
        el("td", { class: "num", title: "records per second; the limit is the source's maximum or the backpressure estimate",
          text: fmtNum(s.rate_per_sec) + "/s" + (s.rate_limit == null ? "" : " · limit " + fmtNum(s.rate_limit) + "/s") }),
        el("td", {}, sparkline(s.id, st.rateHistory.get(s.id) || [])),
        el("td", { class: "num", text: s.lag === null ? "—" : fmtNum(s.lag) }),
        el("td", { class: "num", text: (s.errors || 0) + " · " + (s.restarts || 0) }),
        el("td", { class: "err", text: s.last_error || "" })), ...partitionLag(s)];
    });
    body.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "9", class: "muted", text: "no sources yet" }))]));
  }

  // ---------- live results ----------

  // Records are formatted with Rust's Debug: ("key", 12) pairs are drawn as bars.
  const PAIR = /^\(\s*"((?:[^"\\]|\\.)*)"\s*,\s*(-?\d+(?:\.\d+)?)\s*\)$/;

  function renderResults() {
    const sel = $("output-select");
    const names = st.outputs.map((o) => o.name);
    if (sel.options.length !== names.length || names.some((n, i) => sel.options[i].value !== n)) {
      sel.replaceChildren(...names.map((n) => el("option", { value: n, text: n })));
    }
    if (!names.length) return;
    if (!names.includes(st.chosenOutput)) st.chosenOutput = names[0];
    sel.value = st.chosenOutput;
    const o = st.outputs.find((x) => x.name === st.chosenOutput);
    const host = $("results");
    const head = el("p", { class: "muted" }, "batch ", el("strong", { text: fmtTime(o.time) }),
      ` · ${fmtNum(o.total)} records` + (o.records.length < o.total ? `, first ${o.records.length} shown` : ""));
    const pairs = o.records.map((r) => r.match(PAIR));
    let body;
    if (o.records.length && pairs.every(Boolean)) {
      const items = pairs.map((m) => [JSON.parse('"' + m[1] + '"'), Number(m[2])]).sort((a, b) => b[1] - a[1]);
      const max = Math.max(...items.map((i) => i[1]), 1);
      body = el("div", { class: "chart bars", id: "results-bars", "data-points": String(items.length) },
        ...items.map(([k, v]) => el("div", { class: "bar-row" },
          el("span", { class: "bar-key", text: k }),
          el("span", { class: "bar-track" }, el("span", { class: "bar-fill", style: `width:${((100 * Math.max(v, 0)) / max).toFixed(1)}%` })),
          el("span", { class: "bar-val num", text: fmtNum(v) }))));
    } else if (o.records.length) {
      body = el("pre", { class: "records", "data-points": String(o.records.length) }, o.records.join("\n"));
    } else {
      body = el("p", { class: "muted", text: "(empty batch)" });
    }
    host.replaceChildren(head, body);
  }

  // ---------- batch detail ----------

  async function showBatch(time) {
    $("batch-title").textContent = "Batch " + fmtTime(Number(time));
    const body = $("batch-body");
    body.replaceChildren(el("p", { class: "muted", text: "loading…" }));
    let d;
    try {
      d = await getJson("/api/v1/batches/" + encodeURIComponent(time));
    } catch (e) {
      body.replaceChildren(el("p", { class: "err", text: "This batch is not among the recent completed batches." }));
      return;
    }
    const figs = el("div", { class: "figures" },
      ...[["Batch time", fmtTime(d.time)], ["Input records", fmtNum(d.records)], ["Input rate", fmtNum(d.input_rate) + "/s"],
        ["Scheduling delay", fmtMs(d.scheduling_delay_ms)], ["Processing time", fmtMs(d.processing_time_ms)], ["Total delay", fmtMs(d.total_delay_ms)]]
        .map(([k, v]) => el("div", {}, el("span", { class: "label", text: k }), el("span", { class: "value", text: v }))));
    const maxBusy = Math.max(...d.operators.map((o) => o.busy_ms), 0.001);
    const ops = el("table", { class: "tbl" },
      el("thead", {}, el("tr", {}, el("th", { text: "Operator" }), el("th", { class: "num", text: "Node" }), el("th", { class: "num", text: "Records in" }), el("th", { class: "num", text: "Records out" }), el("th", { class: "num", text: "Busy (all workers)" }), el("th", { text: "" }))),
      el("tbody", {}, ...d.operators.map((o) => el("tr", {},
        el("td", { text: o.name }), el("td", { class: "num", text: "#" + o.node }),
        el("td", { class: "num", text: fmtNum(o.records_in) }), el("td", { class: "num", text: fmtNum(o.records_out) }), el("td", { class: "num", text: fmtMs(o.busy_ms) }),
        el("td", { class: "wide" }, el("span", { class: "bar-track" }, el("span", { class: "bar-fill", style: `width:${((100 * o.busy_ms) / maxBusy).toFixed(1)}%` })))))));
    const srcs = el("table", { class: "tbl" },
      el("thead", {}, el("tr", {}, el("th", { text: "Source" }), el("th", { class: "num", text: "Records" }))),
      el("tbody", {}, ...d.sources.map((s) => el("tr", {}, el("td", { text: s.name }), el("td", { class: "num", text: fmtNum(s.records) })))));
    const workers = d.workers || [];
    const maxW = Math.max(...workers, 0.001);
    const wk = el("div", { class: "chart bars", id: "batch-workers", "data-points": String(workers.length) },
      ...workers.map((w, i) => el("div", { class: "bar-row" },
        el("span", { class: "bar-key", text: "worker " + i }),
        el("span", { class: "bar-track" }, el("span", { class: "bar-fill", style: `width:${((100 * w) / maxW).toFixed(1)}%` })),
        el("span", { class: "bar-val num", text: fmtMs(w) }))));
    body.replaceChildren(figs, el("h3", { text: "Operators" }), el("div", { class: "scroll" }, ops), el("h3", { text: "Sources" }), srcs,
      el("h3", { text: "Workers (time their operators ran)" }), wk);
  }

  // ---------- routing ----------

  function route() {
    const h = location.hash.replace(/^#\/?/, "");
    const [page, arg] = h.split("/");
    const pages = ["streaming", "batch", "pipeline", "sources", "results", "health"];
    const overview = !pages.includes(page);
    for (const p of pages) {
      $("page-" + p).hidden = overview ? p === "batch" : p !== page;
    }
    for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("on", a.dataset.page === page);
    if (page === "batch" && arg) showBatch(arg);
  }

  // ---------- data ----------

  function addBatch(b) {
    const last = st.batches[st.batches.length - 1];
    if (last && b.time <= last.time) {
      if (st.batches.some((x) => x.time === b.time)) return;
      st.batches.push(b);
      st.batches.sort((x, y) => x.time - y.time);
    } else {
      st.batches.push(b);
    }
    if (st.batches.length > KEEP) st.batches.splice(0, st.batches.length - KEEP);
    if (st.status) st.status.batches_completed = Math.max(st.status.batches_completed, st.batches.length);
    mark("charts", "tables", "summary");
  }

  function applySnapshot(s) {
    if (st.status) {
      st.status.running = s.running;
      st.status.batches_completed = s.batches_completed;
      st.status.skipped_records = s.skipped_records;
      st.status.state_keys = s.state_keys;
      st.status.backlog = s.backlog;
      st.status.checkpoints_written = s.checkpoints_written;
      st.status.last_checkpoint = s.last_checkpoint;
      if (s.state) st.status.state = s.state;
    }
    st.active = s.active;
    st.graph = s.graph;
    st.sources = s.sources;
    for (const src of s.sources) {
      const h = st.rateHistory.get(src.id) || [];
      h.push(src.rate_per_sec);
      if (h.length > 60) h.shift();
      st.rateHistory.set(src.id, h);
    }
    st.outputs = s.outputs;
    if (s.health) { st.health = s.health; mark("health"); }
    mark("tables", "graph", "sources", "results", "summary");
  }

  async function loadAll() {
    try {
      const [status, batches, graph, sources, outputs, active, health] = await Promise.all([
        getJson("/api/v1/status"), getJson("/api/v1/batches?limit=" + KEEP), getJson("/api/v1/graph"),
        getJson("/api/v1/sources"), getJson("/api/v1/outputs"), getJson("/api/v1/batches/active"), getJson("/api/v1/health")]);
      st.status = status;
      st.batches = [];
      batches.forEach(addBatch);
      applySnapshot({ running: status.running, batches_completed: status.batches_completed, skipped_records: status.skipped_records, backlog: status.backlog, active, graph, sources, outputs, health });
    } catch (e) {
      setConn("error", "pill-stop");
    }
  }

  function setConn(text, cls) {
    const c = $("conn");
    c.textContent = text;
    c.className = "pill " + cls;
  }

  // Polling: for browsers or proxies without server-sent events (?live=poll forces it).
  let polling = false;
  function poll() {
    if (polling) return;
    polling = true;
    setConn("polling", "pill-run");
    const tick = async () => {
      try {
        const last = st.batches.length ? st.batches[st.batches.length - 1].time : null;
        const q = last === null ? "?limit=" + KEEP : "?after=" + last;
        const [batches, status, graph, sources, outputs, active, health] = await Promise.all([
          getJson("/api/v1/batches" + q), getJson("/api/v1/status"), getJson("/api/v1/graph"),
          getJson("/api/v1/sources"), getJson("/api/v1/outputs"), getJson("/api/v1/batches/active"), getJson("/api/v1/health")]);
        batches.forEach(addBatch);
        st.status = status;
        applySnapshot({ running: status.running, batches_completed: status.batches_completed, skipped_records: status.skipped_records, backlog: status.backlog, active, graph, sources, outputs, health });
        setConn("polling", "pill-run");
      } catch (e) {
        setConn("unreachable", "pill-stop");
      }
      setTimeout(tick, 1000);
    };
    setTimeout(tick, 1000);
  }

  function connect() {
    if (st.status && st.status.history) {
      // A recorded run: everything was loaded, nothing more will come.
      setConn("recorded", "pill-idle");
      return;
    }
    if (!window.EventSource || new URLSearchParams(location.search).get("live") === "poll") {
      poll();
      return;
    }
    const es = new EventSource(url("/api/v1/events"));
    let opened = false, failures = 0;
    es.onopen = () => { opened = true; failures = 0; setConn("live", "pill-run"); };
    es.onerror = () => {
      setConn("reconnecting", "pill-warn");
      // Never opened after a few tries: the event stream is blocked on the way; poll instead.
      if (!opened && ++failures >= 3) { es.close(); poll(); }
    };
    es.addEventListener("batch_completed", (e) => addBatch(JSON.parse(e.data)));
    es.addEventListener("snapshot", (e) => applySnapshot(JSON.parse(e.data)));
    es.addEventListener("lagged", () => loadAll());
    es.addEventListener("stopped", () => { if (st.status) st.status.running = false; mark("summary"); });
  }

  function render() {
    const d = st.dirty;
    if (d.charts) renderCharts();
    if (d.tables) renderTables();
    if (d.graph) renderGraph();
    if (d.sources) renderSources();
    if (d.results) renderResults();
    if (d.summary) renderSummary();
    if (d.health && window.FreshetHealth) window.FreshetHealth.render($("health"), st.health, { el, fmtMs, fmtNum, fmtTime, fmtBytes });
    for (const k of Object.keys(d)) d[k] = false;
    // Whether the page is wider than the window (it should never be, down to phone width).
    document.body.setAttribute("data-overflow-x", String(document.documentElement.scrollWidth > window.innerWidth + 1));
  }

  buildCharts();
  $("output-select").addEventListener("change", (e) => { st.chosenOutput = e.target.value; mark("results"); render(); });
  window.addEventListener("hashchange", route);
  route();
  render();
  loadAll().then(() => { render(); connect(); });
  // Redraw at most four times a second, however fast batches complete.
  setInterval(render, 250);
  // Polling fallback for the status line (the event stream brings everything else).
  setInterval(() => getJson("/api/v1/status").then((s) => { st.status = s; mark("summary"); }).catch(() => {}), 5000);
})();
