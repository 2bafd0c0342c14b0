// soak restart: an unmodified bittorrent-tracker Client (npm, tests/e2e/node_modules)
// announces to the tracker (numwant 0 via getAnnounceOpts: no offers, no WebRTC);
// the tracker is killed with SIGKILL and a new one started on the SAME port; the
// Client must reconnect and re-announce by itself: the new tracker's /stats.json
// peersAll becomes 1 and the Client emits `update` again.
//
// bittorrent-tracker 11 (lib/client/websocket-tracker.js) reconnects after
//   random(0..RECONNECT_VARIANCE = 300 s) + min(2^retries x 10 s, 1 h)
// i.e. 10..310 s for the first retry. The CI mode pins Math.random to 0 in this
// (client) process, so the back-off is exactly its 10 s minimum and the wait is
// bounded at 60 s; --full leaves the library untouched and waits up to 330 s.
//
//   node tests/soak/restart.mjs [--full]

import { tracker, isFull, sleep, check, result } from './lib.mjs'

const failures = []
const { default: Client } = await import('../e2e/node_modules/bittorrent-tracker/index.js')
const WAIT_MS = isFull ? 330000 : 60000
const infoHash = 'aa'.repeat(20)
const peerId = '2d5753303030312d' + 'bb'.repeat(12)

const t1 = await tracker.startTracker({})
const port = t1.port
console.log(`restart: tracker 1 on ${t1.url} pid ${t1.proc.pid}; back-off ${isFull ? 'library default (10..310 s)' : 'Math.random pinned to 0: 10 s'}, wait bound ${WAIT_MS / 1000} s`)

const updates = []
const warnings = []
const client = new Client({ infoHash, peerId, announce: [t1.url], port: 6881, getAnnounceOpts: () => ({ numwant: 0 }) })
client.on('update', u => updates.push({ at: Date.now(), complete: u.complete, incomplete: u.incomplete }))
client.on('warning', e => warnings.push(String(e && e.message || e)))
client.on('error', e => warnings.push('error: ' + String(e && e.message || e)))
client.start()

const waitUntil = async (fn, ms) => {
  const end = Date.now() + ms
  while (Date.now() < end) { const v = await fn(); if (v) return v; await sleep(200) }
  return null
}
const first = await waitUntil(async () => updates.length > 0 && (await tracker.stats(t1)).peersAll === 1, 10000)
const s1 = await tracker.stats(t1)
console.log(`restart: first announce: ${updates.length} update event(s), tracker 1 peersAll ${s1.peersAll}`)
check(failures, first, `client did not announce to tracker 1 (peersAll ${s1.peersAll})`)

const realRandom = Math.random
if (!isFull) Math.random = () => 0
t1.kill('SIGKILL')
await t1.exited
const tKill = Date.now()
const nUpdates = updates.length
let t2 = null
for (let i = 0; i < 20 && !t2; i++) {
  try { t2 = await tracker.startTracker({ listen: `127.0.0.1:${port}` }) } catch (e) { console.log(`restart: start on port ${port} failed (${e.message}), retrying`); await sleep(250) }
}
if (!t2) {
  failures.push(`could not start tracker 2 on port ${port}`)
} else {
  console.log(`restart: tracker 1 SIGKILLed, tracker 2 on ${t2.url} pid ${t2.proc.pid} after ${Date.now() - tKill} ms`)
  const ok = await waitUntil(async () => updates.length > nUpdates && (await tracker.stats(t2)).peersAll === 1, WAIT_MS)
  const s2 = await tracker.stats(t2)
  const reUpd = updates.slice(nUpdates)
  console.log(`restart: after ${((Date.now() - tKill) / 1000).toFixed(1)} s: tracker 2 peersAll ${s2.peersAll}, connections ${s2.connections}, announces ${s2.announces}; ` +
    `client re-announced ${reUpd.length ? ((reUpd[0].at - tKill) / 1000).toFixed(1) + ' s after the kill' : 'never'}; client warnings: ${JSON.stringify(warnings.slice(0, 3))}`)
  check(failures, ok, `client did not re-announce within ${WAIT_MS / 1000} s (peersAll ${s2.peersAll}, ${reUpd.length} update events)`)
}
Math.random = realRandom
await new Promise(resolve => client.destroy(resolve))
if (t2) {
  check(failures, t2.proc.exitCode === null, 'tracker 2 exited during the run')
  const stop = await t2.stop()
  check(failures, stop.code === 0 && !stop.forced, `tracker 2 did not exit cleanly on SIGTERM: ${JSON.stringify(stop)}`)
}
result('restart', failures)
