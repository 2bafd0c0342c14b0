// room.js (web/room.js, served by the tracker at /room.js) and the /demo chat in
// headless Debian Chromium, inside the suite's network namespace (only `lo`):
//   (a) two pages chat over a WebRTC data channel through the tracker;
//   (b) two pages whose RTCPeerConnection never connects (a page-level stub)
//       still chat, over the tracker's relay, and a raw observer in the room
//       sees only ciphertext;
//   (c) a third page joining late lists both;
//   (d) two pages forced to iceTransportPolicy "relay" connect through a real
//       coturn on 127.0.0.1, with credentials from the tracker ("turn": true);
//   and a screenshot of /demo with two peers and their messages.
// Pages are served by the tracker itself (GET /demo), so room.js comes from
// the binary. Skipped against the reference server, which has no /room.js.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { startTracker, httpGet, isReference, scaled, waitFor, randomHex, E2E_ROOT, REPO_ROOT } from './lib/tracker.mjs'
import { connect, announce, latin1 } from './lib/wsclient.mjs'
import { launchChromium } from './lib/browser.mjs'
import { startCoturn } from './lib/coturn.mjs'

const skip = isReference() ? 'the reference server does not serve room.js' : false
const ARTIFACTS = process.env.E2E_ARTIFACTS || path.join(E2E_ROOT, 'artifacts')

// A page-level stub: an RTCPeerConnection whose data channel never opens.
const STUB_RTC = `(() => {
  class Channel { constructor () { this.readyState = 'connecting' } send () { throw new Error('not open') } close () {} }
  window.RTCPeerConnection = class {
    constructor () { this.iceGatheringState = 'complete'; this.localDescription = null }
    createDataChannel () { return new Channel() }
    async createOffer () { return { type: 'offer', sdp: 'v=0 stub offer' } }
    async createAnswer () { return { type: 'answer', sdp: 'v=0 stub answer' } }
    async setLocalDescription (d) { this.localDescription = d }
    async setRemoteDescription () {}
    addEventListener () {}
    close () {}
  }
})()`

async function setup (t, { args = [], env = {}, stub = false } = {}) {
  const tracker = await startTracker({ args, env })
  t.after(() => tracker.stop())
  const browser = await launchChromium({ webrtcOrigins: [tracker.httpUrl], timeoutMs: scaled(60_000) })
  t.after(() => browser.close())
  const logs = []
  const open = async (name) => {
    const page = await browser.context.newPage()
    page.on('console', (m) => logs.push(`[${name}] ${m.type()}: ${m.text()}`))
    page.on('pageerror', (e) => logs.push(`[${name}] pageerror: ${e.message}`))
    if (stub) await page.addInitScript(STUB_RTC)
    await page.goto(`${tracker.httpUrl}/demo`, { waitUntil: 'load' })
    return page
  }
  const diag = () => `console:\n${logs.slice(-40).join('\n')}\ntracker stderr:\n${tracker.stderr().split('\n').slice(-15).join('\n')}`
  return { tracker, browser, open, diag }
}

// Join from page context through the module the tracker serves; messages and
// errors are collected in window.got / window.errors.
async function join (page, url, room, opts = {}) {
  return page.evaluate(async ([url, room, opts]) => {
    const { joinRoom } = await import('/room.js')
    window.got = []
    window.errors = []
    window.r = await joinRoom(url, room, opts)
    window.r.on('message', (m) => window.got.push(m))
    window.r.on('error', (e) => window.errors.push(e.message))
    return window.r.peerId
  }, [url, room, opts])
}

const peersOf = (page) => page.evaluate(() => window.r.peers())
const gotOf = (page) => page.evaluate(() => window.got)

async function waitVia (page, peerId, via, ms, what) {
  await waitFor(async () => (await peersOf(page)).some((p) => p.peerId === peerId && p.via === via),
    { timeoutMs: ms, message: what })
}

test('GET /room.js and GET /demo serve web/ as built into the binary', { skip, timeout: scaled(20_000) }, async (t) => {
  const tracker = await startTracker()
  t.after(() => tracker.stop())
  const js = await httpGet(tracker.url, '/room.js')
  assert.equal(js.status, 200)
  assert.match(js.headers['content-type'], /^text\/javascript/)
  assert.equal(js.headers['access-control-allow-origin'], '*') // importable from any origin
  assert.equal(js.body, await readFile(path.join(REPO_ROOT, 'web', 'room.js'), 'utf8'))
  const demo = await httpGet(tracker.url, '/demo')
  assert.equal(demo.status, 200)
  assert.match(demo.headers['content-type'], /^text\/html/)
  assert.equal(demo.body, await readFile(path.join(REPO_ROOT, 'web', 'demo.html'), 'utf8'))
})

