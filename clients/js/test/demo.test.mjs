// demo.test.mjs - roomd serves the demo page and the JS client from its own
// binary, with a CSP that forbids inline script and style, the same bytes
// the build made; --no-demo turns all four paths off (404).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Roomd } from './harness.mjs';

const dir = process.env.RK_JS_DIST || new URL('../dist', import.meta.url).pathname;
const demo = new URL('../demo/', import.meta.url).pathname;
const FILES = [['/', demo + 'index.html', 'text/html'], ['/roomkit.js', dir + '/roomkit.js', 'text/javascript'],
  ['/demo.js', demo + 'demo.js', 'text/javascript'], ['/demo.css', demo + 'demo.css', 'text/css']];

test('GET /, /roomkit.js, /demo.js, /demo.css: the embedded files, with a restrictive CSP', async () => {
  const d = await new Roomd().start();
  try {
    for (const [path, file, type] of FILES) {
      const r = await fetch(`http://127.0.0.1:${d.port}${path}?room=x`);
      assert.equal(r.status, 200, path);
      assert.ok(r.headers.get('content-type').startsWith(type), path);
      const csp = r.headers.get('content-security-policy');
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src 'self'(;|$)/, 'no unsafe-inline script');
      assert.match(csp, /style-src 'self'(;|$)/, 'no unsafe-inline style');
      assert.match(csp, /frame-ancestors 'none'/);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(Buffer.compare(Buffer.from(await r.arrayBuffer()), readFileSync(file)), 0, `${path} is ${file}`);
    }
    const page = readFileSync(demo + 'index.html', 'utf8');
    assert.doesNotMatch(page, /<script(?![^>]*\bsrc=)/, 'no inline script in the page');
    assert.doesNotMatch(page, /<style|style="/, 'no inline style in the page');
    assert.equal((await fetch(`http://127.0.0.1:${d.port}/index.html`)).status, 404);
  } finally {
    await d.stop();
  }
});

test('--no-demo: the four paths answer 404, the rest of roomd is unchanged', async () => {
  const d = await new Roomd(['--no-demo']).start();
  try {
    for (const [path] of FILES) assert.equal((await fetch(`http://127.0.0.1:${d.port}${path}`)).status, 404, path);
    assert.equal((await fetch(`http://127.0.0.1:${d.port}/healthz`)).status, 200);
  } finally {
    await d.stop();
  }
});
