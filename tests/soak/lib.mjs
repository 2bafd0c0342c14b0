// Shared helpers of the soak tests (tests/soak/*.mjs).
// The tracker process is started through tests/e2e/lib/tracker.mjs (startTracker,
// stats, waitFor): the same contract as the e2e suite.
//
//   rssKiB(pid)            VmRSS of a process, KiB (from /proc/PID/status)
//   mib(kib)               KiB -> "12.3 MiB"
//   sleep(ms)
//   result(name, failures) prints `soak NAME: ok` or `soak NAME: FAILED: ...`, exits 0/1
//   check(failures, cond, msg)  collects a failure when cond is false
//   openWs(url, opts)      ws client, resolves when open (rejects on error / timeout)
//   jsonClient(url, {tag, take})  an open ws client keeping every JSON message:
//                          c.msgs (waiting), c.all (every one), c.send(obj),
//                          c.wait(pred, ms) -> first waiting message matching pred
//                          (removed), or null after ms / once closed; c.close();
//                          take(m, c) true: the message is counted by the caller
//                          and not kept in c.msgs
//   id20(prefix, n)        deterministic 20-char ASCII id: prefix, '_' padding, n
//   randId()               random 20-byte Latin-1 id
//   isFull                 --full given on the command line

import { readFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const SOAK_ROOT = path.dirname(fileURLToPath(import.meta.url))
const require = createRequire(path.join(SOAK_ROOT, '..', 'e2e', 'package.json'))
export const WebSocket = require('ws')
export const tracker = await import('../e2e/lib/tracker.mjs')
export const isFull = process.argv.includes('--full')

export function rssKiB (pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : NaN
  } catch { return NaN }
}

export const mib = kib => `${(kib / 1024).toFixed(1)} MiB`
export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

export function check (failures, cond, msg) {
  if (!cond) failures.push(msg)
  return cond
}

export function result (name, failures) {
  if (failures.length === 0) {
    console.log(`soak ${name}: ok`)
    process.exitCode = 0
  } else {
    console.log(`soak ${name}: FAILED: ${failures.join('; ')}`)
    process.exitCode = 1
  }
}

export async function jsonClient (url, { tag, take } = {}) {
  const ws = await openWs(url)
  const c = { tag, ws, msgs: [], all: [], closed: false, closeCode: 0, offers: 0, waiters: new Set() }
  const poke = () => { for (const w of [...c.waiters]) w() }
  ws.on('message', d => {
    let m
    try { m = JSON.parse(d) } catch { return }
    c.all.push(m)
    if (!(take && take(m, c))) c.msgs.push(m)
    poke()
  })
  ws.on('close', code => { c.closed = true; c.closeCode = code; poke() })
  ws.on('error', () => {})
  c.send = o => ws.send(JSON.stringify(o))
  c.wait = (pred, ms) => new Promise(resolve => {
    let timer = null
    const finish = v => { clearTimeout(timer); c.waiters.delete(look); resolve(v) }
    const look = () => {
      const i = c.msgs.findIndex(pred)
      if (i >= 0) finish(c.msgs.splice(i, 1)[0])
      else if (c.closed) finish(null)
    }
    timer = setTimeout(() => finish(null), ms)
    c.waiters.add(look)
    look()
  })
  c.close = async () => {
    if (c.closed) return
    const done = new Promise(resolve => ws.once('close', resolve))
    ws.close(1000)
    await Promise.race([done, sleep(3000)])
    if (!c.closed) ws.terminate()
  }
  return c
}

export function openWs (url, { timeoutMs = 5000, ...opts } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...opts })
    const t = setTimeout(() => { ws.terminate(); reject(new Error('connect timeout')) }, timeoutMs)
    ws.once('open', () => { clearTimeout(t); resolve(ws) })
    ws.once('error', err => { clearTimeout(t); reject(err) })
  })
}

export function id20 (prefix, n) {
  const num = String(n)
  return (prefix + '_'.repeat(20)).slice(0, 20 - num.length) + num
}

export const randId = () => randomBytes(20).toString('latin1')

// A short Chrome-shaped SDP (for offers); size ~ n bytes.
export function fakeSdp (n = 400) {
  const head = 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n' +
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\n'
  let s = head
  while (s.length < n) s += 'a=candidate:1 1 udp 2122260223 127.0.0.1 54321 typ host\r\n'
  return s.slice(0, n)
}

// An honest client: announces into its own swarm every `everyMs`, measures the
// latency of each announce response. stop() -> {sent, replies, maxLatencyMs, lateOrMissing, closed}
export async function honestClient (url, { everyMs = 200, timeoutMs = 3000, tag = 'h' } = {}) {
  const ws = await openWs(url)
  const infoHash = id20('honest-swarm-', tag)
  const peerId = id20('honest-peer-', tag)
  const pending = []
  const st = { sent: 0, replies: 0, maxLatencyMs: 0, lateOrMissing: 0, closed: false, closeCode: 0 }
  ws.on('message', data => {
    let m
    try { m = JSON.parse(data) } catch { return }
    if (m.action === 'announce' && m.complete !== undefined && m.info_hash === infoHash) {
      const t0 = pending.shift()
      if (t0 !== undefined) {
        const lat = Date.now() - t0
        st.replies++
        if (lat > st.maxLatencyMs) st.maxLatencyMs = lat
        if (lat > timeoutMs) st.lateOrMissing++
      }
    }
  })
  ws.on('close', code => { st.closed = true; st.closeCode = code })
  ws.on('error', () => {})
  const timer = setInterval(() => {
    if (ws.readyState !== WebSocket.OPEN) return
    pending.push(Date.now())
    st.sent++
    ws.send(JSON.stringify({ action: 'announce', info_hash: infoHash, peer_id: peerId, event: 'started', left: 10, numwant: 5, offers: [] }))
  }, everyMs)
  return {
    ws,
    async stop () {
      clearInterval(timer)
      const deadline = Date.now() + timeoutMs
      while (pending.length && Date.now() < deadline && !st.closed) await sleep(20)
      st.lateOrMissing += pending.length
      const snapshot = { ...st }
      ws.terminate()
      return snapshot
    }
  }
}
