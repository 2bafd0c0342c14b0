// soak slowloris: N raw TCP connections (CI 500, --full 5000) that stall, against a
// tracker with --handshake-timeout 2 --idle-timeout 4:
//   half of them mid-handshake: nothing sent / half an HTTP request / the whole
//     request line and some headers but no blank line
//   half of them mid-frame after a completed upgrade: 1 byte of frame header /
//     2 bytes announcing a 16-bit length / the whole header and half the payload
// while 4 honest clients announce every 100 ms.
// Invariants: every honest announce gets its response within 3 s; every stalled
// socket is closed by the server (client-side close counted), mid-handshake ones
// between handshake-timeout - 1 s and + 4 s after connecting, mid-frame ones between
// idle-timeout - 1 s and + 4 s after their upgrade; afterwards /stats.json
// connections = the honest count.
//
//   node tests/soak/slowloris.mjs [--full] [--conns N]

import net from 'node:net'
import { tracker, isFull, rssKiB, mib, sleep, check, result, honestClient } from './lib.mjs'

const HS = 2
const IDLE = 4
const argN = process.argv.indexOf('--conns')
const N = argN > 0 ? Number(process.argv[argN + 1]) : (isFull ? 5000 : 500)
const HONEST = 4
const failures = []

// --max-conns-per-ip 0: every connection of this test comes from 127.0.0.1.
const t = await tracker.startTracker({ args: ['--max-conns-per-ip', '0', '--handshake-timeout', String(HS), '--idle-timeout', String(IDLE)] })
const pid = t.proc.pid
const rss0 = rssKiB(pid)
let rssPeak = rss0
const sampler = setInterval(() => { const r = rssKiB(pid); if (r > rssPeak) rssPeak = r }, 50)
console.log(`slowloris: ${N} stalled connections, ${HONEST} honest clients, --handshake-timeout ${HS} --idle-timeout ${IDLE}, RSS at start ${mib(rss0)}`)

const honest = []
for (let i = 0; i < HONEST; i++) honest.push(await honestClient(t.url, { everyMs: 100, timeoutMs: 3000, tag: `sl${i}` }))

const socks = []
const key = Buffer.from('slowloris-key-16').toString('base64')
const upgrade = `GET /announce HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`

function stalled (i) {
  return new Promise(resolve => {
    const kind = i % 2 === 0 ? 'handshake' : 'frame'
    const variant = Math.floor(i / 2) % 3
    const s = { kind, variant, t0: Date.now(), tUp: 0, tClose: 0, upgraded: false, error: '' }
    socks.push(s)
    const sock = net.connect({ host: '127.0.0.1', port: t.port })
    let buf = ''
    sock.on('connect', () => {
      s.t0 = Date.now()
      if (kind === 'handshake') {
        if (variant === 1) sock.write(upgrade.slice(0, 20))
        if (variant === 2) sock.write(upgrade.slice(0, upgrade.length - 40))
        resolve()
      } else {
        sock.write(upgrade)
      }
    })
    sock.on('data', d => {
      if (kind === 'frame' && !s.upgraded) {
        buf += d.toString('latin1')
        if (buf.includes('\r\n\r\n')) {
          s.upgraded = buf.startsWith('HTTP/1.1 101')
          s.tUp = Date.now()
          if (variant === 0) sock.write(Buffer.from([0x81]))
          if (variant === 1) sock.write(Buffer.from([0x81, 0xfe]))
          if (variant === 2) sock.write(Buffer.concat([Buffer.from([0x81, 0x80 | 100, 1, 2, 3, 4]), Buffer.alloc(50, 0x20)]))
          resolve()
        }
      }
    })
    sock.on('error', e => { s.error = e.code || e.message; resolve() })
    sock.on('close', () => { s.tClose = Date.now(); resolve() })
  })
}

