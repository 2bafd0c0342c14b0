// soak hostile-caps (issue 9): process-wide caps on swarms and peers. Against
// --threads 2 --max-peers 200 --max-swarms 100 --max-torrents-per-conn 1000 (both caps
// are split evenly between the 2 workers, so up to 100 swarms / 200 peers in total):
//   phase 1: one connection announces into 150 distinct info hashes (1 peer each):
//     /stats.json torrents <= 100, the refused ones answered
//     `failure reason: "tracker full: too many swarms"`, counter swarmsRefused > 0;
//   phase 2: 5 connections x 60 peer_ids, each peer_id into another of the swarms
//     accepted in phase 1 (one peer_id per (connection, info hash), under the cap of
//     2): peersAll <= 200, refusals `tracker full: too many peers`, peersRefused > 0;
//   phase 3: every peer sends `stopped` or its connection closes (the swarms stay,
//     empty); then a new connection announces into 150 NEW info hashes at once (no
//     waiting for --peer-timeout): empty swarms are reclaimed to make room, so the
//     new hashes are accepted up to the cap (100 of them; 150 are offered rather than
//     100 because the cap is per worker and 100 random hashes almost never split
//     exactly 50/50: with 150, both workers get >= 50 except with probability ~5e-5),
//     and torrents stays <= 100;
//   throughout: an honest client's announce into an existing swarm with room (a new
//     peer in phase 1, a refresh of that peer in phase 2, a new peer in phase 3) is
//     answered normally.
// A tracker without the two flags is run without them (so the figures show what it
// does), and the missing flags count as a failure.
//
//   node tests/soak/hostile-caps.mjs

import { tracker, check, result, jsonClient, id20 } from './lib.mjs'

const NAME = 'hostile-caps'
const MAX_SWARMS = 100
const MAX_PEERS = 200
const failures = []
// --msg-rate 0: this test pipelines more messages on one connection than the
// message budget (PROTOCOL.md 6) lets through; it measures another defence.
const BASE = ['--threads', '2', '--msg-rate', '0', '--announce-rate', '0', '--max-torrents-per-conn', '1000']
let t
try {
  t = await tracker.startTracker({ args: [...BASE, '--max-peers', String(MAX_PEERS), '--max-swarms', String(MAX_SWARMS)] })
} catch (e) {
  const why = (/unknown option[^\n]*/.exec(e.message) || [e.message.split('\n')[0]])[0]
  failures.push(`tracker does not start with --max-peers ${MAX_PEERS} --max-swarms ${MAX_SWARMS} (${why}); rest run without them`)
  console.log(`${NAME}: tracker refused --max-peers/--max-swarms (${why}); running the phases without them`)
  t = await tracker.startTracker({ args: BASE })
}

const client = () => jsonClient(t.url)

const announce = (ih, pid, event = 'started') => ({ action: 'announce', info_hash: ih, peer_id: pid, numwant: 0, uploaded: 0, downloaded: 0, left: 0, event, offers: [] })
const isReply = m => m.action === 'announce' && (m.complete !== undefined || m['failure reason'] !== undefined)

// Sends every announce of list ([info_hash, peer_id]) on c at once; returns the
// replies by info_hash: {ok: [ih...], reasons: {reason: count}, missing}. 10 s at most.
async function announceAll (c, list, event = 'started') {
  const r = { ok: [], reasons: {}, missing: 0 }
  for (const [ih, pid] of list) c.send(announce(ih, pid, event))
  const t0 = Date.now()
  let n = 0
  while (n < list.length && Date.now() - t0 < 10000) {
    const m = await c.wait(isReply, Math.max(1, 10000 - (Date.now() - t0)))
    if (!m) break
    n++
    if (m.complete !== undefined) r.ok.push(m.info_hash)
    else r.reasons[m['failure reason']] = (r.reasons[m['failure reason']] || 0) + 1
  }
  r.missing = list.length - n
  return r
}
const fmt = r => `${r.ok.length} accepted, refused ${JSON.stringify(r.reasons)}${r.missing ? `, ${r.missing} unanswered` : ''}`
const honestOk = async (c, ih, pid, what) => {
  c.send(announce(ih, pid))
  const m = await c.wait(isReply, 3000)
  const ok = !!(m && m.complete !== undefined)
  console.log(`${NAME}: honest client, ${what}: ${ok ? `answered (complete ${m.complete}, incomplete ${m.incomplete})` : m ? `failure "${m['failure reason']}"` : 'no reply in 3 s'}`)
  check(failures, ok, `honest client, ${what}: ${m ? `failure "${m['failure reason']}"` : 'no reply in 3 s'}`)
}

