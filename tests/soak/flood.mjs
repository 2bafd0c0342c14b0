// soak flood: for D seconds (CI 10, --full 60), against --max-message-size 65536
// --max-torrents-per-conn 4096 --outq-hard-kib 1024:
//   - 4 connections pipeline announces (64 in flight each) into 100 swarms, 5 offers each
//   - a loop of connections each sending one 70,000-byte message: expect close 1009
//   - one connection sending deeply nested JSON (60,000 '[' / 10,000 '{"a":'),
//     expect `JSON nested too deeply` for each, the socket staying open
//   - one connection announcing 10,000 distinct swarms with one peer_id: expect
//     exactly 4096 accepted and 5904 `too many torrents on this connection`
//   - an honest client announcing every 100 ms
// Invariants: the counts above; every honest announce answered within 3 s; the
// tracker's peak RSS stays under
//   start + connections x (outq hard cap + max message size) + peers x 1 KiB + 16 MiB
// (reported); after everything closes, peersAll and connections are 0.
//
//   node tests/soak/flood.mjs [--full]

import { tracker, isFull, rssKiB, mib, sleep, check, result, openWs, honestClient, id20, randId, fakeSdp } from './lib.mjs'

const D = isFull ? 60000 : 10000
const FLOODERS = 4
const WINDOW = 64
const MAXT = 4096
const SWARMS = 10000
const failures = []
// --msg-rate 0: this test pipelines more messages on one connection than the
// message budget (PROTOCOL.md 6) lets through; it measures another defence.
const t = await tracker.startTracker({ args: ['--msg-rate', '0', '--announce-rate', '0', '--max-message-size', '65536', '--max-torrents-per-conn', String(MAXT), '--outq-hard-kib', '1024'] })
const pid = t.proc.pid
const rss0 = rssKiB(pid)
let rssPeak = rss0
const sampler = setInterval(() => { const r = rssKiB(pid); if (r > rssPeak) rssPeak = r }, 50)
console.log(`flood: ${D / 1000} s, ${FLOODERS} flooders x ${WINDOW} in flight, oversized + deep JSON loops, ${SWARMS} swarms on one connection (cap ${MAXT}), RSS at start ${mib(rss0)}`)

const honest = await honestClient(t.url, { everyMs: 100, timeoutMs: 3000, tag: 'flood' })
const endAt = Date.now() + D
const sdp = fakeSdp(400)

// flooders
const flood = { sent: 0, replies: 0, offersIn: 0, closed: 0, errors: 0 }
async function flooder (i) {
  const ws = await openWs(t.url)
  const peerId = id20('flooder-', i)
  let inflight = 0
  let closed = false
  let byMe = false
  ws.on('close', () => { closed = true; if (!byMe) flood.closed++ })
  ws.on('error', () => {})
  const pump = () => {
    while (!closed && inflight < WINDOW && Date.now() < endAt) {
      inflight++
      flood.sent++
      ws.send(JSON.stringify({ action: 'announce', info_hash: id20('flood-swarm-', Math.floor(Math.random() * 100)), peer_id: peerId, event: 'started', left: 5, numwant: 5, offers: Array.from({ length: 5 }, () => ({ offer: { type: 'offer', sdp }, offer_id: randId() })) }))
    }
  }
  ws.on('message', data => {
    const m = JSON.parse(data)
    if (m.complete !== undefined) { flood.replies++; inflight--; pump() } else if (m.offer) flood.offersIn++
    else if (m['failure reason']) { flood.errors++; inflight--; pump() }
  })
  pump()
  while (!closed && Date.now() < endAt + 3000 && (inflight > 0 || Date.now() < endAt)) await sleep(50)
  byMe = true
  ws.terminate()
}

// oversized messages: each on a fresh connection, expect close 1009
const big = { sent: 0, codes: {} }
async function oversized () {
  const payload = JSON.stringify({ action: 'announce', info_hash: id20('big-', 0), peer_id: id20('big-', 1), pad: 'x'.repeat(70000) })
  while (Date.now() < endAt) {
    let ws
    try { ws = await openWs(t.url) } catch { big.codes.connectError = (big.codes.connectError || 0) + 1; continue }
    const code = await new Promise(resolve => {
      const tm = setTimeout(() => resolve('timeout'), 3000)
      ws.on('close', c => { clearTimeout(tm); resolve(c) })
      ws.on('error', () => {})
      ws.send(payload)
    })
    ws.terminate()
    big.sent++
    big.codes[code] = (big.codes[code] || 0) + 1
  }
}

// deep JSON on one connection, expect a failure reply per message
const deep = { sent: 0, nested: 0, other: 0, closed: false }
async function deepJson () {
  const ws = await openWs(t.url)
  ws.on('close', () => { deep.closed = true })
  ws.on('error', () => {})
  const msgs = ['['.repeat(60000), '{"a":'.repeat(10000) + '1' + '}'.repeat(10000), '{"action":"announce","x":' + '['.repeat(33) + ']'.repeat(33) + '}']
  let waiting = null
  ws.on('message', data => {
    const m = JSON.parse(data)
    if (m['failure reason'] === 'JSON nested too deeply') deep.nested++
    else deep.other++
    if (waiting) waiting()
  })
  while (Date.now() < endAt && !deep.closed) {
    const got = new Promise(resolve => { waiting = resolve; setTimeout(resolve, 3000) })
    ws.send(msgs[deep.sent % msgs.length])
    deep.sent++
    await got
  }
  // Negative check: the server must not close this socket. The last reply has just
  // been read; a close because of that message would follow it at once; 200 ms
  // (scaled) for it to arrive.
  await sleep(tracker.scaled(200))
  deep.closedByServer = deep.closed
  ws.terminate()
}

