// Unit tests of the dashboard's pure logic (dashboard/dashboard.js, a classic script that
// defines `dashboardLogic` when there is no document): rates from two polls of a counter,
// a new history when the figures come from another replica or a restart, the window, the
// y scale and the gaps in a line where a value is unknown.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import vm from "node:vm";

const source = readFileSync(new URL("../dashboard/dashboard.js", import.meta.url), "utf8");
const sandbox = {};
vm.runInNewContext(source, sandbox);
const L = sandbox.dashboardLogic;

const stats = (over = {}) => ({
  replica: "hub-a",
  uptime_s: 10,
  connections: { current: 3, authenticated: 2, watching: 1 },
  sessions: { active: 2 },
  events: { published: 100, delivered: 300, dropped: 0 },
  fanout_latency_ms: { p50: 0.2, p99: 1.5, max: 3 },
  cluster: { sent: 0, received: 0 },
  ...over,
});

test("pick reads dotted paths and only finite numbers", () => {
  const s = stats();
  assert.equal(L.pick(s, "connections.current"), 3);
  assert.equal(L.pick(s, "fanout_latency_ms.p99"), 1.5);
  assert.equal(L.pick(s, "nope.current"), null);
  assert.equal(L.pick(s, "replica"), null);
  assert.equal(L.pick({ sessions: { active: null } }, "sessions.active"), null);
});

test("rate: the increase per second between two polls; unknown on a reset or no time", () => {
  const a = { t: 1000, stats: stats() };
  const b = { t: 3000, stats: stats({ events: { published: 140, delivered: 420, dropped: 0 } }) };
  assert.equal(L.rate(a, b, "events.published"), 20);
  assert.equal(L.rate(a, b, "events.delivered"), 60);
  assert.equal(L.rate(null, b, "events.published"), null);
  assert.equal(L.rate(b, a, "events.published"), null, "a counter never goes backwards");
  assert.equal(L.rate(a, { ...a }, "events.published"), null, "no time elapsed");
});

test("record: one history per process, trimmed to the window", () => {
  let h = [];
  h = L.record(h, stats(), 0);
  assert.equal(h.length, 1);
  assert.equal(h[0].values["events.published"], null, "no rate from one poll");
  assert.equal(h[0].values["connections.current"], 3);
  h = L.record(h, stats({ uptime_s: 11, events: { published: 110, delivered: 330, dropped: 0 } }), 1000);
  assert.equal(h.length, 2);
  assert.equal(h[1].values["events.published"], 10);
  assert.equal(h[1].values["events.delivered"], 30);

  const other = L.record(h, stats({ replica: "hub-b", uptime_s: 500 }), 2000);
  assert.equal(other.length, 1, "another replica starts a new history");
  const restarted = L.record(h, stats({ uptime_s: 1, events: { published: 0, delivered: 0, dropped: 0 } }), 2000);
  assert.equal(restarted.length, 1, "a restart starts a new history");
  assert.equal(restarted[0].values["events.published"], null, "and draws no false rate");

  let long = [];
  for (let i = 0; i < 400; i++) long = L.record(long, stats({ uptime_s: 10 + i }), i * 1000);
  assert.ok(long.length <= L.WINDOW_MS / 1000 + 2, `trimmed: ${long.length}`);
  assert.ok(long[long.length - 1].t - long[0].t <= L.WINDOW_MS);
});

