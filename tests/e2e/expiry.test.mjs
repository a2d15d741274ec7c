// The idle timeout as one for the whole browser, in real Chromium against the real hub:
// the "Still there?" dialog appears in every tab of both apps on session.expiring, "Keep me
// signed in" in one tab dismisses it everywhere and moves every tab's idle expiry, and
// with no answer every tab is signed out (reason idle_timeout). Short timeouts: the
// session idles out after 12 s, the warning comes 8 s before that.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { openTab, signIn, startStack, state, waitState } from "./harness.mjs";

const IDLE_S = 12;
const WARN_S = 8;
const dialogOpen = (p) => p.evaluate(() => document.getElementById("expiry-dialog").open);

describe("the expiry dialog", { timeout: 120000 }, () => {
  let stack;
  let tabs; // [analytics1, analytics2, crm1, crm2]

  before(async () => {
    stack = await startStack({ hubArgs: ["--idle-timeout-s", String(IDLE_S), "--warn-before-s", String(WARN_S)] });
    const ctx = await stack.newContext();
    const first = await openTab(stack, ctx, "analytics");
    tabs = [first, ...(await Promise.all([openTab(stack, ctx, "analytics"), openTab(stack, ctx, "crm"), openTab(stack, ctx, "crm")]))];
    await signIn(first);
    const { sid } = await state(first);
    for (const p of tabs) await waitState(p, (s, sid) => s.status === "authenticated" && s.sid === sid, sid, 10000);
  });
  after(async () => {
    if (stack) await stack.stop();
  });

  test("session.expiring opens the dialog in every tab of both apps", { timeout: 30000 }, async () => {
    for (const p of tabs) {
      await p.waitForSelector("#expiry-dialog[open]", { timeout: (IDLE_S - WARN_S + 6) * 1000 });
      assert.match(await p.textContent("#expiry-dialog"), /Still there\?/);
    }
  });

  test("\"Keep me signed in\" in one tab dismisses it everywhere and moves every idle expiry", { timeout: 20000 }, async () => {
    const before = (await state(tabs[3])).idle_expires_at;
    const actor = tabs[3]; // a CRM tab
    const extended = actor.waitForResponse((r) => r.url().endsWith("/v1/extend") && r.request().method() === "POST");
    await actor.click("#keep-btn");
    const res = await extended;
    assert.equal(res.status(), 200);
    const { idle_expires_at: movedTo } = await res.json();
    assert.ok(movedTo > before, "the hub moved the idle expiry");
    for (const p of tabs) {
      await p.waitForFunction(() => !document.getElementById("expiry-dialog").open, null, { timeout: 3000, polling: 20 });
      const s = await waitState(p, (s, at) => s.idle_expires_at >= at, movedTo, 3000);
      assert.equal(s.status, "authenticated");
    }
  });

  test("with no answer, every tab is signed out when the idle timeout passes", { timeout: 40000 }, async () => {
    for (const p of tabs) await p.waitForSelector("#expiry-dialog[open]", { timeout: (IDLE_S - WARN_S + 6) * 1000 });
    for (const p of tabs) {
      await waitState(p, (s) => s.status === "anonymous", undefined, (WARN_S + 6) * 1000);
      assert.equal(await dialogOpen(p), false, "the dialog goes with the session");
      const reason = await p.evaluate(() => window.demo.log.findLast((e) => e.name === "logout")?.text);
      assert.equal(reason, "idle_timeout");
      assert.equal(await p.isVisible("#login-form"), true);
    }
  });
});
