// The snippet keeping its tabs connected, in real Chromium against the real hub: activity in
// one tab slides the idle expiry of all; access tokens are refreshed before they expire and
// handed to the live socket (`token` frame), so the hub never has to close it; going offline
// pauses, coming back online resumes the same session on a new socket. Access tokens live
// 10 s here, so a refresh is due every 7.5 s.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { openTab, signIn, startStack, state, stats, validate, waitState } from "./harness.mjs";

describe("staying connected", { timeout: 120000 }, () => {
  let stack;
  let ctx;
  let tabs; // [analytics, crm]
  let sid;

  before(async () => {
    stack = await startStack({ hubArgs: ["--access-ttl-s", "10", "--activity-coalesce-ms", "100"] });
    ctx = await stack.newContext();
    const first = await openTab(stack, ctx, "analytics");
    tabs = [first, await openTab(stack, ctx, "crm")];
    ({ sid } = await signIn(first));
    await waitState(tabs[1], (s, sid) => s.status === "authenticated" && s.sid === sid, sid, 10000);
  });
  after(async () => {
    if (stack) await stack.stop();
  });

  test("user activity in one tab slides the idle expiry of every tab", { timeout: 20000 }, async () => {
    await new Promise((r) => setTimeout(r, 1100)); // so a slide is surely later
    const before = await Promise.all(tabs.map((p) => state(p).then((s) => s.idle_expires_at)));
    await tabs[1].mouse.move(100, 100);
    await tabs[1].mouse.move(200, 150);
    await tabs[1].keyboard.press("Shift");
    const moved = await waitState(tabs[1], (s, at) => s.idle_expires_at > at, before[1]);
    await waitState(tabs[0], (s, at) => s.idle_expires_at >= at, moved.idle_expires_at);
    assert.ok(moved.idle_expires_at > Math.max(...before));
  });

  test("tokens are refreshed before expiry and the sockets stay up", { timeout: 40000 }, async () => {
    const opened = (await stats(stack)).connections.total;
    const first = await Promise.all(tabs.map((p) => p.evaluate(() => window.demo.hub.getToken())));
    await new Promise((r) => setTimeout(r, 16000)); // past the first tokens' expiry
    for (const [i, p] of tabs.entries()) {
      const s = await state(p);
      assert.equal(s.status, "authenticated");
      assert.equal(s.sid, sid);
      const token = await p.evaluate(() => window.demo.hub.getToken());
      assert.notEqual(token, first[i], "a new token");
      assert.equal((await validate(stack, token)).status, 200);
      const refreshed = await p.evaluate(() => window.demo.log.filter((e) => e.name === "refreshed").length);
      assert.ok(refreshed >= 1, "token.refreshed events arrived");
    }
    assert.equal((await validate(stack, first[0])).body?.code, "token_expired");
    const st = await stats(stack);
    assert.equal(st.connections.total, opened, "no socket was closed and reopened");
    assert.equal(st.refresh.reused, 0);
  });

  test("offline → online: the tab pauses, then resumes the same session", { timeout: 20000 }, async () => {
    await ctx.setOffline(true);
    for (const p of tabs) await waitState(p, (s) => s.status === "offline");
    const s = await state(tabs[0]);
    assert.equal(s.sid, sid, "the session is kept while offline");
    await ctx.setOffline(false);
    for (const p of tabs) await waitState(p, (s, sid) => s.status === "authenticated" && s.sid === sid, sid, 10000);
    const token = await tabs[1].evaluate(() => window.demo.hub.getToken());
    assert.equal((await validate(stack, token)).status, 200);
  });
});
