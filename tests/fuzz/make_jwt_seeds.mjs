// make_jwt_seeds.mjs - writes the seed corpus of fuzz_jwt (corpus/jwt/).
//
// Owns:   the seed tokens: one per algorithm (EdDSA, HS256, ES256, RS256),
//         a one-link and a two-link wst_chain, all with exp in 2100, signed
//         with the private halves of fuzz_jwt.c's fixed keys: the Ed25519
//         seeds and the HS256 secret written there, jwt-keys/es256.pem and
//         jwt-keys/rs256.pem (made once with openssl genpkey; test keys, not
//         secret). Each file is fuzz_jwt's input: a mode byte, 4 zero bytes
//         (now = 1800000000), then for mode 0 the token, for modes 1-3 the
//         JSON lines fuzz_jwt signs itself (header, claims, link claims).
// Why:    node's own crypto only (no npm install). Run from anywhere:
//         node tests/fuzz/make_jwt_seeds.mjs; then check that every seed
//         verifies: FUZZ_JWT_EXPECT_OK=1 ./build-fuzz/fuzz_jwt tests/fuzz/corpus/jwt/*
//         (run.sh does).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, 'corpus', 'jwt');
const ISS = 'https://auth.fuzz.example';
const EXP = 4102444800; // 2100-01-01

// An Ed25519 key from a 32-byte seed (RFC 8032), as crypto_sign_seed_keypair.
function edKey(seed) {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed)]);
  if (der.length !== 48) throw new Error('seed must be 32 bytes');
  return crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}
const ed = edKey('wstracker fuzz_jwt ed25519 seed1'); // trusted
const ed2 = edKey('wstracker fuzz_jwt ed25519 seed2'); // delegated only
const ed4 = edKey('wstracker fuzz_jwt ed25519 seed4'); // delegated only
const hs = Buffer.from('wstracker fuzz_jwt HS256 secret, 40 bytes');
const ec = crypto.createPrivateKey(fs.readFileSync(path.join(here, 'jwt-keys', 'es256.pem')));
const rsa = crypto.createPrivateKey(fs.readFileSync(path.join(here, 'jwt-keys', 'rs256.pem')));

const b64 = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
const pubJwk = (k) => crypto.createPublicKey(k).export({ format: 'jwk' });

function sign(alg, key, header, claims) {
  const input = `${b64({ alg, ...header })}.${b64(claims)}`;
  let sig;
  if (alg === 'EdDSA') sig = crypto.sign(null, Buffer.from(input), key);
  else if (alg === 'HS256') sig = crypto.createHmac('sha256', key).update(input).digest();
  else if (alg === 'ES256') sig = crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  else if (alg === 'RS256') sig = crypto.sign('sha256', Buffer.from(input), key);
  else throw new Error(alg);
  return `${input}.${sig.toString('base64url')}`;
}

const IH = '0123456789abcdef0123456789abcdef01234567';
const seeds = {
  'ok-eddsa': sign('EdDSA', ed, { typ: 'JWT' }, { iss: ISS, aud: 'wstracker', sub: 'alice', exp: EXP, jti: 'seed-eddsa' }),
  'ok-hs256': sign('HS256', hs, {}, { iss: ISS, aud: ['other', 'wstracker'], exp: EXP, wst: { ih: [IH] } }),
  'ok-es256': sign('ES256', ec, { kid: 'ec-fuzz' }, {
    iss: ISS, aud: 'wstracker', exp: EXP, nbf: 1700000000, iat: 1700000000, wst: { prefix: ['abc', '01'] },
  }),
  'ok-rs256': sign('RS256', rsa, { kid: 'rsa-fuzz' }, { iss: ISS, aud: 'wstracker', exp: EXP, sub: 'bob', wst: { rooms: ['lobby', 'r2'], ih: [IH] } }),
};
// trusted Ed25519 -> ed2 -> token
{
  const link = sign('EdDSA', ed, {}, { iss: ISS, aud: 'wstracker', exp: EXP, wst: { prefix: ['01'] }, cnf: { jwk: pubJwk(ed2) } });
  seeds['ok-chain1'] = sign('EdDSA', ed2, { wst_chain: [link] }, { exp: EXP - 3600, sub: 'carol', wst: { ih: [IH] } });
}
// trusted P-256 -> ed2 -> ed4 -> token
{
  const outer = sign('ES256', ec, { kid: 'ec-fuzz' }, { iss: ISS, aud: ['wstracker'], exp: EXP, cnf: { jwk: pubJwk(ed2) } });
  const inner = sign('EdDSA', ed2, {}, { exp: EXP - 60, wst: { rooms: ['lobby'] }, cnf: { jwk: pubJwk(ed4) } });
  seeds['ok-chain2'] = sign('EdDSA', ed4, { wst_chain: [inner, outer] }, { exp: EXP - 120, wst: { rooms: ['lobby'] } });
}

// modes 1-3: JSON lines that fuzz_jwt signs (1 Ed25519, 2 HS256, 3 a chain)
const j = JSON.stringify;
const lines = {
  'ok-mode1-eddsa': [1, j({ alg: 'EdDSA', typ: 'JWT' }), j({
    iss: ISS, aud: ['wstracker'], sub: 'dave', exp: EXP, nbf: 1700000000, jti: 'm1', wst: { rooms: ['lobby'], prefix: ['abc'] },
  })],
  'ok-mode2-hs256': [2, j({ alg: 'HS256' }), j({ iss: ISS, aud: 'wstracker', exp: EXP, wst: { ih: [IH] } })],
  'ok-mode3-chain': [3, j({ alg: 'EdDSA' }), j({ exp: EXP - 60, wst: { ih: [IH] } }), j({
    iss: ISS, aud: 'wstracker', exp: EXP, wst: { prefix: ['01'] }, cnf: { jwk: pubJwk(ed2) },
  })],
};

fs.mkdirSync(out, { recursive: true });
const write = (name, mode, text) => {
  fs.writeFileSync(path.join(out, name), Buffer.concat([Buffer.from([mode, 0, 0, 0, 0]), Buffer.from(text)]));
  console.log(`${name}: ${text.length} bytes`);
};
for (const [name, token] of Object.entries(seeds)) write(name, 0, token);
for (const [name, [mode, ...text]] of Object.entries(lines)) write(name, mode, text.join('\n'));
