// The one build command of web/ (`npm ci && npm run build`, run by `make run` and `make test`):
// every entry below becomes one self-contained file in dist/, with the XMPP library inside it,
// so a page needs nothing else at run time.
import { build } from "esbuild";
import { gzipSync } from "node:zlib";
import { readFileSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";

// name in dist/ -> source entry. Add a browser part here.
const ENTRIES = {
  "switchboard-widget": "src/widget/main.js",
  "switchboard-console": "src/console/main.js",
  "switchboard-dashboard": "src/dashboard/main.js",
};

// Sizes a page pays for; the build fails past this (gzipped bytes).
const MAX_GZIP = 150 * 1024;

// @xmpp/resolve imports node:dns for SRV look-ups; its "browser" field names the file without
// its extension, so bundlers miss it. A page connects to a given WebSocket URL and never
// resolves SRV records, so Node's built-ins become empty modules.
const nodeBuiltinsEmpty = {
  name: "node-builtins-empty",
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: "empty" }));
    b.onLoad({ filter: /.*/, namespace: "empty" }, () => ({ contents: "export default {};" }));
  },
};

mkdirSync("dist", { recursive: true });
const result = await build({
  entryPoints: ENTRIES,
  outdir: "dist",
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  platform: "browser",
  legalComments: "linked",
  sourcemap: false,
  logLevel: "warning",
  metafile: true,
  plugins: [nodeBuiltinsEmpty],
});

let failed = false;
for (const out of Object.keys(result.metafile.outputs)) {
  if (!out.endsWith(".js")) continue;
  const gz = gzipSync(readFileSync(out)).length;
  console.log(`${out}: ${(gz / 1024).toFixed(1)} KiB gzipped`);
  if (gz > MAX_GZIP) {
    console.error(`${out} is over ${MAX_GZIP / 1024} KiB gzipped`);
    failed = true;
  }
}
if (failed) process.exit(1);

// What the bundle was built from (tests compare it with the checkout, whatever the file times say).
function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(`${dir}/${e.name}`) : [`${dir}/${e.name}`]);
}
const inputs = ["build.mjs", "package.json", "package-lock.json", ...files("src")].sort();
const hash = createHash("sha256");
for (const name of inputs) hash.update(`${name}\n`).update(readFileSync(name)).update("\n");
writeFileSync("dist/inputs.sha256", hash.digest("hex") + "\n");
