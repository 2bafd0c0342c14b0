// The tracker's log (README "Logging"): --log-format json gives one JSON object a line
// (ts, level, msg and fields), refused connections included, without the token a client
// sent; --log-level error hides the info and warn lines but not `listening on`; a flood
// of refused upgrades gives at most one line per second per class, and the lines'
// suppressed counts (the last one said by the sweep, not at the next refusal) add up
// to the refusals; refused announces give one line per cause per 10 s and the worker's
// tick says how many it did not print.
//
//   cd tests/e2e && node --test log.test.mjs

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTracker, scaled, waitFor, withTimeout } from './lib/tracker.mjs';
import { connect, announce, randomId } from './lib/wsclient.mjs';

const TIMEOUT = scaled(60_000);
const dir = mkdtempSync(path.join(tmpdir(), 'wstracker-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A raw upgrade request; resolves with the status of the reply (101 or the refusal's). */
function upgrade(port, pathname = '/', headers = {}, version = 13) {
  return withTimeout(new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    s.setEncoding('latin1');
    s.on('connect', () => {
      const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      s.write(`GET ${pathname} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Version: ${version}\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`);
    });
    s.on('data', (d) => {
      buf += d;
      if (buf.startsWith('HTTP/1.1 101')) { s.destroy(); resolve(101); }
    });
    s.on('end', () => resolve(Number(buf.split(' ')[1])));
    s.on('error', reject);
  }), scaled(5000), `upgrade ${pathname}`);
}

const lines = (tr) => tr.stderr().split('\n').filter(l => l !== '');

test('--log-format json: every line an object with ts, level, msg; refusals with their fields, no token', { timeout: TIMEOUT }, async () => {
  const secret = path.join(dir, 'hs256.secret');
  writeFileSync(secret, 'x'.repeat(40) + '\n');
  const tr = await startTracker({
    args: ['--threads', '1', '--log-format', 'json', '--allow-origin', 'https://app.example',
      '--auth-hs256-secret-file', secret]
  });
  const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsb2cifQ.c2VjcmV0LXNpZ25hdHVyZS1ub3QtdG8tbG9n';
  try {
    assert.match(tr.url, /^ws:\/\/127\.0\.0\.1:\d+$/, 'startTracker reads the JSON listening line');
    assert.equal(await upgrade(tr.port, '/', { Origin: 'https://evil.example/"x\\' }), 403);
    assert.equal(await upgrade(tr.port, `/?token=${TOKEN}`, { Origin: 'https://app.example' }), 401);
    assert.equal(await upgrade(tr.port, '/', {}, 8), 426);
    await waitFor(() => lines(tr).filter(l => l.includes('connection refused')).length >= 3,
      { timeoutMs: scaled(5000), message: 'three refusal lines' });
  } finally {
    await tr.stop();
  }
  const events = lines(tr).map((l) => {
    let e;
    assert.doesNotThrow(() => { e = JSON.parse(l); }, `not JSON: ${l}`);
    assert.match(e.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, l);
    assert.ok(Math.abs(Date.parse(e.ts) - Date.now()) < 600_000, l);
    assert.ok(['error', 'warn', 'info', 'debug'].includes(e.level), l);
    assert.equal(typeof e.msg, 'string', l);
    return e;
  });
  const listening = events.find(e => e.msg.startsWith('listening on '));
  assert.equal(listening.url, tr.url);
  assert.ok(events.some(e => e.msg === 'signal 15, closing connections'), 'the stop is logged');
  const refused = events.filter(e => e.msg === 'connection refused');
  const by = (status) => refused.find(e => e.status === status);
  assert.deepEqual(by(403), { ...by(403), level: 'warn', worker: 0, addr: '127.0.0.1', reason: 'origin not allowed', origin: 'https://evil.example/"x\\', suppressed: 0 });
  assert.equal(by(401).addr, '127.0.0.1');
  assert.equal(typeof by(401).reason, 'string');
  assert.equal(by(426).addr, '127.0.0.1');
  assert.ok(!tr.stderr().includes(TOKEN) && !tr.stderr().includes('c2VjcmV0LXNpZ25hdHVyZS'), 'no token in the log');
});

