// dashboard.js: the operators' live view of one hub (GET /dashboard). Asks once for the
// server API key, keeps it in sessionStorage (this tab only), polls GET /v1/stats with it
// every second and draws the last two minutes as small SVG charts: connections, sessions,
// events/s, fan-out latency, slow consumers and drops, cluster traffic, and the peers.
//
// Rates are derived here from two successive polls of one replica's counters. Behind a load
// balancer successive polls reach different replicas, so each replica (by its id) has a
// history of its own and the page shows one at a time, chosen in a list; a table lists every
// replica that answered. A restart (uptime going back) starts that replica's history again
// rather than draw a false spike; a replica silent for 30 s is dropped.
// A 401 means the key is wrong or was revoked: it is forgotten and asked for again.
// No libraries, no inline script or style (the page's CSP forbids both), no build step.
// Outside a browser (unit tests) the file only defines `dashboardLogic`.
(function () {
  "use strict";

  const STORAGE_KEY = "sessionhub.dashboard.api-key";
  const POLL_MS = 1000;
  const WINDOW_MS = 2 * 60 * 1000;
  const MAX_SAMPLES = 200;
  const STALE_MS = 30 * 1000;

  // ---- pure logic (no DOM) ------------------------------------------------------------

  const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);

  // Reads a dotted path ("connections.current") from a stats object.
  function pick(obj, path) {
    let v = obj;
    for (const part of path.split(".")) {
      if (v == null || typeof v !== "object") return null;
      v = v[part];
    }
    return num(v);
  }

  // True when `b` cannot continue `a`'s history: another replica, or the same one restarted.
  function discontinuous(a, b) {
    return !a || a.stats.replica !== b.stats.replica || num(b.stats.uptime_s) < num(a.stats.uptime_s);
  }

  // Per-second increase of counter `path` between samples a and b; null when unknown
  // (first sample, a counter that went backwards, no time elapsed).
  function rate(a, b, path) {
    if (!a || !b) return null;
    const x = pick(a.stats, path);
    const y = pick(b.stats, path);
    const dt = (b.t - a.t) / 1000;
    if (x === null || y === null || dt <= 0 || y < x) return null;
    return (y - x) / dt;
  }

  // The smallest "nice" number (1, 2, 2.5, 5 × 10^n) at or above v; 1 for nothing to show.
  function niceCeil(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v * (1 - 1e-9)) return m * p;
    return 10 * p;
  }

  function formatNumber(v, digits) {
    if (v === null || v === undefined) return "–";
    if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(v >= 1e7 ? 0 : 1) + "M";
    if (Math.abs(v) >= 1e4) return (v / 1e3).toFixed(v >= 1e5 ? 0 : 1) + "k";
    if (Number.isInteger(v)) return String(v);
    const d = digits ?? (Math.abs(v) < 10 ? 2 : 1);
    return v.toFixed(d).replace(/\.?0+$/, "");
  }

  function formatDuration(s) {
    if (s === null) return "–";
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
    return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  }

  // The charts: each series is a function of (previous sample, sample) → number | null.
  const gauge = (path) => (prev, cur) => pick(cur.stats, path);
  const perSecond = (path) => (prev, cur) => rate(prev, cur, path);
  const CHARTS = [
    {
      id: "connections",
      title: "Live connections",
      unit: "WebSockets",
      series: [
        { id: "current", label: "current", value: gauge("connections.current") },
        { id: "authenticated", label: "authenticated", value: gauge("connections.authenticated") },
        { id: "watching", label: "watching", value: gauge("connections.watching") },
      ],
    },
    {
      id: "sessions",
      title: "Sessions",
      unit: "active in the store",
      series: [{ id: "active", label: "active", value: gauge("sessions.active") }],
    },
    {
      id: "events",
      title: "Events",
      unit: "per second",
      series: [
        { id: "published", label: "published/s", value: perSecond("events.published") },
        { id: "delivered", label: "delivered/s", value: perSecond("events.delivered") },
      ],
    },
    {
      id: "latency",
      title: "Fan-out latency",
      unit: "ms, publish → delivered",
      series: [
        { id: "p50", label: "p50", value: gauge("fanout_latency_ms.p50") },
        { id: "p99", label: "p99", value: gauge("fanout_latency_ms.p99") },
        { id: "max", label: "max", value: gauge("fanout_latency_ms.max") },
      ],
    },
    {
      id: "slow",
      title: "Slow consumers and drops",
      unit: "totals since start",
      series: [
        { id: "kicks", label: "slow-consumer kicks", value: gauge("connections.slow_consumer_kicks") },
        { id: "dropped", label: "dropped events", value: gauge("events.dropped") },
        { id: "ratelimited", label: "rate-limited closes", value: gauge("connections.rate_limited_closes") },
      ],
    },
    {
      id: "cluster",
      title: "Cluster links",
      unit: "messages per second",
      series: [
        { id: "sent", label: "sent/s", value: perSecond("cluster.sent") },
        { id: "received", label: "received/s", value: perSecond("cluster.received") },
      ],
    },
  ];

  // Appends a sample to the history (a new one when it cannot continue) and trims it.
  function record(history, stats, t) {
    const sample = { t, stats };
    const prev = history.length ? history[history.length - 1] : null;
    const next = discontinuous(prev, sample) ? [] : history.slice();
    const before = next.length ? next[next.length - 1] : null;
    sample.values = {};
    for (const chart of CHARTS) {
      for (const s of chart.series) sample.values[`${chart.id}.${s.id}`] = s.value(before, sample);
    }
    next.push(sample);
    while (next.length > MAX_SAMPLES || (next.length > 1 && t - next[0].t > WINDOW_MS)) next.shift();
    return next;
  }

  // Files a poll's answer under its replica; drops replicas silent for STALE_MS. The replica
  // shown stays the one chosen (at first: the first to answer) while it answers.
  function track(view, stats, t) {
    const id = String(stats.replica ?? "");
    const histories = new Map(view.histories);
    histories.set(id, record(histories.get(id) || [], stats, t));
    for (const [other, h] of histories) {
      if (other !== id && t - h[h.length - 1].t > STALE_MS) histories.delete(other);
    }
    const selected = view.selected !== null && histories.has(view.selected) ? view.selected : id;
    return { histories, selected, now: t };
  }

  // Geometry of one chart: polylines (split where a value is missing), y scale and ticks.
  function layout(history, chart, now, box) {
    const { width, height, left, right, top, bottom } = box;
    const plotW = width - left - right;
    const plotH = height - top - bottom;
    let max = 0;
    for (const sample of history) {
      for (const s of chart.series) max = Math.max(max, sample.values[`${chart.id}.${s.id}`] ?? 0);
    }
    const yMax = niceCeil(max);
    const x = (t) => left + plotW * (1 - (now - t) / WINDOW_MS);
    const y = (v) => top + plotH * (1 - v / yMax);
    const lines = chart.series.map((s) => {
      const segments = [];
      let seg = [];
      for (const sample of history) {
        const v = sample.values[`${chart.id}.${s.id}`];
        if (now - sample.t > WINDOW_MS) continue;
        if (v === null || v === undefined) {
          if (seg.length) segments.push(seg);
          seg = [];
        } else {
          seg.push([x(sample.t), y(v)]);
        }
      }
      if (seg.length) segments.push(seg);
      return segments;
    });
    const ticks = [0, yMax / 2, yMax].map((v) => ({ v, y: y(v) }));
    return { yMax, lines, ticks };
  }

  const logic = { pick, rate, discontinuous, niceCeil, formatNumber, formatDuration, record, track, layout, CHARTS, WINDOW_MS, STALE_MS };

  if (typeof document === "undefined") {
    globalThis.dashboardLogic = logic;
    return;
  }

  // ---- the page -------------------------------------------------------------------------

  const SVG = "http://www.w3.org/2000/svg";
  const BOX = { width: 360, height: 130, left: 34, right: 8, top: 8, bottom: 16 };
  const $ = (id) => document.getElementById(id);

  let apiKey = null;
  const emptyView = () => ({ histories: new Map(), selected: null, now: 0 });
  let view = emptyView();
  let timer = null;
  let generation = 0; // bumped when the key changes: a poll in flight for the old key is ignored

  function el(tag, attrs = {}, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function svgEl(tag, attrs = {}, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function storedKey() {
    try {
      return sessionStorage.getItem(STORAGE_KEY);
    } catch {
      return null; // storage disabled: the key lives in this page's memory only
    }
  }

  function storeKey(k) {
    try {
      if (k === null) sessionStorage.removeItem(STORAGE_KEY);
      else sessionStorage.setItem(STORAGE_KEY, k);
    } catch {
      // as above
    }
  }

  function setStatus(text, kind) {
    const b = $("status");
    b.textContent = text;
    b.className = `badge ${kind || ""}`.trim();
  }

  function askForKey(message) {
    apiKey = null;
    generation++;
    clearTimeout(timer);
    storeKey(null);
    view = emptyView();
    $("board").hidden = true;
    $("forget").hidden = true;
    $("login").hidden = false;
    $("replica").textContent = "";
    $("key-error").hidden = !message;
    $("key-error").textContent = message || "";
    setStatus("no key");
    $("key").value = "";
    $("key").focus();
  }

  function useKey(k) {
    apiKey = k;
    generation++;
    view = emptyView();
    storeKey(k);
    $("login").hidden = true;
    $("key-error").hidden = true;
    $("forget").hidden = false;
    $("board").hidden = false;
    setStatus("connecting…");
    poll();
  }

  function schedule(gen) {
    clearTimeout(timer);
    if (gen === generation && apiKey) timer = setTimeout(poll, POLL_MS);
  }

  async function poll() {
    const gen = generation;
    let res;
    try {
      res = await fetch("/v1/stats", {
        headers: { Authorization: `Bearer ${apiKey}` },
        cache: "no-store",
        credentials: "omit",
      });
    } catch {
      if (gen !== generation) return;
      setStatus("hub unreachable", "down");
      return schedule(gen);
    }
    if (gen !== generation) return;
    if (res.status === 401) {
      return askForKey("The hub refused that key (401 invalid_api_key). Enter one of the keys it was started with (--api-key).");
    }
    if (!res.ok) {
      setStatus(`/v1/stats answered ${res.status}`, "down");
      return schedule(gen);
    }
    let stats;
    try {
      stats = await res.json();
    } catch {
      setStatus("unreadable answer", "down");
      return schedule(gen);
    }
    if (gen !== generation) return;
    view = track(view, stats, Date.now());
    render();
    const time = new Date().toLocaleTimeString([], { hour12: false });
    const shown = selectedHistory();
    const latest = shown[shown.length - 1].stats;
    if (latest.draining) setStatus(`draining · ${time}`, "warn");
    else setStatus(`live · ${time}`, "live");
    schedule(gen);
  }

  // ---- drawing ----------------------------------------------------------------------------

  function buildCharts() {
    const host = $("charts");
    for (const chart of CHARTS) {
      const fig = el("figure", { class: "chart", id: `chart-${chart.id}` });
      const cap = el("figcaption");
      cap.append(el("span", {}, chart.title), el("span", { class: "unit" }, chart.unit));
      const svg = svgEl("svg", {
        viewBox: `0 0 ${BOX.width} ${BOX.height}`,
        role: "img",
        "aria-label": chart.title,
      });
      const legend = el("ul", { class: "legend" });
      chart.series.forEach((s, i) => {
        const li = el("li");
        li.append(el("span", { class: `swatch s${i}` }), el("span", {}, s.label), el("span", { class: "val", id: `v-${chart.id}-${s.id}` }, "–"));
        legend.append(li);
      });
      fig.append(cap, svg, legend);
      host.append(fig);
    }
  }

  const selectedHistory = () => view.histories.get(view.selected) || [];

  function drawChart(chart, history, now) {
    const svg = document.querySelector(`#chart-${chart.id} svg`);
    const { yMax, lines, ticks } = layout(history, chart, now, BOX);
    const parts = [];
    for (const t of ticks) {
      parts.push(svgEl("line", { class: t.v === 0 ? "baseline" : "gridline", x1: BOX.left, x2: BOX.width - BOX.right, y1: t.y, y2: t.y }));
      parts.push(svgEl("text", { class: "axis", x: BOX.left - 4, y: t.y + 3, "text-anchor": "end" }, formatNumber(t.v)));
    }
    const plotW = BOX.width - BOX.left - BOX.right;
    const steps = 4;
    for (let i = 0; i <= steps; i++) {
      const x = BOX.left + (plotW * i) / steps;
      const ago = Math.round((WINDOW_MS * (steps - i)) / steps / 1000);
      const label = i === steps ? "now" : ago % 60 ? `−${ago}s` : `−${ago / 60}m`;
      const anchor = i === 0 ? "start" : i === steps ? "end" : "middle";
      parts.push(svgEl("text", { class: "axis", x, y: BOX.height - 3, "text-anchor": anchor }, label));
    }
    lines.forEach((segments, i) => {
      for (const seg of segments) {
        const points = seg.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
        parts.push(svgEl("polyline", { class: `line s${i}`, points, "data-series": chart.series[i].id }));
      }
      const last = segments.length ? segments[segments.length - 1] : null;
      if (last) {
        const [x, y] = last[last.length - 1];
        parts.push(svgEl("circle", { class: `dot s${i}`, cx: x.toFixed(1), cy: y.toFixed(1), r: 2.5 }));
      }
    });
    svg.replaceChildren(...parts);
    svg.dataset.ymax = String(yMax);
    const latest = history.length ? history[history.length - 1] : null;
    for (const s of chart.series) {
      const v = latest ? latest.values[`${chart.id}.${s.id}`] : null;
      $(`v-${chart.id}-${s.id}`).textContent = formatNumber(v ?? null);
    }
  }

  function tile(key, value, cls) {
    const t = el("div", { class: "tile" });
    t.append(el("div", { class: "k" }, key), el("div", { class: `v ${cls || ""}`.trim() }, value));
    return t;
  }

  function drawTiles(s) {
    const store = s.store || {};
    const storeLat = store.latency_ms || {};
    const refresh = s.refresh || {};
    const http = s.http || {};
    const conns = s.connections || {};
    $("tiles").replaceChildren(
      tile("Uptime", formatDuration(num(s.uptime_s))),
      tile("Accepted connections", formatNumber(num(conns.total))),
      tile(`Store (${store.kind || "?"})`, store.up ? "up" : "down", store.up ? "ok" : "bad"),
      tile("Store latency p50 / p99", `${formatNumber(num(storeLat.p50))} / ${formatNumber(num(storeLat.p99))} ms`),
      tile("Refresh ok / reused / failed", `${formatNumber(num(refresh.ok))} / ${formatNumber(num(refresh.reused))} / ${formatNumber(num(refresh.failed))}`, num(refresh.reused) > 0 ? "bad" : ""),
      tile("HTTP requests / rate-limited", `${formatNumber(num(http.requests))} / ${formatNumber(num(http.rate_limited))}`),
    );
  }

  function drawCluster(s) {
    $("peers-of").textContent = s.replica ? `as ${s.replica} sees them` : "";
    const c = s.cluster || {};
    const peers = Array.isArray(c.peers) ? c.peers : [];
    const body = document.querySelector("#peers tbody");
    if (!peers.length) {
      const tr = el("tr");
      tr.append(el("td", { class: "none", colspan: "4" }, "No cluster peers: a single replica (no --cluster-peer)."));
      body.replaceChildren(tr);
    } else {
      body.replaceChildren(
        ...peers.map((p) => {
          const tr = el("tr");
          const seen = num(p.last_seen_ms_ago);
          tr.append(
            el("td", {}, p.replica || "(not heard from)"),
            el("td", {}, p.endpoint || ""),
            el("td", { class: p.up ? "state-up" : "state-down" }, p.up ? "up" : "down"),
            el("td", {}, seen === null || seen < 0 ? "never" : `${formatNumber(seen)} ms ago`),
          );
          return tr;
        }),
      );
    }
    const lat = c.latency_ms || {};
    const links = $("links");
    links.replaceChildren();
    const items = [
      ["sent", c.sent],
      ["received", c.received],
      ["dropped", c.dropped],
      ["gaps", c.gaps],
      ["duplicates", c.duplicates],
      ["re-checks", c.rechecks],
      ["latency p50 / p99", `${formatNumber(num(lat.p50))} / ${formatNumber(num(lat.p99))} ms`],
    ];
    links.append("All links: ");
    items.forEach(([k, v], i) => {
      if (i) links.append(" · ");
      links.append(`${k} `, el("b", {}, typeof v === "string" ? v : formatNumber(num(v))));
    });
  }

  // The list of replicas to show (only when more than one answered) and the table of them.
  function drawReplicas() {
    const ids = [...view.histories.keys()].sort();
    const list = $("replica-select");
    $("replica-pick").hidden = ids.length < 2;
    if ([...list.options].map((o) => o.value).join("\n") !== ids.join("\n")) {
      list.replaceChildren(...ids.map((id) => el("option", { value: id }, id || "(no id)")));
    }
    list.value = view.selected;
    $("replicas").hidden = ids.length < 2;
    $("replicas-body").replaceChildren(
      ...ids.map((id) => {
        const h = view.histories.get(id);
        const last = h[h.length - 1];
        const s = last.stats;
        const c = s.cluster || {};
        const peers = Array.isArray(c.peers) ? c.peers : [];
        const tr = el("tr", id === view.selected ? { class: "selected" } : {});
        tr.append(
          el("td", {}, id),
          el("td", {}, formatDuration(num(s.uptime_s))),
          el("td", {}, formatNumber(pick(s, "connections.current"))),
          el("td", {}, formatNumber(pick(s, "sessions.active"))),
          el("td", { class: s.store && s.store.up ? "state-up" : "state-down" }, s.store && s.store.up ? "up" : "down"),
          el("td", {}, `${peers.filter((p) => p.up).length} / ${peers.length}`),
          el("td", {}, `${formatNumber(Math.round((view.now - last.t) / 1000))} s ago`),
        );
        return tr;
      }),
    );
  }

  function render() {
    const history = selectedHistory();
    if (!history.length) return;
    const stats = history[history.length - 1].stats;
    $("replica").textContent = view.selected;
    drawReplicas();
    drawTiles(stats);
    for (const chart of CHARTS) drawChart(chart, history, view.now);
    drawCluster(stats);
  }

  function start() {
    buildCharts();
    $("key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const k = $("key").value.trim();
      $("key").value = "";
      // A Bearer credential is printable ASCII; anything else fetch() cannot even send.
      if (!/^[\x21-\x7e]+$/.test(k)) {
        $("key-error").textContent = "An API key is printable ASCII without spaces.";
        $("key-error").hidden = false;
        return;
      }
      useKey(k);
    });
    $("forget").addEventListener("click", () => askForKey(null));
    $("replica-select").addEventListener("change", (e) => {
      if (!view.histories.has(e.target.value)) return;
      view = { ...view, selected: e.target.value };
      render();
    });
    const k = storedKey();
    if (k) useKey(k);
    else askForKey(null);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
