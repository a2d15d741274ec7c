// Unit tests of the snippet's wiring against a fake hub: fetch and WebSocket are replaced by
// in-memory fakes (no DOM, no network), and each test plays the hub's side of PROTOCOL §2/§3
// to check what the snippet sends back: auth or watch on load, auth after a login event on
// the same socket, the token frame after a refresh, resume with the last version after a
// drop, watching again after a logout.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import SessionHub from "../sessionhub.js";

const HUB = "http://127.0.0.1:8080";
let sockets;
let requests;
let refreshAnswers; // queue of {status, body} for POST /v1/refresh; empty → 401
let hubs;

class FakeWebSocket {
  constructor(url, protocol) {
    this.url = url;
    this.protocol = protocol;
    this.readyState = 0;
    this.sent = [];
    sockets.push(this);
  }
  send(text) {
    assert.equal(this.readyState, 1, "send on an open socket only");
    this.sent.push(JSON.parse(text));
  }
  close(code = 1000) {
    this.readyState = 3;
    this.closedWith = code;
  }
  // the hub's side
  accept() {
    this.readyState = 1;
    this.onopen?.({});
  }
  frame(obj) {
    this.onmessage?.({ data: JSON.stringify(obj) });
  }
  drop(code) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

function tokenResponse(sid, version, token = "at-" + sid + "-" + version) {
  return {
    access_token: token,
    token_type: "Bearer",
    expires_in: 900,
    session: { sid, sub: "demo", expires_at: Date.now() + 3600e3, idle_expires_at: Date.now() + 1800e3, version },
  };
}
function json(status, body) {
  return { ok: status >= 200 && status < 300, status, json: async () => body };
}
const ready = (sid, version) =>
  sid
    ? { type: "ready", sid, sub: "demo", did: "d1", version, expires_at: Date.now() + 3600e3, idle_expires_at: Date.now() + 1800e3, replica: "r1", state: "active" }
    : { type: "ready", sid: null, sub: null, did: "d1", version: null, expires_at: null, idle_expires_at: null, replica: "r1", state: "anonymous" };
const event = (name, data, version) => ({ type: "event", id: "e" + Math.random(), event: name, version, at: Date.now(), data });
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms = 3000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = fn();
    if (v) return v;
    await tick(5);
  }
  assert.fail("timed out waiting for " + what);
}

beforeEach(() => {
  sockets = [];
  requests = [];
  refreshAnswers = [];
  hubs = [];
  globalThis.WebSocket = FakeWebSocket;
  globalThis.fetch = async (url, init) => {
    const path = new URL(url).pathname;
    requests.push({ path, init });
    assert.equal(init.credentials, "include", "every call carries the cookies");
    if (path === "/v1/refresh") {
      assert.equal(init.body, undefined, "the refresh token comes from the cookie, never the body");
      const a = refreshAnswers.shift();
      return a ? json(a.status, a.body) : json(401, { code: "invalid_grant" });
    }
    if (path === "/v1/login") return json(200, tokenResponse("s-login", 1));
    if (path === "/v1/logout") return { ok: true, status: 204, json: async () => ({}) };
    if (path === "/v1/extend") return json(200, { idle_expires_at: Date.now() + 1900e3, version: 7 });
    return json(404, {});
  };
});
afterEach(() => {
  for (const h of hubs) h.close();
});
function connect(options = {}) {
  const hub = SessionHub.connect({ hub: HUB, ...options });
  hubs.push(hub);
  return hub;
}

test("load with a session: refresh through the cookie, then auth on sessionhub.v1", async () => {
  refreshAnswers.push({ status: 200, body: tokenResponse("s1", 2) });
  const hub = connect();
  const ws = await until("a socket", () => sockets[0]);
  assert.equal(ws.url, "ws://127.0.0.1:8080/v1/ws");
  assert.equal(ws.protocol, "sessionhub.v1");
  assert.equal(requests[0].path, "/v1/refresh");
  assert.equal(hub.state.status, "authenticated");
  ws.accept();
  assert.deepEqual(ws.sent, [{ type: "auth", token: "at-s1-2" }]);
  ws.frame(ready("s1", 2));
  assert.equal(hub.state.sid, "s1");
  assert.equal(await hub.getToken(), "at-s1-2");
});

test("load without a session: watch; a login event → refresh → auth on the same socket", async () => {
  const hub = connect();
  const states = [];
  const logins = [];
  hub.on("state", (s) => states.push(s.status));
  hub.on("login", (d) => logins.push(d));
  const ws = await until("a socket", () => sockets[0]);
  ws.accept();
  assert.deepEqual(ws.sent, [{ type: "watch" }]);
  ws.frame(ready(null));
  assert.equal(hub.state.status, "anonymous");
  await assert.rejects(hub.getToken(), { code: "not_authenticated" });

  refreshAnswers.push({ status: 200, body: tokenResponse("s9", 1) });
  ws.frame(event("login", { sid: "s9", sub: "demo" }, 1));
  await until("auth after login", () => ws.sent.length === 2);
  assert.deepEqual(ws.sent[1], { type: "auth", token: "at-s9-1" });
  assert.equal(sockets.length, 1, "no new socket");
  ws.frame(ready("s9", 1));
  assert.deepEqual(logins, [{ sid: "s9", sub: "demo" }]);
  const changes = states.filter((s, i) => s !== states[i - 1]);
  assert.deepEqual(changes, ["anonymous", "authenticated"]);
});

