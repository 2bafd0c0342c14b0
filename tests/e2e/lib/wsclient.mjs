// Raw WebSocket helpers for the wstracker protocol conformance suite.
// No tracker client library: JSON frames are built and inspected by hand.
//
//   const c = await connect(url)           // ws:// url, any path
//   c.send({action: 'announce', ...})      // JSON.stringify + text frame
//   c.sendText('{"raw": ...}')             // exact text, text frame
//   c.sendRaw(buffer, {binary: false})     // exact bytes (text opcode, no UTF-8 check)
//   c.sendBinary('{"...":1}')              // binary frame
//   const m = await c.next(2000)           // {text, json, binary} of the next frame
//   await c.expectNone(300)                // fails if any frame arrives within 300 ms
//   await c.waitQueued(2, 3000)            // resolves once 2 frames are waiting unread
//   const {code} = await c.waitClose(3000)
//
// Ids are Latin-1 strings: one code point U+0000..U+00FF per byte.

import WebSocket from 'ws';
import crypto from 'node:crypto';
import net from 'node:net';
import { scaled } from './tracker.mjs';

// Default deadline for a reply, a close or a handshake: 3 s, times the sanitizer
// build factor (WSTRACKER_TIME_SCALE, see tracker.mjs).
export const DEFAULT_TIMEOUT = scaled(3000);

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// ---------- ids ----------

/** Bytes (Buffer / array of numbers) -> Latin-1 id string. */
export function latin1(bytes) {
  return Buffer.from(bytes).toString('latin1');
}

/** Latin-1 id string -> Buffer of its bytes. */
export function idBytes(id) {
  return Buffer.from(id, 'latin1');
}

/** 20 random bytes as a Latin-1 string (what bittorrent-tracker sends). */
export function randomId() {
  return crypto.randomBytes(20).toString('latin1');
}

/** 20 random [0-9A-Za-z] characters (trystero's peer_id / offer_id). */
export function asciiId(alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz') {
  const b = crypto.randomBytes(20);
  let s = '';
  for (const x of b) s += alphabet[x % alphabet.length];
  return s;
}

/** A 20-byte id containing every byte class that JSON encodes differently. */
export const ALL_CLASSES_BYTES = [
  0x00, 0x08, 0x09, 0x0a, 0x0c, 0x0d, 0x1f, // controls: \u0000 \b \t \n \f \r \u001f
  0x22, 0x5c, // \" \\
  0x20, 0x2f, 0x41, 0x7f, // literal (0x7f unescaped)
  0x80, 0xa0, 0xbf, 0xc0, 0xe9, 0xff, // two-byte UTF-8
  0x01,
];
export const ALL_CLASSES_ID = latin1(ALL_CLASSES_BYTES);

/** 13 ids that together contain all 256 byte values (last one padded). */
export function allByteIds() {
  const ids = [];
  for (let start = 0; start < 256; start += 20) {
    const bytes = [];
    for (let i = 0; i < 20; i++) bytes.push((start + i) % 256);
    ids.push(latin1(bytes));
  }
  return ids;
}

/** Every character written as a \u00XX escape (valid JSON string literal, with quotes). */
export function escapedLiteral(id) {
  let s = '"';
  for (const ch of id) s += '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0');
  return s + '"';
}

/** JSON string literal exactly as JSON.stringify writes it (what the tracker must write). */
export function lit(id) {
  return JSON.stringify(id);
}

// ---------- WebSocket client ----------

