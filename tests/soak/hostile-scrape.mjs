// soak hostile-scrape (issue 9): full scrapes must cost bounded memory and time and
// the reply must fit the output queue. Against --threads 2 --max-torrents-per-conn
// 20000 (default --outq-hard-kib 1024):
//   setup: 4 connections announce into 14,000 distinct info hashes (numwant 0, no
//     offers; pipelined, 256 in flight each, every response waited for);
//   phase 1: an attacker on a raw TCP socket (manual WebSocket upgrade, masked
//     frames) sends 1,000 copies of {"action":"scrape"} in one write and never reads
//     again (socket paused). For the next 10 s the tracker's RSS is polled every
//     100 ms and 4 honest clients announce every 100 ms each.
//     Invariants: peak RSS <= RSS before the attack + 48 MiB; every honest announce
//     answered within 1 s.
//   phase 2: 3,000 more info hashes (17,000 swarms); an honest ws client sends one
//     full scrape: it gets a scrape reply ({"action":"scrape","files":{...}}, which
//     may list fewer swarms than exist: the count is printed) and is not closed
//     (1008 would mean the reply overflowed its output queue); another honest client
//     sends two full scrapes back to back and gets, within 5 s, two replies or one
//     reply and `failure reason: "scrape in progress"` (action scrape).
//
//   node tests/soak/hostile-scrape.mjs

import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { tracker, rssKiB, mib, sleep, check, result, jsonClient, honestClient, id20 } from './lib.mjs'

const NAME = 'hostile-scrape'
const SWARMS1 = 14000
const SWARMS2 = 17000
const SCRAPES = 1000
const ATTACK_MS = 10000
const RSS_SLACK_KIB = 48 * 1024
const SEEDERS = 4
const HONEST_CLIENTS = 4
const failures = []
// --msg-rate 0: this test pipelines more messages on one connection than the
// message budget (PROTOCOL.md 6) lets through; it measures another defence.
const t = await tracker.startTracker({ args: ['--threads', '2', '--msg-rate', '0', '--announce-rate', '0', '--max-torrents-per-conn', '20000'] })
const pid = t.proc.pid

const client = () => jsonClient(t.url)

// Announce info hashes [from, to) spread over the seeder connections, 256 in flight
// on each, every reply waited for; 30 s at most. Returns {ok, failed, missing}.
async function seed (conns, from, to) {
  const r = { ok: 0, failed: 0, missing: 0, reasons: {} }
  const deadline = Date.now() + 30000
  await Promise.all(conns.map(async (c, k) => {
    const mine = []
    for (let i = from + k; i < to; i += conns.length) mine.push(i)
    let next = 0
    let done = 0
    const pump = () => {
      while (next < mine.length && next - done < 256) {
        c.send({ action: 'announce', info_hash: id20('scrape-swarm-', mine[next++]), peer_id: id20('scrape-seeder-', k), numwant: 0, uploaded: 0, downloaded: 0, left: 0, event: 'started', offers: [] })
      }
    }
    pump()
    while (done < mine.length && Date.now() < deadline) {
      const m = await c.wait(x => x.action === 'announce', Math.max(1, deadline - Date.now()))
      if (!m) break
      done++
      if (m.complete !== undefined) r.ok++
      else { r.failed++; r.reasons[m['failure reason']] = (r.reasons[m['failure reason']] || 0) + 1 }
      pump()
    }
    r.missing += mine.length - done
  }))
  return r
}

const seeders = []
for (let k = 0; k < SEEDERS; k++) seeders.push(await client())
const t0 = Date.now()
const sd1 = await seed(seeders, 0, SWARMS1)
const st0 = await tracker.stats(t)
console.log(`${NAME}: setup: ${SWARMS1} info hashes in ${Date.now() - t0} ms: ${sd1.ok} accepted, ${sd1.failed} failed ${JSON.stringify(sd1.reasons)}, ${sd1.missing} unanswered; torrents ${st0.torrents}`)
check(failures, sd1.ok === SWARMS1 && st0.torrents >= SWARMS1, `setup: ${sd1.ok} of ${SWARMS1} announces accepted, torrents ${st0.torrents}`)

