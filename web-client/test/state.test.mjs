// Unit tests of the snippet's state machine (sessionhub.js `_internals.reduce`): which
// frames and token responses move `state` between connecting, authenticated, anonymous
// and offline, and what happens to sid, version and the expiries on the way.
import assert from "node:assert/strict";
import { test } from "node:test";

import { _internals as I } from "../sessionhub.js";

const session = { sid: "s1", sub: "demo", version: 3, expires_at: 9000000, idle_expires_at: 5000 };
const readyActive = { type: "ready", sid: "s1", sub: "demo", did: "d1", version: 4, expires_at: 9000000, idle_expires_at: 6000, replica: "r", state: "active" };
const readyWatch = { type: "ready", sid: null, sub: null, did: "d1", version: null, expires_at: null, idle_expires_at: null, replica: "r", state: "anonymous" };
const ev = (event, data, version) => ({ type: "event", frame: { type: "event", id: "e", event, version, at: 1, data } });

function run(actions, from = I.INITIAL_STATE) {
  return actions.reduce(I.reduce, from);
}

test("starts connecting with no session", () => {
  assert.deepEqual(I.INITIAL_STATE, { status: "connecting", sid: null, sub: null, version: null, expires_at: null, idle_expires_at: null });
});

test("load with a session: token response, then ready → authenticated", () => {
  const s = run([{ type: "session", session }]);
  assert.equal(s.status, "authenticated");
  assert.equal(s.sid, "s1");
  const r = I.reduce(s, { type: "ready", frame: readyActive });
  assert.deepEqual(r, { status: "authenticated", sid: "s1", sub: "demo", version: 4, expires_at: 9000000, idle_expires_at: 6000 });
});

test("load without a session: ready to a watch → anonymous with null fields", () => {
  const s = run([{ type: "ready", frame: readyWatch }]);
  assert.deepEqual(s, { status: "anonymous", sid: null, sub: null, version: null, expires_at: null, idle_expires_at: null });
});

test("anonymous → login (token response) → authenticated", () => {
  const s = run([{ type: "ready", frame: readyWatch }, { type: "session", session }]);
  assert.equal(s.status, "authenticated");
  assert.equal(s.sub, "demo");
  assert.equal(s.version, 3);
});

test("version never goes back for the same session", () => {
  const s = run([{ type: "ready", frame: readyActive }, { type: "session", session: { ...session, version: 2 } }]);
  assert.equal(s.version, 4);
  const other = I.reduce(s, { type: "session", session: { ...session, sid: "s2", version: 1 } });
  assert.equal(other.sid, "s2");
  assert.equal(other.version, 1, "a new session starts its own count");
});

test("session.extended moves the idle expiry and the version", () => {
  const s = run([{ type: "ready", frame: readyActive }, ev("session.extended", { sid: "s1", idle_expires_at: 7000 }, 5)]);
  assert.equal(s.idle_expires_at, 7000);
  assert.equal(s.version, 5);
});

test("a stale extended event (older version) changes nothing", () => {
  const s = run([{ type: "ready", frame: readyActive }, ev("session.extended", { sid: "s1", idle_expires_at: 1 }, 2)]);
  assert.equal(s.idle_expires_at, 6000);
  assert.equal(s.version, 4);
});

test("events of another session are ignored", () => {
  const base = run([{ type: "ready", frame: readyActive }]);
  assert.equal(I.reduce(base, ev("session.extended", { sid: "other", idle_expires_at: 1 }, 9)), base);
  assert.equal(I.reduce(base, ev("logout", { sid: "other", reason: "admin" }, 9)), base);
});

test("logout event of this session → anonymous, everything cleared", () => {
  const s = run([{ type: "ready", frame: readyActive }, ev("logout", { sid: "s1", reason: "user_logout", scope: "session" }, 6)]);
  assert.deepEqual(s, { status: "anonymous", sid: null, sub: null, version: null, expires_at: null, idle_expires_at: null });
});

test("signed-out (local logout, failed refresh) → anonymous", () => {
  const s = run([{ type: "session", session }, { type: "signed-out" }]);
  assert.equal(s.status, "anonymous");
  assert.equal(s.sid, null);
});

test("offline keeps the session for the resume, ready brings it back", () => {
  const online = run([{ type: "ready", frame: readyActive }]);
  const off = I.reduce(online, { type: "offline" });
  assert.equal(off.status, "offline");
  assert.equal(off.sid, "s1");
  assert.equal(off.version, 4);
  const back = I.reduce(off, { type: "ready", frame: { ...readyActive, version: 8, idle_expires_at: 8000 } });
  assert.equal(back.status, "authenticated");
  assert.equal(back.version, 8);
  assert.equal(back.idle_expires_at, 8000);
});

test("ready with state revoked waits for the logout event that follows", () => {
  const off = run([{ type: "ready", frame: readyActive }, { type: "offline" }]);
  const revoked = I.reduce(off, { type: "ready", frame: { ...readyActive, version: 9, state: "revoked" } });
  assert.equal(revoked, off);
  const out = I.reduce(revoked, ev("logout", { sid: "s1", reason: "admin", scope: "session" }, 9));
  assert.equal(out.status, "anonymous");
});

test("connecting / offline only change the status", () => {
  const s = run([{ type: "ready", frame: readyWatch }, { type: "offline" }, { type: "connecting" }]);
  assert.deepEqual(s, { status: "connecting", sid: null, sub: null, version: null, expires_at: null, idle_expires_at: null });
});

test("custom events and unknown actions leave the state alone", () => {
  const base = run([{ type: "ready", frame: readyActive }]);
  const s = I.reduce(base, ev("cart.updated", { sid: "s1", items: 2 }, undefined));
  assert.ok(I.sameState(s, base));
  assert.equal(I.reduce(base, { type: "nonsense" }), base);
});

test("sameState compares the public fields", () => {
  assert.equal(I.sameState(I.INITIAL_STATE, { ...I.INITIAL_STATE }), true);
  assert.equal(I.sameState(I.INITIAL_STATE, { ...I.INITIAL_STATE, status: "offline" }), false);
});