export class WSClient {
  constructor(ws) {
    this.ws = ws;
    this.queue = [];
    this.waiters = [];
    this.closeInfo = null;
    this.closeWaiters = [];
    this.errors = [];
    this.queueWatchers = new Set();
    ws.on('message', (data, isBinary) => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.concat([].concat(data));
      const text = buf.toString('utf8');
      let json;
      let parseError;
      try {
        json = JSON.parse(text);
      } catch (e) {
        parseError = e;
      }
      const m = { text, json, binary: isBinary, parseError, buf };
      const w = this.waiters.shift();
      if (w) w.resolve(m);
      else this.queue.push(m);
      for (const f of [...this.queueWatchers]) f();
    });
    ws.on('error', (e) => {
      this.errors.push(e);
    });
    ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: reason.toString() };
      for (const w of this.waiters.splice(0)) w.reject(new Error(`connection closed (code ${code}) while waiting for a message`));
      for (const w of this.closeWaiters.splice(0)) w(this.closeInfo);
      for (const f of [...this.queueWatchers]) f();
    });
  }

  get open() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Send an object as a JSON text frame. */
  send(obj) {
    this.ws.send(JSON.stringify(obj));
  }

  /** Send an exact string as a text frame. */
  sendText(str, opts = {}) {
    this.ws.send(str, { binary: false, ...opts });
  }

  /** Send exact bytes; {binary:false} puts them in a text frame without any UTF-8 check. */
  sendRaw(buf, { binary = false, fin = true } = {}) {
    this.ws.send(buf, { binary, fin });
  }

  /** Send a string (or object, stringified) in a binary frame. */
  sendBinary(strOrObj) {
    const s = typeof strOrObj === 'string' ? strOrObj : JSON.stringify(strOrObj);
    this.ws.send(Buffer.from(s, 'utf8'), { binary: true });
  }

  /** Next frame: {text, json, binary}. Rejects after timeout ms or on close. */
  next(timeout = DEFAULT_TIMEOUT, what = 'a message') {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.closeInfo) return Promise.reject(new Error(`connection already closed (code ${this.closeInfo.code}), wanted ${what}`));
    return new Promise((resolve, reject) => {
      const w = {
        resolve: (m) => {
          clearTimeout(t);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      };
      const t = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`timeout after ${timeout} ms waiting for ${what}`));
      }, timeout);
      this.waiters.push(w);
    });
  }

  /** Next frame's parsed JSON (fails on a binary frame or non-JSON). */
  async nextJSON(timeout = DEFAULT_TIMEOUT, what) {
    const m = await this.next(timeout, what);
    if (m.binary) throw new Error(`reply was a binary frame (replies must be text): ${m.text}`);
    if (m.parseError) throw new Error(`reply is not JSON: ${JSON.stringify(m.text)}`);
    return m.json;
  }

  /**
   * Resolve with true once at least n frames are waiting unread in the queue (none
   * is consumed), or with false after timeout ms or when the connection closes.
   */
  waitQueued(n = 1, timeout = DEFAULT_TIMEOUT) {
    return waitQueuedAll([this], n, timeout);
  }

  /** Fail if any frame arrives within ms (or is already queued). */
  async expectNone(ms = 300, what = 'no message') {
    if (!this.queue.length) await sleep(ms);
    if (this.queue.length) {
      const m = this.queue.shift();
      throw new Error(`expected ${what}, got ${m.binary ? 'binary ' : ''}frame ${m.text.slice(0, 500)}`);
    }
  }

  /** All frames that arrive within ms. */
  async collect(ms = 300) {
    await sleep(ms);
    return this.queue.splice(0);
  }

  /** Resolve with {code, reason} when the connection closes. */
  waitClose(timeout = DEFAULT_TIMEOUT) {
    if (this.closeInfo) return Promise.resolve(this.closeInfo);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`connection not closed within ${timeout} ms`)), timeout);
      this.closeWaiters.push((info) => {
        clearTimeout(t);
        resolve(info);
      });
    });
  }

  /** Send a ping with payload and resolve with the pong's payload. */
  ping(payload = Buffer.from('hello'), timeout = DEFAULT_TIMEOUT) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.ws.off('pong', onPong);
        reject(new Error(`no pong within ${timeout} ms`));
      }, timeout);
      const onPong = (data) => {
        clearTimeout(t);
        this.ws.off('pong', onPong);
        resolve(Buffer.from(data));
      };
      this.ws.on('pong', onPong);
      this.ws.ping(payload);
    });
  }

  close(code = 1000) {
    try {
      this.ws.close(code);
    } catch {
      /* already closed */
    }
  }

  /** Drop the TCP connection without a close frame. */
  terminate() {
    this.ws.terminate();
  }

  /** Abortive close: TCP RST (SO_LINGER 0) where Node supports it, else destroy. */
  reset() {
    const s = this.ws._socket;
    if (s && typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
    else if (s) s.destroy();
    else this.ws.terminate();
  }

  /** Stop reading from the TCP socket (the server's output then backs up). */
  pauseReading() {
    this.ws._socket.pause();
  }

  resumeReading() {
    this.ws._socket.resume();
  }
}

