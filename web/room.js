// room.js - wstracker rooms for the browser: join a room by name, see who is in
// it, send messages over WebRTC data channels, and fall back to the tracker's
// relay for peers WebRTC cannot reach.
//
// A dependency-free ES module, embedded in the tracker binary and served at
// /room.js (the demo chat at /demo uses it). Wire format: proto/PROTOCOL.md
// section 10; README "Rooms".
//
//   import { joinRoom } from 'https://tracker.example/room.js'
//   const room = await joinRoom('wss://tracker.example/', 'my room', { passphrase: 'pw' })
//   room.on('message', m => console.log(m.from, m.text, m.via))
//   room.on('peer', p => console.log('joined', p.peerId, p.via))
//   room.send('hello everyone'); room.sendTo(peerId, 'hello you')
//
// How it works:
// - info_hash = SHA-1(room name); each page makes an ephemeral identity: a
//   signing key (Ed25519, or ECDSA P-256 where Ed25519 is missing) and a key
//   agreement key (X25519, or ECDH P-256). peer_id = the first 20 bytes of
//   SHA-256(algorithm name | signing public key | agreement public key), so a
//   peer_id is bound to its keys: whoever shows keys for a peer_id can be
//   checked against it, and the tracker binds the peer_id to one connection.
// - Announces ask for the room's list ("peers": 50). Two members that meet
//   exchange their public keys in a "hello" over the relay; then the one with
//   the smaller peer_id sends a directed offer. Offer and answer carry the
//   sender's public keys in clear and the SDP encrypted to the recipient
//   (ECDH -> HKDF-SHA-256 -> AES-256-GCM): the tracker sees only ciphertext.
// - Messages go over the data channel. A peer whose channel has not opened
//   within fallbackMs (8 s) is reached over the relay instead: directed
//   relays are sealed with the pair's key; broadcasts and hellos with the room
//   key, PBKDF2-SHA-256 of the passphrase (or, without one, of the room name:
//   anyone who knows the room's name can then read relayed broadcasts; use a
//   passphrase). Broadcasts are signed with the sender's signing key and
//   checked on receipt; a message that fails a check is dropped.
// - Each room keeps the tracker's last N members; a member that leaves says
//   "bye", one that vanishes drops off the list at the next announce.
//
// Options: passphrase, iceServers, iceTransportPolicy ('all' | 'relay'),
// turn (true: ask the tracker for TURN credentials, used when iceServers is
// not given), fallbackMs (8000), announceMs (the tracker's interval, at most
// 30000). Needs the tracker's relay (--relay on, the default) for the key
// exchange. Browsers only (WebCrypto, RTCPeerConnection, WebSocket).

const te = new TextEncoder()
const td = new TextDecoder()
const subtle = globalThis.crypto.subtle
const LIST = 50 // "peers": K, the most the tracker lists
const SEEN_MAX = 1000 // message ids remembered for de-duplication
const HELLO_RETRY_MS = 10000 // a hello not answered by then is sent again

const toLatin1 = (b) => { let s = ''; for (const x of b) s += String.fromCharCode(x); return s }
const fromLatin1 = (s) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 255)
const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
const fromHex = (h) => Uint8Array.from(h.match(/../g) || [], (x) => parseInt(x, 16))
const b64 = (b) => btoa(toLatin1(b))
const unb64 = (s) => fromLatin1(atob(s))
const randomBytes = (n) => crypto.getRandomValues(new Uint8Array(n))
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}
const sha = async (alg, bytes) => new Uint8Array(await subtle.digest(alg, bytes))

// ---- keys ----

const SUITES = {
  ed25519: { sign: { name: 'Ed25519' }, dh: { name: 'X25519' }, sig: { name: 'Ed25519' } },
  p256: {
    sign: { name: 'ECDSA', namedCurve: 'P-256' },
    dh: { name: 'ECDH', namedCurve: 'P-256' },
    sig: { name: 'ECDSA', hash: 'SHA-256' }
  }
}

