// Access tokens (PROTOCOL.md section 11, issue 12) against the real binary with
// tokens minted by the npm `jose` library: refusals at the upgrade (401 and the
// one-line reason), scope per message, a real bittorrent-tracker Client with the
// token in its URL, SIGHUP swapping the JWK Set and the revoked list while a
// connection stays up, the 4401 close at the token's exp, GET /turn behind
// the token, and p2pt in Chromium with a token in its announce URL (WebRTC:
// run with ./run.sh, whose network namespace has only lo).
//
//   cd tests/e2e && node --test auth.test.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as jose from 'jose';
import Client from 'bittorrent-tracker';
import { startTracker, scaled, waitFor, withTimeout, httpGet, stats, randomHex } from './lib/tracker.mjs';
import { p2ptBrowser, p2ptExchange } from './lib/p2pt.mjs';
import { connect, announce, scrape, idBytes, randomId, latin1 } from './lib/wsclient.mjs';

const TIMEOUT = scaled(60_000);
const hex = (id) => idBytes(id).toString('hex');
const dir = mkdtempSync(path.join(tmpdir(), 'wstracker-auth-'));
const files = {
  pub: path.join(dir, 'ed25519.jwk'),
  jwks: path.join(dir, 'jwks.json'),
  revoked: path.join(dir, 'revoked.txt'),
};
const A = randomId(); // in the tokens' scope
const B = randomId(); // outside it
const ROOM = 'lobby';
const ROOM_IH = latin1(createHash('sha1').update(ROOM).digest());
const TURN_SECRET = 'e2e-' + randomBytes(12).toString('hex');
const TURN_URL = 'turn:127.0.0.1:3478';

let ed, es, other, tr, trTurn;

async function mint(key, alg, claims, { kid, exp = '1h' } = {}) {
  const jwt = new jose.SignJWT(claims).setProtectedHeader(kid ? { alg, kid } : { alg }).setIssuedAt();
  if (exp !== null) jwt.setExpirationTime(exp);
  return jwt.sign(key);
}

/** A raw upgrade request; resolves with {status, headers, body} of the refusal (or the 101). */
function upgrade(port, pathname, headers = {}) {
  return withTimeout(new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    s.setEncoding('latin1');
    s.on('connect', () => {
      const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      s.write(`GET ${pathname} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`);
    });
    s.on('data', (d) => {
      buf += d;
      if (buf.startsWith('HTTP/1.1 101')) { s.destroy(); resolve({ status: 101, body: '' }); }
    });
    s.on('end', () => {
      const [head, body = ''] = buf.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), head, body });
    });
    s.on('error', reject);
  }), scaled(5000), `upgrade ${pathname}`);
}

before(async () => {
  ed = await jose.generateKeyPair('EdDSA', { crv: 'Ed25519' });
  es = await jose.generateKeyPair('ES256');
  other = await jose.generateKeyPair('EdDSA', { crv: 'Ed25519' });
  writeFileSync(files.pub, JSON.stringify(await jose.exportJWK(ed.publicKey)));
  writeFileSync(files.jwks, JSON.stringify({ keys: [{ ...(await jose.exportJWK(es.publicKey)), kid: 'es-1', alg: 'ES256', use: 'sig' }] }));
  writeFileSync(files.revoked, '# nothing revoked yet\n');
  tr = await startTracker({ args: ['--auth-pubkey', files.pub, '--auth-jwks', files.jwks, '--revoked', files.revoked] });
  // tokens on and a TURN secret: GET /turn is behind the token
  trTurn = await startTracker({ args: ['--auth-pubkey', files.pub, '--turn-url', TURN_URL], env: { WSTRACKER_TURN_SECRET: TURN_SECRET } });
});

after(async () => {
  if (tr) await tr.stop();
  if (trTurn) await trTurn.stop();
});

