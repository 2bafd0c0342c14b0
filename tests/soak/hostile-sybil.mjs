// soak hostile-sybil (issue 9): one connection must not flood a swarm with peer_ids
// and evict its honest peers. Against --threads 2 --max-peers-per-swarm 100:
//   - 5 honest peers announce into swarm H, each on its own connection;
//   - one attacker connection pipelines 1,000 announces into H, each with another
//     peer_id: expect at most 2 accepted, every other one answered
//     `failure reason: "too many peer_ids for this info hash"`;
//   - scrape H counts at most 5 + 2 peers;
//   - a new honest peer announces with 10 offers: the tracker sends one to each other
//     peer of the swarm (min(10, peers - 1), read from its announce response), and
//     at least 5 of them land on the 5 honest connections (offers counted per
//     connection).
//
//   node tests/soak/hostile-sybil.mjs

import { tracker, check, result, jsonClient, id20, fakeSdp } from './lib.mjs'

const NAME = 'hostile-sybil'
const HONEST = 5
const SYBILS = 1000
const PER_CONN_CAP = 2
const failures = []
// --msg-rate 0: this test pipelines more messages on one connection than the
// message budget (PROTOCOL.md 6) lets through; it measures another defence.
const t = await tracker.startTracker({ args: ['--threads', '2', '--msg-rate', '0', '--announce-rate', '0', '--max-peers-per-swarm', '100'] })
const sdp = fakeSdp(300)
const H = id20('sybil-swarm-', 1)

// offers from NEWBIE are counted (c.offers), not kept
const client = tag => jsonClient(t.url, {
  tag,
  take: (m, c) => m.offer !== undefined && m.peer_id === NEWBIE && ++c.offers > 0
})

const NEWBIE = id20('sybil-newbie-', 1)
const announce = (peerId, nOffers = 0) => ({
  action: 'announce', info_hash: H, peer_id: peerId, numwant: nOffers, uploaded: 0, downloaded: 0, left: 0, event: 'started',
  offers: Array.from({ length: nOffers }, (_, i) => ({ offer_id: id20('sybil-offer-', i), offer: { type: 'offer', sdp } }))
})
const isResp = m => m.action === 'announce' && m.complete !== undefined && m.info_hash === H
const isFail = m => m['failure reason'] !== undefined

// honest peers
const honest = []
for (let i = 0; i < HONEST; i++) {
  const c = await client(`honest-${i}`)
  c.send(announce(id20('sybil-honest-', i)))
  const m = await c.wait(x => isResp(x) || isFail(x), 3000)
  check(failures, m && isResp(m), `honest peer ${i}: announce got ${m ? JSON.stringify(m) : 'nothing'}`)
  honest.push(c)
}

// the attacker: 1,000 peer_ids on one connection, all pipelined
const atk = await client('attacker')
const att = { ok: 0, refused: 0, other: {}, replies: 0 }
const t0 = Date.now()
for (let i = 0; i < SYBILS; i++) atk.send(announce(id20('sybil-', i)))
while (att.replies < SYBILS && Date.now() - t0 < 15000) {
  const m = await atk.wait(x => isResp(x) || isFail(x), Math.max(1, 15000 - (Date.now() - t0)))
  if (!m) break
  att.replies++
  if (isResp(m)) att.ok++
  else if (m['failure reason'] === 'too many peer_ids for this info hash') att.refused++
  else att.other[m['failure reason']] = (att.other[m['failure reason']] || 0) + 1
}
console.log(`${NAME}: attacker: ${SYBILS} peer_ids into H in ${Date.now() - t0} ms: ${att.ok} accepted, ${att.refused} 'too many peer_ids for this info hash', other ${JSON.stringify(att.other)}, ${SYBILS - att.replies} unanswered${atk.closed ? `, closed ${atk.closeCode}` : ''}`)
check(failures, att.ok <= PER_CONN_CAP, `attacker: ${att.ok} of ${SYBILS} peer_ids accepted, want <= ${PER_CONN_CAP}`)
check(failures, att.replies === SYBILS && att.refused === SYBILS - att.ok, `attacker: ${att.refused} 'too many peer_ids for this info hash' and ${att.replies} replies of ${SYBILS}, want every announce past the cap refused`)

// scrape H
const obs = await client('observer')
obs.send({ action: 'scrape', info_hash: H })
const sc = await obs.wait(m => m.action === 'scrape', 3000)
const inSwarm = sc && sc.files && sc.files[H] ? sc.files[H].complete + sc.files[H].incomplete : -1
console.log(`${NAME}: scrape H: ${inSwarm} peers (${HONEST} honest + up to ${PER_CONN_CAP} attacker's)`)
check(failures, inSwarm >= 0 && inSwarm <= HONEST + PER_CONN_CAP, `scrape H: ${inSwarm} peers, want <= ${HONEST + PER_CONN_CAP}`)

// a new honest peer offers to everyone
const nb = await client('newbie')
nb.send(announce(NEWBIE, 10))
const nr = await nb.wait(m => isResp(m) || isFail(m), 3000)
const others = nr && isResp(nr) ? nr.complete + nr.incomplete - 1 : 0
const want = Math.min(10, others)
const got = () => honest.reduce((a, c) => a + c.offers, 0) + atk.offers
// wait (3 s at most) until every offer the tracker sent has arrived
const tw = Date.now()
while (got() < want && Date.now() - tw < 3000) await new Promise(resolve => setTimeout(resolve, 20))
const honestOffers = honest.reduce((a, c) => a + c.offers, 0)
console.log(`${NAME}: new peer with 10 offers: swarm has ${others} other peers, ${want} offers expected; received: honest ${honest.map(c => c.offers).join('+')} = ${honestOffers}, attacker ${atk.offers} (after ${Date.now() - tw} ms)`)
check(failures, nr && isResp(nr), `new peer's announce got ${nr ? JSON.stringify(nr) : 'nothing'}`)
check(failures, got() >= want, `only ${got()} of ${want} offers arrived within 3 s`)
check(failures, honestOffers >= HONEST, `${honestOffers} of the new peer's offers reached the ${HONEST} honest peers (per connection ${honest.map(c => c.offers).join(',')}), want >= ${HONEST}: honest peers evicted`)
check(failures, honest.every(c => !c.closed), 'an honest peer was closed by the server')

const s = await tracker.stats(t)
console.log(`${NAME}: /stats.json: torrents ${s.torrents}, peersAll ${s.peersAll}, announces ${s.announces}, errors ${s.errors}, offersForwarded ${s.offersForwarded}`)
for (const c of [...honest, atk, obs, nb]) c.ws.terminate()
check(failures, t.proc.exitCode === null, 'tracker exited during the run')
const stop = await t.stop()
check(failures, stop.code === 0 && !stop.forced, `tracker did not exit cleanly on SIGTERM: ${JSON.stringify(stop)}`)
result(NAME, failures)
