// End-to-end tests with real, unmodified npm clients (bittorrent-tracker's Client,
// webtorrent) talking to the tracker over real sockets, each client in its own
// child process. WebRTC (node-datachannel, or @roamhq/wrtc for the older client;
// see lib/webrtc.mjs) runs over loopback only: run the suite with ./run.sh, which
// puts it in a network namespace that has just `lo`.
//
// Server: build/wstracker (or $WSTRACKER_BIN); WSTRACKER_REFERENCE=1 runs the same
// tests against npm bittorrent-tracker's Server (lib/reference-server.mjs).

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Client } from 'bittorrent-tracker'
import { startTracker, stats, waitFor, withTimeout, randomHex, trackerName, scaled } from './lib/tracker.mjs'
import { startFixture } from './lib/fixture.mjs'
import { nodeRtcConfig } from './lib/webrtc.mjs'

const T = { timeout: scaled(90_000) }

console.log(`tracker under test: ${trackerName()}`)

// Starts a tracker and registers cleanup of it and of every fixture started
// through the returned `spawn`.
async function setup (t, trackerOpts = {}) {
  const tracker = await startTracker(trackerOpts)
  const fixtures = []
  t.after(async () => {
    await Promise.all(fixtures.map(f => f.close(3000)))
    const r = await tracker.stop()
    if (r.forced) console.log(`tracker did not exit within 5 s of SIGTERM (killed)`)
  })
  const spawn = (name, config) => {
    const f = startFixture(name, config)
    fixtures.push(f)
    return f
  }
  return { tracker, spawn }
}

const b64 = buf => Buffer.from(buf).toString('base64')

// node-datachannel (inside simple-peer 10), and now and then @roamhq/wrtc
// (simple-peer 9), fails to open a channel by itself after the signalling is
// done, more often on a loaded machine. Runs
// attempt() and allows one retry only in that case: the failure is a wait
// matching `waiting` and the client had already seen its 'peer' event, i.e.
// offer and answer went through the tracker. Anything else, or a second
// failure, fails the test. The first failure is printed as a TAP diagnostic.
async function retryAfterSignalling (t, attempt, waiting) {
  try {
    await attempt()
  } catch (e) {
    const signalled = waiting.test(e.message) && /"peer"/.test(e.message)
    if (!signalled) throw e
    t.diagnostic(`attempt 1 failed after signalling, retrying once: ${e.message.split('\n')[0]}`)
    await attempt()
  }
}

// Concatenates the 'data' events of fixture `f` (client index `index`) until
// `length` bytes arrived.
async function receive (f, index, length, ms = 15000) {
  await f.next(() => {
    const got = f.events.filter(e => e.type === 'data' && e.index === index)
      .reduce((n, e) => n + Buffer.from(e.data, 'base64').length, 0)
    return got >= length
  }, ms, `${length} bytes of data on client ${index}`)
  return Buffer.concat(f.events.filter(e => e.type === 'data' && e.index === index)
    .map(e => Buffer.from(e.data, 'base64')))
}

function scrape (announce, infoHash, ms = 10000) {
  return withTimeout(new Promise((resolve, reject) => {
    Client.scrape({ announce, infoHash, rtcConfig: { ...nodeRtcConfig } }, (err, data) => {
      if (err) reject(err)
      else resolve(data)
    })
  }), ms, `Client.scrape(${JSON.stringify(infoHash)})`)
}

test('two bittorrent-tracker Clients in separate processes open a WebRTC data channel through the tracker', { timeout: scaled(180_000) }, async t => {
  const { tracker, spawn } = await setup(t)

  // One attempt = two fresh client processes in a fresh swarm.
  const attempt = async () => {
    const infoHash = randomHex()
    const idA = randomHex()
    const idB = randomHex()

    const a = spawn('bt-client.mjs', { announce: tracker.url, clients: [{ infoHash, peerId: idA }] })
    await a.next(e => e.type === 'update', 10000, 'announce response for A')
    const b = spawn('bt-client.mjs', { announce: tracker.url, clients: [{ infoHash, peerId: idB }] })
    await b.next(e => e.type === 'update', 10000, 'announce response for B')

    const ca = await a.next(e => e.type === 'connect', 30000, 'data channel open on A')
    const cb = await b.next(e => e.type === 'connect', 30000, 'data channel open on B')
    assert.equal(ca.remoteId, idB, 'A is connected to B')
    assert.equal(cb.remoteId, idA, 'B is connected to A')

    const ab = randomBytes(3000)
    const ba = randomBytes(2500)
    a.send({ cmd: 'send', index: 0, remoteId: idB, data: b64(ab) })
    b.send({ cmd: 'send', index: 0, remoteId: idA, data: b64(ba) })
    assert.deepEqual(await receive(b, 0, ab.length), ab, 'B received exactly the bytes A sent')
    assert.deepEqual(await receive(a, 0, ba.length), ba, 'A received exactly the bytes B sent')
  }

  await retryAfterSignalling(t, attempt, /waiting for data channel open/)
})