async function makeIdentity () {
  for (const alg of ['ed25519', 'p256']) {
    const s = SUITES[alg]
    try {
      const sign = await subtle.generateKey(s.sign, false, ['sign', 'verify'])
      const dh = await subtle.generateKey(s.dh, false, ['deriveBits'])
      const signPub = new Uint8Array(await subtle.exportKey('raw', sign.publicKey))
      const dhPub = new Uint8Array(await subtle.exportKey('raw', dh.publicKey))
      const bundle = { a: alg, s: b64(signPub), d: b64(dhPub) }
      return { alg, sign, dh, bundle, id: await bundleId(bundle) }
    } catch (e) { /* this suite is missing: try the next */ }
  }
  throw new Error('room.js: WebCrypto has neither Ed25519/X25519 nor P-256')
}

// The peer_id a key bundle stands for (20 bytes).
async function bundleId (b) {
  if (!b || !SUITES[b.a] || typeof b.s !== 'string' || typeof b.d !== 'string') throw new Error('bad key bundle')
  return (await sha('SHA-256', concat(te.encode(b.a), unb64(b.s), unb64(b.d)))).slice(0, 20)
}

async function importBundle (b) {
  const s = SUITES[b.a]
  return {
    alg: b.a,
    verify: await subtle.importKey('raw', unb64(b.s), s.sign, false, ['verify']),
    dh: await subtle.importKey('raw', unb64(b.d), s.dh, false, [])
  }
}

// The AES-GCM key of a pair: ECDH, then HKDF bound to the room and both ids.
async function pairKey (me, theirs, infoHash, idA, idB) {
  const [lo, hi] = toHex(idA) < toHex(idB) ? [idA, idB] : [idB, idA]
  const bits = await subtle.deriveBits({ name: SUITES[me.alg].dh.name, public: theirs.dh }, me.dh.privateKey, 256)
  const ikm = await subtle.importKey('raw', bits, 'HKDF', false, ['deriveKey'])
  return subtle.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt: infoHash, info: concat(te.encode('wstracker room.js pair v1'), lo, hi) },
    ikm, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
}

async function roomKey (secret, infoHash) {
  const base = await subtle.importKey('raw', te.encode(secret), 'PBKDF2', false, ['deriveKey'])
  return subtle.deriveKey({ name: 'PBKDF2', hash: 'SHA-256', salt: concat(te.encode('wstracker room.js v1'), infoHash), iterations: 100000 },
    base, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
}

async function seal (key, obj) {
  const iv = randomBytes(12)
  const ct = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv }, key, te.encode(JSON.stringify(obj))))
  return b64(concat(iv, ct))
}

async function open (key, text) {
  const raw = unb64(text)
  const pt = await subtle.decrypt({ name: 'AES-GCM', iv: raw.slice(0, 12) }, key, raw.slice(12))
  return JSON.parse(td.decode(pt))
}

// Over p's data channel if it is open; false if not (or if it failed).
function trySend (p, msg) {
  if (!p.dc || p.dc.readyState !== 'open') return false
  try { p.dc.send(JSON.stringify(msg)); return true } catch (e) { return false }
}

const signedBytes = (roomHex, fromHex, id, text) => te.encode(JSON.stringify(['wstracker room.js msg v1', roomHex, fromHex, id, text]))

// ---- the room ----

class Room {
  constructor (url, name, opts, me, infoHash, rkey) {
    this.url = url
    this.name = name
    this.opts = opts
    this.me = me
    this.peerId = toHex(me.id)
    this.infoHash = infoHash
    this.roomHex = toHex(infoHash)
    this.rkey = rkey
    this.peers_ = new Map() // hex id -> peer state
    this.offers = new Map() // offer_id (latin1) -> peer state, offers waiting for an answer
    this.handlers = { peer: new Set(), message: new Set(), leave: new Set(), error: new Set() }
    this.seen = new Set()
    this.iceServers = opts.iceServers || []
    this.interval = Math.min(opts.announceMs || 30000, 30000)
    this.closed = false
    this.backoff = 1000
  }

  on (event, fn) {
    this.handlers[event].add(fn)
    return () => this.handlers[event].delete(fn)
  }

  emit (event, arg) {
    for (const fn of this.handlers[event]) {
      try { fn(arg) } catch (e) { console.error('room.js handler', e) }
    }
  }

  fail (e) { this.emit('error', e instanceof Error ? e : new Error(String(e))) }

