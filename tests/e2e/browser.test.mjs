// p2pt's browser build in headless Debian Chromium (driven by playwright-core; no
// browser is downloaded): two pages join the same p2pt "room" through the
// tracker under test, open a WebRTC data channel, and exchange a message and its
// reply. Loopback only: run with ./run.sh (network namespace with just `lo`).
// Chromium flags and the media permission WebRTC needs there: lib/browser.mjs;
// the page server and the exchange: lib/p2pt.mjs (also used by auth.test.mjs).

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTracker, stats, randomHex, trackerName, scaled } from './lib/tracker.mjs'
import { p2ptBrowser, p2ptExchange } from './lib/p2pt.mjs'

console.log(`tracker under test: ${trackerName()}`)

test('p2pt in two Chromium pages: message and reply over WebRTC through the tracker', { timeout: scaled(120_000) }, async t => {
  // --interval 10: p2pt re-announces (with fresh offers) at the tracker's
  // interval, so a WebRTC attempt that fails (ICE on a loaded machine) is
  // retried within 10 s rather than after the default 120 s, which would
  // outlast the wait in p2ptExchange.
  const tracker = await startTracker({ args: ['--interval', '10'] })
  t.after(() => tracker.stop())
  const session = await p2ptBrowser(t, tracker)
  await p2ptExchange(session, { announceUrls: [tracker.url, tracker.url], room: `wstracker-e2e-${randomHex(8)}` })

  const st = await stats(tracker)
  assert.equal(st.peersAll, 2, 'the tracker sees both pages')
  assert.equal(st.torrents, 1, 'one room = one swarm')
})
