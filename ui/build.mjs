// Builds the peg web page's script into dist/app.js (committed; the node embeds it at compile
// time, with the HTML and CSS of static/ as they are): src/main.ts bundled with its npm
// dependencies into one minified script. `node build.mjs --out <dir>` writes elsewhere (the freshness
// test compares such a build with dist/). esbuild's output depends only on its version
// (pinned) and the inputs, so the same sources give the same bytes.
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
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
