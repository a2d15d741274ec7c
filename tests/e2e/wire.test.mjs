// The hub's WebSocket contract as the snippet relies on it (PROTOCOL §3), checked from a
// real browser page with raw WebSockets: the subprotocol, `ready` for watch and auth, auth
// after watch on the same socket, the error frame before a 4001, resume after a change,
// the logout event followed by 4010, the 4008 auth timeout, the Origin check, the device
// cookie on the upgrade, and the token offered with the upgrade (an addition to §3).
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";

import { PASSWORD, startStack, stats } from "./harness.mjs";

describe("the WebSocket contract, from a browser", { timeout: 90000 }, () => {
  let stack;
  let page;

  before(async () => {
    stack = await startStack({ hubArgs: ["--auth-timeout-s", "2"] });
    const ctx = await stack.newContext();
    page = await ctx.newPage();
    await page.goto(stack.analytics + "/");
    await page.waitForFunction(() => window.demo && window.demo.hub.state.status === "anonymous");
    // A raw socket helper in the page: frames in order, then the close code.
    await page.evaluate((hub) => {
      window.raw = (first) =>
        new Promise((resolve) => {
          const ws = new WebSocket(hub.replace("http", "ws") + "/v1/ws", "sessionhub.v1");
          const got = { protocol: null, frames: [], close: null, ws };
          ws.onopen = () => {
            got.protocol = ws.protocol;
            if (first) ws.send(JSON.stringify(first));
          };
          ws.onmessage = (m) => got.frames.push(JSON.parse(m.data));
          ws.onclose = (e) => {
            got.close = e.code;
          };
          window.lastRaw = got;
          resolve();
        });
      window.wait = (pred, ms = 5000) =>
        new Promise((resolve, reject) => {
          const end = Date.now() + ms;
          const t = setInterval(() => {
            const g = window.lastRaw;
            if (pred(g)) {
              clearInterval(t);
              resolve({ protocol: g.protocol, frames: g.frames, close: g.close });
            } else if (Date.now() > end) {
              clearInterval(t);
              reject(new Error("timeout: " + JSON.stringify({ frames: g.frames, close: g.close })));
            }
          }, 10);
        });
      window.login = async () => {
        const r = await fetch(hub + "/v1/login", {
          method: "POST",
          credentials: "include",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: "demo", password: window.pw }),
        });
        return r.json();
      };
    }, stack.hub);
    await page.evaluate((pw) => (window.pw = pw), PASSWORD);
  });
  after(async () => {
    if (stack) await stack.stop();
  });

  const rawFlow = (first, predSrc, ms) =>
    page.evaluate(
      async ([first, predSrc, ms]) => {
        await window.raw(first);
        return window.wait(new Function("g", `return (${predSrc})(g)`), ms);
      },
      [first, predSrc, ms],
    );

  test("watch: ready with null session fields, the device id and state anonymous", async () => {
    const g = await rawFlow({ type: "watch" }, "(g) => g.frames.length >= 1");
    assert.equal(g.protocol, "sessionhub.v1");
    const r = g.frames[0];
    assert.equal(r.type, "ready");
    for (const k of ["sid", "sub", "version", "expires_at", "idle_expires_at"]) assert.equal(r[k], null, k);
    assert.equal(typeof r.did, "string");
    assert.ok(r.did.length > 0);
    assert.equal(typeof r.replica, "string");
    assert.equal(r.state, "anonymous");
    await page.evaluate(() => window.lastRaw.ws.close());
  });

  test("a bad token: an error frame, then close 4001", async () => {
    const g = await rawFlow({ type: "auth", token: "not-a-jwt" }, "(g) => g.close !== null");
    assert.equal(g.close, 4001);
    assert.equal(g.frames.at(-1)?.type, "error");
    assert.equal(typeof g.frames.at(-1).code, "string");
  });

  test("no auth, resume or watch in time: close 4008", async () => {
    const g = await rawFlow(null, "(g) => g.close !== null", 8000);
    assert.equal(g.close, 4008);
  });

  test("watch → login elsewhere → login event → auth on the same socket → ready", async () => {
    await rawFlow({ type: "watch" }, "(g) => g.frames.length >= 1");
    const body = await page.evaluate(() => window.login());
    const g = await page.evaluate(() => window.wait((g) => g.frames.some((f) => f.event === "login")));
    const ev = g.frames.find((f) => f.event === "login");
    assert.equal(ev.type, "event");
    assert.equal(ev.data.sid, body.session.sid);
    assert.equal(ev.data.sub, "demo");
    assert.equal(typeof ev.id, "string");
    assert.equal(typeof ev.at, "number");
    await page.evaluate((token) => window.lastRaw.ws.send(JSON.stringify({ type: "auth", token })), body.access_token);
    const g2 = await page.evaluate(() => window.wait((g) => g.frames.filter((f) => f.type === "ready").length >= 2));
    const ready = g2.frames.filter((f) => f.type === "ready")[1];
    assert.equal(ready.sid, body.session.sid);
    assert.equal(ready.sub, "demo");
    assert.equal(ready.state, "active");
    assert.equal(typeof ready.version, "number");
    assert.ok(ready.idle_expires_at > Date.now());
    assert.ok(ready.expires_at >= ready.idle_expires_at);
    // the session's own events reach it: extend over the socket
    await page.evaluate(() => window.lastRaw.ws.send(JSON.stringify({ type: "extend" })));
    const g3 = await page.evaluate(() => window.wait((g) => g.frames.some((f) => f.event === "session.extended")));
    const ext = g3.frames.find((f) => f.event === "session.extended");
    assert.equal(ext.data.sid, body.session.sid);
    assert.ok(ext.version > ready.version);
    // resume from an old version on a new socket: ready, then the latest state event
    await page.evaluate(() => window.lastRaw.ws.close());
    const g4 = await rawFlow({ type: "resume", token: body.access_token, version: ready.version }, "(g) => g.frames.length >= 2");
    assert.equal(g4.frames[0].type, "ready");
    assert.equal(g4.frames[0].state, "active");
    assert.equal(g4.frames[1].type, "event");
    assert.ok(g4.frames[1].version > ready.version);
    // logout over HTTP: the logout event, then close 4010
    await page.evaluate(
      async ([hub, token]) => {
        await fetch(hub + "/v1/logout", {
          method: "POST",
          credentials: "include",
          headers: { authorization: "Bearer " + token, "content-type": "application/json" },
          body: JSON.stringify({ scope: "session" }),
        });
      },
      [stack.hub, body.access_token],
    );
    const g5 = await page.evaluate(() => window.wait((g) => g.close !== null));
    const out = g5.frames.find((f) => f.event === "logout");
    assert.ok(out, "a logout event before the close");
    assert.equal(out.data.sid, body.session.sid);
    assert.equal(out.data.reason, "user_logout");
    assert.equal(out.data.scope, "session");
    assert.equal(g5.close, 4010);
  });

  test("login as the snippet does it: HttpOnly Path-limited cookies, no refresh token in the body, CORS", async () => {
    const pre = await fetch(stack.hub + "/v1/login", {
      method: "OPTIONS",
      headers: { origin: stack.analytics, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    assert.ok(pre.status === 204 || pre.status === 200, `preflight ${pre.status}`);
    assert.equal(pre.headers.get("access-control-allow-origin"), stack.analytics);
    assert.equal(pre.headers.get("access-control-allow-credentials"), "true");
    const res = await fetch(stack.hub + "/v1/login", {
      method: "POST",
      headers: { origin: stack.analytics, "content-type": "application/json" },
      body: JSON.stringify({ username: "demo", password: PASSWORD }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), stack.analytics);
    assert.equal(res.headers.get("access-control-allow-credentials"), "true");
    const body = await res.json();
    assert.equal(body.refresh_token, undefined, "the refresh token stays in the cookie");
    assert.equal(body.token_type, "Bearer");
    assert.equal(typeof body.expires_in, "number");
    for (const k of ["sid", "sub", "expires_at", "idle_expires_at", "version"]) assert.ok(k in body.session, k);
    const cookies = res.headers.getSetCookie();
    const rt = cookies.filter((c) => c.startsWith("shub_rt="));
    assert.ok(rt.length >= 1, JSON.stringify(cookies));
    for (const c of rt) {
      assert.match(c, /;\s*HttpOnly/i);
      assert.match(c, /;\s*SameSite=Strict/i);
      assert.match(c, /;\s*Path=\/v1\/(refresh|logout)/i);
      assert.doesNotMatch(c, /;\s*Secure/i, "plain HTTP on loopback: no Secure");
    }
    assert.deepEqual(rt.map((c) => c.match(/Path=([^;]+)/i)[1]).sort(), ["/v1/logout", "/v1/refresh"]);
    const did = cookies.find((c) => c.startsWith("shub_did="));
    assert.ok(did && /Path=\/(;|$)/i.test(did), `shub_did: ${did}`);
    const refused = await fetch(stack.hub + "/v1/login", {
      method: "OPTIONS",
      headers: { origin: "http://evil.example", "access-control-request-method": "POST" },
    });
    assert.equal(refused.headers.get("access-control-allow-origin"), null);
  });

  test("the upgrade needs an allowed Origin (403 otherwise) and sets shub_did when absent", async () => {
    const upgrade = (origin) =>
      new Promise((resolve, reject) => {
        const req = request(stack.hub + "/v1/ws", {
          headers: {
            connection: "Upgrade",
            upgrade: "websocket",
            "sec-websocket-version": "13",
            "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
            "sec-websocket-protocol": "sessionhub.v1",
            ...(origin ? { origin } : {}),
          },
          timeout: 5000,
        });
        req.on("upgrade", (res, socket) => {
          socket.destroy();
          resolve({ status: res.statusCode, headers: res.headers });
        });
        req.on("response", (res) => {
          res.resume();
          resolve({ status: res.statusCode, headers: res.headers });
        });
        req.on("timeout", () => req.destroy(new Error("upgrade timed out")));
        req.on("error", reject);
        req.end();
      });
    assert.equal((await upgrade("http://evil.example")).status, 403);
    assert.equal((await upgrade(null)).status, 403);
    const ok = await upgrade(stack.crm);
    assert.equal(ok.status, 101);
    assert.equal(ok.headers["sec-websocket-protocol"], "sessionhub.v1");
    assert.ok((ok.headers["set-cookie"] || []).some((c) => /^shub_did=[^;]+;.*Path=\//i.test(c)), JSON.stringify(ok.headers["set-cookie"]));
  });

  test("the token offered with the upgrade: ready right after the 101, from a raw socket and the snippet", async () => {
    const before = (await stats(stack)).connections.auth_in_upgrade;
    const body = await page.evaluate(() => window.login());
    const offer = (token) =>
      page.evaluate(
        ([hub, token]) =>
          new Promise((resolve) => {
            const ws = new WebSocket(hub.replace("http", "ws") + "/v1/ws", ["sessionhub.v1", "sessionhub.auth." + token]);
            const got = { protocol: null, frames: [], close: null };
            ws.onopen = () => (got.protocol = ws.protocol); // nothing sent
            ws.onmessage = (m) => {
              got.frames.push(JSON.parse(m.data));
              if (got.frames[0].type === "ready") ws.close(1000);
            };
            ws.onclose = (e) => resolve({ ...got, close: e.code });
            setTimeout(() => resolve({ ...got, close: "timeout" }), 5000);
          }),
        [stack.hub, token],
      );
    const g = await offer(body.access_token);
    assert.equal(g.protocol, "sessionhub.v1", "only sessionhub.v1 is echoed");
    assert.equal(g.frames[0].type, "ready");
    assert.equal(g.frames[0].sid, body.session.sid);
    assert.equal(g.frames[0].state, "active");
    const bad = await offer("not-a-jwt");
    assert.equal(bad.frames.at(-1)?.type, "error");
    assert.equal(bad.close, 4001);

    // The snippet with authInUpgrade, signed in through the cookie login() set: its socket
    // hears the session's events (extend until one arrives: its subscription follows ready).
    const s = await page.evaluate(
      (hub) =>
        new Promise((resolve, reject) => {
          const h = SessionHub.connect({ hub, authInUpgrade: true });
          let tries = 0;
          h.on("extended", () => {
            clearInterval(t);
            const s = h.state;
            h.close();
            resolve(s);
          });
          const t = setInterval(() => {
            if (h.state.status !== "authenticated") return;
            if (++tries > 25) {
              clearInterval(t);
              reject(new Error("no session.extended over the socket: " + JSON.stringify(h.state)));
            }
            h.extend().catch(() => {});
          }, 200);
        }),
      stack.hub,
    );
    assert.equal(s.sid, body.session.sid);
    const after = (await stats(stack)).connections.auth_in_upgrade;
    assert.equal(after - before, 3, "two raw sockets and the snippet's");
  });
});
