// soak slowconsumer: against --outq-soft-kib 64 --outq-hard-kib 256:
//  phase 1 (CI 10 s, --full 60 s): a raw-TCP client announces into swarm S and then
//    never reads (socket paused: the kernel buffers fill, then the tracker's queue);
//    4 senders announce into S in a closed loop, each announce with 10 offers of
//    ~4 KB (so every announce offers to the slow client).
//    Invariants: offersDropped > 0; every sender announce gets its response within
//    3 s; the tracker's peak RSS stays under start + 32 MiB (reported with the bytes
//    offered to the slow client, which is many times that).
//  phase 2: the slow client, still not reading, pipelines 40,000 announces (their
//    responses are never dropped). Past the soft cap the tracker stops reading
//    from it (PROTOCOL.md 6, issue 9), so the burst waits in the kernel's socket
//    buffers instead of the tracker's memory: RSS stays under start + 32 MiB, and
//    when the client reads again it gets every response and stays connected (or,
//    if the hard cap was passed first, a close frame 1008 / a TCP close).
//
//   node tests/soak/slowconsumer.mjs [--full]

import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { tracker, isFull, rssKiB, mib, sleep, check, result, openWs, id20, randId, fakeSdp } from './lib.mjs'

const SENDERS = 4
const PHASE1_MS = isFull ? 60000 : 10000
const BURST = 40000
const failures = []
// --msg-rate 0: this test pipelines more messages on one connection than the
// message budget (PROTOCOL.md 6) lets through; it measures another defence.
const t = await tracker.startTracker({ args: ['--msg-rate', '0', '--announce-rate', '0', '--outq-soft-kib', '64', '--outq-hard-kib', '256'] })
const pid = t.proc.pid
const rss0 = rssKiB(pid)
let rssPeak = rss0
const sampler = setInterval(() => { const r = rssKiB(pid); if (r > rssPeak) rssPeak = r }, 50)
console.log(`slowconsumer: ${SENDERS} senders, phase 1 ${PHASE1_MS / 1000} s, --outq-soft-kib 64 --outq-hard-kib 256, RSS at start ${mib(rss0)}`)

const S = id20('slow-swarm-', 1)
const SLOW_ID = id20('slow-peer-', 1)

function frame (text) {
  const payload = Buffer.from(text)
  const mask = randomBytes(4)
  let head
  if (payload.length < 126) head = Buffer.from([0x81, 0x80 | payload.length])
  else if (payload.length < 65536) { head = Buffer.alloc(4); head[0] = 0x81; head[1] = 0x80 | 126; head.writeUInt16BE(payload.length, 2) } else throw new Error('too big')
  for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3]
  return Buffer.concat([head, mask, payload])
}

// parse server frames (unmasked) out of buf; returns {frames:[{op, data}], rest}
function parseFrames (buf) {
  const frames = []
  let off = 0
  for (;;) {
    if (buf.length - off < 2) break
    const op = buf[off] & 0x0f
    let len = buf[off + 1] & 0x7f
    let h = 2
    if (len === 126) { if (buf.length - off < 4) break; len = buf.readUInt16BE(off + 2); h = 4 } else if (len === 127) { if (buf.length - off < 10) break; len = Number(buf.readBigUInt64BE(off + 2)); h = 10 }
    if (buf.length - off < h + len) break
    frames.push({ op, data: buf.subarray(off + h, off + h + len) })
    off += h + len
  }
  return { frames, rest: buf.subarray(off) }
}

