// `wstracker keygen` and `wstracker token` (README "Private tracker: access tokens",
// PROTOCOL.md section 11) against the npm `jose` library and the real tracker: the key
// file is a JWK jose imports and signs with, the printed tokens verify with jose, and the
// tracker (trusting only the printed public key) serves their scope, a two-step delegation
// included.
//
//   cd tests/e2e && node --test cli.test.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as jose from 'jose';
import { startTracker, scaled, trackerBinary } from './lib/tracker.mjs';
import { connect, announce, idBytes, randomId, latin1 } from './lib/wsclient.mjs';

const TIMEOUT = scaled(60_000);
const BIN = trackerBinary();
const hex = (id) => idBytes(id).toString('hex');
const dir = mkdtempSync(path.join(tmpdir(), 'wstracker-cli-'));
const f = (name) => path.join(dir, name);
const A = randomId();
const B = randomId();

/** Run `wstracker args...`: {status, stdout, stderr}. */
function run(...args) {
  const r = spawnSync(BIN, args, { encoding: 'utf8', timeout: scaled(10_000) });
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim() };
}

function ok(...args) {
  const r = run(...args);
  assert.equal(r.status, 0, `wstracker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

let rootPub, appPub, tr;

/** The tracker accepts tok at the upgrade and serves an announce for info hash ih. */
async function servedWith(tok, ih) {
  const c = await connect(`${tr.url}/?token=${tok}`);
  try {
    const r = await announce(c, { info_hash: ih, peer_id: randomId() });
    assert.equal(r['failure reason'], undefined, JSON.stringify(r));
  } finally {
    c.close();
  }
}

before(async () => {
  rootPub = ok('keygen', '--out', f('root.jwk'));
  writeFileSync(f('root.pub.jwk'), rootPub + '\n');
  appPub = ok('keygen', '--out', f('app.jwk'));
  writeFileSync(f('app.pub.jwk'), appPub + '\n');
  tr = await startTracker({ args: ['--auth-pubkey', f('root.pub.jwk')] });
});

after(async () => {
  if (tr) await tr.stop();
});

test('keygen: a 0600 private JWK jose imports, the public JWK on stdout, kid = RFC 7638 thumbprint', { timeout: TIMEOUT }, async () => {
  assert.equal(statSync(f('root.jwk')).mode & 0o777, 0o600);
  const priv = JSON.parse(readFileSync(f('root.jwk'), 'utf8'));
  const pub = JSON.parse(rootPub);
  assert.equal(priv.kty, 'OKP');
  assert.equal(priv.crv, 'Ed25519');
  assert.equal(typeof priv.d, 'string');
  assert.equal(pub.d, undefined, 'no private part on stdout');
  assert.equal(pub.x, priv.x);
  assert.equal(pub.kid, await jose.calculateJwkThumbprint(pub, 'sha256'));
  // jose signs with the key file; the tracker, trusting the public JWK, accepts it
  const key = await jose.importJWK(priv, 'EdDSA');
  const tok = await new jose.SignJWT({}).setProtectedHeader({ alg: 'EdDSA', kid: pub.kid }).setIssuedAt().setExpirationTime('5m').sign(key);
  await servedWith(tok, A);
  // never overwrites
  const before = readFileSync(f('root.jwk'), 'utf8');
  const again = run('keygen', '--out', f('root.jwk'));
  assert.equal(again.status, 2);
  assert.match(again.stderr, /not overwritten/);
  assert.equal(readFileSync(f('root.jwk'), 'utf8'), before);
  assert.match(run('keygen').stderr, /--out FILE is required/);
  // the private file where the public key belongs: the tracker does not start
  const wrong = spawnSync(BIN, ['--auth-pubkey', f('root.jwk'), '--listen', '127.0.0.1:0'], { encoding: 'utf8', timeout: scaled(10_000) });
  assert.notEqual(wrong.status, 0);
  assert.match(wrong.stderr, /JWK holds a private key \(d\): give the public JWK/);
});

test('token: jose verifies it with the public JWK; claims as asked', { timeout: TIMEOUT }, async () => {
  const tok = ok('token', '--key', f('root.jwk'), '--ttl', '2h', '--sub', 'alice', '--ih', hex(A), '--room', 'lobby',
    '--prefix', 'ab', '--aud', 'app', '--iss', 'me');
  const { payload, protectedHeader } = await jose.jwtVerify(tok, await jose.importJWK(JSON.parse(rootPub), 'EdDSA'),
    { issuer: 'me', audience: 'app' });
  assert.equal(protectedHeader.alg, 'EdDSA');
  assert.equal(protectedHeader.kid, JSON.parse(rootPub).kid);
  assert.equal(payload.sub, 'alice');
  assert.equal(payload.exp - payload.iat, 7200);
  assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 60, `iat ${payload.iat}`);
  assert.match(payload.jti, /^[0-9a-f]{32}$/);
  assert.deepEqual(payload.wst, { ih: [hex(A)], prefix: ['ab'], rooms: ['lobby'] });
  // another key does not verify it
  await assert.rejects(jose.jwtVerify(tok, await jose.importJWK(JSON.parse(appPub), 'EdDSA')));
});

test('token: the tracker serves its scope and refuses the rest by name', { timeout: TIMEOUT }, async () => {
  const room = latin1(createHash('sha1').update('lobby').digest());
  const tok = ok('token', '--key', f('root.jwk'), '--ttl', '10m', '--ih', hex(A), '--room', 'lobby');
  const c = await connect(`${tr.url}/?token=${tok}`);
  try {
    const pid = randomId();
    for (const ih of [A, room]) {
      const r = await announce(c, { info_hash: ih, peer_id: pid });
      assert.equal(r['failure reason'], undefined, JSON.stringify(r));
    }
    const r = await announce(c, { info_hash: B, peer_id: pid });
    assert.equal(r['failure reason'], 'info hash not allowed by token');
  } finally {
    c.close();
  }
  // a token of a key the tracker does not trust
  const stranger = ok('token', '--key', f('app.jwk'), '--ttl', '10m');
  await assert.rejects(connect(`${tr.url}/?token=${stranger}`), /HTTP 401/);
});

test('delegation: root certifies app (--cnf); app signs with --chain; the tracker trusts only root', { timeout: TIMEOUT }, async () => {
  const prefix = hex(A).slice(0, 4);
  const link = ok('token', '--key', f('root.jwk'), '--ttl', '1d', '--prefix', prefix, '--cnf', f('app.pub.jwk'));
  writeFileSync(f('link.jwt'), link + '\n');
  const { payload } = await jose.jwtVerify(link, await jose.importJWK(JSON.parse(rootPub), 'EdDSA'));
  assert.deepEqual(payload.cnf.jwk.x, JSON.parse(appPub).x);

  const tok = ok('token', '--key', f('app.jwk'), '--ttl', '1h', '--ih', hex(A), '--chain', f('link.jwt'));
  assert.deepEqual(jose.decodeProtectedHeader(tok).wst_chain, [link]);
  await servedWith(tok, A);
  // a delegated token for an info hash outside the link's prefix: minted, refused at the upgrade
  let other = randomId();
  while (hex(other).startsWith(prefix)) other = randomId();
  const wide = ok('token', '--key', f('app.jwk'), '--ttl', '1h', '--ih', hex(other), '--chain', link);
  await assert.rejects(connect(`${tr.url}/?token=${wide}`), /HTTP 401/);
  // the tool refuses what cannot verify: outliving the link, a link for another key
  assert.match(run('token', '--key', f('app.jwk'), '--ttl', '2d', '--chain', link).stderr, /outlive chain link 1/);
  assert.match(run('token', '--key', f('root.jwk'), '--chain', link).stderr, /certifies another key/);
  assert.match(run('token', '--key', f('root.jwk'), '--cnf', f('app.jwk')).stderr, /private part d/);
});

test('token: bad arguments exit 2 with the reason', { timeout: TIMEOUT }, async () => {
  const cases = [
    [['token'], /--key FILE is required/],
    [['token', '--key', f('root.pub.jwk')], /no private part d/],
    [['token', '--key', f('nope.jwk')], /No such file/],
    [['token', '--key', f('root.jwk'), '--ttl', '5y'], /--ttl '5y'/],
    [['token', '--key', f('root.jwk'), '--ih', 'abc'], /not 40 hex digits/],
    [['token', '--key', f('root.jwk'), '--prefix', 'xyz'], /not 1 to 40 hex digits/],
    [['token', '--key', f('root.jwk'), '--bogus'], /usage: wstracker token/],
  ];
  for (const [args, re] of cases) {
    const r = run(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: status ${r.status}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stdout, '', 'nothing on stdout');
  }
  assert.match(execFileSync(BIN, ['token', '--help'], { encoding: 'utf8' }), /--chain LINK/);
  assert.match(execFileSync(BIN, ['--help'], { encoding: 'utf8' }), /wstracker token --help/);
});
