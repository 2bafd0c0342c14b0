// soak hostile-takeover (issue 9): a second connection must not take over a peer_id
// that is live on another connection. Against --threads 2:
//   - victim V announces (H, P) with offers: [];
//   - attacker A, on another connection, sends an answer-only message with peer_id P
//     (round 1, followed by a scrape of H as a barrier), then a full announce of
//     (H, P) (round 2): expect `failure reason: "peer_id in use"` (action announce)
//     and no announce response;
//   - after each round a third peer O announces into H with 1 offer: the offer
//     reaches V, not A;
//   - A closes: V is still in the swarm (scrape H counts V + O = 2 for 1 s) and a
//     new peer's offers still reach V;
//   - V closes: a new connection announcing (H, P) is accepted (retried for up to
//     3 s: the removal of V's registration is a mail to the swarm's worker).
//
//   node tests/soak/hostile-takeover.mjs

import { tracker, sleep, check, result, jsonClient, id20, fakeSdp } from './lib.mjs'

const NAME = 'hostile-takeover'
const failures = []
const t = await tracker.startTracker({ args: ['--threads', '2'] })
const sdp = fakeSdp(300)
const H = id20('takeover-swarm-', 1)
const P = id20('takeover-victim-', 1)
const O_ID = id20('takeover-other-', 1)
const N_ID = id20('takeover-newbie-', 1)
const GHOST = id20('takeover-ghost-', 1)

// A ws client that keeps every message it receives; wait(pred, ms) resolves with (and
// removes) the first kept message matching pred, or null after ms / when closed.
const client = tag => jsonClient(t.url, { tag })

const announce = (peerId, nOffers = 0, tag = '') => ({
  action: 'announce', info_hash: H, peer_id: peerId, numwant: nOffers, uploaded: 0, downloaded: 0, left: 0, event: 'started',
  offers: Array.from({ length: nOffers }, (_, i) => ({ offer_id: id20(`off-${tag}-`, i), offer: { type: 'offer', sdp } }))
})
const isResp = m => m.action === 'announce' && m.complete !== undefined && m.info_hash === H
const isFail = m => m['failure reason'] !== undefined
const isScrape = m => m.action === 'scrape' && (m.files !== undefined || isFail(m))
const offerOf = (from, tag) => m => m.offer !== undefined && m.peer_id === from && typeof m.offer_id === 'string' && m.offer_id.startsWith(`off-${tag}-`)
const failText = m => m ? (isFail(m) ? `failure "${m['failure reason']}" (action ${m.action})` : isResp(m) ? 'an announce response' : JSON.stringify(m).slice(0, 80)) : 'nothing'

// O announces with one offer (tag) and we look where it lands. V getting it is waited
// for up to 3 s; then A is watched for 2 s more. O's single offer is forwarded to at
// most one peer, in the same step of the swarm's worker that picks its target, so
// once V has it nobody else can get it; the 2 s only cover a stray copy still in a
// mailbox or socket, which on loopback takes well under 10 ms to arrive.
async function offerLands (O, V, A, tag) {
  O.send(announce(O_ID, 1, tag))
  const resp = await O.wait(m => isResp(m) || isFail(m), 3000)
  const toV = await V.wait(offerOf(O_ID, tag), 3000)
  const toA = await A.wait(offerOf(O_ID, tag), 2000)
  return { resp, toV: !!toV, toA: !!toA }
}

const V = await client('V')
V.send(announce(P))
const vResp = await V.wait(m => isResp(m) || isFail(m), 3000)
check(failures, vResp && isResp(vResp), `victim's announce got ${failText(vResp)}`)

const A = await client('A')
const O = await client('O')

// round 1: answer-only message with peer_id P (no response is due to it), then a
// scrape of H on the same connection: both go to H's worker through the same
// per-producer FIFO mailbox (or are handled inline), so the scrape reply means the
// answer-only message has been processed.
A.send({ action: 'announce', info_hash: H, peer_id: P, to_peer_id: GHOST, offer_id: id20('ans-', 1), answer: { type: 'answer', sdp } })
A.send({ action: 'scrape', info_hash: H })
const barrier = await A.wait(isScrape, 3000)
check(failures, barrier && barrier.files, `attacker's barrier scrape got ${failText(barrier)}`)
// whatever A got for the answer-only message (nothing, or a failure) is set aside so
// that round 2 reads the reply to its own announce
const r1Replies = A.msgs.splice(0).filter(m => isResp(m) || isFail(m)).map(failText)
const r1 = await offerLands(O, V, A, 'r1')
console.log(`${NAME}: round 1 (answer-only message with the victim's peer_id from A): O's response ${r1.resp ? `complete ${r1.resp.complete} incomplete ${r1.resp.incomplete}` : 'missing'}; O's offer reached V ${r1.toV}, A ${r1.toA}; A's replies to the answer-only message: ${r1Replies.length ? r1Replies.join(', ') : 'none'}`)
check(failures, r1.toV && !r1.toA, `round 1 (answer-only with peer_id P): O's offer reached V ${r1.toV}, A ${r1.toA}; want V only`)