test('an upgrade without a valid token is refused with 401 and the reason', { timeout: TIMEOUT }, async () => {
  const cases = [
    ['/', {}, 'token missing'],
    ['/?token=abc', {}, 'token malformed'],
    [`/?token=${await mint(other.privateKey, 'EdDSA', {})}`, {}, 'token signature invalid'],
    [`/?token=${await mint(ed.privateKey, 'EdDSA', {}, { exp: Math.floor(Date.now() / 1000) - 120 })}`, {}, 'token expired'],
    [`/?token=${await mint(ed.privateKey, 'EdDSA', {}, { exp: null })}`, {}, 'token has no exp'],
    [`/?token=${await mint(es.privateKey, 'ES256', {}, { kid: 'es-2' })}`, {}, 'token key not trusted'],
    ['/', { Authorization: 'Bearer x.y.z' }, 'token malformed'],
  ];
  for (const [p, h, reason] of cases) {
    const r = await upgrade(tr.port, p, h);
    assert.equal(r.status, 401, `${reason}: ${r.head}`);
    assert.match(r.head, /www-authenticate: Bearer/i);
    assert.equal(r.body, `${reason}\n`);
  }
  const st = await (await fetch(`${tr.httpUrl}/stats.json`)).json();
  assert.ok(st.tokenRefused >= cases.length, `tokenRefused ${st.tokenRefused}`);
});

test('a jose EdDSA token in the URL: its info hashes and rooms are served, others refused by name', { timeout: TIMEOUT }, async () => {
  const tok = await mint(ed.privateKey, 'EdDSA', { sub: 'alice', wst: { ih: [hex(A)], rooms: [ROOM] } });
  const c = await connect(`${tr.url}/?token=${tok}`);
  try {
    const pid = randomId();
    let r = await announce(c, { info_hash: A, peer_id: pid });
    assert.equal(r['failure reason'], undefined, JSON.stringify(r));
    assert.equal(r.incomplete, 1);
    r = await announce(c, { info_hash: ROOM_IH, peer_id: pid });
    assert.equal(r['failure reason'], undefined, JSON.stringify(r));
    r = await announce(c, { info_hash: B, peer_id: pid });
    assert.equal(r['failure reason'], 'info hash not allowed by token');
    assert.equal(r.action, 'announce');
    assert.equal(r.info_hash, B);
    r = await scrape(c, [A, B]);
    assert.equal(r['failure reason'], 'info hash not allowed by token');
    assert.equal(r.action, 'scrape');
    r = await scrape(c, undefined); // a full scrape would list swarms outside the scope
    assert.equal(r['failure reason'], 'info hash not allowed by token');
  } finally {
    c.close();
  }
});

test('an ES256 token from the JWK Set (kid) as Authorization: Bearer', { timeout: TIMEOUT }, async () => {
  const tok = await mint(es.privateKey, 'ES256', {}, { kid: 'es-1' });
  const c = await connect(tr.url, { headers: { Authorization: `Bearer ${tok}` } });
  try {
    const r = await announce(c, { info_hash: B, peer_id: randomId() }); // no wst: any info hash
    assert.equal(r['failure reason'], undefined, JSON.stringify(r));
  } finally {
    c.close();
  }
});

function clientScrape(announceUrl, infoHash) {
  return withTimeout(new Promise((resolve) => {
    Client.scrape({ announce: announceUrl, infoHash }, (err, data) => resolve({ err, data }));
  }), scaled(10_000), 'Client.scrape');
}