test("a login event right after a watch whose refresh is refused is retried", async () => {
  const hub = connect();
  const ws = await until("a socket", () => sockets[0]);
  ws.accept();
  ws.frame(ready(null));
  refreshAnswers.push({ status: 401, body: { code: "invalid_grant" } }, { status: 200, body: tokenResponse("s3", 1) });
  ws.frame(event("login", { sid: "s3", sub: "demo" }, 1));
  await until("auth after the retry", () => ws.sent.some((f) => f.type === "auth"), 4000);
  assert.equal(hub.state.sid, "s3");
});

test("login() in this tab: auth on the watching socket, its own login event is not refreshed", async () => {
  const hub = connect();
  const ws = await until("a socket", () => sockets[0]);
  ws.accept();
  ws.frame(ready(null));
  const state = await hub.login("demo", "pw");
  assert.equal(state.status, "authenticated");
  const login = requests.find((r) => r.path === "/v1/login");
  assert.deepEqual(JSON.parse(login.init.body), { username: "demo", password: "pw" });
  assert.deepEqual(ws.sent.at(-1), { type: "auth", token: "at-s-login-1" });
  ws.frame(event("login", { sid: "s-login", sub: "demo" }, 1));
  await tick(300);
  assert.equal(requests.filter((r) => r.path === "/v1/refresh").length, 1, "only the load's refresh");
});

test("refresh while authenticated sends a token frame; a forced refresh rotates", async () => {
  refreshAnswers.push({ status: 200, body: tokenResponse("s1", 1, "first") });
  const hub = connect();
  const ws = await until("a socket", () => sockets[0]);
  ws.accept();
  ws.frame(ready("s1", 1));
  refreshAnswers.push({ status: 200, body: tokenResponse("s1", 2, "second") });
  assert.equal(await hub.getToken({ forceRefresh: true }), "second");
  assert.deepEqual(ws.sent.at(-1), { type: "token", token: "second" });
  assert.equal(await hub.getToken(), "second", "a fresh token is not refreshed again");
  assert.equal(requests.filter((r) => r.path === "/v1/refresh").length, 2);
});

test("concurrent getToken calls in one tab share one refresh", async () => {
  refreshAnswers.push({ status: 200, body: tokenResponse("s1", 1, "first") });
  const hub = connect();
  const ws = await until("a socket", () => sockets[0]);
  ws.accept();
  refreshAnswers.push({ status: 200, body: tokenResponse("s1", 2, "second") });
  const tokens = await Promise.all([1, 2, 3, 4].map(() => hub.getToken({ forceRefresh: true })));
  assert.deepEqual(tokens, ["second", "second", "second", "second"]);
  assert.equal(requests.filter((r) => r.path === "/v1/refresh").length, 2);
});

test("drop → offline → reconnect with resume and the last version", async () => {
  refreshAnswers.push({ status: 200, body: tokenResponse("s1", 1) });
  const hub = connect();
  const ws = await until("a socket", () => sockets[0]);
  ws.accept();
  ws.frame(ready("s1", 4));
  ws.frame(event("session.extended", { sid: "s1", idle_expires_at: Date.now() + 1900e3 }, 5));
  ws.drop(1006);
  assert.equal(hub.state.status, "offline");
  assert.equal(hub.state.sid, "s1");
  const ws2 = await until("a second socket", () => sockets[1], 2000);
  ws2.accept();
  assert.deepEqual(ws2.sent, [{ type: "resume", token: "at-s1-1", version: 5 }]);
  ws2.frame(ready("s1", 5));
  assert.equal(hub.state.status, "authenticated");
});

test("authInUpgrade: the token rides with the upgrade, no auth frame; a refresh meanwhile follows ready", async () => {
  refreshAnswers.push({ status: 200, body: tokenResponse("s1", 1, "first") });
  const hub = connect({ authInUpgrade: true });
  const ws = await until("a socket", () => sockets[0]);
  assert.deepEqual(ws.protocol, ["sessionhub.v1", "sessionhub.auth.first"]);
  refreshAnswers.push({ status: 200, body: tokenResponse("s1", 2, "second") });
  const refreshed = hub.getToken({ forceRefresh: true }); // lands before the 101
  assert.equal(await refreshed, "second");
  ws.accept();
  assert.deepEqual(ws.sent, [], "the upgrade was the auth");
  ws.frame(ready("s1", 2));
  assert.equal(hub.state.status, "authenticated");
  assert.deepEqual(ws.sent, [{ type: "token", token: "second" }], "the newer token after ready");
});

