// Copies the browser libraries from node_modules into intake/static/vendor/ and records their
// subresource-integrity hashes in manifest.json, which the templates read (no CDN, ever).
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "intake", "static", "vendor");
// The "sumo" build under the usual names: the same API plus crypto_pwhash (Argon2id), which
// staff browsers need to unwrap their keys (DESIGN §3). Same globals (libsodium, sodium).
const files = {
  "libsodium.js": "node_modules/libsodium-sumo/dist/modules-sumo/libsodium-sumo.js",
  "libsodium-wrappers.js":
    "node_modules/libsodium-wrappers-sumo/dist/modules-sumo/libsodium-wrappers.js",
};

mkdirSync(out, { recursive: true });
const manifest = {};
for (const [name, source] of Object.entries(files)) {
  const body = readFileSync(join(root, source));
  copyFileSync(join(root, source), join(out, name));
  // Pre-compressed copy (1.2 MB -> ~0.4 MB for libsodium): defenders may be on slow links.
  writeFileSync(join(out, name + ".gz"), gzipSync(body, { level: 9 }));
  manifest[name] = "sha384-" + createHash("sha384").update(body).digest("base64");
}
writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`vendored ${Object.keys(files).length} files into ${out}`);
