// GET /turn (PROTOCOL.md section 8): TURN credentials in the TURN REST API
// scheme, checked against node's own HMAC and then used against a real coturn
// (Debian's `coturn`: turnserver + turnutils_uclient), started here on
// 127.0.0.1 inside the suite's network namespace. Skipped against the
// reference server, which has no such route.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHmac, randomBytes } from 'node:crypto'
import { startTracker, httpGet, isReference, scaled } from './lib/tracker.mjs'
import { connect, announce, idBytes, randomId } from './lib/wsclient.mjs'
import { startCoturn } from './lib/coturn.mjs'

const SECRET = 'e2e-' + randomBytes(12).toString('hex')
const skip = isReference() ? 'the reference server has no /turn' : false

function run (cmd, args, timeoutMs) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d) => { out += d })
    p.stderr.on('data', (d) => { out += d })
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs)
    p.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out }) })
  })
}

test('GET /turn hands out credentials coturn accepts', { skip, timeout: scaled(90000) }, async (t) => {
  const port = 20000 + Math.floor(Math.random() * 20000)
  const urls = [`turn:127.0.0.1:${port}`, `turn:127.0.0.1:${port}?transport=tcp`]
  const tr = await startTracker({ args: ['--turn-url', urls[0], '--turn-url', urls[1], '--turn-ttl', '600'], env: { WSTRACKER_TURN_SECRET: SECRET } })
  t.after(() => tr.stop())
  const peerHex = randomBytes(20).toString('hex')

  const before = Math.floor(Date.now() / 1000)
  const r = await httpGet(tr.url, `/turn?peer_id=${peerHex}`)
  assert.equal(r.status, 200, r.body)
  assert.match(r.headers['content-type'], /application\/json/)
  assert.equal(r.headers['access-control-allow-origin'], '*')
  const j = JSON.parse(r.body)
  assert.equal(j.ttl, 600)
  assert.equal(j.iceServers.length, 1)
  const ice = j.iceServers[0]
  assert.deepEqual(ice.urls, urls)
  const [expiry, user] = ice.username.split(':')
  assert.equal(user, peerHex)
  assert.ok(Number(expiry) >= before + 600 && Number(expiry) <= Math.ceil(Date.now() / 1000) + 600, `expiry ${expiry}`)
  // An independent HMAC-SHA1 (node's crypto) gives the same credential.
  assert.equal(ice.credential, createHmac('sha1', SECRET).update(ice.username).digest('base64'))

  // An announce with "turn": true gets the same kind of credentials for its
  // peer_id in "ice_servers" (PROTOCOL.md 10).
  const ws = await connect(tr.url)
  t.after(() => ws.terminate())
  const pid = randomId()
  const a = await announce(ws, { info_hash: randomId(), peer_id: pid, turn: true })
  assert.equal(a.action, 'announce', JSON.stringify(a))
  assert.equal(a.ice_servers.length, 1)
  assert.deepEqual(a.ice_servers[0].urls, urls)
  const [aExpiry, aUser] = a.ice_servers[0].username.split(':')
  assert.equal(aUser, idBytes(pid).toString('hex'))
  assert.ok(Number(aExpiry) >= before + 600, `expiry ${aExpiry}`)
  assert.equal(a.ice_servers[0].credential, createHmac('sha1', SECRET).update(a.ice_servers[0].username).digest('base64'))

  // Bad requests: a clear status and a one-line reason.
  for (const q of ['', '?peer_id=', `?peer_id=${peerHex.slice(1)}`, `?peer_id=${'zz'.repeat(20)}`, `?peer_id=${peerHex}00`]) {
    const b = await httpGet(tr.url, `/turn${q}`)
    assert.equal(b.status, 400, `GET /turn${q}: ${b.status}`)
    assert.equal(b.body, 'invalid peer_id')
  }

  // A real TURN server takes the credential: two clients allocate relays on
  // it and exchange packets through them; a wrong password is refused.
  const coturnLog = await startCoturn(t, port, SECRET)
  const ok = await run('turnutils_uclient', ['-y', '-c', '-n', '3', '-p', String(port), '-u', ice.username, '-w', ice.credential, '127.0.0.1'], scaled(30000))
  assert.equal(ok.code, 0, `uclient with the tracker's credential: ${ok.out.slice(-1500)}\n${coturnLog().slice(-1500)}`)
  assert.match(ok.out, /tot_recv_bytes ~ [1-9]/)
  // A wrong password: the credential with its first character changed (it
  // starts with 'A' one time in 64, so 'A' + the rest would be the same one).
  const wrong = (ice.credential[0] === 'A' ? 'B' : 'A') + ice.credential.slice(1)
  assert.notEqual(wrong, ice.credential)
  const bad = await run('turnutils_uclient', ['-y', '-c', '-n', '1', '-p', String(port), '-u', ice.username, '-w', wrong, '127.0.0.1'], scaled(30000))
  assert.notEqual(bad.code, 0, 'coturn accepted a wrong credential: the check above proves nothing')
  const viaAnnounce = await run('turnutils_uclient', ['-y', '-c', '-n', '3', '-p', String(port), '-u', a.ice_servers[0].username, '-w', a.ice_servers[0].credential, '127.0.0.1'], scaled(30000))
  assert.equal(viaAnnounce.code, 0, `uclient with the announce's credential: ${viaAnnounce.out.slice(-1500)}`)
})

test('without --turn-secret, GET /turn is 404; half a TURN configuration does not start', { skip, timeout: scaled(30000) }, async (t) => {
  const tr = await startTracker()
  t.after(() => tr.stop())
  const r = await httpGet(tr.url, `/turn?peer_id=${randomBytes(20).toString('hex')}`)
  assert.equal(r.status, 404)
  await assert.rejects(startTracker({ args: ['--turn-url', 'turn:127.0.0.1:3478'] }))
  await assert.rejects(startTracker({ args: ['--turn-url', 'http://x'], env: { WSTRACKER_TURN_SECRET: 'x' } }))
})
