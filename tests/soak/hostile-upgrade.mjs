// soak hostile-upgrade (issue 9, item 7): protocol hygiene of the HTTP upgrade and of
// WebSocket close frames, against a tracker with --threads 1. Each request on its own
// raw TCP socket, with a Host header and a valid Sec-WebSocket-Key:
//   1. upgrade with Sec-WebSocket-Version: 8      -> HTTP/1.1 426 + `Sec-WebSocket-Version: 13`
//   2. upgrade sent as GET / HTTP/1.0             -> HTTP/1.1 400, then the server closes
//   3. upgrade sent as POST / HTTP/1.1 (CL 0)     -> HTTP/1.1 405, then the server closes
//   4. POST /stats.json (body `{}`)               -> 405 with an Allow header containing GET
//   5. GET /health -> 200 `ok`; GET /stats.json -> 200 JSON (unchanged)
//   6. `ws` clients offering subprotocols 'chat' / ['foo', 'bar'] open, with protocol
//      'chat' / 'foo', and their announces are answered
//   7. close frames sent on a raw upgraded socket: code 5000 (invalid, RFC 6455 7.4) and
//      a 1-byte payload -> the server answers close 1002 or drops the TCP connection,
//      never echoing the bad payload; code 1000 is still echoed as 1000
//   8. every answer of 1-4 within 3 s; an honest announce afterwards still works
//
//   node tests/soak/hostile-upgrade.mjs

import net from 'node:net'
import { tracker, rssKiB, mib, sleep, check, result, WebSocket, id20 } from './lib.mjs'

const failures = []
const KEY = 'dGhlIHNhbXBsZSBub25jZQ=='
const WITHIN_MS = 3000
const t = await tracker.startTracker({ args: ['--threads', '1'] })
const pid = t.proc.pid
const rss0 = rssKiB(pid)
const HOST = `127.0.0.1:${t.port}`
console.log(`hostile-upgrade: --threads 1, RSS at start ${mib(rss0)}`)

// ---- raw HTTP ----

// Sends `req` on a new socket. Resolves with {statusLine, headers (lower-case names),
// body, respMs, closeMs, error}: respMs when the response head arrived (-1: none within
// WITHIN_MS), closeMs when the server closed (-1: not within WITHIN_MS after the
// response, or after the request when no response came; the socket is then destroyed).
// Without waitClose it resolves as soon as the response is complete (Content-Length).
function rawHttp (req, { waitClose = false } = {}) {
  return new Promise(resolve => {
    const r = { statusLine: '', headers: {}, body: '', respMs: -1, closeMs: -1, error: '' }
    const sock = net.connect({ host: '127.0.0.1', port: t.port })
    let t0 = Date.now()
    let buf = Buffer.alloc(0)
    let headEnd = -1
    let done = false
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      sock.destroy()
      resolve(r)
    }
    let timer = setTimeout(finish, WITHIN_MS + 1000) // connect + request
    sock.on('connect', () => {
      t0 = Date.now()
      clearTimeout(timer)
      timer = setTimeout(finish, WITHIN_MS)
      sock.write(req)
    })
    sock.on('data', d => {
      buf = Buffer.concat([buf, d])
      if (headEnd < 0) {
        headEnd = buf.indexOf('\r\n\r\n')
        if (headEnd < 0) return
        r.respMs = Date.now() - t0
        const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n')
        r.statusLine = lines[0]
        for (const l of lines.slice(1)) {
          const c = l.indexOf(':')
          if (c > 0) {
            const k = l.slice(0, c).trim().toLowerCase()
            r.headers[k] = r.headers[k] ? `${r.headers[k]}, ${l.slice(c + 1).trim()}` : l.slice(c + 1).trim()
          }
        }
        if (waitClose) {
          clearTimeout(timer)
          timer = setTimeout(finish, WITHIN_MS) // how long the close is waited for
        }
      }
      r.body = buf.subarray(headEnd + 4).toString('latin1')
      const cl = Number(r.headers['content-length'])
      if (!waitClose && Number.isFinite(cl) && Buffer.byteLength(r.body, 'latin1') >= cl) finish()
    })
    sock.on('error', e => { r.error = e.code || e.message })
    sock.on('close', () => { r.closeMs = Date.now() - t0; finish() })
  })
}