test('bittorrent-tracker 10 (simple-peer 9 on @roamhq/wrtc) and 11 (node-datachannel) connect through the tracker', { timeout: scaled(180_000) }, async t => {
  const { tracker, spawn } = await setup(t)

  // One attempt = a fresh v10 and a fresh v11 client process in a fresh swarm.
  const attempt = async () => {
    const infoHash = randomHex()
    const idOld = randomHex()
    const idNew = randomHex()

    const old = spawn('bt-client.mjs', { impl: 'v10', announce: tracker.url, clients: [{ infoHash, peerId: idOld }] })
    await old.next(e => e.type === 'update', 10000, 'announce response for the v10 client')
    const neu = spawn('bt-client.mjs', { impl: 'v11', announce: tracker.url, clients: [{ infoHash, peerId: idNew }] })
    await neu.next(e => e.type === 'update', 10000, 'announce response for the v11 client')

    assert.equal((await old.next(e => e.type === 'connect', 30000, 'data channel open on the v10 client')).remoteId, idNew)
    assert.equal((await neu.next(e => e.type === 'connect', 30000, 'data channel open on the v11 client')).remoteId, idOld)
    const m1 = randomBytes(1500)
    const m2 = randomBytes(1700)
    old.send({ cmd: 'send', index: 0, remoteId: idNew, data: b64(m1) })
    neu.send({ cmd: 'send', index: 0, remoteId: idOld, data: b64(m2) })
    assert.deepEqual(await receive(neu, 0, m1.length), m1, 'v11 received exactly the bytes v10 sent')
    assert.deepEqual(await receive(old, 0, m2.length), m2, 'v10 received exactly the bytes v11 sent')
  }

  // seen once on a loaded machine (2026-12-01): "Ice connection failed" on the
  // v10 client after its 'peer' event, i.e. after offer and answer went through
  await retryAfterSignalling(t, attempt, /waiting for data channel open/)
})

test('webtorrent: a file seeded in one process downloads in another through the tracker only', { timeout: scaled(150_000) }, async t => {
  const { tracker, spawn } = await setup(t)
  const dir = await mkdtemp(path.join(tmpdir(), 'wst-e2e-wt-'))
  t.after(() => rm(dir, { recursive: true, force: true }))

  // One attempt = fresh seeder and leecher processes and fresh content (new info
  // hash). node-datachannel inside webtorrent rarely fails a WebRTC attempt by
  // itself ("Got a remote candidate without ICE transport"), and webtorrent only
  // retries at the next announce (120 s): so a failed first attempt is reported as
  // a TAP diagnostic and tried once more; two failures fail the test.
  const attempt = async n => {
    const content = randomBytes(300 * 1024 + 123)
    const sha256 = createHash('sha256').update(content).digest('hex')
    const file = path.join(dir, `seed-${n}`, 'payload.bin')
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, content)

    const seeder = spawn('wt-seed.mjs', { announce: tracker.url, file })
    const seeding = await seeder.next(e => e.type === 'seeding', 30000, 'seeder ready')
    assert.match(seeding.infoHash, /^[0-9a-f]{40}$/)
    assert.deepEqual(seeding.announce, [tracker.url], 'torrent lists only our tracker')

    const leecher = spawn('wt-leech.mjs', {
      announce: tracker.url,
      magnetURI: `magnet:?xt=urn:btih:${seeding.infoHash}&tr=${encodeURIComponent(tracker.url)}`,
      dir: path.join(dir, `leech-${n}`)
    })
    let done
    try {
      done = await leecher.next(e => e.type === 'done', 50000, 'download complete')
    } catch (e) {
      const st = await stats(tracker).catch(err => err.message)
      e.message += `\nseeder events: ${JSON.stringify(seeder.events.map(x => x.type))}\n` +
        `seeder output:\n${seeder.stderr().split('\n').slice(-30).join('\n')}\n` +
        `stats: ${JSON.stringify(st)}\ntracker stderr:\n${tracker.stderr().split('\n').slice(-20).join('\n')}`
      throw e
    } finally {
      await Promise.all([seeder.close(3000), leecher.close(3000)])
    }
    assert.equal(done.infoHash, seeding.infoHash)
    assert.equal(done.length, content.length, 'downloaded length')
    assert.equal(done.sha256, sha256, 'downloaded bytes equal the seeded bytes (sha256)')
    assert.ok(done.wires >= 1, 'downloaded over at least one wire')
  }

  try {
    await attempt(1)
  } catch (e) {
    if (e.code === 'ERR_ASSERTION') throw e // wrong bytes: no second chance
    t.diagnostic(`webtorrent attempt 1 failed, retrying once: ${e.message.split('\n').slice(0, 2).join(' | ')}`)
    await attempt(2)
  }
})

