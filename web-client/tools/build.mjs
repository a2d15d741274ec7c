// build: makes the two files the hub serves at GET /sessionhub.js from the one source,
// sessionhub.js. A single file cannot be both a classic script and a module (an `export`
// statement is a syntax error in a classic script), so:
//   sessionhub.min.js   classic <script>: an IIFE that sets globalThis.SessionHub
//   sessionhub.min.mjs  ES module: `export default SessionHub`
// The hub picks the module one for module fetches (CORS mode: Sec-Fetch-Mode: cors / Origin).
// Usage: node tools/build.mjs [outdir]   (default dist/; check-dist builds into a temp dir)
import { build } from "esbuild";
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = resolve(process.argv[2] || join(root, "dist"));
mkdirSync(outdir, { recursive: true });

const banner = "/* sessionhub browser snippet (PROTOCOL §6); readable source: web-client/sessionhub.js */";
const common = {
  bundle: true,
  minify: true,
  target: ["es2019"], // Chromium 73+, Firefox 67+, Safari 13+; newer syntax is lowered
  legalComments: "none",
  banner: { js: banner },
  charset: "utf8",
  logLevel: "warning",
};

// The entries come from stdin so the repository keeps exactly one source file. Only the
// default export is re-exported: `_internals` (for unit tests) is tree-shaken away.
const variants = [
  { out: "sessionhub.min.js", format: "iife", code: 'import SessionHub from "./sessionhub.js";\nglobalThis.SessionHub = SessionHub;\n' },
  { out: "sessionhub.min.mjs", format: "esm", code: 'export { default } from "./sessionhub.js";\n' },
];

for (const v of variants) {
  await build({
    ...common,
    format: v.format,
    stdin: { contents: v.code, resolveDir: root, sourcefile: v.out, loader: "js" },
    outfile: join(outdir, v.out),
  });
}
console.log(`built ${variants.map((v) => v.out).join(", ")} into ${outdir}`);
