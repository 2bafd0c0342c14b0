// soak hostile-sockets (issue 9): sockets lws never reaps (descriptor exhaustion) and
// WebSocket over HTTP/2, against a tracker started under `ulimit -n 256` with
// --threads 2 --handshake-timeout 2 --idle-timeout 4. From raw TCP sockets:
//   1. 150 h2c upgrades (`Upgrade: h2c` + HTTP2-Settings), then nothing (half of
//      them) or, once the response arrived, the first 10 bytes of the h2 preface
//   2. 100 `CONNECT x HTTP/1.1`, then nothing
//   3. 20 HTTP/2 prior-knowledge prefaces + an empty SETTINGS frame, then nothing
//   4. 300 plain TCP connections that send nothing
// Invariants: every socket of 1-3 is closed by the server within handshake-timeout
// + 3 s of its last byte (each wait bounded: 8 s); the h2c ones first get
// `HTTP/1.1 400 Bad Request`, never `101` (no WebSocket-over-h2 path); the CONNECT
// ones get `HTTP/1.1 405 Method Not Allowed`; 4 honest WebSocket clients connect and
// get their announce response within 3 s each while 1-3 are open and after; after
// 4 an honest client connects and announces within 5 s after the handshake timeout;
// tracker peak RSS <= start + 32 MiB; exit 0 on SIGTERM.
//
//   node tests/soak/hostile-sockets.mjs

import net from 'node:net'
import { spawn } from 'node:child_process'
import { tracker, rssKiB, mib, sleep, check, result, WebSocket, id20 } from './lib.mjs'

const HS = 2
const IDLE = 4
const NOFILE = 256
const CLOSE_WITHIN_MS = (HS + 3) * 1000 // the asserted bound
const WAIT_MS = 8000 // how long one socket is watched before it counts as left open
const HONEST = 4
const failures = []

// ---- the tracker, under a low open-file limit (startTracker spawns the binary
// directly, so spawn it here through sh the same way and parse `listening on`) ----

const LISTEN_RE = /listening on (ws:\/\/127\.0\.0\.1:(\d+))/
function startLimited () {
  const bin = tracker.trackerBinary()
  const args = ['--listen', '127.0.0.1:0', '--threads', '2', '--handshake-timeout', String(HS), '--idle-timeout', String(IDLE)]
  const proc = spawn('sh', ['-c', `ulimit -n ${NOFILE} && exec "$0" "$@"`, bin, ...args], {
    cwd: tracker.REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe']
  })
  process.on('exit', () => { try { proc.kill('SIGKILL') } catch {} })
  let err = ''
  let exitInfo = null
  const exited = new Promise(resolve => proc.once('exit', (code, signal) => { exitInfo = { code, signal }; resolve(exitInfo) }))
  proc.stderr.setEncoding('utf8')
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`no "listening on" within 10 s; stderr:\n${err}`)) }, 10000)
    exited.then(x => { clearTimeout(timer); reject(new Error(`tracker exited ${JSON.stringify(x)} before listening; stderr:\n${err}`)) })
    proc.stderr.on('data', d => {
      err += d
      const m = LISTEN_RE.exec(err)
      if (m && timer) {
        clearTimeout(timer)
        resolve({
          proc,
          url: m[1],
          port: Number(m[2]),
          httpUrl: m[1].replace(/^ws/, 'http'),
          stderr: () => err,
          alive: () => exitInfo === null,
          async stop (timeoutMs = 5000) {
            if (exitInfo) return { ...exitInfo, forced: false }
            proc.kill('SIGTERM')
            let t
            const r = await Promise.race([exited.then(x => ({ ...x, forced: false })), new Promise(resolve => { t = setTimeout(() => resolve(null), timeoutMs) })])
            clearTimeout(t)
            if (r) return r
            proc.kill('SIGKILL')
            return { ...(await exited), forced: true }
          }
        })
      }
    })
  })
}

const t = await startLimited()
const pid = t.proc.pid // sh exec'd the tracker: same pid
const limLine = /open-file limit \d+, connection capacity \d+/.exec(t.stderr())
const rss0 = rssKiB(pid)
let rssPeak = rss0
const sampler = setInterval(() => { const r = rssKiB(pid); if (r > rssPeak) rssPeak = r }, 50)
console.log(`hostile-sockets: ulimit -n ${NOFILE} (${limLine ? limLine[0] : '?'}), --threads 2 --handshake-timeout ${HS} --idle-timeout ${IDLE}, RSS at start ${mib(rss0)}`)

// ---- honest clients: connect, announce, response within 3 s each ----