// the slow client
const slow = { sock: null, buf: Buffer.alloc(0), closed: false, upgraded: false, responses: 0, offers: 0, closeCode: 0, other: 0 }
await new Promise((resolve, reject) => {
  const sock = net.connect({ host: '127.0.0.1', port: t.port })
  slow.sock = sock
  const key = randomBytes(16).toString('base64')
  sock.on('connect', () => sock.write(`GET /announce HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`))
  sock.on('data', d => {
    slow.buf = Buffer.concat([slow.buf, d])
    if (!slow.upgraded) {
      const i = slow.buf.indexOf('\r\n\r\n')
      if (i < 0) return
      slow.upgraded = true
      slow.buf = slow.buf.subarray(i + 4)
      sock.write(frame(JSON.stringify({ action: 'announce', info_hash: S, peer_id: SLOW_ID, event: 'started', left: 10, offers: [] })))
    }
    const { frames, rest } = parseFrames(slow.buf)
    slow.buf = rest
    for (const f of frames) {
      if (f.op === 8) { slow.closeCode = f.data.length >= 2 ? f.data.readUInt16BE(0) : 1005; continue }
      const m = JSON.parse(f.data.toString())
      if (m.complete !== undefined) slow.responses++
      else if (m.offer) slow.offers++
      else slow.other++
    }
    if (slow.responses === 1 && !slow.paused) { slow.paused = true; sock.pause(); resolve() }
  })
  sock.on('error', e => { slow.error = e.code })
  sock.on('close', () => { slow.closed = true; resolve() })
  setTimeout(() => reject(new Error('slow client: no announce response')), 5000).unref()
})
console.log('slowconsumer: slow client announced and stopped reading')

// senders
const sdp = fakeSdp(4000)
let offeredToSlowBytes = 0
const senders = []
for (let i = 0; i < SENDERS; i++) {
  const ws = await openWs(t.url)
  const st = { sent: 0, replies: 0, maxLat: 0, late: 0, offersIn: 0, closed: false, pendingT: 0 }
  const peerId = id20('sender-', i)
  let stopAt = 0
  const announce = () => {
    if (Date.now() >= stopAt || ws.readyState !== 1) { st.done = true; return }
    st.sent++
    st.pendingT = Date.now()
    offeredToSlowBytes += sdp.length + 200
    ws.send(JSON.stringify({ action: 'announce', info_hash: S, peer_id: peerId, event: 'started', left: 10, numwant: 10, offers: Array.from({ length: 10 }, () => ({ offer: { type: 'offer', sdp }, offer_id: randId() })) }))
  }
  ws.on('message', data => {
    const m = JSON.parse(data)
    if (m.complete !== undefined) {
      st.replies++
      const lat = Date.now() - st.pendingT
      if (lat > st.maxLat) st.maxLat = lat
      if (lat > 3000) st.late++
      announce()
    } else if (m.offer) st.offersIn++
  })
  ws.on('close', () => { st.closed = true })
  senders.push({ ws, st, start: () => { stopAt = Date.now() + PHASE1_MS; announce() } })
}
const tStart = Date.now()
senders.forEach(s => s.start())
const s1 = []
while (senders.some(s => !s.st.done) && Date.now() - tStart < PHASE1_MS + 5000) {
  await sleep(1000)
  if (s1.length % 2 === 0 || !isFull) {
    const s = await tracker.stats(t)
    s1.push(s)
    console.log(`slowconsumer: t=${((Date.now() - tStart) / 1000).toFixed(0)} s: RSS ${mib(rssKiB(pid))}, offersForwarded ${s.offersForwarded}, offersDropped ${s.offersDropped}, connections ${s.connections}`)
  } else s1.push(null)
}
// wait (3 s, scaled) for the last responses and for offersDropped to count the drops
const pendingOf = () => senders.filter(s => s.st.sent !== s.st.replies).length
let st1 = await tracker.stats(t)
for (const end = Date.now() + tracker.scaled(3000); (pendingOf() > 0 || !(st1.offersDropped > 0)) && Date.now() < end;) { await sleep(100); st1 = await tracker.stats(t) }
const sum = k => senders.reduce((a, s) => a + s.st[k], 0)
const maxLat = Math.max(...senders.map(s => s.st.maxLat))
const pendingLeft = pendingOf()
console.log(`slowconsumer: phase 1: senders ${sum('sent')} announces (${sum('sent') * 10} offers), ${sum('replies')} responses, max latency ${maxLat} ms; ` +
  `offered to the slow client ${mib(offeredToSlowBytes / 1024)}; offersForwarded ${st1.offersForwarded}, offersDropped ${st1.offersDropped}; ` +
  `tracker RSS start ${mib(rss0)}, peak ${mib(rssPeak)}; slow client ${slow.closed ? 'closed' : 'open'}`)
