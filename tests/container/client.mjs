// client.mjs - the container test's client (tests/container/run.sh): against
// the tracker in the container, a raw announce (tests/e2e/lib/wsclient.mjs) must
// get a reply with a numeric interval, and npm bittorrent-tracker's Client must
// get its 'update' for an announce. Runs on the host, in the test's network
// namespace; wss:// trusts the test CA through NODE_EXTRA_CA_CERTS.
//
//   [EXPECT_INTERVAL=S] node tests/container/client.mjs ws://127.0.0.1:PORT
// Prints one line per check; exits 0 when both passed, 1 otherwise.
import { randomBytes } from 'node:crypto'
import { connect, announce, latin1 } from '../e2e/lib/wsclient.mjs'
import { nodeRtcConfig } from '../e2e/lib/webrtc.mjs'
import Client from '../e2e/node_modules/bittorrent-tracker/index.js'

const url = process.argv[2]
const DEADLINE = 15000 // ms for each check; a loaded 2-core machine answers in < 1 s

function withTimeout (p, ms, what) {
  let t
  return Promise.race([p, new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
  })]).finally(() => clearTimeout(t))
}

async function raw () {
  const c = await connect(url, { timeout: DEADLINE })
  try {
    const r = await announce(c, {
      info_hash: latin1(randomBytes(20)), peer_id: latin1(randomBytes(20)),
      numwant: 0, event: 'started', uploaded: 0, downloaded: 0, left: 0
    }, DEADLINE)
    if (r.action !== 'announce' || typeof r.interval !== 'number' || !(r.interval > 0)) {
      throw new Error(`announce reply without an interval: ${JSON.stringify(r)}`)
    }
    if (process.env.EXPECT_INTERVAL && r.interval !== Number(process.env.EXPECT_INTERVAL)) {
      throw new Error(`interval ${r.interval}, expected ${process.env.EXPECT_INTERVAL} (WSTRACKER_INTERVAL)`)
    }
    return `raw announce: interval ${r.interval}`
  } finally {
    c.terminate()
  }
}

async function npmClient () {
  const client = new Client({
    infoHash: randomBytes(20), peerId: randomBytes(20), announce: [url], port: 6881,
    rtcConfig: { ...nodeRtcConfig }, getAnnounceOpts: () => ({ numwant: 1 })
  })
  try {
    const data = await withTimeout(new Promise((resolve, reject) => {
      client.once('update', resolve)
      client.once('error', reject)
      client.once('warning', reject)
      client.start()
    }), DEADLINE, 'bittorrent-tracker Client announce')
    return `bittorrent-tracker Client: update (complete ${data.complete}, incomplete ${data.incomplete})`
  } finally {
    client.destroy()
  }
}

let failed = 0
for (const check of [raw, npmClient]) {
  try {
    console.log(`ok ${await check()}`)
  } catch (e) {
    failed++
    console.log(`FAILED ${check.name}: ${e.message}`)
  }
}
process.exit(failed ? 1 : 0)