test('two Clients in one process share one WebSocket and both get announce responses and peers', { timeout: scaled(180_000) }, async t => {
  // One attempt = a fresh tracker (the counts below assume one) and two fresh
  // client processes.
  const attempt = async () => {
    const { tracker, spawn } = await setup(t)
    const h1 = randomHex()
    const h2 = randomHex()
    const [x1, x2, y1, y2] = [randomHex(), randomHex(), randomHex(), randomHex()]

    const x = spawn('bt-client.mjs', {
      announce: tracker.url,
      clients: [{ infoHash: h1, peerId: x1 }, { infoHash: h2, peerId: x2 }]
    })
    const ux1 = await x.next(e => e.type === 'update' && e.index === 0, 10000, 'announce response for client 0 (h1)')
    const ux2 = await x.next(e => e.type === 'update' && e.index === 1, 10000, 'announce response for client 1 (h2)')
    assert.equal(ux1.infoHash, h1)
    assert.equal(ux2.infoHash, h2)

    const s1 = await stats(tracker)
    assert.equal(s1.connections, 1, 'one WebSocket connection for two Clients in one process')
    assert.equal(s1.torrents, 2, 'two torrents')
    assert.equal(s1.activeTorrents, 2, 'two active torrents')
    assert.equal(s1.peersAll, 2, 'two peers (distinct peer ids)')

    // A second process with a Client for each torrent: each pair connects over WebRTC.
    const y = spawn('bt-client.mjs', {
      announce: tracker.url,
      clients: [{ infoHash: h1, peerId: y1 }, { infoHash: h2, peerId: y2 }]
    })
    const cx1 = await x.next(e => e.type === 'connect' && e.index === 0, 30000, 'WebRTC peer for h1 in process X')
    const cx2 = await x.next(e => e.type === 'connect' && e.index === 1, 30000, 'WebRTC peer for h2 in process X')
    assert.equal(cx1.remoteId, y1, 'h1 client connected to its h1 peer')
    assert.equal(cx2.remoteId, y2, 'h2 client connected to its h2 peer')
    await y.next(e => e.type === 'connect' && e.index === 0, 30000, 'WebRTC peer for h1 in process Y')
    await y.next(e => e.type === 'connect' && e.index === 1, 30000, 'WebRTC peer for h2 in process Y')

    // Traffic on both data channels.
    const m1 = randomBytes(700)
    const m2 = randomBytes(900)
    x.send({ cmd: 'send', index: 0, remoteId: y1, data: b64(m1) })
    x.send({ cmd: 'send', index: 1, remoteId: y2, data: b64(m2) })
    assert.deepEqual(await receive(y, 0, m1.length), m1)
    assert.deepEqual(await receive(y, 1, m2.length), m2)

    const s2 = await stats(tracker)
    assert.equal(s2.connections, 2, 'two processes -> two WebSocket connections')
    assert.equal(s2.torrents, 2)
    assert.equal(s2.peersAll, 4)
  }

  await retryAfterSignalling(t, attempt, /waiting for WebRTC peer/)
})