test("authInUpgrade: signed out it watches; a reconnect resumes with a frame", async () => {
  const anon = connect({ authInUpgrade: true });
  const w = await until("a socket", () => sockets[0]);
  assert.equal(w.protocol, "sessionhub.v1", "no token, no entry");
  w.accept();
  assert.deepEqual(w.sent, [{ type: "watch" }]);
  anon.close();

  refreshAnswers.push({ status: 200, body: tokenResponse("s1", 1) });
  connect({ authInUpgrade: true });
  const ws = await until("a socket", () => sockets[1]);
  assert.deepEqual(ws.protocol, ["sessionhub.v1", "sessionhub.auth.at-s1-1"]);
  ws.accept();
  ws.frame(ready("s1", 3));
  ws.drop(1006);
  const ws2 = await until("a second socket", () => sockets[2], 2000);
  assert.equal(ws2.protocol, "sessionhub.v1", "resume is a frame (it carries the version)");
  ws2.accept();
  assert.deepEqual(ws2.sent, [{ type: "resume", token: "at-s1-1", version: 3 }]);
});

test("logout event: state cleared, logout emitted, back to watching at once", async () => {
  refreshAnswers.push({ status: 200, body: tokenResponse("s1", 1) });
  const hub = connect();
  const outs = [];
  hub.on("logout", (d) => outs.push(d));
  const ws = await until("a socket", () => sockets[0]);
  ws.accept();
  ws.frame(ready("s1", 1));
  ws.frame(event("logout", { sid: "s1", reason: "user_logout", scope: "session" }, 2));
  assert.deepEqual(outs, [{ sid: "s1", reason: "user_logout", scope: "session" }]);
  assert.equal(hub.state.status, "anonymous");
  assert.equal(hub.state.sid, null);
  const ws2 = await until("a watching socket", () => sockets[1], 500);
  ws2.accept();
  assert.deepEqual(ws2.sent, [{ type: "watch" }]);
  ws.drop(4010); // the old socket's close changes nothing more
  assert.equal(outs.length, 1);
});

test("close 4010 without a logout event still ends the session", async () => {
  refreshAnswers.push({ status: 200, body: tokenResponse("s1", 1) });
  const hub = connect();
  const outs = [];
  hub.on("logout", (d) => outs.push(d));
  const ws = await until("a socket", () => sockets[0]);
  ws.accept();
  ws.frame(ready("s1", 1));
  ws.drop(4010);
  assert.equal(outs.length, 1);
  assert.equal(outs[0].sid, "s1");
  const ws2 = await until("a watching socket", () => sockets[1], 500);
  ws2.accept();
  assert.deepEqual(ws2.sent, [{ type: "watch" }]);
});

test("events map to on() names; custom events arrive as 'event'", async () => {
  refreshAnswers.push({ status: 200, body: tokenResponse("s1", 1) });
  const hub = connect();
  const got = [];
  for (const n of ["extended", "expiring", "refreshed", "event"]) hub.on(n, (d) => got.push([n, d]));
  const ws = await until("a socket", () => sockets[0]);
  ws.accept();
  ws.frame(ready("s1", 1));
  ws.frame(event("session.expiring", { sid: "s1", idle_expires_at: 123, warn_before_s: 60 }, 2));
  ws.frame(event("session.extended", { sid: "s1", idle_expires_at: 456 }, 3));
  ws.frame(event("token.refreshed", { sid: "s1", expires_in: 900 }, 4));
  ws.frame(event("cart.updated", { items: 2 }));
  ws.frame(event("session.extended", { sid: "someone-else", idle_expires_at: 1 }, 9));
  assert.deepEqual(got.map(([n]) => n), ["expiring", "extended", "refreshed", "event"]);
  assert.equal(got[3][1].event, "cart.updated");
  assert.deepEqual(got[3][1].data, { items: 2 });
  assert.equal(hub.state.idle_expires_at, 456);
  assert.equal(hub.state.version, 4);
});

test("logout() posts the scope with the access token and signs out locally", async () => {
  refreshAnswers.push({ status: 200, body: tokenResponse("s1", 1) });
  const hub = connect();
  const ws = await until("a socket", () => sockets[0]);
  ws.accept();
  ws.frame(ready("s1", 1));
  await hub.logout({ scope: "user" });
  const req = requests.find((r) => r.path === "/v1/logout");
  assert.equal(req.init.headers.authorization, "Bearer at-s1-1");
  assert.deepEqual(JSON.parse(req.init.body), { scope: "user" });
  assert.equal(hub.state.status, "anonymous");
});

test("extend() posts with the token and moves idle_expires_at", async () => {
  refreshAnswers.push({ status: 200, body: tokenResponse("s1", 1) });
  const hub = connect();
  const ws = await until("a socket", () => sockets[0]);
  ws.accept();
  ws.frame(ready("s1", 1));
  const before = hub.state.idle_expires_at;
  const res = await hub.extend();
  assert.equal(res.version, 7);
  assert.ok(hub.state.idle_expires_at > before);
  assert.equal(hub.state.version, 7);
});

test("close() stops reconnecting", async () => {
  const hub = connect();
  const ws = await until("a socket", () => sockets[0]);
  hub.close();
  assert.equal(ws.closedWith, 1000);
  ws.drop(1006);
  await tick(600);
  assert.equal(sockets.length, 1);
});
