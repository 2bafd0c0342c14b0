// Helpers to run the tracker under test and talk to its HTTP side.
// Shared by every tests/e2e/*.test.mjs file: keep this API stable.
//
// Which server:
//   * default: the C binary, env WSTRACKER_BIN or <repo>/build/wstracker
//   * WSTRACKER_REFERENCE=1: lib/reference-server.mjs (npm bittorrent-tracker's
//     Server behind the same command-line contract), for comparisons
//
// API
//   REPO_ROOT, E2E_ROOT                   absolute paths (repo, tests/e2e)
//   isReference() -> boolean               WSTRACKER_REFERENCE=1 ?
//   trackerBinary() -> string              path of the C binary that would be run
//   trackerName() -> string                'reference' | the binary path (for messages)
//
//   await startTracker(opts) -> tracker
//     opts.args        extra arguments after `--listen 127.0.0.1:0` (default [])
//     opts.listen      listen address (default '127.0.0.1:0'); false: pass no --listen
//     opts.env         extra environment variables
//     opts.readyTimeoutMs  how long to wait for the `listening on` lines, one per
//                      listen address given, --listen-tls ones included (default scaled(10000))
//     tracker.url      'ws://127.0.0.1:PORT' (first listener; wss:// for a --listen-tls one)
//     tracker.urls     every `listening on` URL printed
//     tracker.port     PORT (number, first listener)
//     tracker.httpUrl  'http://127.0.0.1:PORT'
//     tracker.proc     the ChildProcess
//     tracker.stderr() everything the server printed to stderr so far (string)
//     tracker.stdout() same for stdout
//     tracker.exited   Promise<{code, signal}> resolved when the process exits
//     tracker.kill(signal='SIGKILL')  send a signal, no waiting
//     await tracker.stop({timeoutMs=5000}) -> {code, signal, forced}
//                      SIGTERM, wait up to timeoutMs, then SIGKILL (forced=true).
//                      Idempotent; safe to call from after()/finally.
//   Every started tracker is also killed when the test process exits.
//
//   await stats(url) -> object             GET /stats.json (url: ws://, http:// or tracker)
//   await httpGet(url, path, {timeoutMs}) -> {status, headers, body}
//   await waitFor(fn, {timeoutMs=10000, intervalMs=100, message}) -> fn's truthy value
//                      polls sync/async fn until it returns truthy; throws with the
//                      last value/error on timeout
//   await withTimeout(promise, ms, label) -> value of promise, or throws after ms
//   randomHex(bytes=20) -> lowercase hex string (info hashes, peer ids)
//
//   TIME_SCALE                             Number(env WSTRACKER_TIME_SCALE), default 1;
//                                          tests/sanitize.sh sets 3 for sanitizer builds
//   scaled(ms) -> ms * TIME_SCALE          for the test's own deadlines (how long to wait
//                                          for an event) and negative windows (how long to
//                                          watch for one that must not come); never for
//                                          the timing bounds a test asserts about the
//                                          tracker, nor for flags passed to it

import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import http from 'node:http'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

export const E2E_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const REPO_ROOT = path.resolve(E2E_ROOT, '..', '..')

export function isReference () {
  return process.env.WSTRACKER_REFERENCE === '1'
}

export function trackerBinary () {
  return process.env.WSTRACKER_BIN || path.join(REPO_ROOT, 'build', 'wstracker')
}

export function trackerName () {
  return isReference() ? 'reference (npm bittorrent-tracker)' : trackerBinary()
}

// Sanitizer builds (ASan, TSan) run the tracker several times slower: every
// deadline a test waits with, and every window it watches for something that
// must not happen, is multiplied by this (WSTRACKER_TIME_SCALE, default 1).
const envScale = Number(process.env.WSTRACKER_TIME_SCALE || 1)
export const TIME_SCALE = Number.isFinite(envScale) && envScale > 0 ? envScale : 1

export function scaled (ms) {
  return Math.round(ms * TIME_SCALE)
}

export function randomHex (bytes = 20) {
  return randomBytes(bytes).toString('hex')
}

const live = new Set()
process.on('exit', () => {
  for (const p of live) { try { p.kill('SIGKILL') } catch {} }
})

const LISTEN_RE = /listening on (wss?:\/\/(\[[0-9a-fA-F:.]+\]|[^\s/:]+):(\d+))/

