// Unit tests of the snippet's pure logic (sessionhub.js `_internals`): reconnect backoff,
// the activity throttle, the token-refresh decision and the event-name mapping. The state
// machine has its own file, state.test.mjs.
import assert from "node:assert/strict";
import { test } from "node:test";

import SessionHub, { _internals as I } from "../sessionhub.js";

test("the module's default export is the SessionHub API", () => {
  assert.equal(typeof SessionHub.connect, "function");
});

test("backoff: full jitter, uniform in [0, base·2^attempt)", () => {
  assert.equal(I.backoffDelay(0, () => 0), 0);
  assert.equal(I.backoffDelay(0, () => 0.999999), 499);
  assert.equal(I.backoffDelay(1, () => 0.5), 500);
  assert.equal(I.backoffDelay(3, () => 0.5), 2000);
  assert.equal(I.backoffDelay(2, () => 0.25, 100, 10000), 100);
});

test("backoff: capped, even for huge or odd attempt numbers", () => {
  for (const attempt of [6, 7, 10, 31, 64, 1000, Number.MAX_SAFE_INTEGER]) {
    const top = I.backoffDelay(attempt, () => 0.999999);
    assert.ok(top < 30000 && top >= 29999, `attempt ${attempt}: ${top}`);
  }
  assert.equal(I.backoffDelay(-5, () => 0.5), 250); // treated as attempt 0
});

test("backoff: real randomness stays inside the bounds and spreads out", () => {
  const seen = new Set();
  for (let attempt = 0; attempt < 12; attempt++) {
    const ceiling = Math.min(30000, 500 * 2 ** attempt);
    for (let i = 0; i < 200; i++) {
      const d = I.backoffDelay(attempt);
      assert.ok(Number.isInteger(d) && d >= 0 && d < ceiling, `attempt ${attempt}: ${d}`);
      seen.add(Math.floor(d / (ceiling / 10)));
    }
  }
  assert.ok(seen.size >= 9, "full jitter covers the whole range");
});

test("throttle: first call passes, then at most once per interval", () => {
  assert.equal(I.throttleAllows(null, 1000, 15000), true);
  assert.equal(I.throttleAllows(undefined, 0, 15000), true);
  assert.equal(I.throttleAllows(1000, 1000, 15000), false);
  assert.equal(I.throttleAllows(1000, 15999, 15000), false);
  assert.equal(I.throttleAllows(1000, 16000, 15000), true);
});

test("throttle: a burst of activity over a minute sends one report per 15 s", () => {
  let last = null;
  let sent = 0;
  for (let now = 0; now < 60000; now += 50) {
    if (I.throttleAllows(last, now, 15000)) {
      last = now;
      sent++;
    }
  }
  assert.equal(sent, 4);
});

test("refresh margin: a quarter of the lifetime, at most 60 s", () => {
  assert.equal(I.refreshMargin(900000), 60000);
  assert.equal(I.refreshMargin(120000), 30000);
  assert.equal(I.refreshMargin(20000), 5000);
});

test("needsRefresh: no token, or the margin before expiry reached", () => {
  const lifetime = 900000;
  const tok = { expiresAt: 1_000_000 + lifetime, lifetime };
  assert.equal(I.needsRefresh(null, 0), true);
  assert.equal(I.needsRefresh(undefined, 0), true);
  assert.equal(I.needsRefresh(tok, 1_000_000), false); // just issued
  assert.equal(I.needsRefresh(tok, tok.expiresAt - 60001), false);
  assert.equal(I.needsRefresh(tok, tok.expiresAt - 60000), true); // refresh due
  assert.equal(I.needsRefresh(tok, tok.expiresAt + 1), true); // expired
  assert.equal(I.refreshDue(tok), tok.expiresAt - 60000);
});

test("needsRefresh: a short-lived token is refreshed a quarter of its life early", () => {
  const tok = { expiresAt: 20000, lifetime: 20000 };
  assert.equal(I.needsRefresh(tok, 14999), false);
  assert.equal(I.needsRefresh(tok, 15000), true);
});

test("event names: hub events map to the on() names of PROTOCOL §6", () => {
  assert.equal(I.eventName("login"), "login");
  assert.equal(I.eventName("logout"), "logout");
  assert.equal(I.eventName("session.extended"), "extended");
  assert.equal(I.eventName("session.expiring"), "expiring");
  assert.equal(I.eventName("token.refreshed"), "refreshed");
});

test("event names: anything else is an application event", () => {
  for (const name of ["cart.updated", "session.other", "", "toString", "__proto__", "constructor"]) {
    assert.equal(I.eventName(name), "event", name);
  }
});