function honestOnce (tag) {
  return new Promise(resolve => {
    const t0 = Date.now()
    const r = { ok: false, connectMs: -1, announceMs: -1, error: '' }
    const infoHash = id20('hs-swarm-', tag)
    const ws = new WebSocket(t.url, { perMessageDeflate: false })
    let finished = false
    const finish = error => {
      if (finished) return
      finished = true
      if (error) r.error = error
      clearTimeout(timer)
      ws.removeAllListeners('close')
      ws.on('error', () => {})
      ws.terminate()
      resolve(r)
    }
    let timer = setTimeout(() => finish('connect timeout 3 s'), 3000)
    ws.on('error', e => finish(e.message))
    ws.on('close', code => finish(`closed (${code})`))
    ws.on('open', () => {
      r.connectMs = Date.now() - t0
      clearTimeout(timer)
      const t1 = Date.now()
      timer = setTimeout(() => finish('no announce response within 3 s'), 3000)
      ws.on('message', data => {
        let m
        try { m = JSON.parse(data) } catch { return }
        if (m.action === 'announce' && m.info_hash === infoHash && m.complete !== undefined) {
          r.announceMs = Date.now() - t1
          r.ok = true
          finish()
        }
      })
      ws.send(JSON.stringify({ action: 'announce', info_hash: infoHash, peer_id: id20('hs-peer-', tag), numwant: 0, uploaded: 0, downloaded: 0, left: 0, event: 'started', offers: [] }))
    })
  })
}

let rounds = 0
async function honestRound (label) {
  // id20 keeps ids at 20 characters only for a short tag: number the rounds
  const round = rounds++
  const rs = await Promise.all(Array.from({ length: HONEST }, (_, i) => honestOnce(`r${round}-${i}`)))
  const ok = rs.filter(r => r.ok).length
  const maxC = Math.max(...rs.map(r => r.connectMs))
  const maxA = Math.max(...rs.map(r => r.announceMs))
  const errs = [...new Set(rs.filter(r => !r.ok).map(r => r.error))]
  console.log(`hostile-sockets: honest ${label}: ${ok}/${HONEST} connected and announced, max connect ${maxC} ms, max announce ${maxA} ms` + (errs.length ? `, errors: ${errs.join(', ')}` : ''))
  check(failures, ok === HONEST, `honest ${label}: ${HONEST - ok}/${HONEST} failed (${errs.join(', ')})`)
}

// ---- hostile sockets ----

const H2C_REQ = 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n'
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')
const SETTINGS_EMPTY = Buffer.from([0, 0, 0, 0x04, 0, 0, 0, 0, 0])
const CONNECT_REQ = 'CONNECT x HTTP/1.1\r\nHost: x\r\n\r\n'

// One raw socket: writes `first` on connect; when `then` is given, writes it once a
// response head (or 500 ms of silence) came, if the socket is still writable.
// Returns its state s; s.done resolves once the socket is closed by the server, or
// WAIT_MS after its last byte (then it is destroyed and counted as left open).
// Fields: statusLine, got (bytes received), tLast (last byte sent), tClose (server close).
function hostile (kind, first, then = null) {
  const s = { kind, statusLine: '', got: Buffer.alloc(0), tConnect: 0, tLast: 0, tClose: 0, error: '', leftOpen: false }
  s.done = new Promise(resolve => {
    const sock = net.connect({ host: '127.0.0.1', port: t.port })
    let watch = null
    let thenTimer = null
    let done = false
    const arm = () => {
      clearTimeout(watch)
      watch = setTimeout(() => { s.leftOpen = true; done = true; clearTimeout(thenTimer); sock.destroy(); resolve(s) }, WAIT_MS)
    }
    const sendThen = () => {
      clearTimeout(thenTimer)
      if (!then || done || sock.destroyed || sock.writableEnded) return
      const b = then
      then = null
      sock.write(b)
      s.tLast = Date.now()
      arm()
    }
    arm() // also bounds a connect that never completes
    sock.on('connect', () => {
      s.tConnect = s.tLast = Date.now()
      sock.write(first)
      arm()
      if (then) thenTimer = setTimeout(sendThen, 500)
    })
    sock.on('data', d => {
      if (s.got.length < 4096) s.got = Buffer.concat([s.got, d]).subarray(0, 4096)
      const txt = s.got.toString('latin1')
      if (!s.statusLine && txt.includes('\r\n')) s.statusLine = txt.slice(0, txt.indexOf('\r\n'))
      if (then && (txt.includes('\r\n\r\n') || !txt.startsWith('HTTP/'))) sendThen()
    })
    sock.on('error', e => { s.error = e.code || e.message })
    sock.on('close', () => {
      if (done) return
      done = true
      clearTimeout(watch)
      clearTimeout(thenTimer)
      s.tClose = Date.now()
      resolve(s)
    })
  })
  return s
}

