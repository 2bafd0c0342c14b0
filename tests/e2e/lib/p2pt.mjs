// p2pt's browser build in headless Debian Chromium for the e2e tests
// (browser.test.mjs, auth.test.mjs): pages load fixtures/p2pt.html and are
// driven through its window.startPeer / window.state.
//
//   await startPageServer() -> { url, close() }
//     serves the test page and p2pt's bundle on 127.0.0.1:<random port>
//   await p2ptBrowser(t, tracker, { chromiumArgs = [] }) -> { openPage(name), startPeer(page, announceUrl, room, role, message, reply), diag(pages) }
//     the page server and Chromium (lib/browser.mjs), both closed in t.after;
//     diag() gives the pages' states, their console and the tracker's stderr
//   await p2ptExchange(session, { announceUrls: [url1, url2], room }) -> { id1, id2, page1, page2 }
//     page 2 (receiver) announces through url2, then page 1 (sender) through
//     url1; page 1 sends a message over WebRTC, page 2 replies; asserts each
//     got exactly the other's text and is connected to the other page only.

import assert from 'node:assert/strict'
import http from 'node:http'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { createRequire } from 'node:module'
import { waitFor, randomHex, E2E_ROOT, scaled } from './tracker.mjs'
import { launchChromium } from './browser.mjs'

const require = createRequire(import.meta.url)

export async function startPageServer () {
  // p2pt's package.json exports its browser build as `p2pt/iife` (dist/p2pt.iife.js,
  // defines the global P2PT).
  const bundle = require.resolve('p2pt/iife')
  const files = {
    '/': { type: 'text/html; charset=utf-8', body: await readFile(path.join(E2E_ROOT, 'fixtures', 'p2pt.html')) },
    '/p2pt.iife.js': { type: 'text/javascript; charset=utf-8', body: await readFile(bundle) }
  }
  const server = http.createServer((req, res) => {
    const f = files[req.url.split('?')[0]]
    if (!f) { res.statusCode = 404; res.end('not found'); return }
    res.setHeader('Content-Type', f.type)
    res.setHeader('Cache-Control', 'no-store')
    res.end(f.body)
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address()
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise(resolve => { server.closeAllConnections?.(); server.close(() => resolve()) })
  }
}

export async function p2ptBrowser (t, tracker, { chromiumArgs = [] } = {}) {
  const site = await startPageServer()
  t.after(() => site.close())
  // A first Chromium start on a fresh machine (font cache, profile) can be slow.
  const browser = await launchChromium({ webrtcOrigins: [new URL(site.url).origin], timeoutMs: scaled(60_000), extraArgs: chromiumArgs })
  t.after(() => browser.close())
  const { context } = browser

  const consoleLines = []
  const openPage = async name => {
    const page = await context.newPage()
    page.on('console', m => consoleLines.push(`[${name}] ${m.type()}: ${m.text()}`))
    page.on('pageerror', e => consoleLines.push(`[${name}] pageerror: ${e.message}`))
    await page.goto(site.url, { waitUntil: 'load' })
    assert.equal(await page.evaluate(() => typeof window.P2PT), 'function', 'p2pt bundle loaded')
    return page
  }
  const startPeer = (page, announceUrl, room, role, message, reply) =>
    page.evaluate(([a, r, ro, m, rep]) => window.startPeer(a, r, ro, m, rep), [announceUrl, room, role, message, reply])
  const diag = async pages => {
    const states = await Promise.all(pages.map(p => p.evaluate(() => window.state).catch(e => e.message)))
    return `page states: ${JSON.stringify(states, null, 1)}\nconsole:\n${consoleLines.slice(-40).join('\n')}\n` +
      `tracker stderr:\n${tracker.stderr().split('\n').slice(-20).join('\n')}`
  }
  return { openPage, startPeer, diag }
}

export async function p2ptExchange ({ openPage, startPeer, diag }, { announceUrls: [url1, url2], room }) {
  const message = `hello from page 1 ✓ ${randomHex(16)}`
  const reply = `reply from page 2 ✓ ${randomHex(16)}`

  const page2 = await openPage('page2')
  const page1 = await openPage('page1')
  const id2 = await startPeer(page2, url2, room, 'receiver', message, reply)
  await waitFor(() => page2.evaluate(() => window.state.trackerConnected > 0),
    { timeoutMs: scaled(15_000), message: 'page 2 announced to the tracker' }).catch(async e => { throw new Error(`${e.message}\n${await diag([page2])}`) })
  const id1 = await startPeer(page1, url1, room, 'sender', message, reply)
  assert.notEqual(id1, id2)

  try {
    await waitFor(() => page2.evaluate(() => window.state.received.length > 0),
      { timeoutMs: scaled(45_000), message: 'page 2 to receive the message' })
    await waitFor(() => page1.evaluate(() => window.state.replies.length > 0),
      { timeoutMs: scaled(15_000), message: 'page 1 to receive the reply' })
  } catch (e) {
    throw new Error(`${e.message}\n${await diag([page1, page2])}`)
  }

  const s1 = await page1.evaluate(() => window.state)
  const s2 = await page2.evaluate(() => window.state)
  assert.deepEqual(s2.received, [message], 'page 2 received exactly the message')
  assert.deepEqual(s1.replies, [reply], 'page 1 received exactly the reply')
  // p2pt may open more than one data channel to the same peer (one per offer that
  // crossed): compare the set of peer ids.
  assert.deepEqual([...new Set(s1.peers)], [id2], 'page 1 is connected to page 2 (only)')
  assert.deepEqual([...new Set(s2.peers)], [id1], 'page 2 is connected to page 1 (only)')
  return { id1, id2, page1, page2 }
}
