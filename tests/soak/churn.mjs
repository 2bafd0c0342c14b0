// soak churn: N cycles of connect, announce (with 2 offers) into one of 1000 random
// swarms, wait for the announce response, then close cleanly (close frame 1000),
// send `stopped` and close, or reset abruptly (socket.resetAndDestroy(): RST,
// SO_LINGER 0), from W worker processes with C cycles in flight each.
// Invariants: every cycle got its announce response; afterwards /stats.json shows
// peersAll 0 and connections 0 within 5 s; the tracker's RSS after the run is
// within 10 % (--full) / 25 % + 2 MiB (CI) of its RSS after the first 10 % of cycles.
//
//   node tests/soak/churn.mjs [--full] [--cycles N] [--workers W] [--concurrency C]

import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { WebSocket, tracker, isFull, rssKiB, mib, sleep, check, result, id20, randId, fakeSdp } from './lib.mjs'

const arg = (name, def) => {
  const i = process.argv.indexOf(name)
  return i > 0 ? Number(process.argv[i + 1]) : def
}

if (process.argv[2] === '--worker') {
  await worker(process.argv[3], Number(process.argv[4]), Number(process.argv[5]))
} else {
  await main()
}

async function worker (url, cycles, concurrency) {
  const sdp = fakeSdp(300)
  const st = { done: 0, clean: 0, stopped: 0, reset: 0, errors: 0, timeouts: 0, firstError: '' }
  let next = 0
  let lastReport = 0
  const one = () => new Promise(resolve => {
    const infoHash = id20('churn-swarm-', Math.floor(Math.random() * 1000))
    const peerId = randId()
    const ws = new WebSocket(url, { perMessageDeflate: false })
    let finished = false
    const finish = (kind, err) => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      if (kind === 'error') {
        st.errors++
        if (!st.firstError) st.firstError = String(err && err.message || err)
        ws.terminate()
      } else if (kind === 'timeout') {
        st.timeouts++
        ws.terminate()
      } else st[kind]++
      st.done++
      resolve()
    }
    const timer = setTimeout(() => finish('timeout'), 10000)
    ws.on('error', err => finish('error', err))
    ws.on('open', () => {
      ws.send(JSON.stringify({
        action: 'announce', info_hash: infoHash, peer_id: peerId, event: 'started', left: 100, numwant: 2,
        offers: [0, 1].map(() => ({ offer: { type: 'offer', sdp }, offer_id: randId() }))
      }))
    })
    let replied = false
    ws.on('message', data => {
      if (replied) return
      let m
      try { m = JSON.parse(data) } catch { return }
      if (m.action !== 'announce' || m.complete === undefined || m.info_hash !== infoHash) return
      replied = true
      const r = Math.random()
      if (r < 0.45) {
        ws.once('close', () => finish('clean'))
        ws.close(1000)
      } else if (r < 0.55) {
        ws.send(JSON.stringify({ action: 'announce', info_hash: infoHash, peer_id: peerId, event: 'stopped', left: 100 }))
        ws.once('close', () => finish('stopped'))
        ws.close(1000)
      } else {
        ws._socket.resetAndDestroy()
        finish('reset')
      }
    })
  })
  const lane = async () => {
    while (next < cycles) {
      next++
      await one()
      if (st.done - lastReport >= 250) {
        lastReport = st.done
        process.send({ type: 'progress', ...st })
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
  process.send({ type: 'done', ...st })
  process.disconnect()
}

async function main () {
  const cycles = arg('--cycles', isFull ? 1000000 : 20000)
  const workers = arg('--workers', 3)
  const concurrency = arg('--concurrency', 32)
  const failures = []
  // --max-conns-per-ip 0: every connection of this test comes from 127.0.0.1.
  const t = await tracker.startTracker({ args: ['--max-conns-per-ip', '0', '--max-peers-per-swarm', '1000'] })
  const pid = t.proc.pid
  const rss0 = rssKiB(pid)
  const t0 = Date.now()
  console.log(`churn: ${cycles} cycles, ${workers} workers x ${concurrency} in flight, tracker ${t.url} pid ${pid}, RSS at start ${mib(rss0)}`)
  const per = Math.ceil(cycles / workers)
  const states = Array.from({ length: workers }, () => ({ done: 0 }))
  let rssBase = NaN
  let peakRss = rss0
  let nextPrint = cycles / 10
  const kids = states.map((_, i) => new Promise((resolve) => {
    const n = Math.min(per, cycles - i * per)
    const child = fork(fileURLToPath(import.meta.url), ['--worker', t.url, String(n), String(concurrency)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    child.on('message', m => {
      states[i] = m
      const total = states.reduce((a, s) => a + s.done, 0)
      const r = rssKiB(pid)
      if (r > peakRss) peakRss = r
      if (Number.isNaN(rssBase) && total >= cycles / 10) {
        rssBase = r
        console.log(`churn: ${total} cycles done (${((Date.now() - t0) / 1000).toFixed(1)} s), RSS base ${mib(rssBase)}`)
      }
      if (total >= nextPrint) {
        nextPrint += cycles / 10
        console.log(`churn: ${total} cycles (${((Date.now() - t0) / 1000).toFixed(1)} s), RSS ${mib(r)}`)
      }
    })
    child.on('exit', code => resolve(code))
  }))
  const hardLimitMs = (isFull ? 4 * 3600 : 240) * 1000
  let limitTimer
  const limit = new Promise(resolve => { limitTimer = setTimeout(() => resolve('limit'), hardLimitMs) })
  const codes = await Promise.race([Promise.all(kids), limit])
  clearTimeout(limitTimer)
  if (codes === 'limit') failures.push(`did not finish within ${hardLimitMs / 1000} s`)
  const secs = (Date.now() - t0) / 1000
  const sum = k => states.reduce((a, s) => a + (s[k] || 0), 0)
  const done = sum('done')
  console.log(`churn: ${done} cycles in ${secs.toFixed(1)} s (${Math.round(done / secs)}/s): clean close ${sum('clean')}, stopped+close ${sum('stopped')}, reset ${sum('reset')}, errors ${sum('errors')}, timeouts ${sum('timeouts')}`)
  const firstErr = states.map(s => s.firstError).find(Boolean)
  if (firstErr) console.log(`churn: first error: ${firstErr}`)
  check(failures, done === cycles, `${done} of ${cycles} cycles completed`)
  check(failures, sum('errors') + sum('timeouts') === 0, `${sum('errors')} errors, ${sum('timeouts')} cycles without an announce response in 10 s`)
  // drain: peers and connections back to 0 (waited for: 5 s, scaled)
  let s = null
  const drain0 = Date.now()
  while (Date.now() - drain0 < tracker.scaled(5000)) {
    s = await tracker.stats(t)
    if (s.peersAll === 0 && s.connections === 0) break
    await sleep(100)
  }
  console.log(`churn: after ${((Date.now() - drain0) / 1000).toFixed(1)} s: peersAll ${s.peersAll}, connections ${s.connections}, torrents ${s.torrents}, announces ${s.announces}, offersForwarded ${s.offersForwarded}, offersDropped ${s.offersDropped}`)
  check(failures, s.peersAll === 0, `peersAll ${s.peersAll} after the run (want 0)`)
  check(failures, s.connections === 0, `connections ${s.connections} after the run (want 0)`)
  const limitKiB = isFull ? rssBase * 1.10 : rssBase * 1.25 + 2048
  // RSS back under the limit once everything is closed: waited for (1 s, scaled)
  let rssEnd = rssKiB(pid)
  for (const end = Date.now() + tracker.scaled(1000); !(rssEnd <= limitKiB) && Date.now() < end; rssEnd = rssKiB(pid)) await sleep(100)
  console.log(`churn: RSS start ${mib(rss0)}, after 10 % ${mib(rssBase)}, peak ${mib(peakRss)}, end ${mib(rssEnd)} (limit ${mib(limitKiB)})`)
  check(failures, rssEnd <= limitKiB, `RSS ${mib(rssEnd)} > limit ${mib(limitKiB)} (base ${mib(rssBase)})`)
  check(failures, t.proc.exitCode === null, 'tracker exited during the run')
  const stop = await t.stop()
  check(failures, stop.code === 0 && !stop.forced, `tracker did not exit cleanly on SIGTERM: ${JSON.stringify(stop)}`)
  result('churn', failures)
}
