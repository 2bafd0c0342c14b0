// The stats routes (proto/PROTOCOL.md section 8):
//   (a) /stats.json's bittorrent-tracker "clients" breakdown, compared with what
//       npm bittorrent-tracker's own Server (lib/reference-server.mjs) reports
//       for the same announces;
//   (b) GET /stats with no Accept: HTML holding bittorrent-tracker's summary
//       lines with the right numbers (and the same lines as the reference's
//       /stats); with Accept: application/json: the JSON; /stats/history.json
//       grows one sample per --stats-interval;
//   (c) the page in headless Debian Chromium under a small bounded load: its
//       charts fill, its numbers match /stats.json; a screenshot goes to
//       $E2E_ARTIFACTS/stats-page.png.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { startTracker, stats, httpGet, isReference, scaled, waitFor, randomHex, E2E_ROOT } from './lib/tracker.mjs'
import { connect, announce, randomId } from './lib/wsclient.mjs'
import { launchChromium } from './lib/browser.mjs'

const ARTIFACTS = process.env.E2E_ARTIFACTS || path.join(E2E_ROOT, 'artifacts')

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

const PREFIXES = ['-WW0091-', '-WW0091-', '-WW0091-', '-qB4250-', '-TR4050-', '-LT1234-', 'Zzzzzzzz', 'Yyyyyyyy']
const WANT = {
  WebTorrent: { '0.91': 3 },
  qBittorrent: { '4.2.5': 1 },
  Transmission: { '4.05': 1 },
  'libtorrent (Rasterbar)': { '-LT1234-': 1 },
  unknown: { other: 2 } // bittorrent-tracker: one version per prefix (PROTOCOL.md 8)
}

