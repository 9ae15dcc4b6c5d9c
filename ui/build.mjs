// Builds the peg web page into dist/ (committed; the node embeds it at compile time):
// src/main.ts bundled with its npm dependencies into one minified script, and the static
// HTML and CSS copied beside it. `node build.mjs --out <dir>` writes elsewhere (the freshness
// test compares such a build with dist/). esbuild's output depends only on its version
// (pinned) and the inputs, so the same sources give the same bytes.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const i = process.argv.indexOf('--out');
const out = i > 0 ? process.argv[i + 1] : join(here, 'dist');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, 'src/main.ts')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  platform: 'browser',
  legalComments: 'eof',
  charset: 'utf8',
  outfile: join(out, 'app.js'),
  logLevel: 'warning',
});
for (const f of ['index.html', 'app.css']) copyFileSync(join(here, 'static', f), join(out, f));