test('--log-level error: no info or warn lines, `listening on` still there', { timeout: TIMEOUT }, async () => {
  const tr = await startTracker({ args: ['--threads', '1', '--log-level', 'error', '--allow-origin', 'https://app.example'] });
  try {
    assert.equal(await upgrade(tr.port, '/', { Origin: 'https://evil.example' }), 403);
  } finally {
    await tr.stop();
  }
  // the process has exited: its whole stderr is known
  assert.deepEqual(lines(tr), [`listening on ${tr.url}`]);
  // the same at the default level shows them
  const info = await startTracker({ args: ['--threads', '1', '--allow-origin', 'https://app.example'] });
  try {
    assert.equal(await upgrade(info.port, '/', { Origin: 'https://evil.example' }), 403);
  } finally {
    await info.stop();
  }
  const all = lines(info);
  assert.ok(all.includes('wstracker: 1 worker threads'), all.join('\n'));
  assert.ok(all.includes("wstracker: worker 0: refused 403 to 127.0.0.1: origin not allowed (origin 'https://evil.example')"), all.join('\n'));
  assert.ok(all.includes('wstracker: signal 15, closing connections'), all.join('\n'));
});

test('a flood of refused upgrades: about one line a second, suppressed counts adding up', { timeout: TIMEOUT }, async () => {
  const tr = await startTracker({ args: ['--threads', '1', '--max-conns-per-ip', '1'] });
  // a refusal's own line ("to ADDR"), or the sweep's count of those not logged
  const RE = /^wstracker: worker 0: refused 429( to 127\.0\.0\.1)?: too many connections from this address(?: \((\d+) more in the last 1 s\))?$/;
  const refusals = () => lines(tr).filter(l => l.includes('refused 429'));
  const counted = () => refusals().reduce((n, l) => {
    const m = RE.exec(l);
    return m ? n + (m[1] ? 1 : 0) + Number(m[2] || 0) : NaN;
  }, 0);
  const holder = await connect(tr.url);
  const started = Date.now();
  let sent = 0;
  try {
    for (let batch = 0; batch < 10; batch++) {
      const st = await Promise.all(Array.from({ length: 20 }, () => upgrade(tr.port)));
      assert.deepEqual(new Set(st), new Set([429]));
      sent += st.length;
    }
    // the sweep says how many were not logged about a second after the first line
    await waitFor(() => counted() === sent,
      { timeoutMs: scaled(5000), message: `refusal lines accounting for ${sent} refusals: ${refusals().join(' | ')}` });
  } finally {
    holder.close();
    await tr.stop();
  }
  const got = refusals();
  for (const l of got) assert.match(l, RE);
  const seconds = Math.ceil((Date.now() - started) / 1000);
  assert.ok(got.length >= 2 && got.length <= seconds + 1, `${got.length} lines for ${sent} refusals in ${seconds} s: ${got.join(' | ')}`);
  assert.ok(got.some(l => /^wstracker: worker 0: refused 429: .*\((\d+) more in the last 1 s\)$/.test(l)), 'the count of those not logged has its line');
});

test('refused announces: one line per cause per 10 s, then the count of the rest from the tick', { timeout: TIMEOUT }, async () => {
  const tr = await startTracker({ args: ['--threads', '1', '--max-swarms', '1', '--max-peers', '1000'] });
  const RE = /^wstracker: worker 0: announce refused: tracker full: too many swarms(?: \((\d+) more in the last 10 s\))?$/;
  const mine = () => lines(tr).filter(l => l.includes('announce refused'));
  const c = await connect(tr.url);
  const N = 20;
  try {
    for (let k = 0; k < N; k++) {
      const r = await announce(c, { info_hash: randomId(), peer_id: randomId() });
      if (k > 0) assert.equal(r['failure reason'], 'tracker full: too many swarms');
    }
    // the first refusal's line at once; the other N - 2 in one line once its 10 s are over
    await waitFor(() => mine().length === 2, { timeoutMs: scaled(15_000), message: `two lines: ${mine().join(' | ')}` });
  } finally {
    c.close();
    await tr.stop();
  }
  const got = mine();
  assert.match(got[0], RE);
  assert.equal(RE.exec(got[0])[1], undefined);
  assert.equal(RE.exec(got[1])?.[1], String(N - 2), got[1]);
});