test('bittorrent-tracker Client with the token in its announce URL', { timeout: TIMEOUT }, async () => {
  const tok = await mint(ed.privateKey, 'EdDSA', { wst: { ih: [hex(A)] } });
  // an EdDSA token (--auth-pubkey) and an ES256 one from the JWK Set (kid es-1)
  const es256 = await mint(es.privateKey, 'ES256', { wst: { ih: [hex(A)] } }, { kid: 'es-1' });
  const member = await connect(`${tr.url}/?token=${tok}`); // a live peer in A to scrape
  try {
    assert.equal((await announce(member, { info_hash: A, peer_id: randomId() }))['failure reason'], undefined);
    for (const t of [tok, es256]) {
      const ok = await clientScrape(`${tr.url}/?token=${t}`, hex(A));
      assert.equal(ok.err, null, String(ok.err));
      assert.equal(ok.data.infoHash, hex(A));
      assert.equal(ok.data.incomplete, 1);
    }
  } finally {
    member.close();
  }
  // without a token the Client's upgrade is refused (401): it gets no data
  const beforeRefused = (await (await fetch(`${tr.httpUrl}/stats.json`)).json()).tokenRefused;
  const none = await clientScrape(tr.url, hex(A));
  assert.ok(none.err, 'a Client without a token got no error');
  assert.equal(none.data, undefined);
  await waitFor(async () => (await (await fetch(`${tr.httpUrl}/stats.json`)).json()).tokenRefused > beforeRefused,
    { timeoutMs: scaled(5000), message: 'the tokenless upgrade counted in tokenRefused' });
  const before = (await (await fetch(`${tr.httpUrl}/stats.json`)).json()).tokenScopeRefused;
  const refused = await clientScrape(`${tr.url}/?token=${tok}`, hex(B));
  // bittorrent-tracker reads no failure reason on a scrape reply: it reports
  // the refusal as "invalid scrape response"; the tracker counts it by name.
  assert.ok(refused.err, 'the out-of-scope scrape gave the client no data');
  assert.equal(refused.data, undefined);
  const st = await (await fetch(`${tr.httpUrl}/stats.json`)).json();
  assert.equal(st.tokenScopeRefused, before + 1);
  assert.ok(st.failureReasons['info hash not allowed by token'] >= 1, JSON.stringify(st.failureReasons));
});

test('SIGHUP swaps the JWK Set and the revoked list; an open connection stays', { timeout: TIMEOUT }, async () => {
  const esTok = await mint(es.privateKey, 'ES256', {}, { kid: 'es-1' });
  const edTok = await mint(ed.privateKey, 'EdDSA', {}, {});
  const jti = 'revoke-me-' + hex(randomId()).slice(0, 8);
  const edRevoked = await new jose.SignJWT({ jti }).setProtectedHeader({ alg: 'EdDSA' }).setExpirationTime('1h').sign(ed.privateKey);
  assert.equal((await upgrade(tr.port, `/?token=${edRevoked}`)).status, 101);
  const kept = await connect(`${tr.url}/?token=${esTok}`);
  try {
    const es2 = await jose.generateKeyPair('ES256');
    writeFileSync(files.jwks, JSON.stringify({ keys: [{ ...(await jose.exportJWK(es2.publicKey)), kid: 'es-2' }] }));
    writeFileSync(files.revoked, `${jti}\n`);
    tr.proc.kill('SIGHUP');
    await waitFor(async () => (await upgrade(tr.port, `/?token=${edRevoked}`)).body === 'token revoked\n',
      { timeoutMs: scaled(5000), message: 'revoked jti refused after SIGHUP' });
    assert.equal((await upgrade(tr.port, `/?token=${esTok}`)).body, 'token key not trusted\n');
    const es2Tok = await mint(es2.privateKey, 'ES256', {}, { kid: 'es-2' });
    assert.equal((await upgrade(tr.port, `/?token=${es2Tok}`)).status, 101);
    assert.equal((await upgrade(tr.port, `/?token=${edTok}`)).status, 101); // --auth-pubkey still trusted
    // verified once, at the upgrade: the open connection is served on
    const r = await announce(kept, { info_hash: A, peer_id: randomId() });
    assert.equal(r['failure reason'], undefined, JSON.stringify(r));
    // a bad file on SIGHUP keeps what is in force
    writeFileSync(files.jwks, '{"keys": "nope"}');
    tr.proc.kill('SIGHUP');
    await waitFor(() => /SIGHUP: .*token keys unchanged/.test(tr.stderr()), { timeoutMs: scaled(5000), message: 'bad JWKS reported' });
    assert.equal((await upgrade(tr.port, `/?token=${es2Tok}`)).status, 101);
  } finally {
    kept.close();
  }
});

