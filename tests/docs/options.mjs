// tests/docs/options.mjs - the README's option table and deploy/wstracker.conf say what
// `wstracker --help` says.
//
//   node tests/docs/options.mjs [BINARY]               (default build/wstracker)
//   node tests/docs/options.mjs BINARY --write-conf    rewrite deploy/wstracker.conf's
//                                                      options from --help (header kept)
//
// --help is printed from the option table in tracker/conf/config.c (flag, environment
// variable, default); this reads it and the README table under "## Running" and
// fails on any option missing from either side or any environment variable or
// default that differs. Prints `docs options: ok` or `docs options: FAILED: ...`.
//
// Then deploy/wstracker.conf: below its marker line, every option of --help but
// `config` (not a key of the file), in --help's order, as
//   # <help text> (default <default>)        (as --help prints them)
//   #<key> = <value>                         (the value --check-config lists by default)
// and nothing else; the file is valid as it is and with every option uncommented
// (`wstracker --config FILE --check-config` exits 0 and lists each value as before).
// Prints `docs conf: ok` or `docs conf: FAILED: ...`. A new option needs its line in
// the README table and `--write-conf` (or its two lines by hand) here.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const bin = process.argv[2] || path.join(root, 'build', 'wstracker')
const writeConf = process.argv.includes('--write-conf')
const failures = []

// --help: "  --flag [METAVAR]   help (default D)" then "   env NAME"
const help = execFileSync(bin, ['--help'], { encoding: 'utf8' }).split('\n')
const fromHelp = new Map()
for (let i = 0; i < help.length; i++) {
  const m = /^ {2}--([a-z0-9-]+)(?: \S+)?\s+(.*) \(default (.*)\)$/.exec(help[i])
  if (!m) continue
  const env = /^\s+env (\S+)$/.exec(help[i + 1] || '')
  fromHelp.set(m[1], { text: m[2], def: m[3], env: env ? env[1] : '' })
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

// ---- deploy/wstracker.conf ----
const conf = []
const confPath = path.join(root, 'deploy', 'wstracker.conf')
const MARKER = '# ---- options (tests/docs/options.mjs checks them against wstracker --help) ----'
const NOT_IN_FILE = new Set(['config']) // the file cannot name a file to read

// `--check-config` lines: "key = value  # from default|file PATH:LINE|..."
function checkConfig (args) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSTRACKER_')))
  const r = spawnSync(bin, [...args, '--check-config'], { encoding: 'utf8', env })
  const values = new Map()
  for (const line of r.stdout.split('\n')) {
    const m = /^([a-z0-9-]+) = (.*?) {2}# from (.*)$/.exec(line)
    if (m) values.set(m[1], { value: m[2], from: m[3] })
  }
  return { status: r.status, stderr: r.stderr.trim(), values }
}

const defaults = checkConfig([])
if (defaults.status !== 0) conf.push(`--check-config exits ${defaults.status}: ${defaults.stderr}`)
const expected = [...fromHelp].filter(([flag]) => !NOT_IN_FILE.has(flag)).map(([flag, h]) => {
  const v = defaults.values.get(flag)
  if (!v) conf.push(`--${flag} is in --help but --check-config does not list it`)
  return { flag, comment: `# ${h.text} (default ${h.def})`, line: `#${flag} =${v && v.value ? ' ' + v.value : ''}` }
})

let text = readFileSync(confPath, 'utf8')
let at = text.indexOf(MARKER + '\n')
if (writeConf) {
  const head = at < 0 ? '' : text.slice(0, at)
  text = head + MARKER + '\n' + expected.map(e => `\n${e.comment}\n${e.line}\n`).join('')
  writeFileSync(confPath, text)
  at = head.length
}
if (at < 0) {
  conf.push(`deploy/wstracker.conf has no line "${MARKER}"`)
} else {
  // the options part: blank lines, then pairs of a comment and a commented key line
  const lines = text.slice(at + MARKER.length + 1).split('\n').filter(l => l.trim() !== '')
  const got = []
  for (let i = 0; i < lines.length; i++) {
    const m = /^#([a-z0-9-]+) =/.exec(lines[i])
    if (m) got.push({ flag: m[1], comment: i > 0 ? lines[i - 1] : '', line: lines[i] })
    else if (!lines[i].startsWith('# ') || !/^#[a-z0-9-]+ =/.test(lines[i + 1] || '')) {
      conf.push(`deploy/wstracker.conf: stray line "${lines[i]}"`)
    }
  }
  const byFlag = new Map(got.map(g => [g.flag, g]))
  for (const e of expected) {
    const g = byFlag.get(e.flag)
    if (!g) { conf.push(`--${e.flag} is in --help but not in deploy/wstracker.conf`); continue }
    if (g.comment !== e.comment) conf.push(`${e.flag}: conf says "${g.comment}", --help says "${e.comment}"`)
    if (g.line !== e.line) conf.push(`${e.flag}: conf has "${g.line}", the default is "${e.line}"`)
  }
  for (const g of got) {
    if (!expected.some(e => e.flag === g.flag)) conf.push(`deploy/wstracker.conf names ${g.flag}, which --help lacks`)
  }
  if (conf.length === 0 && got.map(g => g.flag).join() !== expected.map(e => e.flag).join()) {
    conf.push('deploy/wstracker.conf lists the options in another order than --help')
  }
  // valid as it is, and with every option uncommented
  const asIs = checkConfig(['--config', confPath])
  if (asIs.status !== 0) conf.push(`--config deploy/wstracker.conf --check-config exits ${asIs.status}: ${asIs.stderr}`)
  const dir = mkdtempSync(path.join(tmpdir(), 'wstracker-conf-'))
  try {
    const all = path.join(dir, 'all.conf')
    writeFileSync(all, text.replace(/^#([a-z0-9-]+ =)/gm, '$1'))
    const un = checkConfig(['--config', all])
    if (un.status !== 0) conf.push(`deploy/wstracker.conf uncommented: --check-config exits ${un.status}: ${un.stderr}`)
    for (const e of expected) {
      const v = un.values.get(e.flag)
      const d = defaults.values.get(e.flag)
      if (un.status === 0 && (!v || !v.from.startsWith('file ') || !d || v.value !== d.value)) {
        conf.push(`${e.flag} uncommented: listed as ${JSON.stringify(v)}, not the default from the file`)
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  console.log(`docs conf: ${got.length} options in deploy/wstracker.conf, ${expected.length} expected`)
}
console.log(conf.length ? `docs conf: FAILED: ${conf.join('; ')}` : 'docs conf: ok')
process.exitCode = failures.length || conf.length ? 1 : 0