// phase 1: 150 swarms
const c1 = await client()
const p1List = Array.from({ length: 150 }, (_, i) => [id20('caps-swarm-', i), id20('caps-p1-', i)])
const p1Pid = new Map(p1List)
const p1 = await announceAll(c1, p1List)
const s1 = await tracker.stats(t)
console.log(`${NAME}: phase 1: 150 info hashes: ${fmt(p1)}; /stats.json torrents ${s1.torrents}, swarmsRefused ${s1.swarmsRefused}, peersAll ${s1.peersAll}`)
check(failures, s1.torrents <= MAX_SWARMS, `phase 1: torrents ${s1.torrents} > ${MAX_SWARMS}`)
check(failures, p1.ok.length <= MAX_SWARMS && p1.ok.length > 0, `phase 1: ${p1.ok.length} swarms accepted, want 1..${MAX_SWARMS}`)
check(failures, (p1.reasons['tracker full: too many swarms'] || 0) === 150 - p1.ok.length && p1.ok.length < 150, `phase 1: refusals ${JSON.stringify(p1.reasons)}, want every refused announce 'tracker full: too many swarms'`)
check(failures, s1.swarmsRefused > 0, `phase 1: /stats.json swarmsRefused ${s1.swarmsRefused}, want > 0`)
const accepted = p1.ok
const h = await client()
const HONEST_PID = id20('caps-honest-', 1)
await honestOk(h, accepted[0], HONEST_PID, 'phase 1, new peer in an existing swarm')

// phase 2: 5 connections x 60 peer_ids, one per swarm and connection
const n = Math.max(1, accepted.length)
const p2conns = []
const p2 = { ok: [], reasons: {}, missing: 0 }
await Promise.all(Array.from({ length: 5 }, async (_, k) => {
  const c = await client()
  p2conns.push(c)
  const r = await announceAll(c, Array.from({ length: 60 }, (_, j) => [accepted[(j + 13 * k) % n], id20(`caps-p2-${k}-`, j)]))
  p2.ok.push(...r.ok)
  p2.missing += r.missing
  for (const [why, cnt] of Object.entries(r.reasons)) p2.reasons[why] = (p2.reasons[why] || 0) + cnt
}))
const s2 = await tracker.stats(t)
console.log(`${NAME}: phase 2: 5 connections x 60 peer_ids: ${fmt(p2)}; /stats.json peersAll ${s2.peersAll}, peersRefused ${s2.peersRefused}, torrents ${s2.torrents}`)
check(failures, s2.peersAll <= MAX_PEERS, `phase 2: peersAll ${s2.peersAll} > ${MAX_PEERS}`)
check(failures, (p2.reasons['tracker full: too many peers'] || 0) > 0 && (p2.reasons['tracker full: too many peers'] || 0) === 300 - p2.ok.length, `phase 2: refusals ${JSON.stringify(p2.reasons)}, want every refused announce 'tracker full: too many peers'`)
check(failures, s2.peersRefused > 0, `phase 2: /stats.json peersRefused ${s2.peersRefused}, want > 0`)
await honestOk(h, accepted[0], HONEST_PID, 'phase 2, refresh of its peer at the peer cap')

// phase 3: everyone leaves; the swarms stay (empty) until reclaimed
const st1 = await announceAll(c1, accepted.map(ih => [ih, p1Pid.get(ih)]), 'stopped')
const hs = await announceAll(h, [[accepted[0], HONEST_PID]], 'stopped')
await Promise.all(p2conns.map(c => c.close()))
await c1.close()
await h.close()
let s3a = null
try {
  s3a = await tracker.waitFor(async () => { const s = await tracker.stats(t); return s.peersAll === 0 && s.connections === 0 ? s : null }, { timeoutMs: tracker.scaled(5000), message: 'peersAll 0 and connections 0' })
} catch (e) { failures.push(`phase 3: ${e.message}`) }
console.log(`${NAME}: phase 3: ${st1.ok.length} + ${hs.ok.length} stopped answered; then /stats.json peersAll ${s3a ? s3a.peersAll : '?'}, torrents ${s3a ? s3a.torrents : '?'}, activeTorrents ${s3a ? s3a.activeTorrents : '?'}`)
const c3 = await client()
const p3 = await announceAll(c3, Array.from({ length: 150 }, (_, i) => [id20('caps-new-', i), id20('caps-p3-', i)]))
const s3 = await tracker.stats(t)
console.log(`${NAME}: phase 3: 150 NEW info hashes: ${fmt(p3)}; /stats.json torrents ${s3.torrents}, swarmsRefused ${s3.swarmsRefused}`)
check(failures, p3.ok.length >= MAX_SWARMS, `phase 3: only ${p3.ok.length} of 150 new info hashes accepted, want ${MAX_SWARMS} (empty swarms not reclaimed at once)`)
check(failures, s3.torrents <= MAX_SWARMS, `phase 3: torrents ${s3.torrents} > ${MAX_SWARMS}`)
const h3 = await client()
if (p3.ok.length) await honestOk(h3, p3.ok[0], id20('caps-honest-', 3), 'phase 3, new peer in a new swarm')

for (const c of [c3, h3]) c.ws.terminate()
check(failures, t.proc.exitCode === null, 'tracker exited during the run')
const stop = await t.stop()
check(failures, stop.code === 0 && !stop.forced, `tracker did not exit cleanly on SIGTERM: ${JSON.stringify(stop)}`)
result(NAME, failures)