// ---- phase 1: the attacker ----
function frame (text) {
  const payload = Buffer.from(text)
  const mask = randomBytes(4)
  if (payload.length >= 126) throw new Error('frame: payload too long for this helper')
  for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3]
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, payload])
}
const atk = { sock: null, upgraded: false, error: '' }
await new Promise((resolve, reject) => {
  const sock = net.connect({ host: '127.0.0.1', port: t.port })
  atk.sock = sock
  let buf = ''
  const tm = setTimeout(() => reject(new Error('attacker: no upgrade within 5 s')), 5000)
  sock.on('connect', () => sock.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`))
  sock.on('data', d => {
    if (atk.upgraded) return
    buf += d.toString('latin1')
    if (buf.includes('\r\n\r\n')) {
      atk.upgraded = / 101 /.test(buf.split('\r\n')[0])
      sock.pause() // never reads again
      clearTimeout(tm)
      resolve()
    }
  })
  sock.on('error', e => { atk.error = e.code })
})
check(failures, atk.upgraded, 'attacker: WebSocket upgrade refused')

// Several honest clients: each lands on a worker chosen by the kernel (SO_REUSEPORT)
// and announces into a swarm owned by a worker chosen by hash, so together they
// cover every (connection worker, swarm worker) pair the attack can stall.
const honest = []
for (let i = 0; i < HONEST_CLIENTS; i++) honest.push(await honestClient(t.url, { everyMs: 100, timeoutMs: 1000, tag: `scrape-${i}` }))
await sleep(300) // a few honest round trips before the attack, as a baseline
const rss0 = rssKiB(pid)
let rssPeak = rss0
const burst = Buffer.concat(Array.from({ length: SCRAPES }, () => frame('{"action":"scrape"}')))
atk.sock.write(burst)
const tA = Date.now()
const rssTrace = []
while (Date.now() - tA < ATTACK_MS) {
  await sleep(100)
  const r = rssKiB(pid)
  if (r > rssPeak) rssPeak = r
  if (rssTrace.length < 10 || (Date.now() - tA) % 1000 < 100) rssTrace.push(`${((Date.now() - tA) / 1000).toFixed(1)}s ${mib(r)}`)
}
const hs = await Promise.all(honest.map(x => x.stop()))
const h = {
  sent: hs.reduce((a, x) => a + x.sent, 0),
  replies: hs.reduce((a, x) => a + x.replies, 0),
  lateOrMissing: hs.reduce((a, x) => a + x.lateOrMissing, 0),
  maxLatencyMs: Math.max(...hs.map(x => x.maxLatencyMs)),
  closed: hs.some(x => x.closed),
  closeCode: hs.map(x => x.closeCode).join(',')
}
const rssEnd = rssKiB(pid)
atk.sock.destroy()
console.log(`${NAME}: phase 1: ${SCRAPES} full scrapes (${burst.length} bytes) in one write, socket never read; RSS before ${mib(rss0)}, peak ${mib(rssPeak)} (+${mib(rssPeak - rss0)}), after 10 s ${mib(rssEnd)}; samples: ${rssTrace.join(', ')}`)
console.log(`${NAME}: phase 1: ${HONEST_CLIENTS} honest clients: ${h.sent} announces, ${h.replies} responses, max latency ${h.maxLatencyMs} ms (per client ${hs.map(x => x.maxLatencyMs).join(', ')}), ${h.lateOrMissing} late (> 1 s) or missing${h.closed ? `, closed ${h.closeCode}` : ''}`)
check(failures, rssPeak <= rss0 + RSS_SLACK_KIB, `phase 1: tracker RSS peak ${mib(rssPeak)} > start ${mib(rss0)} + 48 MiB`)
check(failures, h.sent > 0 && h.replies === h.sent && h.lateOrMissing === 0 && h.maxLatencyMs <= 1000 && !h.closed, `phase 1: honest announces: ${h.sent - h.replies} missing, ${h.lateOrMissing} late, max latency ${h.maxLatencyMs} ms (want every one within 1 s)`)

// ---- phase 2: a full scrape of 17,000 swarms ----
const t2 = Date.now()
const sd2 = await seed(seeders, SWARMS1, SWARMS2)
const st2 = await tracker.stats(t)
console.log(`${NAME}: phase 2: ${SWARMS2 - SWARMS1} more info hashes in ${Date.now() - t2} ms: ${sd2.ok} accepted, ${sd2.failed} failed, ${sd2.missing} unanswered; torrents ${st2.torrents}`)
check(failures, sd2.ok === SWARMS2 - SWARMS1 && st2.torrents >= SWARMS2, `phase 2 setup: ${sd2.ok} of ${SWARMS2 - SWARMS1} announces accepted, torrents ${st2.torrents}`)

const isScrapeReply = m => m.action === 'scrape'
const s1 = await client()
const ts = Date.now()
s1.send({ action: 'scrape' })
const rep = await s1.wait(isScrapeReply, 10000)
const listed = rep && rep.files ? Object.keys(rep.files).length : 0
console.log(`${NAME}: phase 2: one full scrape of ${st2.torrents} swarms: ${rep ? (rep.files ? `reply listing ${listed} swarms` : `failure "${rep['failure reason']}"`) : 'no reply'} after ${Date.now() - ts} ms${s1.closed ? `, connection closed ${s1.closeCode}` : ''}`)
check(failures, rep && rep.files && listed > 0, `phase 2: full scrape: ${rep ? JSON.stringify(rep).slice(0, 100) : s1.closed ? `no reply, closed with ${s1.closeCode}` : 'no reply within 10 s'}`)

const s2 = await client()
s2.send({ action: 'scrape' })
s2.send({ action: 'scrape' })
const got2 = []
const tb = Date.now()
while (got2.length < 2 && Date.now() - tb < 5000) {
  const m = await s2.wait(isScrapeReply, Math.max(1, 5000 - (Date.now() - tb)))
  if (!m) break
  got2.push(m)
}
const kinds = got2.map(m => m.files ? `reply (${Object.keys(m.files).length} swarms)` : `failure "${m['failure reason']}"`)
const nReplies = got2.filter(m => m.files).length
const nBusy = got2.filter(m => m['failure reason'] === 'scrape in progress').length
console.log(`${NAME}: phase 2: two full scrapes back to back: got ${kinds.length ? kinds.join(' + ') : 'nothing'} in ${Date.now() - tb} ms${s2.closed ? `, connection closed ${s2.closeCode}` : ''}`)
check(failures, got2.length === 2 && nReplies >= 1 && nReplies + nBusy === 2, `phase 2: two full scrapes back to back: got ${kinds.length ? kinds.join(' + ') : 'nothing'}${s2.closed ? ` (closed ${s2.closeCode})` : ''}, want two replies or a reply and "scrape in progress"`)
// s1 has been open since its reply, through the whole back-to-back exchange (at
// least as long as it took): a close for its oversized reply would have come by now.
check(failures, !s1.closed, `phase 2: the full-scrape client was closed by the server (code ${s1.closeCode})`)
// s2 has only just read its second reply: a ping is the barrier (frames of one
// connection stay in order, so a close the server queued after that reply arrives
// before the pong; without a pong the wait is 5 s, scaled, which is as good).
await new Promise(resolve => {
  const tm = setTimeout(resolve, tracker.scaled(5000))
  const done = () => { clearTimeout(tm); resolve() }
  s2.ws.once('pong', done)
  s2.ws.once('close', done)
  try { s2.ws.ping() } catch { done() }
})
check(failures, !s2.closed, `phase 2: the back-to-back client was closed by the server (code ${s2.closeCode})`)

for (const c of [...seeders, s1, s2]) c.ws.terminate()
check(failures, t.proc.exitCode === null, 'tracker exited during the run')
const stop = await t.stop()
check(failures, stop.code === 0 && !stop.forced, `tracker did not exit cleanly on SIGTERM: ${JSON.stringify(stop)}`)
result(NAME, failures)
