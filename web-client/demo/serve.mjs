#!/usr/bin/env node
// serve.mjs — serves the two demo micro-apps on two origins of one site, with no dependency:
//   Analytics  http://127.0.0.1:8081/   (loads the snippet as a classic <script>)
//   CRM        http://127.0.0.1:8082/   (imports it as an ES module)
// Both load /sessionhub.js from the hub and connect to it; the hub must list both origins
// in --allowed-origin. Ports differ, the site (127.0.0.1) is the same, so the hub's
// SameSite=Strict cookies reach it from both apps. /side-by-side.html shows both at once.
//
//   node demo/serve.mjs [--hub http://127.0.0.1:8080] [--analytics-port 8081] [--crm-port 8082]
//                       [--host 127.0.0.1] [--snippet hub|local]
//
// Port 0 picks a free port. `--snippet local` serves web-client/dist/ from the demo ports
// instead of the hub's /sessionhub.js (for working on the snippet without rebuilding the hub).
// Loopback only, GET/HEAD only, files of demo/ only, small and time-limited: it is a demo
// server, not a web server. It prints both addresses and one JSON line for scripts.
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { dirname, extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

const DEMO = dirname(fileURLToPath(import.meta.url));
const DIST = join(DEMO, "..", "dist");
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};
const MAX_FILE_BYTES = 1 << 20;

function parseArgs(argv) {
  const opts = { hub: "http://127.0.0.1:8080", analyticsPort: 8081, crmPort: 8082, host: "127.0.0.1", snippet: "hub" };
  const names = { "--hub": "hub", "--analytics-port": "analyticsPort", "--crm-port": "crmPort", "--host": "host", "--snippet": "snippet" };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    if (flag === "--help" || flag === "-h") {
      console.log("usage: node serve.mjs [--hub URL] [--analytics-port N] [--crm-port N] [--host 127.0.0.1] [--snippet hub|local]");
      process.exit(0);
    }
    const key = names[flag];
    if (!key) throw new Error(`unknown option ${flag}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    opts[key] = key.endsWith("Port") ? Number(value) : value;
  }
  opts.hub = new URL(opts.hub).origin;
  for (const p of [opts.analyticsPort, opts.crmPort]) {
    if (!Number.isInteger(p) || p < 0 || p > 65535) throw new Error(`bad port ${p}`);
  }
  if (!/^(127\.\d+\.\d+\.\d+|localhost|::1)$/.test(opts.host)) throw new Error("--host must be a loopback address");
  if (opts.snippet !== "hub" && opts.snippet !== "local") throw new Error("--snippet is hub or local");
  return opts;
}

// A request path → a file under one of `roots` ({prefix: dir}), or null. No "..", no dotfiles.
function resolveFile(pathname, roots) {
  let path;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (path.includes("\0") || path.split("/").some((part) => part.startsWith("."))) return null;
  if (path.endsWith("/")) path += "index.html";
  for (const [prefix, dir] of Object.entries(roots)) {
    if (!path.startsWith(prefix)) continue;
    const file = normalize(join(dir, path.slice(prefix.length)));
    if (file.startsWith(dir + sep)) return file;
  }
  return null;
}

function makeApp(name, opts, urls) {
  const roots = { "/shared/": join(DEMO, "shared"), "/": join(DEMO, name) };
  const fill = (text, selfOrigin) =>
    text
      .replaceAll("{{HUB}}", opts.hub)
      .replaceAll("{{SNIPPET}}", opts.snippet === "local" ? selfOrigin : opts.hub)
      .replaceAll("{{ANALYTICS}}", urls.analytics)
      .replaceAll("{{CRM}}", urls.crm);

  return async (req, res) => {
    const send = (status, type, body, extra = {}) => {
      res.writeHead(status, {
        "content-type": type,
        "content-length": Buffer.byteLength(body),
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        ...extra,
      });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "text/plain", "GET only\n", { allow: "GET, HEAD" });
    const { pathname } = new URL(req.url, "http://demo.invalid");
    const self = `http://${req.headers.host}`;
    let file;
    if (pathname === "/side-by-side.html") file = join(DEMO, "side-by-side.html");
    else if (pathname === "/sessionhub.js" && opts.snippet === "local") {
      // As the hub does: module fetches are CORS-mode (Sec-Fetch-Mode: cors, Origin present).
      const module = req.headers["sec-fetch-mode"] === "cors" || req.headers.origin !== undefined;
      file = join(DIST, module ? "sessionhub.min.mjs" : "sessionhub.min.js");
    } else file = resolveFile(pathname, roots);
    if (!file) return send(404, "text/plain", "not found\n");
    try {
      const data = await readFile(file);
      if (data.length > MAX_FILE_BYTES) return send(413, "text/plain", "too large\n");
      const type = TYPES[extname(file)] || "application/octet-stream";
      const body = extname(file) === ".html" ? fill(data.toString("utf8"), self) : data;
      return send(200, type, body, { vary: "Origin, Sec-Fetch-Mode" });
    } catch {
      return send(404, "text/plain", "not found\n");
    }
  };
}

function listen(handler, host, port) {
  const server = createServer({ headersTimeout: 10000, requestTimeout: 15000, maxHeaderSize: 16384 }, (req, res) => {
    handler(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  server.maxConnections = 128;
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const urls = {};
  const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  // Bind first (port 0 → a free one), then learn the URLs the pages link to.
  const handlers = {};
  const lazy = (name) => (req, res) => handlers[name](req, res);
  const analytics = await listen(lazy("analytics"), opts.host, opts.analyticsPort);
  const crm = await listen(lazy("crm"), opts.host, opts.crmPort);
  urls.analytics = `http://${host}:${analytics.address().port}`;
  urls.crm = `http://${host}:${crm.address().port}`;
  handlers.analytics = makeApp("analytics", opts, urls);
  handlers.crm = makeApp("crm", opts, urls);

  console.log(`sessionhub demo (hub ${opts.hub}, snippet from ${opts.snippet === "local" ? "web-client/dist" : "the hub"})`);
  console.log(`  Analytics  ${urls.analytics}/`);
  console.log(`  CRM        ${urls.crm}/`);
  console.log(`  both       ${urls.analytics}/side-by-side.html`);
  console.log(JSON.stringify({ msg: "listening", analytics: urls.analytics, crm: urls.crm, hub: opts.hub }));

  const stop = () => {
    analytics.close();
    crm.close();
    analytics.closeAllConnections?.();
    crm.closeAllConnections?.();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((e) => {
  console.error(`serve.mjs: ${e.message}`);
  process.exit(2);
});
