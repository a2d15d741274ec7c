// Session sync across tabs and micro-apps, in real Chromium against the real hub
// (issue 4, PROTOCOL §2/§3/§6). One browser profile, two origins (Analytics, CRM), four tabs
// and more; the steps build on each other in order: load signed out → log in on one app →
// every tab follows → a late tab is signed in on load → extend moves every tab → racing
// refreshes stay safe → logout reaches every tab in well under 500 ms → reload stays out.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { after, before, describe, test } from "node:test";

import { ROOT, get, hubLogTail, openTab, settled, signIn, startStack, state, stats, validate, waitState } from "./harness.mjs";

const SCREENSHOT = resolve(ROOT, process.env.SESSIONHUB_E2E_SCREENSHOT || "tests/e2e/out/demo.png");

describe("two apps, one session", { timeout: 180000 }, () => {
  let stack;
  let ctx;
  let tabs; // [analytics1, analytics2, crm1, crm2]
  let late; // a CRM tab opened after the login
  let sid;

  before(async () => {
    stack = await startStack();
    ctx = await stack.newContext();
  });
  after(async (t) => {
    if (stack) {
      for (const p of [...(tabs || []), late].filter(Boolean)) {
        if (p.errors?.length) console.log(`page errors in ${p.url()}: ${p.errors.join("; ")}`);
      }
      await stack.stop();
    }
  });

  test("GET /sessionhub.js: a classic script for <script>, the module for import", { timeout: 10000 }, async () => {
    // Raw HTTP: fetch() would set Sec-Fetch-Mode itself.
    const classic = await get(stack.hub + "/sessionhub.js", { "sec-fetch-mode": "no-cors", "sec-fetch-dest": "script" });
    assert.equal(classic.status, 200);
    assert.match(classic.headers["content-type"], /javascript/);
    assert.ok(classic.headers.etag, "ETag");
    assert.ok(classic.headers["cache-control"], "caching headers");
    assert.ok(/globalThis\.SessionHub\s*=/.test(classic.body), "the classic build sets globalThis.SessionHub");
    assert.ok(!/\bexport\s*\{/.test(classic.body), "no export statement in a classic script");

    const module = await get(stack.hub + "/sessionhub.js", { "sec-fetch-mode": "cors", "sec-fetch-dest": "script", origin: stack.crm });
    assert.equal(module.status, 200);
    assert.match(module.headers["content-type"], /javascript/);
    assert.ok(/export\s*\{\s*\w+ as default\s*\}/.test(module.body), "the module build has a default export");
    assert.equal(module.headers["access-control-allow-origin"], stack.crm, "a cross-origin module needs CORS");
    assert.notEqual(module.headers.etag, classic.headers.etag, "two builds, two ETags");

    const again = await get(stack.hub + "/sessionhub.js", { "if-none-match": classic.headers.etag });
    assert.equal(again.status, 304);
  });

  test("four tabs over two origins load signed out and watch", { timeout: 30000 }, async () => {
    // The first tab gets the device cookie (shub_did) before the others open, so every
    // watcher listens on the same device channel.
    const a1 = await openTab(stack, ctx, "analytics");
    tabs = [a1, ...(await Promise.all([openTab(stack, ctx, "analytics"), openTab(stack, ctx, "crm"), openTab(stack, ctx, "crm")]))];
    for (const p of tabs) {
      const s = await waitState(p, (s) => s.status === "anonymous");
      assert.equal(s.sid, null);
      assert.equal(await p.isVisible("#login-form"), true);
    }
  });

  test("log in on one app → every other tab of both apps is signed in, no login", { timeout: 30000 }, async () => {
    const [a1, ...others] = tabs;
    const s = await signIn(a1);
    assert.equal(s.sub, "demo");
    sid = s.sid;
    for (const p of others) {
      const o = await waitState(p, (s, sid) => s.status === "authenticated" && s.sid === sid, sid, 10000);
      assert.equal(o.sub, "demo");
      assert.equal(await p.textContent("#user"), "demo");
      assert.equal(await p.isVisible("#login-form"), false);
    }
    const clicked = await a1.evaluate(() => window.demo.log.find((e) => e.name === "login-clicked").at);
    const delays = [];
    for (const p of others) delays.push((await p.evaluate(() => window.demo.log.findLast((e) => e.name === "login").at)) - clicked);
    console.log(`login propagation: click → signed in, every other tab: max ${Math.max(...delays).toFixed(1)} ms (each: ${delays.map((d) => d.toFixed(1)).join(", ")} ms)`);
  });

  test("a tab opened later is signed in on load", { timeout: 20000 }, async () => {
    late = await openTab(stack, ctx, "crm");
    const s = await state(late);
    assert.equal(s.status, "authenticated");
    assert.equal(s.sid, sid);
    assert.equal(await late.isVisible("#login-form"), false);
  });

  test("docs/demo.png: the two apps side by side", { timeout: 30000 }, async () => {
    const page = await ctx.newPage();
    await page.setViewportSize({ width: 1400, height: 600 });
    await page.goto(stack.analytics + "/side-by-side.html");
    const frames = () => page.frames().filter((f) => f !== page.mainFrame());
    await page.waitForFunction(() => document.querySelectorAll("iframe").length === 2);
    await assert.doesNotReject(async () => {
      const end = Date.now() + 10000;
      while (frames().length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      for (const f of frames()) await f.waitForFunction(() => window.demo && window.demo.hub.state.status === "authenticated", null, { timeout: 10000 });
    });
    await page.waitForTimeout(300); // let the countdowns draw
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    const png = await page.screenshot({ path: SCREENSHOT });
    assert.ok(png.length > 10000, "a real picture");
    console.log(`screenshot: ${SCREENSHOT}`);
    await page.close();
  });

  test("extend in one tab moves every tab's idle expiry", { timeout: 20000 }, async () => {
    const all = [...tabs, late];
    const before = await Promise.all(all.map((p) => state(p).then((s) => s.idle_expires_at)));
    await new Promise((r) => setTimeout(r, 1100)); // so the new expiry is surely later
    const res = await tabs[2].evaluate(() => window.demo.hub.extend());
    assert.ok(res.idle_expires_at > Math.max(...before), "the hub moved it");
    for (const p of all) {
      const s = await waitState(p, (s, at) => s.idle_expires_at >= at, res.idle_expires_at);
      assert.equal(s.idle_expires_at, res.idle_expires_at);
    }
  });

  test("four tabs refreshing at once all get valid tokens; the session is not revoked", { timeout: 30000 }, async () => {
    // Force a refresh in each tab at the same instant: one rotation per origin under the Web
    // Lock, and the two origins race on the same cookie — the hub's reuse grace must hold.
    const at = Date.now() + 400;
    const tokens = await Promise.all(
      tabs.map((p) =>
        p.evaluate(
          (at) => new Promise((r) => setTimeout(r, at - Date.now())).then(() => window.demo.hub.getToken({ forceRefresh: true })),
          at,
        ),
      ),
    );
    for (const token of tokens) {
      const v = await validate(stack, token);
      assert.equal(v.status, 200, `validate: ${JSON.stringify(v.body)}\n${hubLogTail(stack)}`);
      assert.equal(v.body.active, true);
      assert.equal(v.body.sid, sid);
    }
    // Plain getToken() at once: the fresh token, no refresh needed.
    const again = await Promise.all(tabs.map((p) => p.evaluate(() => window.demo.hub.getToken())));
    for (const token of again) assert.equal((await validate(stack, token)).status, 200);
    // And again after the reuse interval's edge would matter: a second forced round.
    const second = await Promise.all(tabs.map((p) => p.evaluate(() => window.demo.hub.getToken({ forceRefresh: true }))));
    for (const token of second) assert.equal((await validate(stack, token)).status, 200);
    await new Promise((r) => setTimeout(r, 300));
    for (const p of [...tabs, late]) assert.equal((await state(p)).status, "authenticated");
    const st = await stats(stack);
    assert.equal(st.refresh.reused, 0, "no refresh token was taken for reuse");
    console.log(`refreshes: ${JSON.stringify(st.refresh)}`);
  });

  test("logout in one app → every other tab is signed out, well under 500 ms", { timeout: 20000 }, async () => {
    const actor = tabs[2]; // a CRM tab
    const others = [tabs[0], tabs[1], tabs[3], late];
    const token = await tabs[0].evaluate(() => window.demo.hub.getToken());
    await actor.click("#logout-btn");
    await waitState(actor, (s) => s.status === "anonymous");
    const clicked = await actor.evaluate(() => window.demo.log.find((e) => e.name === "logout-clicked").at);
    const delays = [];
    for (const p of others) {
      await waitState(p, (s) => s.status === "anonymous" && s.sid === null, undefined, 3000);
      await p.waitForSelector("#login-form", { state: "visible", timeout: 2000 });
      const seen = await p.evaluate(() => window.demo.log.findLast((e) => e.name === "logout").at);
      delays.push(seen - clicked);
    }
    const worst = Math.max(...delays);
    console.log(`logout propagation: click → signed out in every other tab: max ${worst.toFixed(1)} ms (each: ${delays.map((d) => d.toFixed(1)).join(", ")} ms)`);
    assert.ok(worst < 500, `logout took ${worst} ms to reach every tab`);
    const v = await validate(stack, token);
    assert.equal(v.status, 401);
    assert.equal(v.body.code, "session_revoked");
  });

  test("reload after logout stays signed out", { timeout: 20000 }, async () => {
    for (const p of [tabs[0], tabs[3]]) {
      await p.reload();
      await settled(p);
      const s = await waitState(p, (s) => s.status === "anonymous");
      assert.equal(s.sid, null);
      assert.equal(await p.isVisible("#login-form"), true);
    }
  });
});