// round 2: a full announce of (H, P) from A
A.send(announce(P))
const aReply = await A.wait(m => isResp(m) || isFail(m), 3000)
const r2 = await offerLands(O, V, A, 'r2')
const aFails = A.all.filter(isFail).map(m => `${m.action}: ${m['failure reason']}`)
console.log(`${NAME}: round 2 (full announce of (H, P) from A): A got ${failText(aReply)}; O's offer reached V ${r2.toV}, A ${r2.toA}; A's failure replies so far: ${JSON.stringify(aFails)}`)
check(failures, aReply && aReply['failure reason'] === 'peer_id in use' && aReply.action === 'announce', `attacker's announce of (H, P) got ${failText(aReply)}, want failure "peer_id in use" (action announce)`)
check(failures, r2.toV && !r2.toA, `round 2 (announce of (H, P) from A): O's offer reached V ${r2.toV}, A ${r2.toA}; want V only`)
check(failures, !A.all.some(m => m.offer !== undefined), `attacker received ${A.all.filter(m => m.offer !== undefined).length} offers, want 0`)

// A closes. V must stay registered.
const S = await client('S') // scrapes from a connection of its own
await A.close()
let conns = null
try {
  conns = await tracker.waitFor(async () => { const s = await tracker.stats(t); return s.connections === 3 ? s : null }, { timeoutMs: tracker.scaled(3000), message: 'connections 3 after A closed' })
} catch (e) { failures.push(e.message) }
// The close's removals are at most one mailbox hop from H's worker (well under 1 ms on
// loopback). A scrape from S may travel through another mailbox, so instead of one
// scrape, H is scraped 10 times over 1 s; the count must stay 2 (V + O) in all of them.
const counts = []
for (let i = 0; i < 10; i++) {
  S.send({ action: 'scrape', info_hash: H })
  const m = await S.wait(isScrape, 2000)
  counts.push(m && m.files && m.files[H] ? m.files[H].complete + m.files[H].incomplete : -1)
  await sleep(100)
}
console.log(`${NAME}: after A closed (connections ${conns ? conns.connections : '?'}): peers in H by scrape every 100 ms: ${counts.join(' ')}`)
check(failures, counts.every(n => n === 2), `after A closed, scrape of H counted ${counts.join(',')} peers, want 2 (V + O) every time`)

// A new peer offers twice: with V and O in the swarm, each gets one.
const N = await client('N')
N.send(announce(N_ID, 2, 'n'))
const nResp = await N.wait(m => isResp(m) || isFail(m), 3000)
const nToV = await V.wait(offerOf(N_ID, 'n'), 3000)
const nToO = await O.wait(offerOf(N_ID, 'n'), 1000)
console.log(`${NAME}: new peer N (2 offers): response ${nResp && isResp(nResp) ? `complete ${nResp.complete} incomplete ${nResp.incomplete}` : failText(nResp)}; offer reached V ${!!nToV}, O ${!!nToO}`)
check(failures, !!nToV, 'after A closed, a new peer\'s offer did not reach V within 3 s')
check(failures, !V.closed, `victim closed by the server (code ${V.closeCode})`)

// V closes: now (H, P) is free again.
await V.close()
const Z = await client('Z')
let zReply = null
let tries = 0
const zStart = Date.now()
while (Date.now() - zStart < 3000) {
  tries++
  Z.send(announce(P))
  zReply = await Z.wait(m => isResp(m) || isFail(m), 1000)
  if (zReply && isResp(zReply)) break
  await sleep(200)
}
console.log(`${NAME}: after V closed: a new connection announcing (H, P) got ${failText(zReply)} after ${tries} tries, ${Date.now() - zStart} ms`)
check(failures, zReply && isResp(zReply), `after V closed, a new connection announcing (H, P) got ${failText(zReply)} within 3 s`)

for (const c of [O, S, N, Z]) c.ws.terminate()
check(failures, t.proc.exitCode === null, 'tracker exited during the run')
const stop = await t.stop()
check(failures, stop.code === 0 && !stop.forced, `tracker did not exit cleanly on SIGTERM: ${JSON.stringify(stop)}`)
result(NAME, failures)