test('a connection is closed with 4401 when its token expires', { timeout: TIMEOUT }, async () => {
  const t2 = await startTracker({ args: ['--auth-pubkey', files.pub, '--auth-leeway', '0'] });
  try {
    const tok = await mint(ed.privateKey, 'EdDSA', {}, { exp: Math.floor(Date.now() / 1000) + 2 });
    const c = await connect(`${t2.url}/?token=${tok}`);
    const r = await announce(c, { info_hash: A, peer_id: randomId() });
    assert.equal(r['failure reason'], undefined, JSON.stringify(r));
    // exp is at most 2 s away, the idle sweep visits every connection each 100 ms
    // here (a handful of connections): the close comes within 3 s plus scheduling.
    const info = await c.waitClose(scaled(8000));
    assert.equal(info.code, 4401);
    const st = await (await fetch(`${t2.httpUrl}/stats.json`)).json();
    assert.equal(st.tokenExpired, 1);
  } finally {
    await t2.stop();
  }
});

test('GET /turn with tokens on: no token or a bad one gets 401 and the reason', { timeout: TIMEOUT }, async () => {
  const pid = hex(randomId());
  const cases = [
    [`/turn?peer_id=${pid}`, {}, 'token missing'],
    [`/turn?peer_id=${pid}&token=abc`, {}, 'token malformed'],
    [`/turn?token=${await mint(other.privateKey, 'EdDSA', {})}&peer_id=${pid}`, {}, 'token signature invalid'],
    [`/turn?peer_id=${pid}&token=${await mint(ed.privateKey, 'EdDSA', {}, { exp: Math.floor(Date.now() / 1000) - 120 })}`, {}, 'token expired'],
    [`/turn?peer_id=${pid}`, { Authorization: 'Bearer x.y.z' }, 'token malformed'],
    [`/turn?peer_id=${pid}`, { Authorization: `Bearer ${await mint(other.privateKey, 'EdDSA', {})}` }, 'token signature invalid'],
    ['/turn?peer_id=nothex', {}, 'token missing'], // the token comes before the peer_id
  ];
  const before = (await stats(trTurn)).tokenRefused;
  for (const [p, h, reason] of cases) {
    const r = await httpGet(trTurn, p, { headers: h, timeoutMs: scaled(5000) });
    assert.equal(r.status, 401, `${reason}: ${p}: ${r.status} ${r.body}`);
    assert.equal(r.headers['www-authenticate'], 'Bearer');
    assert.match(r.headers['content-type'], /^text\/plain/);
    assert.equal(r.body, `${reason}\n`, p);
  }
  assert.equal((await stats(trTurn)).tokenRefused, before + cases.length);
});

test('GET /turn with tokens on: a valid token in the query or as Bearer gets credentials', { timeout: TIMEOUT }, async () => {
  const pid = hex(randomId());
  // scoped to one info hash: /turn names none, so any valid token is enough
  const scoped = await mint(ed.privateKey, 'EdDSA', { sub: 'alice', wst: { ih: [hex(A)] } });
  const any = await mint(ed.privateKey, 'EdDSA', {});
  const before = (await stats(trTurn)).tokenRefused;
  for (const [p, h] of [
    [`/turn?peer_id=${pid}&token=${scoped}`, {}],
    [`/turn?token=${any}&peer_id=${pid}`, {}],
    [`/turn?peer_id=${pid}`, { Authorization: `Bearer ${scoped}` }],
  ]) {
    const r = await httpGet(trTurn, p, { headers: h, timeoutMs: scaled(5000) });
    assert.equal(r.status, 200, `${p} ${JSON.stringify(h)}: ${r.body}`);
    assert.match(r.headers['content-type'], /application\/json/);
    assert.equal(r.headers['www-authenticate'], undefined);
    const ice = JSON.parse(r.body).iceServers[0];
    assert.deepEqual(ice.urls, [TURN_URL]);
    assert.equal(ice.username.split(':')[1], pid);
    assert.equal(ice.credential, createHmac('sha1', TURN_SECRET).update(ice.username).digest('base64'));
  }
  // a valid token still needs a good peer_id
  const bad = await httpGet(trTurn, `/turn?peer_id=nothex&token=${any}`, { timeoutMs: scaled(5000) });
  assert.equal(bad.status, 400);
  assert.equal(bad.body, 'invalid peer_id');
  assert.equal((await stats(trTurn)).tokenRefused, before);
});