// open them, at most 200 connecting at a time
const tOpen = Date.now()
let nextI = 0
await Promise.all(Array.from({ length: 200 }, async () => {
  while (nextI < N) await stalled(nextI++)
}))
const openSecs = (Date.now() - tOpen) / 1000
const sMid = await tracker.stats(t)
console.log(`slowloris: ${N} opened in ${openSecs.toFixed(1)} s; /stats.json connections ${sMid.connections}, RSS ${mib(rssKiB(pid))}`)

// wait until all stalled sockets are closed (bounded; the close times are checked below)
const deadline = Date.now() + tracker.scaled((HS + IDLE + 15) * 1000)
while (Date.now() < deadline && socks.some(s => !s.tClose)) await sleep(100)
// then until the tracker counts only the honest connections (5 s, scaled)
let sEnd = await tracker.stats(t)
for (const end = Date.now() + tracker.scaled(5000); sEnd.connections !== HONEST && Date.now() < end;) { await sleep(100); sEnd = await tracker.stats(t) }
const rssAfter = rssKiB(pid)
clearInterval(sampler)
const hs = honest.map(h => h)
const hres = []
for (const h of hs) hres.push(await h.stop())

for (const kind of ['handshake', 'frame']) {
  const ks = socks.filter(s => s.kind === kind)
  const closed = ks.filter(s => s.tClose)
  const lim = kind === 'handshake' ? HS : IDLE
  const ages = closed.map(s => (s.tClose - (kind === 'handshake' ? s.t0 : (s.tUp || s.t0))) / 1000)
  const min = Math.min(...ages); const max = Math.max(...ages)
  const notUp = kind === 'frame' ? ks.filter(s => !s.upgraded).length : 0
  const errs = ks.filter(s => s.error).length
  console.log(`slowloris: mid-${kind}: ${ks.length} sockets, ${closed.length} closed by the server, ` +
    `${min.toFixed(2)}..${max.toFixed(2)} s after ${kind === 'handshake' ? 'connect' : 'upgrade'} (timeout ${lim} s)` +
    (kind === 'frame' ? `, ${notUp} not upgraded` : '') + `, ${errs} socket errors`)
  check(failures, closed.length === ks.length, `${ks.length - closed.length} mid-${kind} sockets still open`)
  check(failures, notUp === 0, `${notUp} upgrades failed`)
  check(failures, min >= lim - 1 && max <= lim + 4, `mid-${kind} closes at ${min.toFixed(2)}..${max.toFixed(2)} s, want ${lim - 1}..${lim + 4}`)
}
const tot = hres.reduce((a, r) => ({ sent: a.sent + r.sent, replies: a.replies + r.replies, late: a.late + r.lateOrMissing, max: Math.max(a.max, r.maxLatencyMs), closed: a.closed + (r.closed ? 1 : 0) }), { sent: 0, replies: 0, late: 0, max: 0, closed: 0 })
console.log(`slowloris: honest clients: ${tot.sent} announces, ${tot.replies} responses, max latency ${tot.max} ms, ${tot.late} late/missing, ${tot.closed} closed`)
console.log(`slowloris: /stats.json connections ${sEnd.connections} at the end (honest ${HONEST}); tracker RSS start ${mib(rss0)}, peak ${mib(rssPeak)}, after the closes ${mib(rssAfter)}`)
check(failures, tot.late === 0 && tot.replies === tot.sent && tot.sent > 0, `honest clients: ${tot.sent - tot.replies} responses missing, ${tot.late} late`)
check(failures, tot.closed === 0, `${tot.closed} honest clients were closed`)
check(failures, sEnd.connections === HONEST, `/stats.json connections ${sEnd.connections}, want ${HONEST}`)
check(failures, t.proc.exitCode === null, 'tracker exited during the run')
const stop = await t.stop()
check(failures, stop.code === 0 && !stop.forced, `tracker did not exit cleanly on SIGTERM: ${JSON.stringify(stop)}`)
result('slowloris', failures)
