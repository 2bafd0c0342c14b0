#!/usr/bin/env node
// Reference WebSocket tracker for the e2e tests: the npm package
// `bittorrent-tracker`'s Server (ws only, no http/udp announce), wrapped so that it
// honours the same command-line contract as build/wstracker:
//
//   node lib/reference-server.mjs --listen 127.0.0.1:0 [--listen HOST:PORT ...]
//                                 [--interval SECONDS]
//
//   --interval N: announce interval sent to WebSocket clients, in seconds (as
//   wstracker; default 120). bittorrent-tracker's Server sends its `interval`
//   option divided by 5 to WebSocket clients, so it gets N * 5 s.
//
//   * prints `listening on ws://HOST:PORT` to stderr once per listener when ready
//   * GET /health      -> 200 "ok"
//   * GET /stats.json  -> bittorrent-tracker's stats plus `connections` (open
//                         WebSocket connections) and `uptime` (seconds)
//   * SIGTERM / SIGINT -> closes and exits 0
//
// lib/tracker.mjs starts this instead of the C binary when WSTRACKER_REFERENCE=1.
// Unknown flags are ignored with a warning, so tests that pass wstracker-specific
// flags still run against the reference (and may then fail on the behaviour).

import { Server } from 'bittorrent-tracker'

const argv = process.argv.slice(2)
const listens = []
let intervalMs = 120 * 5 * 1000
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]
  const eq = a.indexOf('=')
  const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a
  const inlineValue = a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : undefined
  const value = () => (inlineValue !== undefined ? inlineValue : argv[++i])
  if (name === '--listen' || name === '-l') {
    listens.push(value())
  } else if (name === '--interval') {
    intervalMs = Number(value()) * 5 * 1000
  } else {
    process.stderr.write(`reference-server: ignoring unsupported argument ${a}\n`)
  }
}
if (listens.length === 0) listens.push('127.0.0.1:0')

function parseListen (s) {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(s)
  if (!m) throw new Error(`bad --listen value: ${s}`)
  return { host: m[1] || '127.0.0.1', port: Number(m[2]) }
}

const startedAt = Date.now()
const servers = []

function startOne ({ host, port }) {
  return new Promise((resolve, reject) => {
    const server = new Server({ http: false, udp: false, ws: true, stats: true, interval: intervalMs })
    let connections = 0
    server.ws.on('connection', socket => {
      connections++
      socket.once('close', () => { connections-- })
    })
    // Runs before bittorrent-tracker's own request handlers (which skip a request
    // whose headers were already sent).
    server.http.prependListener('request', (req, res) => {
      const path = (req.url || '').split('?')[0]
      if (req.method === 'GET' && path === '/health') {
        res.setHeader('Content-Type', 'text/plain')
        res.end('ok')
      } else if (req.method === 'GET' && path === '/stats.json' && req.url !== path) {
        // bittorrent-tracker only matches the exact url; serve /stats.json?x too
        req.url = path
      }
      if (req.method === 'GET' && path === '/stats.json') {
        // Add the fields wstracker has and bittorrent-tracker lacks.
        const end = res.end.bind(res)
        res.end = (body, ...rest) => {
          try {
            const stats = JSON.parse(String(body))
            stats.connections = connections
            stats.uptime = Math.floor((Date.now() - startedAt) / 1000)
            body = JSON.stringify(stats)
          } catch {}
          return end(body, ...rest)
        }
      }
    })
    server.on('error', err => {
      process.stderr.write(`reference-server: error: ${err && err.message}\n`)
    })
    server.on('warning', err => {
      process.stderr.write(`reference-server: warning: ${err && err.message}\n`)
    })
    server.http.once('error', reject)
    server.listen(port, host, () => {
      const addr = server.http.address()
      const h = addr.family === 'IPv6' || addr.family === 6 ? `[${addr.address}]` : addr.address
      servers.push(server)
      resolve(`ws://${h}:${addr.port}`)
    })
  })
}

let stopping = false
function shutdown () {
  if (stopping) return
  stopping = true
  let left = servers.length
  const done = () => { if (--left <= 0) process.exit(0) }
  if (left === 0) process.exit(0)
  for (const s of servers) s.close(done)
  setTimeout(() => process.exit(0), 2000).unref()
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)

try {
  for (const l of listens) {
    const url = await startOne(parseListen(l))
    process.stderr.write(`listening on ${url}\n`)
  }
} catch (err) {
  process.stderr.write(`reference-server: cannot listen: ${err.message}\n`)
  process.exit(1)
}