/**
 * Resolve with true once the clients together hold at least n unread frames (none is
 * consumed), or with false after timeout ms or once every one of them is closed.
 * Event-driven: re-checked on each arriving frame and close.
 */
export function waitQueuedAll(clients, n, timeout = DEFAULT_TIMEOUT) {
  const queued = () => clients.reduce((k, c) => k + c.queue.length, 0);
  const allClosed = () => clients.every((c) => c.closeInfo);
  if (queued() >= n) return Promise.resolve(true);
  if (allClosed()) return Promise.resolve(false);
  return new Promise((resolve) => {
    const finish = (v) => {
      clearTimeout(t);
      for (const c of clients) c.queueWatchers.delete(check);
      resolve(v);
    };
    const check = () => {
      if (queued() >= n) finish(true);
      else if (allClosed()) finish(false);
    };
    const t = setTimeout(() => finish(false), timeout);
    for (const c of clients) c.queueWatchers.add(check);
  });
}

/** Open a WebSocket (no subprotocol, no permessage-deflate), resolve when open. */
export function connect(url, { timeout = DEFAULT_TIMEOUT, path, ...opts } = {}) {
  let u = url;
  if (path !== undefined) {
    const x = new URL(url);
    u = `${x.protocol}//${x.host}${path}`;
  }
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(u, { perMessageDeflate: false, handshakeTimeout: timeout, ...opts });
    const client = new WSClient(ws);
    const t = setTimeout(() => {
      ws.terminate();
      reject(new Error(`connect to ${u} timed out after ${timeout} ms`));
    }, timeout);
    ws.once('open', () => {
      clearTimeout(t);
      resolve(client);
    });
    ws.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    ws.once('unexpected-response', (req, res) => {
      clearTimeout(t);
      reject(new Error(`WebSocket upgrade refused: HTTP ${res.statusCode}`));
    });
  });
}

// ---------- request helpers ----------

/** Send an announce and wait for the reply (first frame). */
export async function announce(client, fields, timeout = DEFAULT_TIMEOUT) {
  client.send({ action: 'announce', ...fields });
  return client.nextJSON(timeout, `announce reply for ${JSON.stringify(Object.keys(fields))}`);
}

/** Send a scrape; infoHash undefined = full scrape. */
export async function scrape(client, infoHash, timeout = DEFAULT_TIMEOUT) {
  const msg = { action: 'scrape' };
  if (infoHash !== undefined) msg.info_hash = infoHash;
  client.send(msg);
  return client.nextJSON(timeout, 'scrape reply');
}

/** http://host:port from a ws:// url. */
export function httpBase(wsUrl) {
  const u = new URL(wsUrl);
  return `http://${u.host}`;
}

export async function httpGet(wsUrl, path, timeout = DEFAULT_TIMEOUT) {
  const ctl = new AbortController();
  const t = setTimeout(() => ctl.abort(), timeout);
  try {
    const res = await fetch(httpBase(wsUrl) + path, { signal: ctl.signal });
    const body = await res.text();
    return { status: res.status, headers: res.headers, body };
  } finally {
    clearTimeout(t);
  }
}

/** Poll fn() until it returns a truthy value or the deadline passes; returns the last value. */
export async function pollUntil(fn, { timeout = 5000, interval = 100 } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last && last.ok !== false) return last;
    if (Date.now() > end) return last;
    await sleep(interval);
  }
}

// ---------- raw (hand-framed) WebSocket for protocol-error tests ----------