  /** The members this page knows: {peerId, via: 'pending'|'direct'|'relay', age}. */
  peers () {
    return [...this.peers_.values()].filter((p) => !p.gone)
      .map((p) => ({ peerId: p.hex, via: p.via, age: p.age }))
  }

  // ---- tracker connection ----

  connect () {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url)
      this.ws = ws
      this.firstReply = resolve
      ws.onopen = () => { this.backoff = 1000; this.announce('started') }
      ws.onmessage = (ev) => this.onTracker(ev.data)
      ws.onerror = () => reject(new Error(`room.js: cannot connect to ${this.url}`))
      ws.onclose = () => {
        clearTimeout(this.timer)
        if (this.closed) return
        this.fail(new Error('room.js: tracker connection lost; reconnecting'))
        setTimeout(() => this.connect().catch(() => {}), this.backoff)
        this.backoff = Math.min(this.backoff * 2, 30000)
      }
    })
  }

  wire (obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj))
  }

  base () {
    return { info_hash: toLatin1(this.infoHash), peer_id: toLatin1(this.me.id) }
  }

  announce (event, extra = {}) {
    const msg = { action: 'announce', ...this.base(), numwant: 0, uploaded: 0, downloaded: 0, left: 1, ...extra }
    if (event) msg.event = event
    if (event !== 'stopped' && !extra.answer) msg.peers = LIST
    if (this.opts.turn && !this.opts.iceServers && event !== 'stopped' && !extra.answer) msg.turn = true
    this.wire(msg)
    if (!extra.answer && event !== 'stopped') {
      clearTimeout(this.timer)
      this.timer = setTimeout(() => this.announce(), this.interval)
    }
  }

  relay (data, to) {
    const msg = { action: 'relay', ...this.base(), data }
    if (to) msg.to_peer_id = to.id
    this.wire(msg)
  }

  async onTracker (text) {
    let m
    try { m = JSON.parse(text) } catch (e) { return this.fail(new Error('room.js: tracker sent bad JSON')) }
    if (m.info_hash !== toLatin1(this.infoHash)) return
    if (m['failure reason']) return this.fail(new Error(`tracker: ${m['failure reason']} (${m.action})`))
    if (m['warning message']) this.fail(new Error(`tracker warning: ${m['warning message']}`))
    try {
      if (m.action === 'relay') return await this.onRelay(m)
      if (m.action !== 'announce') return
      if (m.offer) return await this.onOffer(m)
      if (m.answer) return await this.onAnswer(m)
      if (Array.isArray(m.peers)) this.onList(m)
    } catch (e) {
      this.fail(e)
    }
  }

  onList (m) {
    if (m.interval) this.interval = Math.min(m.interval * 1000, this.opts.announceMs || 30000)
    if (m.ice_servers && !this.opts.iceServers) this.iceServers = m.ice_servers
    const listed = new Set()
    for (const e of m.peers) {
      const hex = toHex(fromLatin1(e.peer_id))
      listed.add(hex)
      const p = this.peer(hex)
      p.age = e.age
      if (!p.keys && (!p.helloAt || Date.now() - p.helloAt > HELLO_RETRY_MS)) {
        this.hello(p, true).catch((err) => this.fail(err))
      }
    }
    // Members gone from a complete list (fewer than asked for) that are not
    // connected directly have left.
    if (m.peers.length < LIST) {
      for (const p of this.peers_.values()) {
        if (!listed.has(p.hex) && p.via !== 'direct' && !p.gone && p.seenList) this.drop(p)
        if (listed.has(p.hex)) p.seenList = true
      }
    }
    if (this.firstReply) { this.firstReply(this); this.firstReply = null }
  }

  peer (hex) {
    let p = this.peers_.get(hex)
    if (!p || p.gone) {
      p = { hex, id: toLatin1(fromHex(hex)), via: 'pending', age: 0, keys: null, key: null, pc: null, dc: null }
      this.peers_.set(hex, p)
    }
    return p
  }

  // ---- keys: hello over the relay ----

  async hello (p, wantReply) {
    p.helloAt = Date.now()
    this.relay('k' + await seal(this.rkey, { t: 'hello', b: this.me.bundle, re: wantReply }), p)
  }

  async learn (p, bundle) {
    if (p.keys) return
    if (toHex(await bundleId(bundle)) !== p.hex) throw new Error('room.js: keys do not match the peer_id')
    if (bundle.a !== this.me.alg) throw new Error(`room.js: peer ${p.hex.slice(0, 8)} uses ${bundle.a}, this page ${this.me.alg}`)
    p.keys = await importBundle(bundle)
    p.key = await pairKey(this.me, p.keys, this.infoHash, this.me.id, fromHex(p.hex))
    this.startFallback(p)
  }

  startFallback (p) {
    clearTimeout(p.fallback)
    p.fallback = setTimeout(() => {
      if (p.via === 'pending' && !p.gone) this.usable(p, 'relay')
    }, this.opts.fallbackMs || 8000)
  }

  usable (p, via) {
    const first = p.via === 'pending'
    p.via = via
    if (first) this.emit('peer', { peerId: p.hex, via })
  }

  // ---- WebRTC: directed offers, encrypted SDP ----

  newPc (p) {
    if (p.pc) try { p.pc.close() } catch (e) {}
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, iceTransportPolicy: this.opts.iceTransportPolicy || 'all' })
    p.pc = pc
    pc.ondatachannel = (ev) => this.channel(p, ev.channel)
    return pc
  }

  channel (p, dc) {
    p.dc = dc
    dc.onopen = () => { this.usable(p, 'direct'); p.via = 'direct' }
    dc.onmessage = (ev) => this.onData(p, ev.data, 'direct')
    dc.onclose = () => {
      if (p.dc !== dc) return
      p.dc = null
      if (!p.gone && p.via === 'direct') p.via = 'relay'
    }
  }

  async gathered (pc) {
    if (pc.iceGatheringState === 'complete') return
    await new Promise((resolve) => {
      const done = () => { if (pc.iceGatheringState === 'complete') resolve() }
      pc.addEventListener('icegatheringstatechange', done)
      setTimeout(resolve, 5000) // send what was gathered by then
    })
  }

  /** Send peerId a directed offer now (normally done for you when you meet). */
  async call (peerId) {
    const p = this.peer(peerId)
    if (!p.keys) { p.wantCall = true; if (!p.helloAt) await this.hello(p, true); return }
    p.wantCall = false
    const pc = this.newPc(p)
    this.channel(p, pc.createDataChannel('room'))
    await pc.setLocalDescription(await pc.createOffer())
    await this.gathered(pc)
    const offerId = toLatin1(randomBytes(20))
    this.offers.set(offerId, p)
    if (this.offers.size > 64) this.offers.delete(this.offers.keys().next().value)
    const box = await seal(p.key, { type: 'offer', sdp: pc.localDescription.sdp })
    this.announce(null, { offers: [{ offer_id: offerId, to_peer_id: p.id, offer: { wstr: 1, key: this.me.bundle, box } }] })
    this.startFallback(p)
  }

  async onOffer (m) {
    const p = this.peer(toHex(fromLatin1(m.peer_id)))
    if (!m.offer || m.offer.wstr !== 1) return // not room.js: ignore
    await this.learn(p, m.offer.key)
    const o = await open(p.key, m.offer.box)
    if (o.type !== 'offer') throw new Error('room.js: bad offer')
    const pc = this.newPc(p)
    await pc.setRemoteDescription({ type: 'offer', sdp: o.sdp })
    await pc.setLocalDescription(await pc.createAnswer())
    await this.gathered(pc)
    const box = await seal(p.key, { type: 'answer', sdp: pc.localDescription.sdp })
    this.announce(null, { answer: { wstr: 1, key: this.me.bundle, box }, offer_id: m.offer_id, to_peer_id: p.id })
  }

  async onAnswer (m) {
    const p = this.offers.get(m.offer_id)
    if (!p || p.id !== m.peer_id || !m.answer || m.answer.wstr !== 1) return
    this.offers.delete(m.offer_id)
    const o = await open(p.key, m.answer.box)
    if (o.type !== 'answer' || !p.pc) return
    await p.pc.setRemoteDescription({ type: 'answer', sdp: o.sdp })
  }

  // ---- messages ----

  async onRelay (m) {
    const p = this.peer(toHex(fromLatin1(m.peer_id)))
    const data = String(m.data)
    let o
    try {
      if (data[0] === 'k') o = await open(this.rkey, data.slice(1))
      else if (data[0] === 'p' && p.key) o = await open(p.key, data.slice(1))
      else return
    } catch (e) {
      return this.fail(new Error('room.js: a relayed message did not decrypt (another passphrase?)'))
    }
    if (o.t === 'hello') {
      const fresh = !p.keys
      await this.learn(p, o.b)
      if (o.re) await this.hello(p, false)
      // The member with the smaller peer_id calls (one offer per pair, no glare).
      if ((fresh && this.peerId < p.hex) || p.wantCall) await this.call(p.hex)
      return
    }
    return this.onData(p, o, 'relay')
  }

  async onData (p, raw, via) {
    let o = raw
    if (typeof raw === 'string') { try { o = JSON.parse(raw) } catch (e) { return } }
    if (o.t === 'bye') return this.drop(p)
    if (o.t !== 'msg' || typeof o.text !== 'string' || typeof o.id !== 'string') return
    if (this.seen.has(o.id)) return
    if (o.b) {
      if (!p.keys) return // cannot check the signature of a stranger
      const ok = await subtle.verify(SUITES[p.keys.alg].sig, p.keys.verify, unb64(o.sig || ''),
        signedBytes(this.roomHex, p.hex, o.id, o.text)).catch(() => false)
      if (!ok) return this.fail(new Error(`room.js: dropped a broadcast with a bad signature from ${p.hex.slice(0, 8)}`))
    }
    this.seen.add(o.id)
    if (this.seen.size > SEEN_MAX) this.seen.delete(this.seen.values().next().value)
    if (p.via === 'pending') this.usable(p, via)
    this.emit('message', { from: p.hex, text: o.text, via, broadcast: !!o.b })
  }

  /** To every member: over open data channels, and one relay for the others. Signed. */
  async send (text) {
    const id = toHex(randomBytes(12))
    const sig = b64(new Uint8Array(await subtle.sign(SUITES[this.me.alg].sig, this.me.sign.privateKey,
      signedBytes(this.roomHex, this.peerId, id, text))))
    const msg = { t: 'msg', id, text, b: true, sig }
    let viaRelay = false
    for (const p of this.peers_.values()) {
      if (p.gone) continue
      if (!trySend(p, msg)) viaRelay = true
    }
    if (viaRelay) this.relay('k' + await seal(this.rkey, msg))
  }

  /** To one member: its data channel, else a relay sealed with the pair's key. */
  async sendTo (peerId, text) {
    const p = this.peers_.get(peerId)
    if (!p || p.gone) throw new Error(`room.js: ${peerId} is not in the room`)
    const msg = { t: 'msg', id: toHex(randomBytes(12)), text }
    if (trySend(p, msg)) return
    if (p.key) return this.relay('p' + await seal(p.key, msg), p)
    return this.relay('k' + await seal(this.rkey, msg), p)
  }

  drop (p) {
    if (p.gone) return
    p.gone = true
    clearTimeout(p.fallback)
    if (p.pc) try { p.pc.close() } catch (e) {}
    this.peers_.delete(p.hex)
    this.emit('leave', { peerId: p.hex })
  }

  /** Say bye, leave the room and close every connection. */
  async leave () {
    if (this.closed) return
    const bye = { t: 'bye' }
    for (const p of this.peers_.values()) trySend(p, bye)
    this.relay('k' + await seal(this.rkey, bye))
    this.announce('stopped')
    this.closed = true
    clearTimeout(this.timer)
    for (const p of this.peers_.values()) if (p.pc) try { p.pc.close() } catch (e) {}
    setTimeout(() => this.ws && this.ws.close(), 200)
  }
}

/**
 * Join room `name` through the tracker at `url` (ws:// or wss://). Resolves
 * once the tracker has answered the first announce, so room.peers() lists the
 * members it knew then.
 */
export async function joinRoom (url, name, opts = {}) {
  const infoHash = await sha('SHA-1', te.encode(name))
  const me = await makeIdentity()
  const rkey = await roomKey(opts.passphrase || name, infoHash)
  const room = new Room(url, name, opts, me, infoHash, rkey)
  await room.connect()
  return room
}

export default joinRoom