const upgradeHead = (requestLine, version = 13, extra = '') =>
  `${requestLine}\r\nHost: ${HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: ${version}\r\n${extra}\r\n`

const show = r => `${JSON.stringify(r.statusLine || '<no response>')}` +
  ` (response ${r.respMs >= 0 ? `${r.respMs} ms` : 'none'}, close ${r.closeMs >= 0 ? `${r.closeMs} ms` : 'none'}${r.error ? `, ${r.error}` : ''})`

// 1. Sec-WebSocket-Version: 8
{
  const r = await rawHttp(upgradeHead('GET / HTTP/1.1', 8))
  const v = r.headers['sec-websocket-version']
  console.log(`hostile-upgrade: 1. Sec-WebSocket-Version 8: ${show(r)}, Sec-WebSocket-Version header ${JSON.stringify(v ?? null)}`)
  check(failures, /^HTTP\/1\.1 426\b/.test(r.statusLine), `1. version 8 upgrade: got ${show(r)}, want HTTP/1.1 426`)
  check(failures, v !== undefined && v.split(',').map(x => x.trim()).includes('13'), `1. version 8 upgrade: Sec-WebSocket-Version response header ${JSON.stringify(v ?? null)}, want 13`)
  check(failures, r.respMs >= 0 || r.closeMs >= 0, '1. version 8 upgrade: neither answered nor closed within 3 s')
}

// 2. GET / HTTP/1.0 upgrade
{
  const r = await rawHttp(upgradeHead('GET / HTTP/1.0'), { waitClose: true })
  console.log(`hostile-upgrade: 2. HTTP/1.0 upgrade: ${show(r)}`)
  check(failures, /^HTTP\/1\.1 400\b/.test(r.statusLine), `2. HTTP/1.0 upgrade: got ${show(r)}, want HTTP/1.1 400`)
  check(failures, r.closeMs >= 0, `2. HTTP/1.0 upgrade: the server did not close within 3 s of its answer (${show(r)})`)
}

// 3. POST / HTTP/1.1 upgrade
{
  const r = await rawHttp(upgradeHead('POST / HTTP/1.1', 13, 'Content-Length: 0\r\n'), { waitClose: true })
  console.log(`hostile-upgrade: 3. POST upgrade: ${show(r)}`)
  check(failures, /^HTTP\/1\.1 405\b/.test(r.statusLine), `3. POST upgrade: got ${show(r)}, want HTTP/1.1 405`)
  check(failures, r.closeMs >= 0, `3. POST upgrade: the server did not close within 3 s of its answer (${show(r)})`)
}

// 4. POST /stats.json
{
  const r = await rawHttp(`POST /stats.json HTTP/1.1\r\nHost: ${HOST}\r\nSec-WebSocket-Key: ${KEY}\r\n` +
    'Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}')
  const allow = r.headers.allow
  console.log(`hostile-upgrade: 4. POST /stats.json: ${show(r)}, Allow ${JSON.stringify(allow ?? null)}`)
  check(failures, /^HTTP\/1\.[01] 405\b/.test(r.statusLine), `4. POST /stats.json: got ${show(r)}, want 405`)
  check(failures, allow !== undefined && /\bGET\b/.test(allow), `4. POST /stats.json: Allow header ${JSON.stringify(allow ?? null)}, want one containing GET`)
  check(failures, r.respMs >= 0 || r.closeMs >= 0, '4. POST /stats.json: neither answered nor closed within 3 s')
}

// 5. the GET endpoints still work
{
  const h = await tracker.httpGet(t, '/health', { timeoutMs: WITHIN_MS }).catch(e => ({ status: e.message, body: '' }))
  const s = await tracker.httpGet(t, '/stats.json', { timeoutMs: WITHIN_MS }).catch(e => ({ status: e.message, body: '' }))
  let json = null
  try { json = JSON.parse(s.body) } catch {}
  console.log(`hostile-upgrade: 5. GET /health ${h.status} ${JSON.stringify(h.body.slice(0, 40))}, GET /stats.json ${s.status} ${json ? 'JSON' : JSON.stringify(s.body.slice(0, 40))}`)
  check(failures, h.status === 200 && h.body.trim() === 'ok', `5. GET /health: ${h.status} ${JSON.stringify(h.body.slice(0, 40))}, want 200 ok`)
  check(failures, s.status === 200 && json && typeof json === 'object', `5. GET /stats.json: ${s.status}, want 200 JSON`)
}