// bittorrent-tracker's "clients" with its unknown prefixes counted as one
// "other", as wstracker counts them.
function foldUnknown (clients) {
  const { unknown, ...rest } = clients
  return unknown ? { ...rest, unknown: { other: Object.values(unknown).reduce((a, b) => a + b, 0) } } : rest
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

// npm bittorrent-tracker's Server (lib/reference-server.mjs), whatever the run tests.
async function startReference () {
  const saved = process.env.WSTRACKER_REFERENCE
  process.env.WSTRACKER_REFERENCE = '1'
  try {
    return await startTracker()
  } finally {
    if (saved === undefined) delete process.env.WSTRACKER_REFERENCE
    else process.env.WSTRACKER_REFERENCE = saved
  }
}

test('npm bittorrent-tracker reports the same "clients" for the same announces', { skip: isReference() ? 'already the reference' : false, timeout: scaled(30_000) }, async t => {
  const ref = await startReference()
  t.after(() => ref.stop())
  const s = await announceClients(t, ref, PREFIXES)
  assert.deepEqual(s.clients.unknown, { Zzzzzzzz: 1, Yyyyyyyy: 1 })
  assert.deepEqual(foldUnknown(s.clients), WANT, JSON.stringify(s))
})

// bittorrent-tracker's /stats lines (its server.js), parsed as its own test suite does.
function summaryOf (html) {
  const num = re => { const m = re.exec(html); return m ? Number(m[1]) : undefined }
  const m = /<h1>(\d+) torrents \((\d+) active\)<\/h1>/.exec(html)
  return {
    torrents: m && Number(m[1]),
    activeTorrents: m && Number(m[2]),
    peersAll: num(/<h2>Connected Peers: (\d+)<\/h2>/),
    peersSeederOnly: num(/<h3>Peers Seeding Only: (\d+)<\/h3>/),
    peersLeecherOnly: num(/<h3>Peers Leeching Only: (\d+)<\/h3>/),
    peersSeederAndLeecher: num(/<h3>Peers Seeding & Leeching: (\d+)<\/h3>/),
    peersIPv4: num(/<h3>IPv4 Peers: (\d+)<\/h3>/),
    peersIPv6: num(/<h3>IPv6 Peers: (\d+)<\/h3>/),
    clients: [...html.matchAll(/<li><strong>(.*?)<\/strong> (.*?) : (\d+)<\/li>/g)].map(x => `${x[1]} ${x[2]} : ${x[3]}`).sort()
  }
}
const summaryLines = html => html.split('\n').filter(l => /^<(h1|h2|h3|ul|\/ul|li)>/.test(l)).sort()

test('GET /stats: HTML with bittorrent-tracker\'s lines and numbers; Accept: application/json gets JSON; the history grows', { skip: isReference() ? 'the reference has no history route' : false, timeout: scaled(30_000) }, async t => {
  const tracker = await startTracker({ args: ['--stats-interval', '1'] })
  t.after(() => tracker.stop())
  const s = await announceClients(t, tracker, ['-WW0091-', '-WW0091-', '-qB4250-'])
  const page = await httpGet(tracker, '/stats')
  assert.equal(page.status, 200)
  assert.match(page.headers['content-type'], /^text\/html/)
  assert.equal(page.headers.vary, 'Accept')
  const sum = summaryOf(page.body)
  for (const k of ['torrents', 'activeTorrents', 'peersAll', 'peersSeederOnly', 'peersLeecherOnly', 'peersSeederAndLeecher', 'peersIPv4', 'peersIPv6']) {
    assert.equal(sum[k], s[k], `${k}: page ${sum[k]}, /stats.json ${s[k]}`)
  }
  assert.equal(sum.peersAll, 3)
  assert.deepEqual(sum.clients, ['WebTorrent 0.91 : 2', 'qBittorrent 4.2.5 : 1'])
  assert.ok(page.body.includes('<h3>Clients:</h3>\n<ul>\n'), 'the lines, one per line')

  // npm bittorrent-tracker's own /stats for the same announces: the same lines
  const ref = await startReference()
  t.after(() => ref.stop())
  await announceClients(t, ref, ['-WW0091-', '-WW0091-', '-qB4250-'])
  const refPage = await httpGet(ref, '/stats')
  assert.equal(refPage.status, 200)
  assert.deepEqual(summaryLines(page.body), summaryLines(refPage.body), `ours:\n${page.body.slice(0, 2000)}\nreference:\n${refPage.body}`)

  for (const accept of ['application/json', 'application/json, */*;q=0.5']) {
    const j = await httpGet(tracker, '/stats', { headers: { accept } })
    assert.equal(j.status, 200)
    assert.match(j.headers['content-type'], /^application\/json/, accept)
    const js = JSON.parse(j.body)
    assert.equal(js.peersAll, 3)
    assert.deepEqual(js.clients, { WebTorrent: { '0.91': 2 }, qBittorrent: { '4.2.5': 1 } })
  }
  // a browser's Accept gets the page
  const b = await httpGet(tracker, '/stats', { headers: { accept: 'text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8' } })
  assert.match(b.headers['content-type'], /^text\/html/)

  // --stats-interval 1: the history grows by about one sample a second
  const h1 = JSON.parse((await httpGet(tracker, '/stats/history.json')).body)
  assert.equal(h1.interval, 1)
  assert.equal(h1.max, 360)
  for (const f of ['t', 'connections', 'peers', 'announces', 'offers', 'relays', 'rss']) assert.equal(h1[f].length, h1.samples, f)
  const h2 = await waitFor(async () => {
    const h = JSON.parse((await httpGet(tracker, '/stats/history.json')).body)
    return h.samples >= h1.samples + 2 && h
  }, { timeoutMs: scaled(8000), message: 'two more history samples' })
  assert.equal(h2.peers[h2.samples - 1], 3)
  assert.equal(h2.connections[h2.samples - 1], 3)
  assert.ok(h2.announces[h2.samples - 1] >= 3)
  assert.ok(h2.rss[h2.samples - 1] > 1 << 20, `rss ${h2.rss[h2.samples - 1]}`)
  assert.ok(h2.t[h2.samples - 1] > h2.t[0])
})

// A small bounded load: n WebSocket clients in two swarms, each announcing
// every 200 ms (the first of each swarm with one offer) until stop().
async function startLoad (t, tracker, n) {
  const ihs = [randomHex(10), randomHex(10)]
  const clients = []
  for (let k = 0; k < n; k++) {
    const c = await connect(tracker.url)
    t.after(() => c.close())
    clients.push({ c, ih: ihs[k % 3 === 2 ? 1 : 0], id: pid(`-WW00${10 + k}-`), offers: k < 2 })
  }
  let running = true
  const loops = clients.map(async ({ c, ih, id, offers }) => {
    while (running) {
      const msg = { info_hash: ih, peer_id: id, numwant: 1, left: 1 }
      if (offers) msg.offers = [{ offer_id: randomId(), offer: { type: 'offer', sdp: 'v=0 load' } }]
      c.send({ action: 'announce', ...msg })
      await new Promise(resolve => setTimeout(resolve, 200))
      c.queue.length = 0 // replies and forwarded offers are not read
    }
  })
  return { ihs, async stop () { running = false; await Promise.all(loops) } }
}

test('the /stats page in Chromium: charts fill under load, numbers match /stats.json, screenshot', { skip: isReference() ? 'the reference has no stats page' : false, timeout: scaled(90_000) }, async t => {
  const tracker = await startTracker({ args: ['--stats-interval', '1'] })
  t.after(() => tracker.stop())
  const load = await startLoad(t, tracker, 5)
  let loadStopped = false
  t.after(() => loadStopped || load.stop())
  const browser = await launchChromium()
  t.after(() => browser.close())
  const page = await browser.context.newPage()
  const errors = []
  page.on('pageerror', e => errors.push(e.message))
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()) })
  await page.goto(`${tracker.httpUrl}/stats`)
  // The server-rendered lines are there before any script runs.
  assert.match(await page.textContent('#summary'), /torrents \(\d+ active\)/)
  // Wait (deadline) for four history samples drawn while the load runs.
  await page.waitForFunction(() => Number(document.body.dataset.samples) >= 4, null, { timeout: scaled(20_000) })
  const announcesPoints = await page.getAttribute('[data-chart="announces"] polyline', 'points')
  assert.ok(announcesPoints.split(' ').length >= 3, `announces/s chart: ${announcesPoints}`)
  const h = JSON.parse((await httpGet(tracker, '/stats/history.json')).body)
  const rates = h.announces.slice(1).map((v, i) => v - h.announces[i])
  assert.ok(rates.some(r => r > 0), `announces grew between samples: ${h.announces}`)
  assert.ok(h.offers[h.samples - 1] > 0, `offers forwarded: ${h.offers}`)

  // Stop the load; once /stats.json no longer moves, the page's next refresh
  // must show exactly its numbers.
  await load.stop()
  loadStopped = true
  let s = await stats(tracker)
  s = await waitFor(async () => {
    await new Promise(resolve => setTimeout(resolve, 300))
    const x = await stats(tracker)
    const same = x.announces === s.announces && x.offersForwarded === s.offersForwarded
    s = x
    return same && x
  }, { timeoutMs: scaled(10_000), message: '/stats.json settles after the load' })
  const u0 = Number(await page.getAttribute('body', 'data-updates'))
  await page.waitForFunction(u => Number(document.body.dataset.updates) >= u + 2, u0, { timeout: scaled(10_000) })
  const shown = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('[data-field]')].map(e => [e.dataset.field, e.textContent])))
  const s2 = await stats(tracker)
  for (const k of ['connections', 'peersAll', 'torrents', 'activeTorrents', 'announces', 'offersForwarded', 'workers']) {
    assert.equal(shown[k], String(s2[k]), `${k}: page ${shown[k]}, /stats.json ${s2[k]}`)
  }
  assert.equal(s2.peersAll, 5)
  assert.equal(s2.connections, 5)
  // top rooms: two rooms, 4 and 1 peers, shortened hashes
  const rooms = await page.$$eval('#rooms tr', trs => trs.map(tr => [...tr.children].map(td => td.textContent)))
  assert.deepEqual(rooms, s2.topRooms.map(r => [`${r.room}…`, String(r.peers)]))
  assert.deepEqual(s2.topRooms.map(r => r.peers), [4, 1])
  assert.deepEqual(s2.topRooms.map(r => r.room).sort(), load.ihs.map(ih => Buffer.from(ih, 'latin1').subarray(0, 4).toString('hex')).sort())
  // per-worker load: one row per worker, the announces add up
  const workers = await page.$$eval('#workers tr', trs => trs.map(tr => [...tr.children].slice(0, 5).map(td => td.textContent)))
  assert.deepEqual(workers, s2.perWorker.map((w, i) => [String(i), String(w.connections), String(w.announces), String(w.peers), String(w.swarms)]))
  assert.equal(s2.perWorker.reduce((a, w) => a + w.announces, 0), s2.announces)
  // the summary block, redrawn by the script, shows the same numbers
  const summary = summaryOf(await page.innerHTML('#summary'))
  for (const k of ['torrents', 'activeTorrents', 'peersAll', 'peersLeecherOnly', 'peersIPv4']) {
    assert.equal(summary[k], s2[k], `summary ${k}: page ${summary[k]}, /stats.json ${s2[k]}`)
  }
  assert.equal(summary.clients.length, 5, summary.clients.join(', '))
  assert.deepEqual(errors, [], 'no page errors')

  await mkdir(ARTIFACTS, { recursive: true })
  const png = await page.screenshot({ fullPage: true })
  assert.equal(png.subarray(1, 4).toString(), 'PNG')
  assert.ok(png.length > 10_000, `screenshot of ${png.length} bytes`)
  await writeFile(path.join(ARTIFACTS, 'stats-page.png'), png)
})