check(failures, st1.offersDropped > 0, 'offersDropped is 0')
check(failures, sum('late') === 0 && pendingLeft === 0 && sum('sent') > 0, `senders: ${sum('late')} late responses, ${pendingLeft} with a response missing`)
check(failures, !senders.some(s => s.st.closed), 'a sender was closed')
check(failures, rssPeak <= rss0 + 32 * 1024, `tracker RSS peak ${mib(rssPeak)} > start + 32 MiB`)

// phase 2: the slow client pipelines announces without reading
let wrote = 0
const annBefore = (await tracker.stats(t)).announces
let annPaused = annBefore
if (!slow.closed) {
  const msg = frame(JSON.stringify({ action: 'announce', info_hash: S, peer_id: SLOW_ID, event: 'update', left: 10, offers: [] }))
  const chunk = Buffer.concat(Array.from({ length: 1000 }, () => msg))
  const t2 = Date.now()
  while (wrote < BURST && !slow.closed && Date.now() - t2 < 20000) {
    if (!slow.sock.write(chunk)) await new Promise(resolve => { const tm = setTimeout(resolve, 200); slow.sock.once('drain', () => { clearTimeout(tm); resolve() }) })
    wrote += 1000
  }
  // Negative window, on purpose: the burst sits unread for 2 s while the RSS sampler
  // watches that the tracker does not buffer it (peak checked below); the announce
  // count read after it is only printed.
  await sleep(2000)
  annPaused = (await tracker.stats(t)).announces
}
const rssPhase2 = rssKiB(pid)
slow.sock.resume()
const t3 = Date.now()
// read until closed or every response arrived (bounded: 10 s, scaled)
while (!slow.closed && slow.responses < wrote + 1 && Date.now() - t3 < tracker.scaled(10000)) await sleep(100)
const st2 = await tracker.stats(t)
console.log(`slowconsumer: phase 2: slow client wrote ${wrote} announces without reading; on reading again it got ${slow.responses} responses, ${slow.offers} offers, ` +
  `close code ${slow.closeCode || 'none'}, socket ${slow.closed ? 'closed' : 'open'}${slow.error ? ' (' + slow.error + ')' : ''}; tracker RSS ${mib(rssPhase2)}, peak ${mib(rssPeak)}; connections ${st2.connections}`)
console.log(`slowconsumer: phase 2: announces processed while the slow client did not read: ${annPaused - annBefore} of ${wrote} (the rest waited until it read)`)
if (slow.closed) {
  check(failures, slow.closeCode === 0 || slow.closeCode === 1008, `close code ${slow.closeCode}, want 1008`)
  check(failures, st2.connections === SENDERS, `/stats.json connections ${st2.connections}, want ${SENDERS}`)
} else {
  // flow-controlled, not closed: nothing may be lost
  check(failures, slow.responses >= wrote + 1, `slow client got ${slow.responses} responses of ${wrote + 1} after reading again`)
  check(failures, st2.connections === SENDERS + 1, `/stats.json connections ${st2.connections}, want ${SENDERS + 1}`)
}
check(failures, rssPeak <= rss0 + 32 * 1024, `tracker RSS peak ${mib(rssPeak)} > start + 32 MiB`)
clearInterval(sampler)
for (const s of senders) s.ws.terminate()
slow.sock.destroy()
check(failures, t.proc.exitCode === null, 'tracker exited during the run')
const stop = await t.stop()
check(failures, stop.code === 0 && !stop.forced, `tracker did not exit cleanly on SIGTERM: ${JSON.stringify(stop)}`)
result('slowconsumer', failures)
