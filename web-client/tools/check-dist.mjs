// check-dist: rebuilds into a temporary directory and fails when the committed dist/ differs,
// so the files the hub serves never go stale behind the source.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const tmp = mkdtempSync(join(tmpdir(), "sessionhub-dist-"));
let stale = [];
try {
  execFileSync(process.execPath, [join(root, "tools", "build.mjs"), tmp], { stdio: "inherit" });
  for (const name of ["sessionhub.min.js", "sessionhub.min.mjs"]) {
    let committed = null;
    try {
      committed = readFileSync(join(root, "dist", name));
    } catch {
      // missing counts as stale
    }
    if (!committed || !committed.equals(readFileSync(join(tmp, name)))) stale.push(name);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
if (stale.length) {
  console.error(`dist is stale: ${stale.join(", ")} differ from a fresh build; run \`npm run build\` and commit dist/`);
  process.exit(1);
}
console.log("dist is up to date");
