// soak hostile-relay (issue 11): one member must not flood a room through the
// relay. Against --threads 2 (the room's owner is another worker for some
// members, so relays travel and are settled back) at the default budget
// (--relay-rate 64 KiB/s, burst 4 s):
//   - 20 honest members join room R, each on its own connection, plus the attacker;
//   - the attacker pipelines 2,000 broadcasts of 4,000 bytes of data for about
//     3 s: each would cost 20 x (4,000 + 128) bytes, so the budget
//     (256 KiB burst + 64 KiB/s) lets a handful through and the rest are answered
//     `relay rate exceeded`;
//   - what the honest members receive from the attacker is bounded by the budget
//     (burst + rate x time + the overdraft of 3 bursts that settling across
//     workers allows, PROTOCOL.md 10), counted in bytes x recipients;
//   - meanwhile an honest member's directed relay to another still arrives, and
//     an honest client announcing every 200 ms is answered within 3 s throughout.
//
//   node tests/soak/hostile-relay.mjs

import { tracker, check, result, jsonClient, id20, honestClient, sleep } from './lib.mjs'

const NAME = 'hostile-relay'
const HONEST = 20
const FLOOD = 2000
const DATA = 'x'.repeat(4000)
const COST = DATA.length + 128 // per recipient (PROTOCOL.md 10, Relay)
const RATE = 64 * 1024
const BURST = 4 * RATE
const failures = []
// --msg-rate 0: this test pipelines more messages on one connection than the
// message budget (PROTOCOL.md 6) lets through; it measures another defence.
const t = await tracker.startTracker({ args: ['--threads', '2', '--msg-rate', '0', '--announce-rate', '0'] })
const R = id20('relay-room-', 1)
const ATK = id20('relay-attacker-', 1)

// Relays from the attacker are counted per connection (c.offers), not kept.
const client = tag => jsonClient(t.url, {
  tag,
  take: (m, c) => m.action === 'relay' && m.peer_id === ATK && m['failure reason'] === undefined && ++c.offers > 0
})
const isResp = m => m.action === 'announce' && m.complete !== undefined && m.info_hash === R
const join = async (c, pid) => {
  c.send({ action: 'announce', info_hash: R, peer_id: pid, numwant: 0, uploaded: 0, downloaded: 0, left: 1, event: 'started' })
  return c.wait(m => isResp(m) || m['failure reason'] !== undefined, 3000)
}

const honest = []
for (let i = 0; i < HONEST; i++) {
  const c = await client(`honest-${i}`)
  const m = await join(c, id20('relay-honest-', i))
  check(failures, m && isResp(m), `honest ${i}: announce got ${m ? JSON.stringify(m) : 'nothing'}`)
  honest.push(c)
}
const atk = await client('attacker')
check(failures, isResp(await join(atk, ATK) || {}), 'attacker could not join')
const bystander = await honestClient(t.url, { everyMs: 200, tag: 'relay-bystander' })

const t0 = Date.now()
let sent = 0
const flood = (async () => {
  while (sent < FLOOD && Date.now() - t0 < 3000) {
    for (let k = 0; k < 50 && sent < FLOOD; k++, sent++) {
      atk.send({ action: 'relay', info_hash: R, peer_id: ATK, data: DATA })
    }
    await sleep(5)
  }
})()
// An honest directed relay in the middle of the flood.
await sleep(1000)
honest[0].send({ action: 'relay', info_hash: R, peer_id: id20('relay-honest-', 0), to_peer_id: id20('relay-honest-', 1), data: 'honest hello' })
const hm = await honest[1].wait(m => m.action === 'relay' && m.data === 'honest hello', 3000)
check(failures, hm !== null, 'an honest directed relay did not arrive within 3 s during the flood')
await flood
const floodMs = Date.now() - t0

// Every relay is answered by a failure or not at all (success is silent): wait
// until the refusals stop growing, at most 5 s.
let refused = 0
let last = -1
for (const tw = Date.now(); Date.now() - tw < 5000 && refused !== last;) {
  last = refused
  await sleep(300)
  refused = atk.msgs.filter(m => m['failure reason'] === 'relay rate exceeded').length
}
const other = atk.msgs.filter(m => m['failure reason'] && m['failure reason'] !== 'relay rate exceeded')
const delivered = honest.reduce((a, c) => a + c.offers, 0)
const bytes = delivered * COST
const bound = BURST + RATE * (floodMs / 1000 + 1) + 3 * BURST
const st = await bystander.stop()
console.log(`${NAME}: attacker sent ${sent} broadcasts of ${DATA.length} bytes in ${floodMs} ms: ${refused} 'relay rate exceeded', ${other.length} other failures; honest members received ${delivered} frames (${(bytes / 1024).toFixed(0)} KiB charged) of at most ${(bound / 1024).toFixed(0)} KiB allowed; ${sent - refused} relays went out`)
console.log(`${NAME}: bystander: ${st.replies}/${st.sent} announces answered, max latency ${st.maxLatencyMs} ms, ${st.lateOrMissing} late or missing`)
check(failures, bytes <= bound, `the attacker pushed ${bytes} bytes x recipients, budget allows ${bound}`)
check(failures, refused >= sent - Math.ceil(bound / (COST * HONEST)), `${refused} of ${sent} refused, want all but what the budget allows`)
check(failures, other.length === 0, `other failures: ${JSON.stringify(other.slice(0, 3))}`)
check(failures, (sent - refused) * HONEST === delivered, `${sent - refused} relays went out but ${delivered} frames arrived, want x${HONEST}`)
check(failures, st.lateOrMissing === 0 && !st.closed, `bystander: ${st.lateOrMissing} late or missing announces${st.closed ? ', closed' : ''}`)
check(failures, honest.every(c => !c.closed) && !atk.closed, 'a connection was closed by the server')

const s = await tracker.stats(t)
console.log(`${NAME}: /stats.json: relays ${s.relays}, relayFrames ${s.relayFrames}, relaysRefused ${s.relaysRefused}, mailDropped ${s.mailDropped}`)
for (const c of [...honest, atk]) c.ws.terminate()
check(failures, t.proc.exitCode === null, 'tracker exited during the run')
const stop = await t.stop()
check(failures, stop.code === 0 && !stop.forced, `tracker did not exit cleanly on SIGTERM: ${JSON.stringify(stop)}`)
result(NAME, failures)
