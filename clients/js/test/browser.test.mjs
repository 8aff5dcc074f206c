// browser.test.mjs - the demo page in a real browser (Debian's chromium,
// driven by playwright-core, which downloads nothing): two browser contexts
// are two users; one draws, votes and chats, the other sees it live; then
// roomd is killed (-9) and restarted, both pages come back, and nothing is
// lost or doubled (both pages equal `roomctl replay`). A screenshot of each
// page is saved under the build directory (RK_SCREENSHOT_DIR).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Roomd, roomctl, SCALE } from './harness.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.RK_SCREENSHOT_DIR || join(tmpdir(), 'roomkit-shots');

/** The page's state as JSON (the same shape as roomctl replay). */
const pageState = page => page.evaluate(() => JSON.parse(JSON.stringify(Roomkit.stateToJSON(window.room.getSnapshot().state))));
const status = page => page.getAttribute('[data-testid=status]', 'data-status');

test('two users in two browsers: draw, vote, chat, survive a roomd crash, nothing lost or doubled', { skip: !existsSync(CHROMIUM) && `no ${CHROMIUM}` }, async () => {
  const d = await new Roomd(['--ops-per-sec', '1000', '--ops-burst', '1000']).start();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    // (a fresh --user-data-dir: playwright makes one per launch)
    timeout: 60000 * SCALE,
  });
  const T = 15000 * SCALE;
  try {
    const open = async name => {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 760 } });
      const page = await ctx.newPage();
      const errors = [];
      page.on('pageerror', e => errors.push(e.message));
      page.on('console', m => m.type() === 'error' && errors.push(m.text()));
      await page.goto(`http://127.0.0.1:${d.port}/?room=team&name=${name}`);
      await page.waitForSelector('[data-testid=status][data-status=live]', { timeout: T });
      return { page, errors };
    };
    const A = await open('alice'), B = await open('bob');
    const a = A.page, b = B.page;
    await a.waitForFunction(() => window.room.getSnapshot().peers.length === 1, null, { timeout: T });

    // Alice draws a stroke, a line, a rect and a text.
    const box = await a.locator('canvas').boundingBox();
    const at = (x, y) => [box.x + x * box.width / 960, box.y + y * box.height / 560];
    const drag = async (tool, pts) => {
      await a.click(`[data-tool=${tool}]`);
      await a.mouse.move(...at(...pts[0]));
      await a.mouse.down();
      for (const p of pts.slice(1)) await a.mouse.move(...at(...p), { steps: 4 });
      await a.mouse.up();
    };
    await a.click('.swatch[data-color="1"]');
    await drag('stroke', [[80, 120], [140, 60], [200, 140], [260, 70], [320, 130]]);
    await a.click('.swatch[data-color="4"]');
    await drag('line', [[80, 220], [380, 300]]);
    await a.click('.swatch[data-color="3"]');
    await drag('rect', [[460, 80], [700, 240]]);
    await a.fill('[data-testid=text-input]', 'Hello from alice');
    await a.click('[data-tool=text]');
    await a.mouse.click(...at(480, 320));
    // Select the rect, move it, recolor it; draw one more line and delete it.
    await a.click('[data-tool=select]');
    await a.mouse.move(...at(460, 160));
    await a.mouse.down();
    await a.mouse.move(...at(500, 180), { steps: 4 });
    await a.mouse.up();
    await a.click('.swatch[data-color="5"]');
    await drag('line', [[600, 400], [800, 500]]);
    await a.click('[data-tool=select]');
    await a.mouse.click(...at(700, 450));
    await a.click('[data-testid=delete]');

    // A poll: alice creates, both vote; chat both ways.
    await a.fill('[data-testid=poll-q]', 'Where do we eat?');
    await a.fill('[data-testid=poll-o]', 'Pizza, Sushi, Tacos');
    await a.click('[data-testid=poll-create]');
    await b.waitForSelector('.poll [data-testid=vote][data-choice="1"]', { timeout: T });
    await a.click('.poll [data-testid=vote][data-choice="0"]');
    await b.click('.poll [data-testid=vote][data-choice="1"]');
    await a.fill('[data-testid=chat-input]', 'hi bob');
    await a.press('[data-testid=chat-input]', 'Enter');
    await b.fill('[data-testid=chat-input]', 'hi alice!');
    await b.press('[data-testid=chat-input]', 'Enter');
    await b.mouse.move(...at(300, 400).map((v, i) => v + (i ? 0 : 0)), { steps: 3 });

    // Bob sees everything alice did.
    const same = async () => {
      await a.waitForFunction(() => window.room.getSnapshot().pending === 0, null, { timeout: T });
      await b.waitForFunction(() => window.room.getSnapshot().pending === 0, null, { timeout: T });
      await b.waitForFunction(seq => window.room.getSnapshot().seq === seq, await a.evaluate(() => window.room.getSnapshot().seq), { timeout: T });
      return [await pageState(a), await pageState(b)];
    };
    let [sa, sb] = await same();
    const types = Object.values(sb.shapes).map(s => s.type).sort();
    assert.deepEqual(types, ['line', 'rect', 'stroke', 'text'], 'four shapes, the deleted line gone');
    const rect = Object.values(sb.shapes).find(s => s.type === 'rect');
    assert.equal(rect.color, 5, 'recolored');
    assert.deepEqual(rect.points, [[500, 100], [740, 260]], 'moved by (40, 20)');
    const poll = Object.values(sb.polls)[0];
    assert.deepEqual(poll.tally, [1, 1, 0]);
    assert.deepEqual(sb.chat.map(c => `${c.user}: ${c.text}`), ['alice: hi bob', 'bob: hi alice!']);
    assert.equal(await b.textContent('[data-poll] .opt:nth-of-type(2) [data-testid=count]'), '1');
    mkdirSync(SHOTS, { recursive: true });
    await a.screenshot({ path: join(SHOTS, 'demo-alice.png') });

    // The socket drops: roomd is killed; both keep working offline, then
    // come back and converge with nothing lost or doubled.
    await d.kill('SIGKILL');
    await a.waitForSelector('[data-testid=status]:not([data-status=live])', { timeout: T });
    await b.waitForSelector('[data-testid=status]:not([data-status=live])', { timeout: T });
    await a.fill('[data-testid=chat-input]', 'while offline');
    await a.press('[data-testid=chat-input]', 'Enter');
    await b.click('.poll [data-testid=vote][data-choice="2"]');
    await a.waitForSelector('[data-testid=status][data-pending="1"]', { timeout: T });
    await d.start();
    await a.waitForSelector('[data-testid=status][data-status=live][data-pending="0"]', { timeout: T });
    await b.waitForSelector('[data-testid=status][data-status=live][data-pending="0"]', { timeout: T });
    [sa, sb] = await same();
    assert.deepEqual(sb.chat.map(c => `${c.user}: ${c.text}`), ['alice: hi bob', 'bob: hi alice!', 'alice: while offline']);
    assert.deepEqual(Object.values(sb.polls)[0].tally, [1, 0, 1]);
    await b.screenshot({ path: join(SHOTS, 'demo-bob.png') });
    await d.kill('SIGTERM');
    const want = JSON.parse(roomctl('replay', d.roomFile('team')));
    // Equal but for the ts of each one's own posts: an ack carries none.
    const noTs = s => ({ ...s, chat: s.chat.map(c => ({ ...c, ts: 0 })) });
    assert.deepEqual(noTs(sa), noTs(want), 'alice == roomd');
    assert.deepEqual(noTs(sb), noTs(want), 'bob == roomd');
    const events = roomctl('events', d.roomFile('team')).trim().split('\n').map(l => JSON.parse(l));
    const ids = events.map(e => e.user + '/' + e.id);
    assert.equal(new Set(ids).size, ids.length, 'no op committed twice');
    assert.deepEqual(A.errors.concat(B.errors).filter(e => !/WebSocket|ERR_CONNECTION_REFUSED/.test(e)), [], 'no page errors');
    console.log(`# screenshots: ${SHOTS}/demo-alice.png, demo-bob.png; ${events.length} events`);
  } finally {
    await browser.close();
    await d.stop();
  }
});
