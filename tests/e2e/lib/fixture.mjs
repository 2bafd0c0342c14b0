// Runs a fixture script (tests/e2e/fixtures/*.mjs) in a child Node process and
// talks to it over the IPC channel.
//
//   const f = startFixture('bt-client.mjs', config)
//     config is passed as JSON in argv[2]
//   f.events                 every message the child sent, in order ({type, ...})
//   await f.next(pred, ms, label)   first event (already received or future) matching
//                            pred(event); throws after ms, with the child's stderr
//   f.send(cmd)              post a command object to the child
//   f.kill(signal='SIGKILL') signal the child (no wait)
//   await f.close(ms=5000)   ask the child to exit ({cmd:'exit'}), SIGKILL after ms
//   f.exited                 Promise<{code, signal}>
//   f.stderr()               the child's stderr so far (also copied to ours when
//                            E2E_VERBOSE=1)
// All children still running when the test process exits are SIGKILLed.

import { fork } from 'node:child_process'
import path from 'node:path'
import { E2E_ROOT } from './tracker.mjs'

const live = new Set()
process.on('exit', () => {
  for (const c of live) { try { c.kill('SIGKILL') } catch {} }
})

export function startFixture (name, config = {}, { env = {} } = {}) {
  const script = path.join(E2E_ROOT, 'fixtures', name)
  const child = fork(script, [JSON.stringify(config)], {
    cwd: E2E_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'json'
  })
  live.add(child)
  const events = []
  const waiters = new Set()
  let err = ''
  let exitInfo = null
  child.stderr.setEncoding('utf8')
  child.stdout.setEncoding('utf8')
  const verbose = process.env.E2E_VERBOSE === '1'
  child.stderr.on('data', d => { err += d; if (verbose) process.stderr.write(`[${name}] ${d}`) })
  child.stdout.on('data', d => { err += d; if (verbose) process.stderr.write(`[${name}] ${d}`) })
  child.on('message', msg => {
    events.push(msg)
    for (const w of [...waiters]) w(msg)
  })
  const exited = new Promise(resolve => {
    child.once('exit', (code, signal) => {
      live.delete(child)
      exitInfo = { code, signal }
      for (const w of [...waiters]) w(null)
      resolve(exitInfo)
    })
  })

  const f = {
    name,
    child,
    pid: child.pid,
    events,
    exited,
    stderr: () => err,
    send (cmd) {
      if (!exitInfo && child.connected) child.send(cmd)
    },
    next (pred, ms = 15000, label = 'event') {
      const found = events.find(pred)
      if (found) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const fail = why => {
          waiters.delete(w)
          clearTimeout(timer)
          const tail = err.split('\n').slice(-40).join('\n')
          reject(new Error(`${name}: ${why} waiting for ${label}; events so far: ` +
            `${JSON.stringify(events.map(e => e.type))}\n--- ${name} output ---\n${tail}`))
        }
        const w = msg => {
          if (msg === null) return fail(`exited (${JSON.stringify(exitInfo)})`)
          if (pred(msg)) {
            waiters.delete(w)
            clearTimeout(timer)
            resolve(msg)
          }
        }
        const timer = setTimeout(() => fail(`timeout after ${ms} ms`), ms)
        waiters.add(w)
        if (exitInfo) fail(`exited (${JSON.stringify(exitInfo)})`)
      })
    },
    kill (signal = 'SIGKILL') {
      if (!exitInfo) { try { child.kill(signal) } catch {} }
    },
    async close (ms = 5000) {
      if (exitInfo) return exitInfo
      f.send({ cmd: 'exit' })
      let timer
      const r = await Promise.race([
        exited,
        new Promise(resolve => { timer = setTimeout(() => resolve(null), ms) })
      ])
      clearTimeout(timer)
      if (r) return r
      f.kill('SIGKILL')
      return exited
    }
  }
  return f
}
