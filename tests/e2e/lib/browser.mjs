// Headless Debian Chromium for the e2e tests, driven by playwright-core (no browser
// is ever downloaded).
//
//   CHROMIUM_BIN                 /usr/bin/chromium (Debian package `chromium`) or $CHROMIUM_BIN
//   CHROMIUM_ARGS                the flags used (see below)
//   await launchChromium({ webrtcOrigins = [], extraArgs = [] }) -> { context, close() }
//     a persistent context on a fresh, empty user-data-dir (removed by close()).
//     webrtcOrigins: origins ('http://127.0.0.1:PORT') whose pages get camera and
//     microphone permission, which WebRTC needs to offer loopback candidates (below).
//     extraArgs: more Chromium flags (tls.test.mjs: --ignore-certificate-errors-spki-list)
//
// WebRTC in a network namespace that only has `lo` (checked with Chromium 156):
//   * Chromium gathers no host candidate at all there by default: it leaves out
//     loopback interfaces, and without a media permission it only uses the
//     interface of the default route (there is none).
//   * --allow-loopback-in-peer-connection adds 127.0.0.1 / ::1 to the network list,
//     but Chromium only offers that "non-default" address to pages that hold a
//     camera/microphone permission (ip handling policy "default" + permission), so
//     the test grants those permissions to its own origin. No getUserMedia call and
//     no fake device are needed.
//   * --disable-features=WebRtcHideLocalIpsWithMdns keeps raw IPs in candidates
//     instead of xxx.local mDNS names in case a page lacks the permission (there is
//     no mDNS resolution without a network).

import { mkdtemp, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { chromium } from 'playwright-core'
import { withTimeout } from './tracker.mjs'

export const CHROMIUM_BIN = process.env.CHROMIUM_BIN || '/usr/bin/chromium'

export const CHROMIUM_ARGS = Object.freeze([
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns'
])

export async function launchChromium ({ webrtcOrigins = [], timeoutMs = 30000, extraArgs = [] } = {}) {
  if (!existsSync(CHROMIUM_BIN)) {
    throw new Error(`${CHROMIUM_BIN} not found: apt-get install -y chromium (or set CHROMIUM_BIN)`)
  }
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'wst-e2e-chromium-'))
  let context
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_BIN,
      headless: true,
      args: [...CHROMIUM_ARGS, ...extraArgs],
      timeout: timeoutMs
    })
  } catch (e) {
    await rm(userDataDir, { recursive: true, force: true })
    throw e
  }
  context.setDefaultTimeout(timeoutMs)
  for (const origin of webrtcOrigins) {
    await context.grantPermissions(['camera', 'microphone'], { origin })
  }
  return {
    context,
    async close () {
      await withTimeout(context.close(), 15000, 'closing Chromium').catch(() => {})
      await rm(userDataDir, { recursive: true, force: true })
    }
  }
}