export async function startTracker (opts = {}) {
  const { args = [], listen = '127.0.0.1:0', env = {}, readyTimeoutMs = scaled(10000) } = opts
  const listenArgs = listen === false ? [] : ['--listen', listen]
  // The server prints one `listening on` line per listen address, all before it
  // serves: wait for as many lines as addresses were given on the command line
  // (at least one; an address from the environment counts as one).
  // --listen-tls addresses print `listening on wss://...` lines and count too.
  const listeners = Math.max(1, [...listenArgs, ...args].filter(a => /^--listen(-tls)?(=|$)/.test(String(a))).length)
  let cmd, argv
  if (isReference()) {
    cmd = process.execPath
    argv = [path.join(E2E_ROOT, 'lib', 'reference-server.mjs'), ...listenArgs, ...args]
  } else {
    cmd = trackerBinary()
    if (!existsSync(cmd)) {
      throw new Error(`tracker binary ${cmd} not found: build it (cmake -B build && cmake --build build), ` +
        'set WSTRACKER_BIN, or set WSTRACKER_REFERENCE=1 to test the reference server')
    }
    argv = [...listenArgs, ...args]
  }

  const proc = spawn(cmd, argv, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  live.add(proc)
  let err = ''
  let out = ''
  const urls = []
  let exitInfo = null
  const exited = new Promise(resolve => {
    proc.once('exit', (code, signal) => {
      live.delete(proc)
      exitInfo = { code, signal }
      resolve(exitInfo)
    })
  })
  proc.stdout.setEncoding('utf8')
  proc.stderr.setEncoding('utf8')
  proc.stdout.on('data', d => { out += d })

  const ready = new Promise((resolve, reject) => {
    let pending = ''
    proc.stderr.on('data', d => {
      err += d
      pending += d
      let nl
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl)
        pending = pending.slice(nl + 1)
        const m = LISTEN_RE.exec(line)
        if (m) {
          urls.push(m[1])
          if (urls.length >= listeners) resolve()
        }
      }
    })
    proc.once('error', e => reject(new Error(`cannot start ${cmd}: ${e.message}`)))
    exited.then(({ code, signal }) => reject(new Error(
      `${trackerName()} exited (code ${code}, signal ${signal}) before listening; stderr:\n${err}`)))
  })

  const t = {
    proc,
    urls,
    exited,
    stderr: () => err,
    stdout: () => out,
    kill (signal = 'SIGKILL') {
      if (!exitInfo) { try { proc.kill(signal) } catch {} }
    },
    async stop ({ timeoutMs = 5000 } = {}) {
      if (exitInfo) return { ...exitInfo, forced: false }
      try { proc.kill('SIGTERM') } catch {}
      let timer
      const r = await Promise.race([
        exited.then(x => ({ ...x, forced: false })),
        new Promise(resolve => { timer = setTimeout(() => resolve(null), timeoutMs) })
      ])
      clearTimeout(timer)
      if (r) return r
      try { proc.kill('SIGKILL') } catch {}
      return { ...(await exited), forced: true }
    }
  }

  try {
    await withTimeout(ready, readyTimeoutMs,
      `${trackerName()} did not print "listening on ws://..." within ${readyTimeoutMs} ms`)
  } catch (e) {
    // Fewer lines than addresses (e.g. two addresses naming one socket): go on with
    // what was printed; the tests check tracker.urls themselves.
    if (!(urls.length > 0 && exitInfo === null && /did not print/.test(e.message))) {
      await t.stop({ timeoutMs: 1000 })
      if (!/stderr:/.test(e.message)) e.message += `\nstderr:\n${err}`
      throw e
    }
  }
  t.url = urls[0]
  const m = LISTEN_RE.exec(`listening on ${t.url}`)
  t.port = Number(m[3])
  t.httpUrl = t.url.replace(/^ws/, 'http')
  return t
}

function toHttpBase (url) {
  if (url && typeof url === 'object') url = url.httpUrl || url.url
  const u = new URL(String(url).replace(/^ws/, 'http'))
  return `${u.protocol}//${u.host}`
}

export function httpGet (url, pathname = '/', { timeoutMs = 5000, headers = {} } = {}) {
  const target = new URL(pathname, toHttpBase(url))
  return new Promise((resolve, reject) => {
    const req = http.get(target, { headers, agent: false, timeout: timeoutMs }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', d => { body += d })
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${target} timed out after ${timeoutMs} ms`)))
    req.on('error', reject)
  })
}

export async function stats (url, { timeoutMs = 5000 } = {}) {
  const r = await httpGet(url, '/stats.json', { timeoutMs })
  if (r.status !== 200) throw new Error(`GET /stats.json: HTTP ${r.status}: ${r.body.slice(0, 500)}`)
  try {
    return JSON.parse(r.body)
  } catch {
    throw new Error(`GET /stats.json: not JSON: ${r.body.slice(0, 500)}`)
  }
}

export async function waitFor (fn, { timeoutMs = 10000, intervalMs = 100, message = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs
  let last, lastErr
  for (;;) {
    try {
      last = await fn()
      lastErr = undefined
      if (last) return last
    } catch (e) {
      lastErr = e
    }
    if (Date.now() >= deadline) break
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
  const detail = lastErr ? `last error: ${lastErr.message}` : `last value: ${JSON.stringify(last)}`
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${message} (${detail})`)
}

export function withTimeout (promise, ms, label = 'operation') {
  let timer
  return Promise.race([
    promise,
    new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${label} (timeout ${ms} ms)`)), ms)
    })
  ]).finally(() => clearTimeout(timer))
}
