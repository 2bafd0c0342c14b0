// The config file (README "Configuration file") on the real binary: a tracker started
// with --config serves with the file's settings, the environment overrides the file and
// a flag the environment; a bad file stops it before it listens, naming the file, the
// line and the key; --check-config lists the effective settings (the TURN secret as
// "(set)"), checks the files the options name, and starts no listener.
//
//   cd tests/e2e && node --test config.test.mjs

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTracker, scaled, trackerBinary } from './lib/tracker.mjs';
import { connect, announce, randomId } from './lib/wsclient.mjs';

const TIMEOUT = scaled(60_000);
const BIN = trackerBinary();
const dir = mkdtempSync(path.join(tmpdir(), 'wstracker-config-'));
const conf = path.join(dir, 'wstracker.conf');
after(() => rmSync(dir, { recursive: true, force: true }));

// The environment without any WSTRACKER_* variable of the test runner's, plus env.
function cleanEnv(env = {}) {
  const e = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSTRACKER_')));
  return { ...e, ...env };
}

function run(args, env = {}) {
  const r = spawnSync(BIN, args, { encoding: 'utf8', env: cleanEnv(env), timeout: scaled(10_000) });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.trim() };
}

/** The interval of an announce reply from a tracker started with the file and opts. */
async function servedInterval({ args = [], env = {} } = {}) {
  const tr = await startTracker({ listen: false, args: ['--config', conf, ...args], env: cleanEnv(env) });
  try {
    const c = await connect(tr.url);
    try {
      const r = await announce(c, { info_hash: randomId(), peer_id: randomId(), numwant: 5 });
      assert.equal(r['failure reason'], undefined, JSON.stringify(r));
      return r.interval;
    } finally {
      c.close();
    }
  } finally {
    await tr.stop();
  }
}

test('the file sets what the tracker serves; environment over the file, flag over the environment', { timeout: TIMEOUT }, async () => {
  writeFileSync(conf, '# test\nlisten = 127.0.0.1:0\ninterval = 77 ; seconds\nmax-offers = 3\n');
  assert.equal(await servedInterval(), 77);
  assert.equal(await servedInterval({ env: { WSTRACKER_INTERVAL: '78' } }), 78);
  assert.equal(await servedInterval({ env: { WSTRACKER_INTERVAL: '78' }, args: ['--interval', '79'] }), 79);
  // the file named by WSTRACKER_CONFIG instead of --config
  const tr = await startTracker({ listen: false, env: cleanEnv({ WSTRACKER_CONFIG: conf }) });
  try {
    const c = await connect(tr.url);
    const r = await announce(c, { info_hash: randomId(), peer_id: randomId() });
    c.close();
    assert.equal(r.interval, 77);
  } finally {
    await tr.stop();
  }
});

test('a bad file stops the tracker before it listens: file, line, key', { timeout: TIMEOUT }, () => {
  writeFileSync(conf, 'listen = 127.0.0.1:0\n\nintervall = 120\n');
  let r = run(['--config', conf]);
  assert.equal(r.status, 2);
  assert.equal(r.stderr, `wstracker: ${conf}:3: unknown key 'intervall'`);
  writeFileSync(conf, 'listen = 127.0.0.1:0\ninterval = 0\n');
  r = run(['--config', conf]);
  assert.equal(r.status, 2);
  assert.equal(r.stderr, `wstracker: ${conf}:2: interval: '0' is not a number in 1..86400`);
  writeFileSync(conf, `listen = 127.0.0.1:0\nallow-origin = https://${'a'.repeat(5000)}.example\n`);
  r = run(['--config', conf]);
  assert.equal(r.status, 2);
  assert.equal(r.stderr, `wstracker: ${conf}:2: line longer than 4096 bytes`);
  r = run(['--config', path.join(dir, 'missing.conf')]);
  assert.equal(r.status, 2);
  assert.equal(r.stderr, `wstracker: ${path.join(dir, 'missing.conf')}: No such file or directory`);
  // the environment's errors name the variable
  writeFileSync(conf, 'listen = 127.0.0.1:0\n');
  r = run(['--config', conf], { WSTRACKER_INTERVAL: 'soon' });
  assert.equal(r.status, 2);
  assert.equal(r.stderr, "wstracker: WSTRACKER_INTERVAL: 'soon' is not a number in 1..86400");
});

test('--check-config: the effective settings and their sources, no secret, no listener; files checked', { timeout: TIMEOUT }, () => {
  writeFileSync(conf, 'listen = 127.0.0.1:0\ninterval = 77\nturn-url = turn:turn.example:3478\n');
  const secret = 'hunter2-s3cr3t-value';
  let r = run(['--config', conf, '--check-config', '--max-offers', '4'], { WSTRACKER_TURN_SECRET: secret, WSTRACKER_THREADS: '2' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.ok(lines.includes(`config = ${conf}  # from flag`), r.stdout);
  assert.ok(lines.includes(`listen = 127.0.0.1:0  # from file ${conf}:1`), r.stdout);
  assert.ok(lines.includes(`interval = 77  # from file ${conf}:2`), r.stdout);
  assert.ok(lines.includes('threads = 2  # from environment WSTRACKER_THREADS'), r.stdout);
  assert.ok(lines.includes('max-offers = 4  # from flag'), r.stdout);
  assert.ok(lines.includes('peer-timeout = 180  # from default'), r.stdout);
  assert.ok(lines.includes('turn-secret = (set)  # from environment WSTRACKER_TURN_SECRET'), r.stdout);
  assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), 'the secret is not printed');
  assert.ok(lines.every(l => /^[a-z0-9-]+ = .*  # from (default|file .+:\d+|environment WSTRACKER_[A-Z0-9_]+|flag)$/.test(l)), r.stdout);
  // it started nothing: no listener line, no worker line
  assert.doesNotMatch(r.stderr, /listening on|worker threads/);
  // the files the options name are read: a missing hash list fails the check
  r = run(['--config', conf, '--check-config', '--allow-hashes', path.join(dir, 'nope.txt')], { WSTRACKER_TURN_SECRET: secret });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /nope\.txt: No such file or directory/);
  assert.equal(r.stdout, '');
  // and options that go together
  r = run(['--config', conf, '--check-config']);
  assert.equal(r.status, 2);
  assert.equal(r.stderr, 'wstracker: --turn-secret and --turn-url go together');
});
