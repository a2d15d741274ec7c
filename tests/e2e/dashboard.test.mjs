// The operators' dashboard (GET /dashboard) in real Chromium against two clustered hubs:
// it asks for the server API key once and keeps it for the tab, its figures follow the hub
// (a tab that connects shows in the connection count, published events in events/s, the
// other replica in the peers table), a reload keeps the key, "Forget key" and a refused key
// (401) ask again, behind a round-robin balancer it keeps one history per replica and shows
// the one chosen, and nothing trips the page's Content-Security-Policy.
// It ends with a picture of the page after some traffic: tests/e2e/out/dashboard.png, or
// SESSIONHUB_E2E_DASHBOARD_SCREENSHOT (docs/dashboard.png is made that way, with
// SESSIONHUB_E2E_DASHBOARD_SECONDS=90 for a longer history).
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { createServer, request } from "node:http";
import { dirname, resolve } from "node:path";
import { after, before, describe, test } from "node:test";

import { BINARY, ROOT, freePort, openTab, signIn, startChild, startStack, stopChild } from "./harness.mjs";

const SCREENSHOT = resolve(ROOT, process.env.SESSIONHUB_E2E_DASHBOARD_SCREENSHOT || "tests/e2e/out/dashboard.png");
const TRAFFIC_S = Number(process.env.SESSIONHUB_E2E_DASHBOARD_SECONDS || 6);
const STORAGE_KEY = "sessionhub.dashboard.api-key";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A load balancer in miniature: each request to the next hub in turn, on a new connection.
function roundRobin(targets) {
  let next = 0;
  const server = createServer((req, res) => {
    const to = new URL(targets[next++ % targets.length]);
    const up = request({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers, agent: false }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on("error", () => res.writeHead(502).end());
    req.pipe(up);
  });
  return new Promise((resolveP) => server.listen(0, "127.0.0.1", () => resolveP(server)));
}

describe("the operators' dashboard", { timeout: 150000 + TRAFFIC_S * 2000 }, () => {
  let stack;
  let peer; // a second replica, so the peers table has a row
  let page; // the dashboard, in its own browser profile
  let balancer; // round-robin over both hubs
  const problems = []; // page errors and console errors (a CSP violation is one)

  before(async () => {
    const [busA, busB] = [await freePort(), await freePort()];
    stack = await startStack({
      hubArgs: ["--replica-id", "hub-a", "--cluster-bind", `tcp://127.0.0.1:${busA}`, "--cluster-peer", `tcp://127.0.0.1:${busB}`],
    });
    peer = await startChild("peer", BINARY, [
      "--listen", "127.0.0.1:0",
      "--store", "sqlite::memory:",
      "--api-key", stack.apiKey,
      "--replica-id", "hub-b",
      "--cluster-bind", `tcp://127.0.0.1:${busB}`,
      "--cluster-peer", `tcp://127.0.0.1:${busA}`,
    ], stack.log);
  });
  after(async () => {
    if (problems.length) console.log(`dashboard page problems:\n${problems.join("\n")}`);
    balancer?.close();
    await stack?.stop();
    await stopChild(peer?.child);
  });

  async function openDashboard(base = stack.hub) {
    const ctx = await stack.newContext();
    const p = await ctx.newPage();
    p.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    p.on("console", (m) => {
      if (m.type() === "error" && !/401 \(Unauthorized\)/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    const res = await p.goto(base + "/dashboard");
    assert.equal(res.status(), 200);
    return p;
  }

  const text = (p, sel) => p.textContent(sel).then((t) => t.trim());
  const storedKey = (p) => p.evaluate((k) => sessionStorage.getItem(k), STORAGE_KEY);
  // Waits until the text of `sel` satisfies `pred`. Polled from here: the page's CSP rightly
  // refuses the string evaluation a predicate shipped into the page would need.
  async function waitText(p, sel, pred, ms = 8000) {
    const end = Date.now() + ms;
    let last;
    while (Date.now() < end) {
      last = await p.textContent(sel).then((t) => t?.trim(), () => undefined);
      if (last !== undefined && pred(last)) return last;
      await sleep(50);
    }
    throw new Error(`${sel}: still "${last}" after ${ms} ms`);
  }

  async function publish(channel, n = 1) {
    for (let i = 0; i < n; i++) {
      const r = await fetch(stack.hub + "/v1/publish", {
        method: "POST",
        headers: { authorization: `Bearer ${stack.apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ channel, event: "dashboard.test", data: { i } }),
      });
      assert.equal(r.status, 202);
    }
  }

  test("asks for the API key, then shows the hub's figures", { timeout: 20000 }, async () => {
    page = await openDashboard();
    assert.equal(await page.isVisible("#key-form"), true, "the key form");
    assert.equal(await page.isVisible("#board"), false, "no figures without a key");
    assert.equal(await page.isVisible("#forget"), false);
    await page.fill("#key", stack.apiKey);
    await page.click("#key-submit");
    await page.waitForSelector("#board", { state: "visible" });
    await waitText(page, "#v-connections-current", (t) => /^\d+$/.test(t));
    assert.equal(await page.isVisible("#key-form"), false);
    assert.equal(await page.isVisible("#forget"), true);
    assert.equal(await storedKey(page), stack.apiKey, "kept in sessionStorage");
    assert.equal(await text(page, "#replica"), "hub-a");
    await waitText(page, "#status", (t) => t.startsWith("live"));
  });

  test("a tab that connects shows in the connection count and its chart", { timeout: 30000 }, async () => {
    const before = {
      current: Number(await text(page, "#v-connections-current")),
      authenticated: Number(await text(page, "#v-connections-authenticated")),
      watching: Number(await text(page, "#v-connections-watching")),
    };
    const tab = await openTab(stack, await stack.newContext(), "analytics"); // watching
    await page.waitForFunction(
      (b) => Number(document.querySelector("#v-connections-current").textContent) === b.current + 1 &&
        Number(document.querySelector("#v-connections-watching").textContent) === b.watching + 1,
      before, { timeout: 8000, polling: 50 });
    await signIn(tab); // the same socket authenticates
    await page.waitForFunction(
      (b) => Number(document.querySelector("#v-connections-authenticated").textContent) === b.authenticated + 1 &&
        Number(document.querySelector("#v-connections-watching").textContent) === b.watching,
      before, { timeout: 8000, polling: 50 });
    await waitText(page, "#v-sessions-active", (t) => Number(t) >= 1);
    const points = await page.getAttribute('#chart-connections polyline[data-series="current"]', "points");
    assert.ok(points && points.trim().split(" ").length >= 2, `a line of several points: ${points}`);
    await tab.close();
    await page.waitForFunction(
      (b) => Number(document.querySelector("#v-connections-current").textContent) === b.current,
      before, { timeout: 8000, polling: 50 });
  });

  test("published events show as events/s; the other replica in the peers table", { timeout: 30000 }, async () => {
    // Keep publishing until a poll has seen it: a rate is the change between two polls.
    let seen = false;
    const seenP = waitText(page, "#v-events-published", (t) => Number(t) > 0, 10000).then(() => (seen = true));
    while (!seen) {
      await publish("user:nobody", 5);
      await Promise.race([seenP, sleep(100)]);
    }
    await seenP;
    await waitText(page, "#peers tbody", (t) => t.includes("hub-b") && t.includes("up"), 10000);
    assert.match(await text(page, "#peers tbody"), /tcp:\/\/127\.0\.0\.1:\d+/);
    assert.match(await text(page, "#links"), /sent \d+/);
  });

  test("a reload keeps the key; Forget key asks again", { timeout: 20000 }, async () => {
    await page.reload();
    await page.waitForSelector("#board", { state: "visible" });
    assert.equal(await page.isVisible("#key-form"), false, "not asked again in the same tab");
    await waitText(page, "#v-connections-current", (t) => /^\d+$/.test(t));
    await page.click("#forget");
    await page.waitForSelector("#key-form", { state: "visible" });
    assert.equal(await page.isVisible("#board"), false);
    assert.equal(await storedKey(page), null, "forgotten");
    assert.equal(await page.isVisible("#key-error"), false, "no error for a key given up on purpose");
  });

  test("a wrong key is refused (401) and asked for again", { timeout: 20000 }, async () => {
    await page.fill("#key", "clé secrète"); // not even sendable as a header: refused here
    await page.click("#key-submit");
    await waitText(page, "#key-error", (t) => t.includes("ASCII"));
    assert.equal(await page.isVisible("#board"), false);

    await page.fill("#key", "not-the-key");
    await page.click("#key-submit");
    await page.waitForSelector("#key-error", { state: "visible" });
    assert.match(await text(page, "#key-error"), /refused/);
    assert.equal(await page.isVisible("#key-form"), true);
    assert.equal(await page.isVisible("#board"), false);
    assert.equal(await storedKey(page), null, "a refused key is not kept");

    // A stored key that stopped working (a restart with other keys) is dropped on its first 401.
    await page.evaluate((k) => sessionStorage.setItem(k, "revoked-key"), STORAGE_KEY);
    await page.reload();
    await page.waitForSelector("#key-error", { state: "visible" });
    assert.equal(await storedKey(page), null);

    await page.fill("#key", stack.apiKey);
    await page.click("#key-submit");
    await waitText(page, "#status", (t) => t.startsWith("live"));
  });

  test("behind a round-robin balancer: one history per replica, the chosen one shown", { timeout: 30000 }, async () => {
    balancer = await roundRobin([stack.hub, `http://127.0.0.1:${peer.info.port}`]);
    const lb = await openDashboard(`http://127.0.0.1:${balancer.address().port}`);
    await lb.fill("#key", stack.apiKey);
    await lb.click("#key-submit");
    await lb.waitForSelector("#replica-pick", { state: "visible", timeout: 8000 });
    assert.deepEqual((await lb.$$eval("#replica-select option", (os) => os.map((o) => o.value))).sort(), ["hub-a", "hub-b"]);
    await waitText(lb, "#replicas-body", (t) => t.includes("hub-a") && t.includes("hub-b"));
    // Polls alternate between the hubs; the page keeps showing the first that answered.
    const first = await text(lb, "#replica");
    const shown = [];
    for (let i = 0; i < 8; i++) {
      await sleep(400);
      shown.push(await text(lb, "#replica"));
    }
    assert.deepEqual(shown, Array(8).fill(first), "the replica shown does not flip with the polls");
    assert.equal(await lb.inputValue("#replica-select"), first);
    const other = first === "hub-a" ? "hub-b" : "hub-a";
    await lb.selectOption("#replica-select", other);
    await waitText(lb, "#replica", (t) => t === other, 3000);
    await waitText(lb, "#peers-of", (t) => t.includes(other));
    // Each has a line of its own: no history reset by the other's answers.
    await sleep(2500);
    const points = await lb.getAttribute('#chart-connections polyline[data-series="current"]', "points");
    assert.ok(points && points.trim().split(" ").length >= 2, `a line of several points: ${points}`);
    await lb.context().close();
  });

  test("a picture after some traffic, and no CSP violation or script error", { timeout: 60000 + TRAFFIC_S * 2000 }, async () => {
    // Authenticated raw sockets from an allowed origin, sessions made by the server API.
    const tokens = [];
    for (let i = 0; i < 12; i++) {
      const r = await fetch(stack.hub + "/v1/sessions", {
        method: "POST",
        headers: { authorization: `Bearer ${stack.apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ sub: `user-${i % 4}` }),
      });
      assert.equal(r.status, 201);
      tokens.push((await r.json()).access_token);
    }
    const ctx = await stack.newContext();
    const sockets = await ctx.newPage();
    await sockets.goto(stack.analytics + "/");
    const ready = await sockets.evaluate(([hub, tokens]) => Promise.all(tokens.map((token) => new Promise((resolveP) => {
      const ws = new WebSocket(hub.replace("http", "ws") + "/v1/ws", "sessionhub.v1");
      ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token }));
      ws.onmessage = (m) => JSON.parse(m.data).type === "ready" && resolveP(true);
      ws.onclose = () => resolveP(false);
      (window.held ||= []).push(ws);
    }))), [stack.hub, tokens]);
    assert.ok(ready.every(Boolean), "every socket authenticated");

    // Events at a rate that rises and falls, to every user's sockets, still flowing when
    // the picture is taken.
    let stop = false;
    const traffic = (async () => {
      for (let k = 0; !stop; k++) {
        await publish(`user:user-${k % 4}`, 1 + Math.round(4 * (1 + Math.sin(k / 12))));
        await sleep(100);
      }
    })();
    await sleep(TRAFFIC_S * 1000);
    await waitText(page, "#v-events-delivered", (t) => Number(t) > 0);
    await page.setViewportSize({ width: 1280, height: 900 });
    await sleep(300);
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    const png = await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(png.length > 20000, "a real picture");
    console.log(`screenshot: ${SCREENSHOT}`);
    stop = true;
    await traffic;
    await sockets.close();
    assert.deepEqual(problems, [], "no page error, no console error (a CSP violation logs one)");
  });
});
