// tests/docs/options.mjs - the README's option table says what `wstracker --help` says.
//
//   node tests/docs/options.mjs [BINARY]      (default build/wstracker)
//
// --help is printed from the option table in tracker/conf/config.c (flag, environment
// variable, default); this reads it and the README table under "## Running" and
// fails on any option missing from either side or any environment variable or
// default that differs. Prints `docs options: ok` or `docs options: FAILED: ...`.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const bin = process.argv[2] || path.join(root, 'build', 'wstracker')
const failures = []

// --help: "  --flag [METAVAR]   help (default D)" then "   env NAME"
const help = execFileSync(bin, ['--help'], { encoding: 'utf8' }).split('\n')
const fromHelp = new Map()
for (let i = 0; i < help.length; i++) {
  const m = /^ {2}--([a-z0-9-]+)(?: \S+)?\s+.*\(default (.*)\)$/.exec(help[i])
  if (!m) continue
  const env = /^\s+env (\S+)$/.exec(help[i + 1] || '')
  fromHelp.set(m[1], { def: m[2], env: env ? env[1] : '' })
}

// README: "| `--flag METAVAR` | `ENV` (note) | default | meaning |"
const readme = readFileSync(path.join(root, 'README.md'), 'utf8').split('\n')
const fromReadme = new Map()
for (const line of readme) {
  const m = /^\| `--([a-z0-9-]+)[^`]*` \| `([A-Z0-9_]+)(?:=1)?`[^|]*\| ([^|]*) \|/.exec(line)
  if (m) fromReadme.set(m[1], { env: m[2], def: m[3].replace(/`/g, '').trim() })
}

if (fromHelp.size === 0) failures.push('no option read from --help')
for (const [flag, h] of fromHelp) {
  const r = fromReadme.get(flag)
  if (!r) { failures.push(`--${flag} is in --help but not in the README table`); continue }
  if (r.env !== h.env) failures.push(`--${flag}: README says ${r.env}, --help says ${h.env}`)
  if (r.def !== h.def) failures.push(`--${flag}: README default "${r.def}", --help "${h.def}"`)
}
for (const flag of fromReadme.keys()) {
  if (!fromHelp.has(flag)) failures.push(`--${flag} is in the README table but not in --help`)
}
console.log(`docs options: ${fromHelp.size} options in --help, ${fromReadme.size} in the README table`)
console.log(failures.length ? `docs options: FAILED: ${failures.join('; ')}` : 'docs options: ok')
process.exitCode = failures.length ? 1 : 0
