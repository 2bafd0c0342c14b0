// wss:// end to end (issue 13, TLS): --listen-tls with --tls-cert / --tls-key.
//
// The test makes its own CA and two server certificates for 127.0.0.1 and
// localhost (SAN IP:127.0.0.1, DNS:localhost) with the openssl CLI in a temp
// dir: cert A (O=cert-a) and cert B (O=cert-b), each with its own key. Which
// certificate the tracker serves is read with `openssl s_client` (the subject
// it prints), so a reload is checked from outside, on a new handshake.
//
//   * the real bittorrent-tracker Client (child process, NODE_EXTRA_CA_CERTS)
//     announces over wss:// and its offer and answer go through the tracker
//   * p2pt in two headless Chromium pages connects over wss:// (Chromium trusts
//     the server key through --ignore-certificate-errors-spki-list) and the
//     pages exchange a message over WebRTC
//   * SIGHUP, and a change of the files without a signal, make new handshakes
//     get the new certificate while an open wss:// WebSocket keeps working
//   * a bad file on reload keeps the old certificate, and says why
//   * ws:// and wss:// side by side on one tracker, same swarm; /health over
//     https; /stats.json tlsCertExpiry is the certificate's notAfter
//   * startup errors (missing key: exit 2; mismatched key: OpenSSL's reason)
//   * TLS 1.1 is refused by the server (protocol_version alert), TLS 1.2 works
//     with an ECDHE AEAD suite, and ALPN never selects h2

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFile, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import https from 'node:https'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startTracker, stats, waitFor, randomHex, scaled, trackerBinary, trackerName, isReference } from './lib/tracker.mjs'
import { connect, announce } from './lib/wsclient.mjs'
import { startFixture } from './lib/fixture.mjs'
import { p2ptBrowser, p2ptExchange } from './lib/p2pt.mjs'

console.log(`tracker under test: ${trackerName()}`)
const skip = isReference() ? 'the reference server has no --listen-tls' : false

function run (cmd, args, { input = '', timeoutMs = scaled(15000) } = {}) {
  return new Promise(resolve => {
    const p = execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }))
    // A child that exits before reading its stdin (the tracker's startup errors
    // exit at once) makes this write fail with EPIPE; its exit code and output
    // are what the tests look at, so that error is expected, not a failure.
    p.stdin.on('error', () => {})
    p.stdin.end(input)
  })
}

async function openssl (args, opts) {
  const r = await run('openssl', args, opts)
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')}: exit ${r.code}\n${r.stderr}`)
  return r.stdout
}