// Opens n sockets made by make(i) and returns their states once every one got some
// reply, was closed, or failed (bounded: 3 s), so the groups are opened one after
// the other and, when the server answers and closes them, stay under the limit.
async function openGroup (n, make) {
  const socks = Array.from({ length: n }, (_, i) => make(i))
  const deadline = Date.now() + 3000
  while (Date.now() < deadline && socks.some(s => !s.got.length && !s.tClose && !s.error)) await sleep(20)
  return socks
}

function summarize (label, socks, wantStatus) {
  const closed = socks.filter(s => s.tClose)
  const ages = closed.map(s => s.tClose - s.tLast)
  const late = closed.filter(s => s.tClose - s.tLast > CLOSE_WITHIN_MS).length
  const open = socks.filter(s => s.leftOpen).length
  const lines = new Map()
  for (const s of socks) {
    const k = s.statusLine || (s.got.length ? `<${s.got.length} non-HTTP bytes>` : '<nothing>')
    lines.set(k, (lines.get(k) || 0) + 1)
  }
  const min = ages.length ? Math.min(...ages) : NaN
  const max = ages.length ? Math.max(...ages) : NaN
  console.log(`hostile-sockets: ${label}: ${socks.length} sockets, ${closed.length} closed by the server ` +
    (ages.length ? `${(min / 1000).toFixed(2)}..${(max / 1000).toFixed(2)} s after their last byte (${late} later than ${CLOSE_WITHIN_MS / 1000} s), ` : '(none), ') +
    `${open} still open after ${WAIT_MS / 1000} s; responses: ${[...lines].map(([k, v]) => `${v} x ${JSON.stringify(k)}`).join(', ')}`)
  check(failures, open === 0, `${label}: ${open}/${socks.length} sockets still open ${WAIT_MS / 1000} s after their last byte`)
  check(failures, late === 0, `${label}: ${late} sockets closed later than ${CLOSE_WITHIN_MS / 1000} s after their last byte (max ${(max / 1000).toFixed(2)} s)`)
  if (wantStatus) {
    const bad = socks.filter(s => s.statusLine !== wantStatus).length
    check(failures, bad === 0, `${label}: ${bad}/${socks.length} did not get ${JSON.stringify(wantStatus)} (got ${[...lines].map(([k, v]) => `${v} x ${JSON.stringify(k)}`).join(', ')})`)
  }
}

await honestRound('before')

const tAttack = Date.now()
const g1 = await openGroup(150, i => hostile('h2c', H2C_REQ, i % 2 ? PREFACE.subarray(0, 10) : null))
const sMid1 = await tracker.stats(t).catch(e => ({ connections: `? (${e.message})` }))
console.log(`hostile-sockets: 150 h2c upgrades sent; /stats.json connections ${sMid1.connections}, RSS ${mib(rssKiB(pid))}`)
await honestRound('during h2c')
const g2 = await openGroup(100, () => hostile('connect', CONNECT_REQ))
await honestRound('during CONNECT')
const g3 = await openGroup(20, () => hostile('h2-prior-knowledge', Buffer.concat([PREFACE, SETTINGS_EMPTY])))
await honestRound('during h2 prior knowledge')

// every hostile socket resolves by itself: closed, or WAIT_MS after its last byte
const [s1, s2, s3] = [await Promise.all(g1.map(s => s.done)), await Promise.all(g2.map(s => s.done)), await Promise.all(g3.map(s => s.done))]
console.log(`hostile-sockets: 270 hostile sockets done in ${((Date.now() - tAttack) / 1000).toFixed(1)} s`)
summarize('h2c upgrade', s1, 'HTTP/1.1 400 Bad Request')
const s1n = s1.filter((_, i) => i % 2 === 0)
const s1p = s1.filter((_, i) => i % 2 === 1)
console.log(`hostile-sockets: h2c: then nothing ${s1n.filter(s => s.tClose).length}/${s1n.length} closed, then 10 preface bytes ${s1p.filter(s => s.tClose).length}/${s1p.length} closed`)
const got101 = s1.filter(s => /^HTTP\/1\.[01] 101/.test(s.statusLine)).length
check(failures, got101 === 0, `WebSocket-over-h2 path available: ${got101}/${s1.length} h2c upgrades got 101 Switching Protocols`)
summarize('CONNECT', s2, 'HTTP/1.1 405 Method Not Allowed')
summarize('h2 prior knowledge', s3, null)
const h2Frames = s3.filter(s => s.got.length >= 9 && !s.got.toString('latin1').startsWith('HTTP/')).length
console.log(`hostile-sockets: h2 prior knowledge: ${h2Frames}/${s3.length} got binary (HTTP/2 frame) replies`)
await honestRound('after the hostile sockets')

