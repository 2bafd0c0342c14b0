// A real coturn (Debian's `coturn` package: turnserver) for the e2e tests, on
// 127.0.0.1 inside the suite's network namespace, checking credentials in the
// TURN REST API scheme (use-auth-secret / static-auth-secret).
//
//   const log = await startCoturn(t, port, secret)   // stopped by t.after(); log() = its output so far
//   startCoturn(t, port, secret, { verbose: true })    // -v: logs each session and allocation

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { scaled, waitFor } from './tracker.mjs'

/** A coturn turnserver on 127.0.0.1:port with use-auth-secret; resolves once it serves. */
export async function startCoturn (t, port, secret, { verbose = false } = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'wstracker-coturn-'))
  const p = spawn('turnserver', ['-n', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1',
    `--listening-port=${port}`, '--use-auth-secret', `--static-auth-secret=${secret}`,
    '--realm=wstracker.test', '--no-tls', '--no-dtls', '--no-cli', '--allow-loopback-peers',
    `--userdb=${path.join(dir, 'turndb')}`, '--log-file=stdout', '--simple-log', ...(verbose ? ['-v'] : [])],
  { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  p.stdout.on('data', (d) => { log += d })
  p.stderr.on('data', (d) => { log += d })
  t.after(async () => { p.kill('SIGKILL'); await rm(dir, { recursive: true, force: true }) })
  await waitFor(() => /Total General servers/.test(log) || p.exitCode !== null,
    { timeoutMs: scaled(10000), message: 'turnserver start' })
  assert.equal(p.exitCode, null, `turnserver exited: ${log.slice(-2000)}`)
  return () => log
}