test('stop() and SIGKILL of the client process both remove the peer', T, async t => {
  const { tracker, spawn } = await setup(t)
  const infoHash = randomHex()
  const base = await stats(tracker)
  assert.equal(base.peersAll, 0, 'fresh tracker has no peers')

  // numwant 0: announce-only clients, no WebRTC needed here
  const a = spawn('bt-client.mjs', { announce: tracker.url, clients: [{ infoHash, peerId: randomHex(), numwant: 0 }] })
  const b = spawn('bt-client.mjs', { announce: tracker.url, clients: [{ infoHash, peerId: randomHex(), numwant: 0 }] })
  await a.next(e => e.type === 'update', 10000, 'announce response for A')
  await b.next(e => e.type === 'update', 10000, 'announce response for B')
  const s2 = await waitFor(async () => { const s = await stats(tracker); return s.peersAll === 2 && s },
    { timeoutMs: scaled(5000), message: 'peersAll == 2' })
  assert.equal(s2.connections, 2, 'two client processes -> two connections')
  assert.equal(s2.peersLeecherOnly, 2)
  assert.equal((await scrape(tracker.url, infoHash)).incomplete, 2, 'scrape: 2 leechers')

  // Graceful: announce event=stopped.
  a.send({ cmd: 'stop', index: 0 })
  await waitFor(async () => (await stats(tracker)).peersAll === 1,
    { timeoutMs: scaled(10000), message: 'peersAll == 1 after stop()' })
  const sc = await scrape(tracker.url, infoHash)
  assert.equal(sc.incomplete, 1, 'scrape: 1 leecher left after stop()')
  assert.equal(sc.complete, 0)

  // Abrupt: the process holding B dies without a WebSocket close frame.
  b.kill('SIGKILL')
  await b.exited
  await waitFor(async () => (await stats(tracker)).peersAll === 0,
    { timeoutMs: scaled(15000), message: 'peersAll == 0 after SIGKILL of the client process' })
  // A's connection stays (stop() does not close it); B's and the short-lived
  // Client.scrape() connections go.
  await waitFor(async () => (await stats(tracker)).connections === 1,
    { timeoutMs: scaled(10000), message: 'connections == 1 (only A) after SIGKILL of B' })
  const sc2 = await scrape(tracker.url, infoHash)
  assert.equal(sc2.incomplete, 0, 'scrape: no leechers after SIGKILL')
  assert.equal(sc2.complete, 0)
})

test('scrape through Client.scrape: single and multiple info hashes', T, async t => {
  // Three Clients of one process announce h1 over the one socket they share (the
  // library pools sockets by tracker URL): three peer_ids of one connection in
  // one swarm, past the default --max-peer-ids-per-swarm of 2 (PROTOCOL.md 3.1).
  const { tracker, spawn } = await setup(t, { args: ['--max-peer-ids-per-swarm=3'] })
  const h1 = randomHex()
  const h2 = randomHex()
  // sequential: npm bittorrent-tracker's Server loses peers when the first
  // announces of a new swarm arrive in the same tick (it creates the swarm twice).
  const p = spawn('bt-client.mjs', {
    announce: tracker.url,
    sequential: true,
    clients: [
      { infoHash: h1, peerId: randomHex(), left: 0, numwant: 0 }, // seeder
      { infoHash: h1, peerId: randomHex(), left: 5000, numwant: 0 }, // leecher
      { infoHash: h1, peerId: randomHex(), left: 100, numwant: 0 }, // leecher
      { infoHash: h2, peerId: randomHex(), left: 0, numwant: 0 }, // seeder
      { infoHash: h2, peerId: randomHex(), left: 0, numwant: 0 } // seeder
    ]
  })
  for (let i = 0; i < 5; i++) await p.next(e => e.type === 'update' && e.index === i, 10000, `announce response ${i}`)
  // Clients sharing a socket also see each other's announce responses (the client
  // matches them by info hash only), so wait for the tracker to count all five.
  await waitFor(async () => (await stats(tracker)).peersAll === 5, { timeoutMs: scaled(10000), message: 'peersAll == 5' })

  const one = await scrape(tracker.url, h1)
  assert.equal(one.infoHash, h1)
  assert.equal(one.complete, 1, 'h1 seeders')
  assert.equal(one.incomplete, 2, 'h1 leechers')

  const many = await scrape(tracker.url, [h1, h2])
  assert.deepEqual(Object.keys(many).sort(), [h1, h2].sort(), 'one result per requested info hash')
  assert.equal(many[h1].complete, 1)
  assert.equal(many[h1].incomplete, 2)
  assert.equal(many[h2].complete, 2)
  assert.equal(many[h2].incomplete, 0)

  // The Client's own scrape() (same shared socket as its announces).
  p.send({ cmd: 'scrape', index: 3 })
  const own = await p.next(e => e.type === 'scrape' && e.index === 3, 10000, 'client.scrape() result')
  assert.equal(own.infoHash, h2)
  assert.equal(own.complete, 2)
  assert.equal(own.incomplete, 0)
})

test('scrape of an info hash nobody announced reports zeros', T, async t => {
  const { tracker, spawn } = await setup(t)
  const known = randomHex()
  const unknown = randomHex()
  const p = spawn('bt-client.mjs', { announce: tracker.url, clients: [{ infoHash: known, peerId: randomHex(), left: 0, numwant: 0 }] })
  await p.next(e => e.type === 'update', 10000, 'announce response')
  const r = await scrape(tracker.url, unknown)
  assert.equal(r.infoHash, unknown)
  assert.equal(r.complete, 0)
  assert.equal(r.incomplete, 0)
  const both = await scrape(tracker.url, [known, unknown])
  assert.equal(both[known].complete, 1)
  assert.equal(both[unknown].complete, 0)
  assert.equal(both[unknown].incomplete, 0)
})