// ---- 300 plain TCP connections that send nothing ----

const PLAIN = 300
const plain = []
const tPlain = Date.now()
const plainPs = Array.from({ length: PLAIN }, () => new Promise(resolve => {
  const s = { tConnect: 0, tClose: 0, error: '', leftOpen: false }
  plain.push(s)
  const sock = net.connect({ host: '127.0.0.1', port: t.port })
  const watch = setTimeout(() => { s.leftOpen = true; sock.destroy(); resolve(s) }, (HS + 8) * 1000)
  sock.on('connect', () => { s.tConnect = Date.now() })
  // read what the server sends (a 503 past --max-connections): a socket that is
  // never read never sees the server's FIN
  sock.on('data', d => { if (!s.reply) s.reply = d.toString('latin1').split('\r\n')[0] })
  sock.on('error', e => { s.error = e.code || e.message })
  sock.on('close', () => { if (!s.leftOpen) { clearTimeout(watch); s.tClose = Date.now(); resolve(s) } })
}))
// wait until every one has connected or been closed (bounded: 3 s)
await Promise.race([(async () => { while (plain.some(s => !s.tConnect && !s.tClose && !s.error)) await sleep(20) })(), sleep(3000)])
const tOpened = Date.now()
const sPlain = await tracker.stats(t).catch(e => ({ connections: `? (${e.message})`, connectionsRefused: '?' }))
console.log(`hostile-sockets: ${PLAIN} plain connections opened in ${((tOpened - tPlain) / 1000).toFixed(1)} s, ` +
  `${plain.filter(s => s.tConnect).length} connected, ${plain.filter(s => s.tClose).length} already closed; ` +
  `/stats.json connections ${sPlain.connections}, connectionsRefused ${sPlain.connectionsRefused}; RSS ${mib(rssKiB(pid))}`)
// an honest client must connect and announce by handshake timeout + 5 s after they opened
const honestDeadline = tOpened + (HS + 5) * 1000
let honestOk = null
let attempts = 0
let lastErr = ''
while (!honestOk && Date.now() < honestDeadline && attempts < 50) {
  attempts++
  const r = await honestOnce(`p${attempts}`)
  if (r.ok && Date.now() <= honestDeadline) honestOk = r
  else if (r.ok) lastErr = 'announced only after the deadline'
  else { lastErr = r.error; await sleep(200) }
}
const honestAt = (Date.now() - tOpened) / 1000
console.log(`hostile-sockets: honest client after ${PLAIN} plain connections: ` +
  (honestOk ? `connected and announced ${honestAt.toFixed(2)} s after they opened (attempt ${attempts})` : `failed ${attempts} attempts within ${HS + 5} s (${lastErr})`))
check(failures, !!honestOk, `honest client could not connect and announce within ${HS + 5} s of ${PLAIN} plain connections (${attempts} attempts, ${lastErr})`)
const plainDone = await Promise.all(plainPs)
const pClosed = plainDone.filter(s => s.tClose)
const pAges = pClosed.filter(s => s.tConnect).map(s => (s.tClose - s.tConnect) / 1000)
const pOpen = plainDone.filter(s => s.leftOpen).length
const p503 = plainDone.filter(s => s.reply === 'HTTP/1.1 503 Service Unavailable').length
console.log(`hostile-sockets: plain: ${p503} got "HTTP/1.1 503 Service Unavailable" (over --max-connections)`)
console.log(`hostile-sockets: plain: ${pClosed.length}/${PLAIN} closed by the server (` +
  `${pAges.length ? `${Math.min(...pAges).toFixed(2)}..${Math.max(...pAges).toFixed(2)} s after connecting` : 'none'}), ${pOpen} still open after ${HS + 8} s`)
check(failures, pOpen === 0, `${pOpen}/${PLAIN} plain connections still open ${HS + 8} s after connecting`)
await honestRound('at the end')

clearInterval(sampler)
const rssEnd = rssKiB(pid)
console.log(`hostile-sockets: tracker RSS start ${mib(rss0)}, peak ${mib(rssPeak)}, end ${mib(rssEnd)} (limit start + 32 MiB)`)
check(failures, rssPeak <= rss0 + 32 * 1024, `tracker peak RSS ${mib(rssPeak)} > start ${mib(rss0)} + 32 MiB`)
check(failures, t.alive(), 'tracker exited during the run')
const stop = await t.stop()
check(failures, stop.code === 0 && !stop.forced, `tracker did not exit cleanly on SIGTERM: ${JSON.stringify(stop)}`)
result('hostile-sockets', failures)
