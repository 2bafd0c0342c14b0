// GET /metrics (Prometheus text format 0.0.4; README "Metrics", PROTOCOL.md 8):
// drives a known set of messages through a two-worker tracker with raw JSON
// frames (lib/wsclient.mjs), then checks the exact values of the series those
// messages moved, the content type, and that Debian's promtool accepts the
// body with no lint complaint.
//
//   WSTRACKER_BIN=$PWD/build/wstracker sh tests/e2e/run.sh ./metrics.test.mjs

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTracker, httpGet, waitFor, scaled } from './lib/tracker.mjs';
import { connect, announce, scrape, randomId } from './lib/wsclient.mjs';

const PROMTOOL = process.env.PROMTOOL || '/usr/bin/promtool';

/** The samples of an exposition: "name{labels}" (as written) -> number. */
function parse(body) {
  const m = new Map();
  for (const line of body.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    m.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return m;
}

async function metrics(tr) {
  const r = await httpGet(tr.httpUrl, '/metrics');
  assert.equal(r.status, 200);
  return r;
}

describe('GET /metrics', () => {
  let tr;
  const clients = [];
  before(async () => {
    // --msg-rate 0: the slow-reader test sends hundreds of answers in a burst
    tr = await startTracker({ args: ['--threads', '2', '--msg-rate', '0'] });
  });
  after(async () => {
    for (const c of clients) c.terminate();
    if (tr) await tr.stop();
  });

  test('counts what the clients did, in a body promtool accepts', { timeout: scaled(30000) }, async () => {
    const ih = randomId();
    const pa = randomId();
    const pb = randomId();
    const a = await connect(tr.url);
    const b = await connect(tr.url);
    clients.push(a, b);

    // 1 plain announce, 1 announce with an offer (forwarded to a), 1 answer
    // (forwarded to b, no reply of its own), 1 scrape, 1 invalid message.
    let r = await announce(a, { info_hash: ih, peer_id: pa, event: 'started', numwant: 5 });
    assert.equal(r['failure reason'], undefined);
    const offerId = randomId();
    b.send({
      action: 'announce', info_hash: ih, peer_id: pb, event: 'started', numwant: 5,
      offers: [{ offer_id: offerId, offer: { type: 'offer', sdp: 'v=0 metrics' } }]
    });
    const got = [await b.nextJSON(), await a.nextJSON()];
    assert.equal(got[0]['failure reason'], undefined);
    assert.equal(got[1].offer_id, offerId, 'a received the offer');
    a.send({
      action: 'announce', info_hash: ih, peer_id: pa, to_peer_id: pb, offer_id: offerId,
      answer: { type: 'answer', sdp: 'v=0 answer' }
    });
    const ans = await b.nextJSON();
    assert.equal(ans.offer_id, offerId, 'b received the answer');
    r = await scrape(a, ih);
    assert.equal(r.files[ih].complete + r.files[ih].incomplete, 2);
    a.send({ action: 'bogus' });
    r = await a.nextJSON();
    assert.equal(r['failure reason'], 'invalid action');

    // A frame is observed in its histogram just before it is written, so
    // every frame the clients have seen is counted already.
    const res = await metrics(tr);
    const m = parse(res.body);

    assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    const want = {
      'wstracker_requests_total{type="announce"}': 1,
      'wstracker_requests_total{type="offer"}': 1,
      'wstracker_requests_total{type="answer"}': 1,
      'wstracker_requests_total{type="scrape"}': 1,
      'wstracker_requests_total{type="relay"}': 0,
      'wstracker_requests_total{type="invalid"}': 1,
      'wstracker_responses_total{type="announce"}': 2,
      'wstracker_responses_total{type="offer"}': 1,
      'wstracker_responses_total{type="answer"}': 1,
      'wstracker_responses_total{type="scrape"}': 1,
      'wstracker_responses_total{type="relay"}': 0,
      'wstracker_responses_total{type="error"}': 1,
      'wstracker_failures_total{reason="invalid action"}': 1,
      'wstracker_failures_total{reason="invalid JSON"}': 0,
      'wstracker_forwards_dropped_total{type="offer"}': 0,
      'wstracker_forwards_dropped_total{type="answer"}': 0,
      'wstracker_announces_total': 3,
      'wstracker_scrapes_total': 1,
      'wstracker_swarms': 1,
      'wstracker_active_swarms': 1,
      'wstracker_peers': 2,
      'wstracker_leechers': 2,
      'wstracker_seeders': 0,
      'wstracker_connections_by_ip{ip="4"}': 2,
      'wstracker_connections_by_ip{ip="6"}': 0,
      'wstracker_workers': 2,
      'wstracker_build_info{version="0.1.0"}': 1,
      'wstracker_request_duration_seconds_count{action="announce"}': 2,
      'wstracker_request_duration_seconds_count{action="offer"}': 1,
      'wstracker_request_duration_seconds_count{action="answer"}': 1,
      'wstracker_request_duration_seconds_count{action="scrape"}': 1,
      'wstracker_request_duration_seconds_count{action="relay"}': 0,
      'wstracker_request_duration_seconds_bucket{action="scrape",le="+Inf"}': 1,
      'wstracker_request_duration_seconds_count{action="invalid"}': undefined, // no reply to time
      'wstracker_mail_dropped_total': 0
    };
    for (const [k, v] of Object.entries(want)) assert.equal(m.get(k), v, `${k} in\n${res.body}`);
    // per worker: the two connections, wherever the kernel put them
    assert.equal(m.get('wstracker_connections{worker="0"}') + m.get('wstracker_connections{worker="1"}'), 2);
    for (const w of ['0', '1']) {
      for (const g of ['mailbox_depth', 'mail_backlog', 'output_queue_bytes', 'sockets']) {
        assert.ok(Number.isInteger(m.get(`wstracker_${g}{worker="${w}"}`)), `${g} of worker ${w}`);
      }
    }
    // buckets are cumulative and end at _count
    let prev = 0;
    for (const le of ['0.00001', '0.000025', '0.00005', '0.0001', '0.00025', '0.0005', '0.001',
      '0.0025', '0.005', '0.01', '0.025', '0.1', '+Inf']) {
      const v = m.get(`wstracker_request_duration_seconds_bucket{action="offer",le="${le}"}`);
      assert.ok(v >= prev, `bucket le=${le} cumulative`);
      prev = v;
    }
    assert.equal(prev, 1);
    assert.ok(m.get('wstracker_request_duration_seconds_sum{action="offer"}') > 0);
    // the process, from /proc
    const now = Date.now() / 1000;
    assert.ok(m.get('process_open_fds') >= 5, 'open fds');
    assert.ok(m.get('process_max_fds') >= m.get('process_open_fds'));
    assert.ok(m.get('process_resident_memory_bytes') > 1 << 20);
    assert.ok(m.get('process_cpu_seconds_total') >= 0);
    assert.ok(Math.abs(m.get('process_start_time_seconds') - now) < 600, 'start time is recent');
    assert.ok(m.get('wstracker_uptime_seconds') < 600);
    // the allocator: only with jemalloc linked (not in sanitizer builds)
    if (m.has('wstracker_jemalloc_allocated_bytes')) {
      assert.ok(m.get('wstracker_jemalloc_allocated_bytes') > 0);
      assert.ok(m.get('wstracker_jemalloc_active_bytes') >= m.get('wstracker_jemalloc_allocated_bytes'));
      assert.ok(m.get('wstracker_jemalloc_resident_bytes') > 0);
    }

    // promtool: exit 0 and no lint complaint on either stream
    assert.ok(existsSync(PROMTOOL), `${PROMTOOL} missing (Debian package prometheus)`);
    const p = spawnSync(PROMTOOL, ['check', 'metrics'], { input: res.body, encoding: 'utf8' });
    assert.equal(p.status, 0, `promtool: ${p.stdout}${p.stderr}`);
    assert.equal(p.stdout + p.stderr, '', 'promtool lint output');

    // and promtool does complain about a broken body (the check can fail)
    const bad = spawnSync(PROMTOOL, ['check', 'metrics'], {
      input: res.body.replace('wstracker_scrapes_total', 'wstrackerScrapes'), encoding: 'utf8'
    });
    assert.notEqual(bad.stdout + bad.stderr, '', 'promtool flags a name without _total or in camelCase');
  });

  test('output_queue_bytes follows a slow reader: up while it does not read, 0 once it drains or closes', { timeout: scaled(60000) }, async () => {
    const ih = randomId();
    const slow = await connect(tr.url);
    const fast = await connect(tr.url);
    clients.push(slow, fast);
    const ps = randomId();
    const pf = randomId();
    assert.equal((await announce(slow, { info_hash: ih, peer_id: ps, event: 'started' }))['failure reason'], undefined);
    assert.equal((await announce(fast, { info_hash: ih, peer_id: pf, event: 'started' }))['failure reason'], undefined);
    const queued = async () => {
      const m = parse((await metrics(tr)).body);
      return m.get('wstracker_output_queue_bytes{worker="0"}') + m.get('wstracker_output_queue_bytes{worker="1"}');
    };
    const sdp = 'a'.repeat(60000);
    // answers (never dropped) to a peer that does not read, two at a time,
    // until the socket buffers are full and frames wait in the tracker's queue
    const fill = async () => {
      slow.pauseReading();
      for (let i = 0; i < 200; i++) {
        for (let k = 0; k < 2; k++) {
          fast.send({ action: 'announce', info_hash: ih, peer_id: pf, to_peer_id: ps, offer_id: randomId(), answer: { type: 'answer', sdp } });
        }
        const q = await queued();
        if (q > 0) return q;
      }
      return 0;
    };
    const q1 = await fill();
    assert.ok(q1 > 0 && q1 < 1 << 20, `queued ${q1} bytes, under the hard cap`);
    slow.resumeReading();
    await waitFor(async () => (await queued()) === 0, { timeoutMs: scaled(15000), message: 'the queue drained once the peer read' });
    const q2 = await fill();
    assert.ok(q2 > 0, `queued again (${(await metrics(tr)).body.match(/^wstracker_(forwards_dropped|messages_rate_limited).*$/gm)})`);
    slow.terminate(); // closes with its queue full: the gauge gives it back
    await waitFor(async () => (await queued()) === 0, { timeoutMs: scaled(15000), message: 'the queue freed at close' });
    const m = parse((await metrics(tr)).body);
    assert.equal(m.get('wstracker_forwards_dropped_total{type="answer"}'), 0);
  });

  test('with tokens on, /metrics stays open (like /stats.json) and counts the refusals', { timeout: scaled(20000) }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wst-metrics-'));
    const secret = path.join(dir, 'hs256');
    writeFileSync(secret, randomBytes(32).toString('hex'));
    const t2 = await startTracker({ args: ['--auth-hs256-secret-file', secret] });
    try {
      await assert.rejects(connect(t2.url), 'an upgrade without a token is refused');
      const r = await metrics(t2);
      assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
      assert.equal(parse(r.body).get('wstracker_token_refused_total'), 1);
      assert.equal(parse(r.body).get('wstracker_connections_by_ip{ip="4"}'), 0);
    } finally {
      await t2.stop();
    }
  });
});