test("track: one history per replica, the chosen one kept, silent ones dropped", () => {
  let v = { histories: new Map(), selected: null, now: 0 };
  const a = (t, up) => stats({ replica: "hub-a", uptime_s: up, events: { published: 100 + t / 100, delivered: 0, dropped: 0 } });
  const b = (t, up) => stats({ replica: "hub-b", uptime_s: up, events: { published: 500 + t / 50, delivered: 0, dropped: 0 } });
  // Polls alternating between two replicas, as behind a round-robin balancer.
  for (let t = 0; t < 8000; t += 1000) v = L.track(v, (t / 1000) % 2 ? b(t, 100 + t / 1000) : a(t, 10 + t / 1000), t);
  assert.equal(v.selected, "hub-a", "the first to answer");
  assert.deepEqual([...v.histories.keys()].sort(), ["hub-a", "hub-b"]);
  const ha = v.histories.get("hub-a");
  assert.equal(ha.length, 4, "hub-a's answers only, never reset by hub-b's");
  assert.equal(ha[3].values["events.published"], 10, "its rate from its own previous answer");
  assert.equal(v.histories.get("hub-b")[3].values["events.published"], 20);
  assert.equal(v.now, 7000);

  // Chosen by hand, kept while it answers; hub-a falls silent and is dropped after STALE_MS.
  v = { ...v, selected: "hub-b" };
  v = L.track(v, b(8000, 108), 8000);
  assert.equal(v.selected, "hub-b");
  const later = 8000 + L.STALE_MS + 1000;
  v = L.track(v, b(later, 108 + later / 1000), later);
  assert.deepEqual([...v.histories.keys()], ["hub-b"]);

  // The replica shown is dropped: the one answering now is shown.
  v = { ...v, selected: "hub-b" };
  const end = later + L.STALE_MS + 1000;
  v = L.track(v, a(end, 500), end);
  assert.equal(v.selected, "hub-a");
  assert.deepEqual([...v.histories.keys()], ["hub-a"]);
});

test("niceCeil: 1, 2, 2.5, 5 × 10^n at or above the value", () => {
  assert.equal(L.niceCeil(0), 1);
  assert.equal(L.niceCeil(-3), 1);
  assert.equal(L.niceCeil(0.3), 0.5);
  assert.equal(L.niceCeil(1), 1);
  assert.equal(L.niceCeil(13), 20);
  assert.equal(L.niceCeil(21), 25);
  assert.equal(L.niceCeil(26), 50);
  assert.equal(L.niceCeil(999), 1000);
});

test("layout: lines inside the plot, broken where a value is unknown", () => {
  const box = { width: 300, height: 100, left: 30, right: 10, top: 10, bottom: 10 };
  const chart = L.CHARTS.find((c) => c.id === "events");
  let h = [];
  const now = 10000;
  for (let i = 0; i < 5; i++) {
    h = L.record(h, stats({ uptime_s: 10 + i, events: { published: 100 + 10 * i, delivered: 300, dropped: 0 } }), now - 4000 + i * 1000);
  }
  const { yMax, lines, ticks } = L.layout(h, chart, now, box);
  assert.equal(yMax, 10);
  assert.equal(lines.length, chart.series.length);
  assert.equal(lines[0].length, 1, "one segment: the first sample has no rate and is left out");
  assert.equal(lines[0][0].length, 4);
  for (const [x, y] of lines[0][0]) {
    assert.ok(x >= box.left && x <= box.width - box.right, `x ${x}`);
    assert.ok(y >= box.top && y <= box.height - box.bottom, `y ${y}`);
  }
  assert.equal(lines[0][0][3][0], box.width - box.right, "the newest sample at the right edge");
  assert.deepEqual(Array.from(ticks, (t) => t.v), [0, 5, 10]); // an array of this realm
});

test("formatNumber and formatDuration stay short", () => {
  assert.equal(L.formatNumber(null), "–");
  assert.equal(L.formatNumber(0), "0");
  assert.equal(L.formatNumber(12), "12");
  assert.equal(L.formatNumber(0.15), "0.15");
  assert.equal(L.formatNumber(28.84), "28.8");
  assert.equal(L.formatNumber(12345), "12.3k");
  assert.equal(L.formatNumber(2500000), "2.5M");
  assert.equal(L.formatDuration(42), "42s");
  assert.equal(L.formatDuration(3725), "1h 2m");
  assert.equal(L.formatDuration(200000), "2d 7h");
});