test('(a) two pages chat over a WebRTC data channel; (c) a third page joining late lists both', { skip, timeout: scaled(120_000) }, async (t) => {
  const { tracker, open, diag } = await setup(t)
  const room = `room-${randomHex(6)}`
  const [a, b] = [await open('a'), await open('b')]
  const ida = await join(a, tracker.url, room, { passphrase: 'pw' })
  const idb = await join(b, tracker.url, room, { passphrase: 'pw' })
  assert.notEqual(ida, idb)
  assert.match(ida, /^[0-9a-f]{40}$/)
  try {
    await waitVia(a, idb, 'direct', scaled(30_000), 'a sees b direct')
    await waitVia(b, ida, 'direct', scaled(30_000), 'b sees a direct')
  } catch (e) { throw new Error(`${e.message}\n${diag()}`) }
  await a.evaluate(() => window.r.send('hello over webrtc ✓'))
  await b.evaluate((id) => window.r.sendTo(id, 'reply to a only'), ida)
  await waitFor(async () => (await gotOf(b)).length > 0 && (await gotOf(a)).length > 0,
    { timeoutMs: scaled(10_000), message: 'both messages' })
  const [ga, gb] = [await gotOf(a), await gotOf(b)]
  assert.deepEqual(gb, [{ from: ida, text: 'hello over webrtc ✓', via: 'direct', broadcast: true }])
  assert.deepEqual(ga, [{ from: idb, text: 'reply to a only', via: 'direct', broadcast: false }])
  const st = await (await httpGet(tracker.url, '/stats.json')).body
  assert.equal(JSON.parse(st).peersAll, 2)

  // (c) A third page joins late: the tracker's list names both at once.
  const c = await open('c')
  const idc = await join(c, tracker.url, room, { passphrase: 'pw' })
  const listed = (await peersOf(c)).map((p) => p.peerId).sort()
  assert.deepEqual(listed, [ida, idb].sort())
  await waitVia(c, ida, 'direct', scaled(30_000), 'c sees a direct')
  await waitVia(c, idb, 'direct', scaled(30_000), 'c sees b direct')
  await c.evaluate(() => window.r.send('late hello'))
  await waitFor(async () => (await gotOf(a)).length === 2 && (await gotOf(b)).length === 2,
    { timeoutMs: scaled(10_000), message: 'a and b get c\'s broadcast' })
  assert.deepEqual((await gotOf(a))[1], { from: idc, text: 'late hello', via: 'direct', broadcast: true })
})

test('(b) pages whose WebRTC never connects chat over the relay; an observer sees only ciphertext', { skip, timeout: scaled(120_000) }, async (t) => {
  const { tracker, open, diag } = await setup(t, { stub: true })
  const room = `relay-room-${randomHex(6)}`
  // The observer: a raw WebSocket client in the same room (info_hash = SHA-1 of
  // the name), on the tracker side of the relay: it receives every broadcast.
  const obs = await connect(tracker.url)
  t.after(() => obs.terminate())
  const ih = latin1(createHash('sha1').update(room).digest())
  await announce(obs, { info_hash: ih, peer_id: latin1(randomBytes(20)) })
  const [a, b] = [await open('a'), await open('b')]
  const ida = await join(a, tracker.url, room, { passphrase: 'secret pass', fallbackMs: 3000 })
  const idb = await join(b, tracker.url, room, { passphrase: 'secret pass', fallbackMs: 3000 })
  try {
    await waitVia(a, idb, 'relay', scaled(20_000), 'a falls back to the relay for b')
    await waitVia(b, ida, 'relay', scaled(20_000), 'b falls back to the relay for a')
  } catch (e) { throw new Error(`${e.message}\n${diag()}`) }
  const secret = `top secret ${randomHex(8)}`
  await a.evaluate((s) => window.r.send(s), secret)
  await b.evaluate(([id, s]) => window.r.sendTo(id, s + ' back'), [ida, secret])
  await waitFor(async () => (await gotOf(b)).length > 0 && (await gotOf(a)).length > 0,
    { timeoutMs: scaled(10_000), message: 'both messages over the relay' })
  assert.deepEqual(await gotOf(b), [{ from: ida, text: secret, via: 'relay', broadcast: true }])
  assert.deepEqual(await gotOf(a), [{ from: idb, text: secret + ' back', via: 'relay', broadcast: false }])

  // The observer got the hellos and the broadcast (not the directed relays):
  // each is {action: relay} with data that is base64 ciphertext, never the text.
  const frames = obs.queue.splice(0).map((m) => m.json).filter((j) => j && j.action === 'relay')
  assert.ok(frames.length >= 1, 'the observer saw no relay')
  for (const f of frames) {
    assert.match(f.data, /^k[A-Za-z0-9+/]+=*$/, `relay data is not sealed: ${f.data.slice(0, 80)}`)
    assert.ok(!Buffer.from(f.data.slice(1), 'base64').toString('latin1').includes('top secret'))
    assert.ok(!f.data.includes('secret'), 'plaintext in a relay')
  }
  const s = JSON.parse((await httpGet(tracker.url, '/stats.json')).body)
  assert.ok(s.relays >= 2 && s.relaysRefused === 0, JSON.stringify(s))
})

