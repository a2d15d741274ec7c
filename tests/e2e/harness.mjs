// harness: what every browser test needs — a real hub, the demo apps on two origins and
// Debian's Chromium, started fresh and torn down afterwards.
//
// startStack() runs the hub binary (SESSIONHUB_BINARY, default build/hub/sessionhub) on a
// free loopback port with an in-memory store and a users file holding "demo", starts
// web-client/demo/serve.mjs on two more free ports (Analytics, CRM), and launches
// /usr/bin/chromium through playwright-core (never a downloaded browser). Every child
// process is killed on stop() and, failing that, when this process exits.
// SESSIONHUB_E2E_SNIPPET=local makes the demo serve web-client/dist itself instead of the
// hub's /sessionhub.js (only for working on the snippet while the hub cannot serve it).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BINARY = resolve(ROOT, process.env.SESSIONHUB_BINARY || "build/hub/sessionhub");
const CHROMIUM = process.env.SESSIONHUB_CHROMIUM || "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-quic",
  "--no-first-run",
  "--disable-component-update",
  "--disable-sync",
];
export const PASSWORD = "demo-" + randomBytes(6).toString("hex");

const children = new Set();
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

// A free loopback port: bind port 0, note it, let it go (the window until reuse is tiny).
export function freePort() {
  return new Promise((resolveP, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolveP(port));
    });
  });
}

// Starts a child and resolves with the first stdout JSON line whose msg is "listening".
export function startChild(name, cmd, args, log, ms = 20000) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  child.on("exit", () => children.delete(child));
  const lines = createInterface({ input: child.stdout });
  createInterface({ input: child.stderr }).on("line", (l) => log.push(`[${name} err] ${l}`));
  return new Promise((resolveP, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not report listening in ${ms} ms:\n${log.slice(-20).join("\n")}`)), ms);
    child.once("exit", (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? sig}) before listening:\n${log.slice(-20).join("\n")}`));
    });
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    lines.on("line", (l) => {
      log.push(`[${name}] ${l}`);
      if (log.length > 4000) log.splice(0, 1000);
      if (!l.startsWith("{")) return;
      try {
        const j = JSON.parse(l);
        if (j.msg === "listening") {
          clearTimeout(timer);
          child.removeAllListeners("exit");
          child.on("exit", () => children.delete(child));
          resolveP({ child, info: j });
        }
      } catch {
        // a log line that is not JSON
      }
    });
  });
}

export async function stopChild(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

// The users file the hub's dev identity provider reads: "demo:<scrypt hash>".
function usersFile(dir) {
  const out = spawnSync(BINARY, ["hash-password"], { input: PASSWORD, encoding: "utf8", timeout: 20000 });
  if (out.status !== 0) throw new Error(`${BINARY} hash-password failed: ${out.stderr || out.error}`);
  const file = join(dir, "users");
  writeFileSync(file, `demo:${out.stdout.trim()}\n`, { mode: 0o600 });
  return file;
}

export async function startStack({ hubArgs = [] } = {}) {
  if (!existsSync(BINARY)) {
    throw new Error(`no hub binary at ${BINARY}: build it (cmake --build build --target sessionhub) or set SESSIONHUB_BINARY`);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium`);
  const dir = mkdtempSync(join(tmpdir(), "sessionhub-e2e-"));
  const log = [];
  const apiKey = randomBytes(18).toString("hex");
  const [analyticsPort, crmPort] = [await freePort(), await freePort()];
  const analytics = `http://127.0.0.1:${analyticsPort}`;
  const crm = `http://127.0.0.1:${crmPort}`;
  const stack = { dir, log, apiKey, analytics, crm, contexts: [] };

  const hub = await startChild("hub", BINARY, [
    "--listen", "127.0.0.1:0",
    "--store", "sqlite::memory:",
    "--users-file", usersFile(dir),
    "--allowed-origin", analytics,
    "--allowed-origin", crm,
    "--api-key", apiKey,
    "--login-rate-limit", "0",
    "--refresh-rate-limit", "0",
    ...hubArgs,
  ], log);
  stack.hubProcess = hub.child;
  stack.hub = `http://127.0.0.1:${hub.info.port}`;

  const snippet = process.env.SESSIONHUB_E2E_SNIPPET === "local" ? "local" : "hub";
  const demo = await startChild("demo", process.execPath, [
    join(ROOT, "web-client", "demo", "serve.mjs"),
    "--hub", stack.hub,
    "--analytics-port", String(analyticsPort),
    "--crm-port", String(crmPort),
    "--snippet", snippet,
  ], log);
  stack.demoProcess = demo.child;

  stack.browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30000 });
  // One context = one browser profile: one cookie jar, one device, one session.
  stack.newContext = async () => {
    const ctx = await stack.browser.newContext({ viewport: { width: 900, height: 700 } });
    stack.contexts.push(ctx);
    return ctx;
  };
  stack.stop = async () => {
    for (const ctx of stack.contexts) await ctx.close().catch(() => {});
    await stack.browser?.close().catch(() => {});
    await stopChild(stack.demoProcess);
    await stopChild(stack.hubProcess);
    rmSync(dir, { recursive: true, force: true });
  };
  return stack;
}

// ---- page helpers -----------------------------------------------------------------------

// Opens an app ("analytics" | "crm" or a URL) and waits until the snippet knows where it stands.
export async function openTab(stack, ctx, app) {
  const page = await ctx.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.errors = errors;
  if (process.env.SESSIONHUB_E2E_DEBUG) page.on("console", (m) => console.log(`[${app} console] ${m.text()}`));
  await page.goto(app === "analytics" ? stack.analytics + "/" : app === "crm" ? stack.crm + "/" : app);
  await settled(page);
  return page;
}

export async function settled(page, ms = 10000) {
  await page.waitForFunction(() => window.demo && window.demo.hub.state.status !== "connecting", null, { timeout: ms });
}

export const state = (page) => page.evaluate(() => window.demo.hub.state);

// Waits until `predicate(state)` holds in the page; `predicate` runs in the browser.
export async function waitState(page, predicate, arg, ms = 5000) {
  await page.waitForFunction(
    ([src, a]) => window.demo && new Function("s", "arg", `return (${src})(s, arg)`)(window.demo.hub.state, a),
    [predicate.toString(), arg],
    { timeout: ms, polling: 20 },
  );
  return state(page);
}

export async function signIn(page) {
  await page.fill("#username", "demo");
  await page.fill("#password", PASSWORD);
  await page.click("#login-btn");
  return waitState(page, (s) => s.status === "authenticated");
}

// The hub's own view of an access token (PROTOCOL §2 GET /v1/validate).
export async function validate(stack, token) {
  const res = await fetch(stack.hub + "/v1/validate", { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json().catch(() => null) };
}

export async function stats(stack) {
  const res = await fetch(stack.hub + "/v1/stats", { headers: { authorization: `Bearer ${stack.apiKey}` } });
  return res.json();
}

// A plain GET with exactly these headers (fetch() adds Sec-Fetch-* of its own).
export function get(url, headers = {}) {
  return new Promise((resolveP, reject) => {
    const req = request(url, { headers, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolveP({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

export function hubLogTail(stack, n = 40) {
  return stack.log.slice(-n).join("\n");
}