// 10,000 swarms on one connection
const many = { ok: 0, tooMany: 0, other: 0, closed: false, secs: 0 }
async function manySwarms () {
  const ws = await openWs(t.url)
  const peerId = id20('many-peer-', 0)
  ws.on('close', () => { many.closed = true })
  ws.on('error', () => {})
  let done = 0
  let next = 0
  const t0 = Date.now()
  await new Promise(resolve => {
    const pump = () => {
      while (next < SWARMS && next - done < 256) ws.send(JSON.stringify({ action: 'announce', info_hash: id20('many-', next++), peer_id: peerId, event: 'started', left: 1, offers: [] }))
    }
    ws.on('message', data => {
      const m = JSON.parse(data)
      if (m.complete !== undefined) many.ok++
      else if (m['failure reason'] === 'too many torrents on this connection') many.tooMany++
      else many.other++
      if (++done === SWARMS) resolve(); else pump()
    })
    ws.on('close', resolve)
    setTimeout(resolve, 60000).unref()
    pump()
  })
  many.secs = (Date.now() - t0) / 1000
  const s = await tracker.stats(t)
  many.peersAfter = s.peersAll
  // keep the connection (and its 4096 peers) open until the end of the flood
  while (Date.now() < endAt && !many.closed) await sleep(100)
  many.closedByServer = many.closed
  ws.terminate()
}

await Promise.all([...Array.from({ length: FLOODERS }, (_, i) => flooder(i)), oversized(), deepJson(), manySwarms()])
const h = await honest.stop()
const s = await tracker.stats(t)
// every client is closed: wait (5 s, scaled) for peersAll and connections to reach 0
let sEnd = s
for (const end = Date.now() + tracker.scaled(5000); (sEnd.peersAll !== 0 || sEnd.connections !== 0) && Date.now() < end;) { await sleep(100); sEnd = await tracker.stats(t) }
clearInterval(sampler)
const conns = FLOODERS + 4
const boundKiB = rss0 + conns * (1024 + 64) + (MAXT + 1000) * 1 + 16 * 1024
console.log(`flood: flooders: ${flood.sent} announces (${flood.sent * 5} offers), ${flood.replies} responses, ${flood.errors} errors, ${flood.offersIn} offers received, ${flood.closed} closed by the server`)
console.log(`flood: oversized: ${big.sent} messages of 70,000 bytes, close codes ${JSON.stringify(big.codes)}`)
console.log(`flood: deep JSON: ${deep.sent} messages, ${deep.nested} 'JSON nested too deeply', ${deep.other} other replies, socket ${deep.closedByServer ? 'closed by the server' : 'kept open'}`)
console.log(`flood: ${SWARMS} swarms on one connection: ${many.ok} accepted, ${many.tooMany} 'too many torrents', ${many.other} other, in ${many.secs.toFixed(1)} s; peersAll then ${many.peersAfter}`)
console.log(`flood: honest: ${h.sent} announces, ${h.replies} responses, max latency ${h.maxLatencyMs} ms, ${h.lateOrMissing} late/missing`)
console.log(`flood: /stats.json: announces ${s.announces}, errors ${s.errors}, offersForwarded ${s.offersForwarded}, offersDropped ${s.offersDropped}; after close: peersAll ${sEnd.peersAll}, connections ${sEnd.connections}, torrents ${sEnd.torrents}`)
console.log(`flood: tracker RSS start ${mib(rss0)}, peak ${mib(rssPeak)}, bound ${mib(boundKiB)} = start + ${conns} conns x (1024 + 64) KiB + ${MAXT + 1000} peers x 1 KiB + 16 MiB`)
check(failures, flood.sent > 0 && flood.replies === flood.sent && flood.errors === 0 && flood.closed === 0, `flooders: ${flood.sent - flood.replies} responses missing, ${flood.errors} errors, ${flood.closed} closed`)
check(failures, big.sent > 0 && big.codes[1009] === big.sent, `oversized: close codes ${JSON.stringify(big.codes)}, want all 1009`)
check(failures, deep.sent > 0 && deep.nested === deep.sent && !deep.closedByServer, `deep JSON: ${deep.nested}/${deep.sent} nested-too-deeply replies, closed by the server ${deep.closedByServer}`)
check(failures, many.ok === MAXT && many.tooMany === SWARMS - MAXT && many.other === 0 && !many.closedByServer, `many swarms: ${many.ok} ok, ${many.tooMany} too many, ${many.other} other, closed by the server ${many.closedByServer}`)
check(failures, h.sent > 0 && h.replies === h.sent && h.lateOrMissing === 0 && !h.closed, `honest: ${h.sent - h.replies} missing, ${h.lateOrMissing} late, closed ${h.closed}`)
check(failures, rssPeak <= boundKiB, `RSS peak ${mib(rssPeak)} > bound ${mib(boundKiB)}`)
check(failures, sEnd.peersAll === 0 && sEnd.connections === 0, `after close: peersAll ${sEnd.peersAll}, connections ${sEnd.connections}`)
check(failures, t.proc.exitCode === null, 'tracker exited during the run')
const stop = await t.stop()
check(failures, stop.code === 0 && !stop.forced, `tracker did not exit cleanly on SIGTERM: ${JSON.stringify(stop)}`)
result('flood', failures)
