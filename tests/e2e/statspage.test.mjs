// The stats routes (proto/PROTOCOL.md section 8): /stats.json's bittorrent-tracker
// "clients" breakdown, compared with what npm bittorrent-tracker's own Server
// (lib/reference-server.mjs) reports for the same announces.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTracker, stats, isReference, scaled, waitFor, randomHex } from './lib/tracker.mjs'
import { connect, announce } from './lib/wsclient.mjs'

const ASCII = 'abcdefghijklmnopqrstuvwxyz0123456789'
function pid (prefix) {
  let s = prefix
  while (s.length < 20) s += ASCII[Math.floor(Math.random() * ASCII.length)]
  return s
}

// Announce peers with these prefixes (one connection each, one swarm), and
// return the tracker's /stats.json once it counts them all.
async function announceClients (t, tracker, prefixes, conns = []) {
  const ih = randomHex(10)
  for (const p of prefixes) {
    const c = await connect(tracker.url)
    conns.push(c)
    t.after(() => c.close())
    const r = await announce(c, { info_hash: ih, peer_id: pid(p), numwant: 0, left: 1 })
    assert.equal(r.action, 'announce', JSON.stringify(r))
  }
  return waitFor(async () => { const s = await stats(tracker); return s.peersAll === prefixes.length && s },
    { timeoutMs: scaled(5000), message: `${prefixes.length} peers in /stats.json` })
}

const PREFIXES = ['-WW0091-', '-WW0091-', '-WW0091-', '-qB4250-', '-TR4050-', '-LT1234-', 'Zzzzzzzz']
const WANT = {
  WebTorrent: { '0.91': 3 },
  qBittorrent: { '4.2.5': 1 },
  Transmission: { '4.05': 1 },
  'libtorrent (Rasterbar)': { '-LT1234-': 1 },
  unknown: { Zzzzzzzz: 1 }
}

test('/stats.json "clients": current peers by client and version, as bittorrent-tracker names them', { timeout: scaled(30_000) }, async t => {
  const tracker = await startTracker()
  t.after(() => tracker.stop())
  const conns = []
  const s = await announceClients(t, tracker, PREFIXES, conns)
  assert.deepEqual(s.clients, WANT, JSON.stringify(s))
  // a closed connection's peer leaves its client's count
  conns[0].close()
  conns[3].close()
  const after = await waitFor(async () => { const x = await stats(tracker); return x.peersAll === PREFIXES.length - 2 && x },
    { timeoutMs: scaled(5000), message: 'two peers gone' })
  const { qBittorrent, ...rest } = WANT
  assert.deepEqual(after.clients, { ...rest, WebTorrent: { '0.91': 2 } }, JSON.stringify(after))
})

test('npm bittorrent-tracker reports the same "clients" for the same announces', { skip: isReference() ? 'already the reference' : false, timeout: scaled(30_000) }, async t => {
  const saved = process.env.WSTRACKER_REFERENCE
  process.env.WSTRACKER_REFERENCE = '1'
  let ref
  try {
    ref = await startTracker()
  } finally {
    if (saved === undefined) delete process.env.WSTRACKER_REFERENCE
    else process.env.WSTRACKER_REFERENCE = saved
  }
  t.after(() => ref.stop())
  const s = await announceClients(t, ref, PREFIXES)
  assert.deepEqual(s.clients, WANT, JSON.stringify(s))
})
