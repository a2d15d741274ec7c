// size: the snippet's budget — each built file at most 6 KiB (6144 bytes) gzipped, which
// is what a browser downloads for <script src=".../sessionhub.js">. Fails above it.
// Usage: node tools/size.mjs [dir]   (default dist/)
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const LIMIT = 6144;
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dir = resolve(process.argv[2] || join(root, "dist"));
let ok = true;
for (const name of ["sessionhub.min.js", "sessionhub.min.mjs"]) {
  const raw = readFileSync(join(dir, name));
  const gz = gzipSync(raw, { level: 9 }).length;
  const verdict = gz <= LIMIT ? "ok" : "OVER";
  if (gz > LIMIT) ok = false;
  console.log(`${name}: ${raw.length} bytes, ${gz} bytes gzipped (limit ${LIMIT}) ${verdict}`);
}
process.exit(ok ? 0 : 1);