// A CA and certificates A and B in a fresh temp dir.
async function makeCerts () {
  const dir = await mkdtemp(path.join(tmpdir(), 'wst-e2e-tls-'))
  const f = n => path.join(dir, n)
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=wstracker e2e CA'])
  await writeFile(f('ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n')
  const spki = {}
  for (const n of ['a', 'b']) {
    await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', f(`${n}.key`), '-out', f(`${n}.csr`), '-subj', `/CN=localhost/O=cert-${n}`])
    await openssl(['x509', '-req', '-in', f(`${n}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'),
      '-set_serial', n === 'a' ? '1001' : '1002', '-out', f(`${n}.pem`), '-days', '2', '-extfile', f('ext')])
    // base64(sha256(SubjectPublicKeyInfo)): what --ignore-certificate-errors-spki-list takes
    const der = await new Promise((resolve, reject) => {
      const p = spawn('openssl', ['pkey', '-in', f(`${n}.key`), '-pubout', '-outform', 'der'])
      const chunks = []
      p.stdout.on('data', d => chunks.push(d))
      p.on('error', reject)
      p.on('close', code => code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`openssl pkey: ${code}`)))
    })
    spki[n] = createHash('sha256').update(der).digest('base64')
  }
  // an RSA pair (the others are P-256), for the key-type reload check
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('r.key'), '-out', f('r.csr'),
    '-subj', '/CN=localhost/O=cert-r'])
  await openssl(['x509', '-req', '-in', f('r.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'),
    '-set_serial', '1003', '-out', f('r.pem'), '-days', '2', '-extfile', f('ext')])
  const notAfter = {}
  for (const n of ['a', 'b']) {
    const out = await openssl(['x509', '-in', f(`${n}.pem`), '-noout', '-enddate'])
    notAfter[n] = Math.floor(Date.parse(out.trim().replace(/^notAfter=/, '')) / 1000)
  }
  return { dir, f, spki, notAfter, ca: await readFile(f('ca.pem')) }
}

// The subject of the certificate a new handshake gets, as s_client prints it.
async function servedSubject (port) {
  const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost'])
  const m = /^subject=(.*)$/m.exec(r.stdout)
  if (!m) throw new Error(`s_client printed no subject (exit ${r.code}):\n${r.stdout}\n${r.stderr}`)
  return m[1]
}

function httpsGet (port, pathname, ca) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', servername: 'localhost', port, path: pathname, ca, agent: false, timeout: scaled(5000) }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', d => { body += d })
      res.on('end', () => resolve({ status: res.statusCode, body, alpn: res.socket.alpnProtocol, protocol: res.socket.getProtocol?.() }))
    })
    req.on('timeout', () => req.destroy(new Error(`GET https ${pathname} timed out`)))
    req.on('error', reject)
  })
}

const portOf = url => Number(new URL(url.replace(/^wss:/, 'https:')).port)

let certs
test('setup: a CA and two server certificates made with openssl', { skip }, async () => {
  certs = await makeCerts()
  assert.notEqual(certs.spki.a, certs.spki.b)
})
test.after(() => certs && rm(certs.dir, { recursive: true, force: true }))

// A tracker on ws:// and wss:// with cert A in its own (replaceable) files.
async function tlsTracker (t, extra = []) {
  const dir = await mkdtemp(path.join(certs.dir, 'tr-'))
  const cert = path.join(dir, 'cert.pem')
  const key = path.join(dir, 'key.pem')
  await copyFile(certs.f('a.pem'), cert)
  await copyFile(certs.f('a.key'), key)
  const tracker = await startTracker({ args: ['--listen-tls', '127.0.0.1:0', '--tls-cert', cert, '--tls-key', key, ...extra] })
  t.after(() => tracker.stop())
  const wss = tracker.urls.find(u => u.startsWith('wss://'))
  assert.ok(wss, `a listening on wss:// line: ${tracker.stderr()}`)
  assert.match(tracker.urls[0], /^ws:\/\/127\.0\.0\.1:\d+$/, 'the ws:// line keeps its format')
  return { tracker, wss, tlsPort: portOf(wss), cert, key }
}

test('ws:// and wss:// side by side: same routes, same swarms; /health over https; tlsCertExpiry', { skip, timeout: scaled(60_000) }, async t => {
  const { tracker, wss, tlsPort } = await tlsTracker(t)
  assert.match(tracker.stderr(), /wstracker: TLS certificate: O=cert-a,CN=localhost, expires \d{4}-\d\d-\d\d /)
  const h = await httpsGet(tlsPort, '/health', certs.ca)
  assert.equal(h.status, 200)
  assert.equal(h.body, 'ok')
  assert.equal(h.alpn, false, 'node offers no ALPN: none selected')
  const st = await stats(tracker)
  assert.equal(st.tlsCertExpiry, certs.notAfter.a, 'tlsCertExpiry is cert A notAfter')
  const sts = JSON.parse((await httpsGet(tlsPort, '/stats.json', certs.ca)).body)
  assert.equal(sts.tlsCertExpiry, certs.notAfter.a, '/stats.json over https too')

  const infoHash = Buffer.from(randomHex(), 'hex').toString('latin1')
  const plain = await connect(tracker.url)
  const secure = await connect(wss, { ca: certs.ca, servername: 'localhost' })
  t.after(() => { plain.close(); secure.close() })
  const idP = Buffer.from(randomHex(), 'hex').toString('latin1')
  const idS = Buffer.from(randomHex(), 'hex').toString('latin1')
  const r1 = await announce(plain, { info_hash: infoHash, peer_id: idP, numwant: 0, left: 0, event: 'started', offers: [] })
  assert.equal(r1.complete, 1)
  const r2 = await announce(secure, { info_hash: infoHash, peer_id: idS, numwant: 0, left: 10, event: 'started', offers: [] })
  assert.deepEqual([r2.complete, r2.incomplete], [1, 1], 'the wss:// peer joins the ws:// peer\'s swarm')
})

test('bittorrent-tracker Client over wss:// (NODE_EXTRA_CA_CERTS): announces, gets the other peer, signals through the tracker', { skip, timeout: scaled(90_000) }, async t => {
  const { tracker, wss } = await tlsTracker(t)
  const infoHash = randomHex()
  const idA = randomHex()
  const idB = randomHex()
  const env = { NODE_EXTRA_CA_CERTS: certs.f('ca.pem') }
  const a = startFixture('bt-client.mjs', { announce: wss.replace('127.0.0.1', 'localhost'), clients: [{ infoHash, peerId: idA }] }, { env })
  t.after(() => a.close(3000))
  await a.next(e => e.type === 'update', scaled(15000), 'announce response for A over wss://')
  const b = startFixture('bt-client.mjs', { announce: wss, clients: [{ infoHash, peerId: idB }] }, { env })
  t.after(() => b.close(3000))
  const ub = await b.next(e => e.type === 'update' && e.incomplete === 2, scaled(15000), 'B told of 2 leechers')
  assert.equal(ub.infoHash, infoHash)
  // B's offers reach A and A's answer reaches B: both only through the wss:// listener.
  await waitFor(async () => (await stats(tracker)).answersForwarded >= 1,
    { timeoutMs: scaled(20000), message: 'an answer forwarded between the two wss:// clients' })
  assert.equal(a.events.filter(e => e.type === 'error').length, 0, `no client error: ${JSON.stringify(a.events)}`)
})

test('p2pt in two Chromium pages over wss:// exchange a message over WebRTC', { skip, timeout: scaled(180_000) }, async t => {
  const { tracker, wss } = await tlsTracker(t)
  const session = await p2ptBrowser(t, tracker, { chromiumArgs: [`--ignore-certificate-errors-spki-list=${certs.spki.a}`] })
  const url = wss.replace('127.0.0.1', 'localhost')
  await p2ptExchange(session, { announceUrls: [url, url], room: `wstracker-e2e-tls-${randomHex(8)}` })
  const st = await stats(tracker)
  assert.ok(st.answersForwarded >= 1, `answers went through the tracker: ${JSON.stringify(st)}`)
})

test('reload: SIGHUP and a file change serve the new certificate to new handshakes; an open wss:// WebSocket keeps working', { skip, timeout: scaled(90_000) }, async t => {
  const { tracker, wss, tlsPort, cert, key } = await tlsTracker(t)
  assert.match(await servedSubject(tlsPort), /O = cert-a/)
  const c = await connect(wss, { ca: certs.ca, servername: 'localhost' })
  t.after(() => c.close())
  const infoHash = Buffer.from(randomHex(), 'hex').toString('latin1')
  const peerId = Buffer.from(randomHex(), 'hex').toString('latin1')
  const ann = () => announce(c, { info_hash: infoHash, peer_id: peerId, numwant: 0, left: 0, offers: [] })
  assert.equal((await ann()).complete, 1)

  // certbot's way: new files renamed over the old ones, then SIGHUP.
  await copyFile(certs.f('b.pem'), cert + '.new')
  await copyFile(certs.f('b.key'), key + '.new')
  await rename(key + '.new', key)
  await rename(cert + '.new', cert)
  tracker.kill('SIGHUP')
  await waitFor(() => /TLS certificate reloaded: O=cert-b,CN=localhost, expires /.test(tracker.stderr()),
    { timeoutMs: scaled(10000), message: 'the reload line for cert B' })
  assert.match(await servedSubject(tlsPort), /O = cert-b/, 'a new handshake gets cert B')
  assert.equal((await ann()).complete, 1, 'the WebSocket opened with cert A still gets announce replies')
  assert.equal((await stats(tracker)).tlsCertExpiry, certs.notAfter.b)

  // Caddy's way: the same files rewritten in place, no signal; the tracker
  // looks every 2 s (a pair caught half-written fails the key check and is
  // tried again at the next change).
  const before = tracker.stderr().length
  await writeFile(cert, await readFile(certs.f('a.pem')))
  await writeFile(key, await readFile(certs.f('a.key')))
  await waitFor(() => /TLS certificate reloaded: O=cert-a,CN=localhost/.test(tracker.stderr().slice(before)),
    { timeoutMs: scaled(15000), message: 'the reload line for cert A after the files changed' })
  assert.match(await servedSubject(tlsPort), /O = cert-a/, 'a new handshake gets cert A again')
  assert.equal((await ann()).complete, 1, 'the first WebSocket still gets announce replies')
  const c2 = await connect(wss, { ca: certs.ca, servername: 'localhost' })
  c2.close()
})

test('a bad reload (garbage PEM) keeps the old certificate and says why', { skip, timeout: scaled(60_000) }, async t => {
  const { tracker, tlsPort, cert } = await tlsTracker(t)
  const before = tracker.stderr().length
  await writeFile(cert, 'this is not a certificate\n')
  tracker.kill('SIGHUP')
  await waitFor(() => /(SIGHUP|file change): TLS: .*no start line; certificate unchanged/.test(tracker.stderr().slice(before)),
    { timeoutMs: scaled(10000), message: 'the refused reload, with OpenSSL\'s reason' })
  assert.match(await servedSubject(tlsPort), /O = cert-a/, 'still cert A')
  assert.equal((await stats(tracker)).tlsCertExpiry, certs.notAfter.a)
  assert.doesNotMatch(tracker.stderr().slice(before), /certificate reloaded/)
  // The key of another certificate: refused as a mismatch.
  await writeFile(cert, await readFile(certs.f('b.pem')))
  const mid = tracker.stderr().length
  tracker.kill('SIGHUP')
  await waitFor(() => /TLS: .*private key does not match the certificate.*; certificate unchanged/.test(tracker.stderr().slice(mid)),
    { timeoutMs: scaled(10000), message: 'the mismatch refused' })
  assert.match(await servedSubject(tlsPort), /O = cert-a/, 'still cert A after a mismatched pair')
})

// OpenSSL keeps one certificate per key type in a context: an EC -> RSA swap
// would leave the EC certificate served to clients preferring ECDSA, so it is
// refused, and the EC certificate stays for every client.
test('a reload to a key of another type (EC to RSA) is refused; the old certificate stays', { skip, timeout: scaled(60_000) }, async t => {
  const { tracker, tlsPort, cert, key } = await tlsTracker(t)
  const before = tracker.stderr().length
  await writeFile(cert + '.new', await readFile(certs.f('r.pem')))
  await writeFile(key + '.new', await readFile(certs.f('r.key')))
  await rename(key + '.new', key)
  await rename(cert + '.new', cert)
  tracker.kill('SIGHUP')
  await waitFor(() => /(SIGHUP|file change): TLS: .*the key type changed \(id-ecPublicKey to rsaEncryption\): restart the tracker to switch; certificate unchanged/.test(tracker.stderr().slice(before)),
    { timeoutMs: scaled(10000), message: 'the key-type change refused' })
  assert.match(await servedSubject(tlsPort), /O = cert-a/, 'still cert A')
  const rsa = await run('openssl', ['s_client', '-connect', `127.0.0.1:${tlsPort}`, '-servername', 'localhost', '-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256'])
  assert.doesNotMatch(rsa.stdout, /O = cert-r/, 'no RSA certificate served either')
  assert.doesNotMatch(tracker.stderr().slice(before), /certificate reloaded/)
})

test('--check-config loads the TLS pair: a missing or mismatched file exits 2, a good pair is listed', { skip, timeout: scaled(30_000) }, async () => {
  const bin = trackerBinary()
  let r = await run(bin, ['--listen-tls', '127.0.0.1:0', '--tls-cert', certs.f('nothere.pem'), '--tls-key', certs.f('a.key'), '--check-config'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /TLS: .*nothere\.pem: No such file or directory/)
  r = await run(bin, ['--listen-tls', '127.0.0.1:0', '--tls-cert', certs.f('a.pem'), '--tls-key', certs.f('b.key'), '--check-config'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /private key does not match the certificate/)
  r = await run(bin, ['--listen-tls', '127.0.0.1:8443', '--tls-cert', certs.f('a.pem'), '--tls-key', certs.f('a.key'), '--check-config'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^listen-tls = 127\.0\.0\.1:8443  # from flag$/m)
})

test('/metrics gives the certificate expiry as a gauge', { skip, timeout: scaled(30_000) }, async t => {
  const { tracker } = await tlsTracker(t)
  const res = await fetch(`${tracker.httpUrl}/metrics`)
  const body = await res.text()
  const m = /^wstracker_tls_cert_expiry_timestamp_seconds (\d+)$/m.exec(body)
  assert.ok(m, 'the gauge is there')
  assert.equal(Number(m[1]), certs.notAfter.a)
})

test('startup errors: --listen-tls without --tls-key exits 2 naming it; a mismatched key exits with OpenSSL\'s reason', { skip, timeout: scaled(30_000) }, async () => {
  const bin = trackerBinary()
  let r = await run(bin, ['--listen-tls', '127.0.0.1:0', '--tls-cert', certs.f('a.pem')])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /--listen-tls needs --tls-key/)
  r = await run(bin, ['--listen-tls', '127.0.0.1:0'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /--listen-tls needs --tls-cert and --tls-key/)
  r = await run(bin, ['--listen', '127.0.0.1:0', '--listen-tls', '127.0.0.1:0', '--tls-cert', certs.f('a.pem'), '--tls-key', certs.f('b.key')])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /TLS: .*private key does not match the certificate: .*key values mismatch/)
  assert.doesNotMatch(r.stderr, /listening on/)
  r = await run(bin, ['--listen-tls', '127.0.0.1:0', '--tls-cert', certs.f('ext'), '--tls-key', certs.f('a.key')])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /TLS: .*certificate: .*no start line/)
})

test('TLS 1.1 is refused by the server, TLS 1.2 gets an ECDHE AEAD suite, ALPN never selects h2', { skip, timeout: scaled(60_000) }, async t => {
  const { tlsPort } = await tlsTracker(t)
  const sc = (...args) => run('openssl', ['s_client', '-connect', `127.0.0.1:${tlsPort}`, '-servername', 'localhost', ...args])
  // SECLEVEL=0 lets this client offer TLS 1.1 at all: the refusal must come from the server.
  const old = await sc('-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0')
  assert.notEqual(old.code, 0)
  assert.match(old.stderr, /alert protocol version/, `the server's protocol_version alert:\n${old.stderr}`)
  const v12 = await sc('-tls1_2')
  assert.equal(v12.code, 0, v12.stderr)
  assert.match(v12.stdout, /Protocol\s*: TLSv1\.2/)
  assert.match(v12.stdout, /Cipher\s*: ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)/)
  const h2only = await sc('-alpn', 'h2')
  assert.match(h2only.stdout, /No ALPN negotiated/)
  const both = await sc('-alpn', 'h2,http/1.1')
  assert.match(both.stdout, /ALPN protocol: http\/1\.1/)
  assert.doesNotMatch(both.stdout, /ALPN protocol: h2/)
})