// ---- WebSocket clients ----

// Opens a `ws` client offering `protocols`; resolves {ws, protocol, ms} or {error}.
function openWithProtocols (protocols) {
  return new Promise(resolve => {
    const t0 = Date.now()
    const ws = new WebSocket(t.url, protocols, { perMessageDeflate: false })
    let done = false
    const finish = r => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (r.error) { ws.removeAllListeners(); ws.on('error', () => {}); ws.terminate() }
      resolve(r)
    }
    const timer = setTimeout(() => finish({ error: 'no open within 3 s' }), WITHIN_MS)
    ws.on('unexpected-response', (req, res) => finish({ error: `HTTP ${res.statusCode} instead of 101` }))
    ws.on('error', e => finish({ error: e.message }))
    ws.on('close', code => finish({ error: `closed (${code}) before open` }))
    ws.on('open', () => { ws.removeAllListeners('close'); finish({ ws, protocol: ws.protocol, ms: Date.now() - t0 }) })
  })
}

// One announce on an open ws; resolves the response latency in ms, or -1 (none within 3 s).
function announce (ws, tag) {
  return new Promise(resolve => {
    const infoHash = id20('hu-swarm-', tag)
    const t0 = Date.now()
    const timer = setTimeout(() => { ws.off('message', onMsg); resolve(-1) }, WITHIN_MS)
    function onMsg (data) {
      let m
      try { m = JSON.parse(data) } catch { return }
      if (m.action === 'announce' && m.info_hash === infoHash && m.complete !== undefined) {
        clearTimeout(timer)
        ws.off('message', onMsg)
        resolve(Date.now() - t0)
      }
    }
    ws.on('message', onMsg)
    ws.on('error', () => {})
    ws.send(JSON.stringify({ action: 'announce', info_hash: infoHash, peer_id: id20('hu-peer-', tag), numwant: 0, uploaded: 0, downloaded: 0, left: 0, event: 'started', offers: [] }))
  })
}

// 6. subprotocols
for (const [protocols, want] of [['chat', 'chat'], [['foo', 'bar'], 'foo']]) {
  const label = `6. subprotocols ${JSON.stringify(protocols)}`
  const o = await openWithProtocols(protocols)
  if (o.error) {
    console.log(`hostile-upgrade: ${label}: did not open: ${o.error}`)
    check(failures, false, `${label}: did not open (${o.error})`)
    continue
  }
  const lat = await announce(o.ws, `proto-${want}`)
  console.log(`hostile-upgrade: ${label}: open in ${o.ms} ms, protocol ${JSON.stringify(o.protocol)}, announce ${lat >= 0 ? `${lat} ms` : 'no response within 3 s'}`)
  check(failures, o.protocol === want, `${label}: protocol ${JSON.stringify(o.protocol)}, want ${JSON.stringify(want)}`)
  check(failures, lat >= 0, `${label}: no announce response within 3 s`)
  o.ws.terminate()
}

// 7. close frames on a raw upgraded socket

function maskedFrame (opcode, payload) {
  const mask = Buffer.from([0x37, 0xfa, 0x21, 0x3d])
  const body = Buffer.from(payload)
  for (let i = 0; i < body.length; i++) body[i] ^= mask[i % 4]
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | body.length]), mask, body])
}