test('(d) iceTransportPolicy relay: two pages connect through a real coturn with the tracker\'s credentials', { skip, timeout: scaled(120_000) }, async (t) => {
  const secret = 'e2e-' + randomBytes(12).toString('hex')
  const port = 20000 + Math.floor(Math.random() * 20000)
  const coturnLog = await startCoturn(t, port, secret, { verbose: true })
  const { tracker, open, diag } = await setup(t, {
    args: ['--turn-url', `turn:127.0.0.1:${port}?transport=udp`],
    env: { WSTRACKER_TURN_SECRET: secret }
  })
  const room = `turn-room-${randomHex(6)}`
  const [a, b] = [await open('a'), await open('b')]
  const opts = { turn: true, iceTransportPolicy: 'relay', fallbackMs: scaled(30_000) }
  const ida = await join(a, tracker.url, room, opts)
  const idb = await join(b, tracker.url, room, opts)
  try {
    await waitVia(a, idb, 'direct', scaled(40_000), 'a reaches b through TURN')
    await waitVia(b, ida, 'direct', scaled(40_000), 'b reaches a through TURN')
  } catch (e) { throw new Error(`${e.message}\n${diag()}\ncoturn:\n${coturnLog().slice(-1500)}`) }
  // The data channel's selected candidate pair is a TURN relay on both ends.
  const types = await a.evaluate(async () => {
    const p = [...window.r.peers_.values()][0]
    const st = await p.pc.getStats()
    const out = []
    st.forEach((r) => {
      if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') {
        out.push([st.get(r.localCandidateId).candidateType, st.get(r.remoteCandidateId).candidateType])
      }
    })
    return out
  })
  assert.ok(types.length >= 1, 'no succeeded candidate pair')
  for (const [l, r] of types) assert.deepEqual([l, r], ['relay', 'relay'])
  await a.evaluate(() => window.r.send('through turn'))
  await waitFor(async () => (await gotOf(b)).length > 0, { timeoutMs: scaled(10_000), message: 'message through TURN' })
  assert.deepEqual(await gotOf(b), [{ from: ida, text: 'through turn', via: 'direct', broadcast: true }])
  // coturn's own word that it authenticated and relayed for these credentials.
  const sessions = coturnLog().split('\n').filter((l) => /ALLOCATE processed, success/.test(l))
  assert.ok(sessions.length >= 2, `coturn allocated for ${sessions.length} of 2 pages:\n${coturnLog().slice(-1500)}`)
  for (const id of [ida, idb]) {
    assert.ok(sessions.some((l) => l.includes(`:${id}>`)), `no allocation for ${id}'s credential`)
  }
  t.diagnostic(sessions.slice(0, 2).join(' | '))
})

test('/demo: two peers chat, the screenshot shows both peers and their messages', { skip, timeout: scaled(120_000) }, async (t) => {
  const { tracker, open, diag } = await setup(t)
  const room = `demo-${randomHex(4)}`
  const pages = [await open('alice'), await open('bob')]
  const nicks = ['alice', 'bob']
  for (let k = 0; k < 2; k++) {
    await pages[k].fill('#room', room)
    await pages[k].fill('#nick', nicks[k])
    await pages[k].click('#joinbtn')
    await pages[k].waitForSelector('#text:not([disabled])', { timeout: scaled(10_000) })
  }
  try {
    for (const p of pages) await p.waitForSelector('#peers li .via.direct', { timeout: scaled(30_000) })
  } catch (e) { throw new Error(`${e.message}\n${diag()}`) }
  await pages[0].fill('#text', 'hi bob, alice here')
  await pages[0].click('#send')
  await pages[1].waitForSelector('#log li:has-text("hi bob, alice here")', { timeout: scaled(10_000) })
  await pages[1].fill('#text', 'hello alice!')
  await pages[1].click('#send')
  await pages[0].waitForSelector('#log li:has-text("hello alice!")', { timeout: scaled(10_000) })
  // The peer list names the other by nickname once a message came in.
  await pages[0].waitForSelector('#peers li:has-text("bob")', { timeout: scaled(5_000) })
  await mkdir(ARTIFACTS, { recursive: true })
  for (let k = 0; k < 2; k++) {
    const text = await pages[k].textContent('main')
    assert.ok(text.includes('hi bob, alice here') && text.includes('hello alice!'), text)
    assert.equal(await pages[k].locator('#peers li').count(), 1)
    const png = await pages[k].screenshot({ fullPage: true })
    assert.equal(png.subarray(1, 4).toString(), 'PNG')
    assert.ok(png.length > 10_000, `screenshot of ${png.length} bytes`)
    await writeFile(path.join(ARTIFACTS, `demo-${nicks[k]}.png`), png)
  }
})
