// mint-tokens.mjs - keys and tokens for bench/token-upgrades.sh.
//
// Owns:   given DIR holding ed25519.pem, es256.pem, rs256.pem (private, made
//         by openssl in token-upgrades.sh) and hs256.secret, writes
//         DIR/jwks.json (the three public keys, with kids) and one token per
//         algorithm, DIR/<alg>.tok: sub, exp in a day, no scope (any hash).
// Why:    node's own crypto only (no npm install needed).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
if (!dir) throw new Error('usage: node bench/mint-tokens.mjs DIR');
const rd = (f) => fs.readFileSync(path.join(dir, f));
const keys = {
  EdDSA: { kid: 'bench-ed', key: crypto.createPrivateKey(rd('ed25519.pem')) },
  ES256: { kid: 'bench-ec', key: crypto.createPrivateKey(rd('es256.pem')) },
  RS256: { kid: 'bench-rsa', key: crypto.createPrivateKey(rd('rs256.pem')) },
};
const secret = rd('hs256.secret').toString().replace(/\n$/, '');
const jwks = { keys: [] };
for (const [alg, k] of Object.entries(keys))
  jwks.keys.push({ ...crypto.createPublicKey(k.key).export({ format: 'jwk' }), kid: k.kid, alg, use: 'sig' });
fs.writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify(jwks));

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const exp = Math.floor(Date.now() / 1000) + 86400;
for (const alg of ['EdDSA', 'HS256', 'ES256', 'RS256']) {
  const header = alg === 'HS256' ? { alg } : { alg, kid: keys[alg].kid };
  const input = `${b64(header)}.${b64({ sub: 'bench', exp })}`;
  let sig;
  if (alg === 'HS256') sig = crypto.createHmac('sha256', secret).update(input).digest();
  else if (alg === 'EdDSA') sig = crypto.sign(null, Buffer.from(input), keys[alg].key);
  else sig = crypto.sign('sha256', Buffer.from(input), { key: keys[alg].key, dsaEncoding: 'ieee-p1363' });
  fs.writeFileSync(path.join(dir, `${alg.toLowerCase()}.tok`), `${input}.${sig.toString('base64url')}\n`);
}