test('p2pt in Chromium with a jose token in its announce URL; a page without one is refused', { timeout: scaled(150_000) }, async (t) => {
  // --interval 10: a failed WebRTC attempt is retried within 10 s (browser.test.mjs)
  const t3 = await startTracker({ args: ['--auth-pubkey', files.pub, '--interval', '10'] });
  t.after(() => t3.stop());
  const room = `wstracker-e2e-auth-${randomHex(8)}`;
  // p2pt's info hash is the SHA-1 of its identifier: a room scope covers it
  const tok = await mint(ed.privateKey, 'EdDSA', { sub: 'p2pt', wst: { rooms: [room] } });
  const withToken = `${t3.url}/?token=${tok}`;
  const session = await p2ptBrowser(t, t3);

  // The outsider: same room, no token. Its upgrade gets 401, which Chromium's
  // WebSocket reports as an error; bittorrent-tracker (inside p2pt) turns it
  // into a 'trackerwarning' and retries after 10 s to 5 min.
  const outsider = await session.openPage('page3-no-token');
  await session.startPeer(outsider, t3.url, room, 'receiver', 'none', 'none');
  await waitFor(async () => (await stats(t3)).tokenRefused >= 1 &&
    (await outsider.evaluate(() => window.state.errors.some((e) => e.startsWith('trackerwarning')))),
  { timeoutMs: scaled(15_000), message: 'the page without a token refused (tokenRefused, trackerwarning)' })
    .catch(async (e) => { throw new Error(`${e.message}\n${await session.diag([outsider])}`); });

  const { page1, page2 } = await p2ptExchange(session, { announceUrls: [withToken, withToken], room });

  // How long the outsider was watched: from its start, before pages 1 and 2
  // opened, to the end of their exchange (announce, offers, data channel,
  // reply: a few seconds here, at most ~75 s scaled by p2ptExchange's
  // deadlines). That is enough: page 2 announced after the outsider and got
  // its trackerconnect within that window, so an outsider let in would have
  // had it too, been counted in peersAll and become a peer of theirs
  // (p2ptExchange asserted each sees only the other). bittorrent-tracker
  // retries no sooner than 10 s after a failure, so what the window saw is
  // its first attempt, which tokenRefused shows the tracker refused (pages 1
  // and 2 carry a valid token; nothing else connects to this tracker).
  const s3 = await outsider.evaluate(() => window.state);
  assert.equal(s3.trackerConnected, 0, `outsider never connected: ${JSON.stringify(s3.log)}`);
  assert.deepEqual(s3.peers, []);
  assert.deepEqual(s3.received, []);
  const st = await stats(t3);
  assert.equal(st.peersAll, 2, 'the tracker sees the two pages with a token only');
  assert.equal(st.torrents, 1);
  assert.ok(st.tokenRefused >= 1, `tokenRefused ${st.tokenRefused}`);
  assert.equal(st.tokenScopeRefused, 0, 'the room scope covers p2pt\'s info hash');
  assert.ok((await page1.evaluate(() => window.state.errors)).every((e) => !e.startsWith('trackerwarning')));
  assert.ok((await page2.evaluate(() => window.state.errors)).every((e) => !e.startsWith('trackerwarning')));
});