export class RawWS {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.frames = [];
    this.waiters = [];
    this.ended = false;
    this.skipped = []; // data frames skipped by waitCloseCode
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this._parse();
    });
    const onEnd = () => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w();
    };
    sock.on('close', onEnd);
    sock.on('end', onEnd);
    sock.on('error', () => {});
  }

  static connect(host, port, path = '/', timeout = DEFAULT_TIMEOUT) {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host, port });
      const key = crypto.randomBytes(16).toString('base64');
      let head = Buffer.alloc(0);
      const t = setTimeout(() => {
        sock.destroy();
        reject(new Error('raw handshake timeout'));
      }, timeout);
      const onData = (d) => {
        head = Buffer.concat([head, d]);
        const i = head.indexOf('\r\n\r\n');
        if (i < 0) return;
        sock.off('data', onData);
        clearTimeout(t);
        const status = head.subarray(0, i).toString('latin1');
        if (!/^HTTP\/1\.1 101/.test(status)) {
          sock.destroy();
          reject(new Error(`raw handshake failed: ${status.split('\r\n')[0]}`));
          return;
        }
        const expect = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        if (!status.toLowerCase().includes(`sec-websocket-accept: ${expect.toLowerCase()}`)) {
          sock.destroy();
          reject(new Error(`raw handshake: bad Sec-WebSocket-Accept in ${status}`));
          return;
        }
        const r = new RawWS(sock);
        const rest = head.subarray(i + 4);
        if (rest.length) {
          r.buf = rest;
          r._parse();
        }
        resolve(r);
      };
      sock.on('data', onData);
      sock.on('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
      sock.on('connect', () => {
        sock.write(
          `GET ${path} HTTP/1.1\r\nHost: ${host.includes(':') ? `[${host}]` : host}:${port}\r\n` +
            `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
            `Sec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
    });
  }

  _parse() {
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = (b[0] & 0x80) !== 0;
      const opcode = b[0] & 0x0f;
      const masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      if (masked) off += 4;
      if (b.length < off + len) return;
      let payload = Buffer.from(b.subarray(off, off + len));
      if (masked) {
        const m = b.subarray(off - 4, off);
        for (let i = 0; i < payload.length; i++) payload[i] ^= m[i & 3];
      }
      this.buf = b.subarray(off + len);
      this.frames.push({ fin, opcode, payload, masked });
      for (const w of this.waiters.splice(0)) w();
    }
  }

  /** Build and send one frame. mask: true (random key), false (unmasked: a violation). */
  sendFrame({ fin = true, opcode = 1, payload = Buffer.alloc(0), mask = true, rsv = 0 }) {
    const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
    const hdr = [((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f))];
    const mbit = mask ? 0x80 : 0;
    if (p.length < 126) hdr.push(mbit | p.length);
    else if (p.length < 65536) hdr.push(mbit | 126, p.length >> 8, p.length & 0xff);
    else {
      hdr.push(mbit | 127);
      const l = Buffer.alloc(8);
      l.writeBigUInt64BE(BigInt(p.length));
      hdr.push(...l);
    }
    let body = p;
    if (mask) {
      const key = crypto.randomBytes(4);
      hdr.push(...key);
      body = Buffer.from(p);
      for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
    }
    this.sock.write(Buffer.concat([Buffer.from(hdr), body]));
  }

  /** Next frame from the server, or null if the TCP connection ended first. */
  async nextFrame(timeout = DEFAULT_TIMEOUT) {
    const end = Date.now() + timeout;
    while (!this.frames.length) {
      if (this.ended) return null;
      const left = end - Date.now();
      if (left <= 0) throw new Error(`raw: no frame within ${timeout} ms`);
      await new Promise((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.frames.shift();
  }

  /** Skip data frames until a close frame; return its code (null if TCP ended without one). */
  async waitCloseCode(timeout = DEFAULT_TIMEOUT) {
    const end = Date.now() + timeout;
    for (;;) {
      const f = await this.nextFrame(Math.max(1, end - Date.now()));
      if (f === null) return null;
      if (f.opcode === 8) return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
      this.skipped.push(f);
    }
  }

  destroy() {
    this.sock.destroy();
  }
}
