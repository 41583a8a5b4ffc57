// Freshet UI, the Health page: checkpoints, problems (incidents), output operations, event-time
// watermarks, per-worker busy time and, in a cluster, the processes. Drawn by app.js from
// /api/v1/health (or the snapshot of the event stream). Every chart carries data-points="N" like
// the others.
"use strict";

(function () {
  function table(h, heads, rows, empty) {
    const { el } = h;
    return el("div", { class: "scroll" }, el("table", { class: "tbl" },
      el("thead", {}, el("tr", {}, ...heads.map(([t, num]) => el("th", { class: num ? "num" : "", text: t })))),
      el("tbody", {}, ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: String(heads.length), class: "muted", text: empty }))]))));
  }

  function bars(h, id, items, fmt) {
    const { el } = h;
    const max = Math.max(...items.map((i) => i[1]), 1e-9);
    return el("div", { class: "chart bars", id, "data-points": String(items.length) },
      ...items.map(([k, v]) => el("div", { class: "bar-row" },
        el("span", { class: "bar-key", text: k, title: k }),
        el("span", { class: "bar-track" }, el("span", { class: "bar-fill", style: `width:${((100 * v) / max).toFixed(1)}%` })),
        el("span", { class: "bar-val num", text: fmt(v) }))));
  }

  function checkpoints(h, c) {
    const { el, fmtMs, fmtNum, fmtTime, fmtBytes } = h;
    const head = el("p", {},
      el("strong", { text: fmtNum(c.written) }), " written · ",
      el("strong", { class: c.failed ? "err" : "", text: fmtNum(c.failed) }), " failed" +
      (c.consecutive_failures ? ` (${c.consecutive_failures} in a row)` : ""));
    const recent = c.recent.slice(-20).reverse();
    const rows = recent.map((x) => el("tr", {},
      el("td", { class: "num", text: "#" + x.id }),
      el("td", {}, el("a", { href: "#/batch/" + x.time, text: fmtTime(x.time) })),
      el("td", { class: "num", text: fmtMs(x.duration_ms) }),
      el("td", { class: "num", text: fmtBytes(x.bytes) })));
    const fails = c.failures.slice(-20).reverse().map((f) => el("tr", {},
      el("td", { text: new Date(f.at_ms).toLocaleTimeString() }),
      el("td", { text: fmtTime(f.time) }),
      el("td", { class: "err", text: f.error })));
    return [head,
      bars(h, "checkpoint-durations", c.recent.slice(-30).map((x) => ["#" + x.id, x.duration_ms]), fmtMs),
      el("h3", { text: "Recent checkpoints" }),
      table(h, [["Id", true], ["Batch", false], ["Duration", true], ["Size", true]], rows, "none written (no checkpoint directory, or none yet)"),
      el("h3", { text: "Failures" }),
      table(h, [["When", false], ["Batch", false], ["Error", false]], fails, "none")];
  }

  const KIND = {
    receiver_error: "receiver error", receiver_restart: "receiver restart",
    checkpoint_failure: "checkpoint failure", sink_retry: "sink retry", job_failure: "job failure",
  };

  function incidents(h, list) {
    const { el } = h;
    const rows = list.slice().reverse().map((i) => el("tr", {},
      el("td", { text: new Date(i.at_ms).toLocaleTimeString() }),
      el("td", {}, el("span", { class: "pill " + (i.kind === "receiver_restart" ? "pill-warn" : "pill-stop"), text: KIND[i.kind] || i.kind })),
      el("td", { text: i.subject }),
      el("td", { class: "err", text: i.message })));
    return [table(h, [["When", false], ["What", false], ["Where", false], ["Error", false]], rows, "no problems so far")];
  }

  function outputs(h, list) {
    const { el, fmtMs, fmtNum, fmtTime } = h;
    const rows = list.map((o) => el("tr", {},
      el("td", {}, el("strong", { text: o.id })),
      el("td", { text: o.kind }),
      el("td", { class: "num", text: fmtNum(o.batches) }),
      el("td", { text: o.last_batch === null ? "—" : fmtTime(o.last_batch) }),
      el("td", { class: "num", text: fmtMs(o.last_duration_ms) }),
      el("td", { class: "num", text: fmtMs(o.batches ? o.total_duration_ms / o.batches : 0) }),
      el("td", { class: "num", text: fmtMs(o.max_duration_ms) })));
    return [bars(h, "output-durations", list.map((o) => [o.id, o.last_duration_ms]), fmtMs),
      table(h, [["Output", false], ["Kind", false], ["Batches", true], ["Last batch", false], ["Last", true], ["Mean", true], ["Max", true]], rows, "no output has finished a batch yet")];
  }

  function eventTime(h, list) {
    const { el, fmtNum, fmtTime } = h;
    const rows = list.map((e) => el("tr", {},
      el("td", { text: e.name }),
      el("td", { class: "num", text: "#" + e.node }),
      el("td", { text: e.watermark === null ? "—" : fmtTime(e.watermark) }),
      el("td", { text: e.batch === null ? "—" : fmtTime(e.batch) }),
      el("td", { class: "num" + (e.late_records ? " err" : ""), text: fmtNum(e.late_records) })));
    return [table(h, [["Operator", false], ["Node", true], ["Watermark", false], ["As of batch", false], ["Late records", true]], rows, "no event-time window operator")];
  }

  // The processes of a job that runs on several; none for a job of one process.
  function clusterProcesses(health) {
    const c = health.cluster;
    return c && c.processes && c.processes.length > 1 ? c.processes : [];
  }

  // "worker 2 (process 1)" in a cluster, "worker 2" otherwise.
  function workerLabel(i, procs) {
    const p = procs.find((x) => i >= x.first_worker && i < x.first_worker + x.workers);
    return "worker " + i + (p ? ` (process ${p.process})` : "");
  }

  function workers(h, w, procs) {
    const { el, fmtMs } = h;
    const skew = w.skew || 1;
    return [el("p", {}, "Skew (busiest over mean): ", el("strong", { class: skew > 1.5 ? "err" : "", text: skew.toFixed(2) }),
      skew > 1.5 ? " — one worker does much more than the others: hot keys?" : ""),
      bars(h, "worker-busy", w.busy_ms.map((b, i) => [workerLabel(i, procs), b]), fmtMs)];
  }

  function lastHeard(h, p, thisProcess) {
    if (p.last_heard_ms === null || p.last_heard_ms === undefined) return p.process === thisProcess ? "this process" : "never";
    return (p.last_heard_ms < 60000 ? (p.last_heard_ms / 1000).toFixed(1) + " s" : h.fmtMs(p.last_heard_ms)) + " ago";
  }

  function processes(h, c, procs, busyMs) {
    const { el, fmtMs } = h;
    const busy = procs.map((p) => busyMs.slice(p.first_worker, p.first_worker + p.workers).reduce((a, b) => a + b, 0));
    const mean = busy.reduce((a, b) => a + b, 0) / procs.length;
    const rows = procs.map((p, i) => {
      const why = [];
      if (p.late) why.push("not heard from for more than 3 s");
      if (mean > 0 && busy[i] > 1.5 * mean) why.push(`busy ${(busy[i] / mean).toFixed(2)}× the mean of the processes`);
      const range = p.workers > 1 ? `${p.first_worker}–${p.first_worker + p.workers - 1}` : String(p.first_worker);
      return el("tr", {},
        el("td", {}, el("strong", { text: String(p.process) }), p.process === 0 ? " (driver)" : ""),
        el("td", {}, el("code", { text: p.address })),
        el("td", { text: range }),
        el("td", {},
          el("span", { class: "pill " + (p.connected ? "pill-run" : "pill-stop"), text: p.connected ? "connected" : "disconnected" }),
          ...(why.length ? [el("span", { class: "pill pill-warn", text: "late", title: why.join("; ") })] : []),
          ...(p.error ? [el("span", { class: "err", text: " " + p.error })] : [])),
        el("td", { text: lastHeard(h, p, c.this_process) }),
        el("td", { class: "num" + (why.length ? " err" : ""), text: fmtMs(busy[i]) }));
    });
    return [el("p", { class: "muted", text: "Late: not heard from for more than 3 s, or busy more than 1.5× the mean of the processes." }),
      table(h, [["Process", false], ["Address", false], ["Workers", false], ["State", false], ["Last heard", false], ["Busy (its workers)", true]], rows, "one process")];
  }

  function card(h, title, id, parts) {
    const { el } = h;
    return el("div", { class: "card", id }, el("h3", { text: title }), ...parts);
  }

  window.FreshetHealth = {
    render(host, health, h) {
      if (!health) {
        host.replaceChildren(h.el("p", { class: "muted", text: "loading…" }));
        return;
      }
      const procs = clusterProcesses(health);
      host.replaceChildren(
        h.el("div", { class: "grid2 even" },
          card(h, "Problems", "health-incidents", incidents(h, health.incidents)),
          card(h, "Checkpoints", "health-checkpoints", checkpoints(h, health.checkpoints))),
        ...(procs.length ? [card(h, "Processes", "health-processes", processes(h, health.cluster, procs, health.workers.busy_ms))] : []),
        h.el("div", { class: "grid2 even" },
          card(h, "Output operations", "health-outputs", outputs(h, health.outputs)),
          card(h, "Workers", "health-workers", workers(h, health.workers, procs))),
        card(h, "Event time", "health-event-time", eventTime(h, health.event_time)));
    },
  };
})();