// Upgrades a raw socket, sends `payload` as a close frame, watches the server for 3 s
// (or until it closes the TCP connection). Resolves {upgraded, closeFrames: [{code, len}],
// tcpClosedMs, error}.
function rawClose (payload) {
  return new Promise(resolve => {
    const r = { upgraded: false, status: '', closeFrames: [], otherFrames: 0, tcpClosedMs: -1, error: '' }
    const sock = net.connect({ host: '127.0.0.1', port: t.port })
    let buf = Buffer.alloc(0)
    let t0 = 0
    let done = false
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      sock.destroy()
      resolve(r)
    }
    let timer = setTimeout(finish, WITHIN_MS + 1000) // connect + upgrade
    sock.on('connect', () => sock.write(upgradeHead('GET / HTTP/1.1')))
    sock.on('data', d => {
      buf = Buffer.concat([buf, d])
      if (!r.upgraded) {
        const e = buf.indexOf('\r\n\r\n')
        if (e < 0) return
        r.status = buf.subarray(0, buf.indexOf('\r\n')).toString('latin1')
        buf = buf.subarray(e + 4)
        if (!/^HTTP\/1\.1 101\b/.test(r.status)) { finish(); return }
        r.upgraded = true
        t0 = Date.now()
        sock.write(maskedFrame(0x8, payload))
        clearTimeout(timer)
        timer = setTimeout(finish, WITHIN_MS) // how long the server's answer is watched
      }
      // server frames are unmasked; close payloads are <= 125 bytes
      for (let k = 0; k < 100 && buf.length >= 2; k++) {
        let len = buf[1] & 0x7f
        let off = 2
        if (len === 126) { if (buf.length < 4) break; len = buf.readUInt16BE(2); off = 4 }
        if (len === 127) { if (buf.length < 10) break; len = Number(buf.readBigUInt64BE(2)); off = 10 }
        if (buf.length < off + len) break
        const op = buf[0] & 0x0f
        const p = buf.subarray(off, off + len)
        if (op === 0x8) r.closeFrames.push({ code: p.length >= 2 ? p.readUInt16BE(0) : null, len: p.length })
        else r.otherFrames++
        buf = buf.subarray(off + len)
      }
    })
    sock.on('error', e => { r.error = e.code || e.message })
    sock.on('close', () => { if (r.upgraded) r.tcpClosedMs = Date.now() - t0; finish() })
  })
}

const showClose = r => `upgrade ${JSON.stringify(r.status)}, close frames from the server ` +
  `${r.closeFrames.length ? r.closeFrames.map(f => `${f.code ?? 'no code'} (${f.len}-byte payload)`).join(', ') : 'none'}, ` +
  `TCP ${r.tcpClosedMs >= 0 ? `closed after ${r.tcpClosedMs} ms` : 'still open after 3 s'}${r.error ? `, ${r.error}` : ''}`

for (const [label, payload, badLen] of [
  ['7. close code 5000', Buffer.from([0x13, 0x88]), 2],
  ['7. 1-byte close payload', Buffer.from([0x03]), 1]
]) {
  const r = await rawClose(payload)
  console.log(`hostile-upgrade: ${label}: ${showClose(r)}`)
  const echoed = r.closeFrames.some(f => badLen === 1 ? f.len === 1 : f.code === 5000)
  const ok1002 = r.closeFrames.length > 0 && r.closeFrames.every(f => f.code === 1002)
  const dropped = r.closeFrames.length === 0 && r.tcpClosedMs >= 0
  check(failures, r.upgraded, `${label}: upgrade failed (${r.status || r.error})`)
  check(failures, !echoed, `${label}: the server echoed the invalid close payload (${showClose(r)})`)
  check(failures, !r.upgraded || echoed || ok1002 || dropped, `${label}: want a close 1002 or a TCP close within 3 s (${showClose(r)})`)
}
{
  const r = await rawClose(Buffer.from([0x03, 0xe8]))
  console.log(`hostile-upgrade: 7. close code 1000 (sanity): ${showClose(r)}`)
  check(failures, r.upgraded && r.closeFrames.length === 1 && r.closeFrames[0].code === 1000, `7. close code 1000: want it echoed as 1000 (${showClose(r)})`)
}

// 8. an honest announce after all of it
{
  const o = await openWithProtocols([])
  const lat = o.error ? -1 : await announce(o.ws, 'honest-end')
  console.log(`hostile-upgrade: 8. honest client at the end: ${o.error ? `did not open: ${o.error}` : `open in ${o.ms} ms, announce ${lat >= 0 ? `${lat} ms` : 'no response within 3 s'}`}`)
  check(failures, !o.error && lat >= 0, `8. honest announce at the end failed (${o.error || 'no response within 3 s'})`)
  if (o.ws) o.ws.terminate()
}

await sleep(100) // lets the closes register; the connection count below is only printed
const sEnd = await tracker.stats(t).catch(() => null)
console.log(`hostile-upgrade: /stats.json connections ${sEnd ? sEnd.connections : '?'} at the end; tracker RSS start ${mib(rss0)}, end ${mib(rssKiB(pid))}`)
check(failures, t.proc.exitCode === null, 'tracker exited during the run')
const stop = await t.stop()
check(failures, stop.code === 0 && !stop.forced, `tracker did not exit cleanly on SIGTERM: ${JSON.stringify(stop)}`)
result('hostile-upgrade', failures)
