#!/usr/bin/env node
// build.mjs - the SDK's bundles, deterministic (pinned esbuild, no
// timestamps):
//   dist/index.js  dist/index.cjs   the core, ESM and CommonJS
//   dist/react.js  dist/react.cjs   the React hooks (react stays external)
//   dist/roomkit.js                 the browser build: an IIFE defining the
//                                   global `Roomkit` (roomd serves it)
//   dist/*.d.ts                     with --dts (tsc)
// --out DIR: write the bundles to DIR instead of dist (the C build does).
// --size: print the core's min+gzip size; exit 1 above the 6 KiB budget.
// --size-only: that, and build nothing else (the ctest js.size).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = f => join(root, 'src', f);
const args = process.argv.slice(2);
const outDir = args.includes('--out') ? args[args.indexOf('--out') + 1] : join(root, 'dist');
const dist = f => join(outDir, f);
export const BUDGET = 6144;

const common = { bundle: true, target: 'es2020', legalComments: 'none', logLevel: 'error' };

// The react entry imports the core from ./index.js: keep it a reference to
// the core's own file, so an app has one Room class, not two.
const coreExternal = format => ({
  name: 'core-external',
  setup(b) {
    b.onResolve({ filter: /^\.\/index\.js$/ }, a =>
      a.importer.endsWith('react.ts') ? { path: format === 'esm' ? './index.js' : './index.cjs', external: true } : undefined);
  },
});

async function browser(out) {
  await build({ ...common, entryPoints: [src('index.ts')], format: 'iife', globalName: 'Roomkit',
    minify: true, outfile: out });
}

/** The core as an app would ship it: ESM, minified, gzipped (level 9). */
export async function coreSize() {
  const r = await build({ ...common, entryPoints: [src('index.ts')], format: 'esm', minify: true, write: false });
  const min = r.outputFiles[0].contents;
  return { min: min.length, gzip: gzipSync(min, { level: 9 }).length };
}

async function size() {
  const s = await coreSize();
  console.log(`core size: ${s.min} bytes min, ${s.gzip} bytes min+gzip (budget ${BUDGET})`);
  if (s.gzip > BUDGET) {
    console.error(`Error: the core is ${s.gzip - BUDGET} bytes over its budget`);
    process.exit(1);
  }
}

async function main() {
  if (args.includes('--size-only')) return size();
  for (const [entry, name] of [['index.ts', 'index'], ['react.ts', 'react']]) {
    for (const format of ['esm', 'cjs'])
      await build({ ...common, entryPoints: [src(entry)], format, external: ['react'],
        plugins: [coreExternal(format)], outfile: dist(name + (format === 'esm' ? '.js' : '.cjs')) });
  }
  await browser(dist('roomkit.js'));
  if (outDir !== join(root, 'dist')) {
    // Elsewhere (the build directory) the bundles still load as ESM and
    // find react (a peer) in clients/js/node_modules, for the tests.
    writeFileSync(dist('package.json'), '{"type": "module"}\n');
    if (!existsSync(dist('node_modules'))) symlinkSync(join(root, 'node_modules'), dist('node_modules'));
  }
  if (args.includes('--dts'))
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json'), '--outDir', outDir], { stdio: 'inherit' });
  if (args.includes('--size')) await size();
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  main().catch(e => {
    console.error('Error: ' + e.message);
    process.exit(1);
  });
