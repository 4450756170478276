// The page is an ordinary Kubernetes API client: it lists with limit and
// continue, then watches from the list's resourceVersion, exactly as an
// informer does. The session cookie authenticates these GETs as the signed-in
// user and the API server's authorizer decides what that user may read.

export class HTTPError extends Error {
  constructor(status, message, reason) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

let unauthorized = () => {};

// The session's page key: kept in this origin's storage (browsers send a
// host's cookies to all its ports, but keep storage per origin) and sent with
// every request; the cookie alone is no session.
const PAGE_KEY = 'batchd-page-key';

export function setPageKey(key) {
  if (key) localStorage.setItem(PAGE_KEY, key);
  else localStorage.removeItem(PAGE_KEY);
}

function headers(extra = {}) {
  const key = localStorage.getItem(PAGE_KEY);
  return key ? { ...extra, 'X-Batchd-Page-Key': key } : extra;
}

// onUnauthorized sets what happens when the session is gone (401).
export function onUnauthorized(fn) { unauthorized = fn; }

async function failure(r) {
  let msg = `${r.status} ${r.statusText}`;
  let reason = '';
  try {
    const body = await r.json();
    msg = body.message || body.error || msg;
    reason = body.reason || '';
  } catch { /* not JSON */ }
  if (r.status === 401) unauthorized();
  return new HTTPError(r.status, msg, reason);
}

export async function getJSON(path, signal) {
  const r = await fetch(path, { credentials: 'same-origin', signal, headers: headers({ Accept: 'application/json' }) });
  if (!r.ok) throw await failure(r);
  return r.json();
}

export async function postJSON(path, body, signal) {
  const r = await fetch(path, {
    method: 'POST', credentials: 'same-origin', signal,
    headers: headers({ 'Content-Type': 'application/json', Accept: 'application/json' }),
    body: JSON.stringify(body),
  });
  if (!r.ok) throw await failure(r);
  return r.json();
}

// served reports whether the API server serves resource in groupVersion
// (discovery, once per page load).
const discovery = new Map();
export function served(groupVersion, resource) {
  const key = `${groupVersion}/${resource}`;
  if (!discovery.has(key)) {
    discovery.set(key, getJSON(`/apis/${groupVersion}`)
      .then((list) => (list.resources || []).some((r) => r.name === resource))
      .catch(() => false));
  }
  return discovery.get(key);
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

// lines yields the newline-separated JSON objects of a streamed response.
async function* lines(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield JSON.parse(line);
    }
  }
  if (buf.trim()) yield JSON.parse(buf);
}

class Gone extends Error {}

// Collection keeps a live map (by UID) of the objects at path matching
// params: a small first page is shown as soon as it arrives, larger pages
// follow, then a watch applies every change. map turns an object into what
// the page keeps (a compact record: 10,000 full Jobs would weigh on the tab).
export class Collection {
  constructor(path, { params = {}, map = (o) => o, firstPage = 250, pageSize = 1000, onChange = () => {}, onError = () => {} } = {}) {
    Object.assign(this, { path, params, map, firstPage, pageSize, onChange, onError });
    this.items = new Map();
    this.loaded = false;
    this.error = null;
    this.abort = new AbortController();
    this.pending = null;
  }

  start() { this.run(); return this; }

  stop() { this.abort.abort(); clearTimeout(this.pending); }

  // changed redraws soon: at the next frame, or after 150 ms for large
  // collections, whose redraw sorts thousands of records (a busy watch
  // would otherwise redraw 60 times a second).
  changed() {
    if (this.pending) return;
    this.pending = setTimeout(() => { this.pending = null; this.onChange(this); }, this.items.size > 2000 ? 150 : 16);
  }

  url(extra) {
    const q = new URLSearchParams({ ...this.params, ...extra });
    return `${this.path}?${q}`;
  }

  async run() {
    const signal = this.abort.signal;
    let delay = 500;
    while (!signal.aborted) {
      try {
        const rv = await this.list(signal);
        this.error = null;
        delay = 500;
        await this.watch(rv, signal);
      } catch (e) {
        if (signal.aborted) return;
        if (e instanceof Gone) continue; // history compacted: list again
        this.error = e;
        this.onError(e, this);
        this.changed();
        if (e.status === 401) return;
        await sleep(delay, signal);
        delay = Math.min(delay * 2, 10000);
      }
    }
  }

  async list(signal) {
    const fresh = new Map();
    const initial = !this.loaded;
    if (initial) this.items = fresh;
    let cont = '';
    let rv = '';
    do {
      const extra = { limit: String(cont ? this.pageSize : this.firstPage) };
      if (cont) extra.continue = cont;
      let list;
      try {
        list = await getJSON(this.url(extra), signal);
      } catch (e) {
        if (e.status === 410) throw new Gone(); // continue token expired
        throw e;
      }
      if (!rv) rv = list.metadata.resourceVersion;
      for (const o of list.items || []) fresh.set(o.metadata.uid, this.map(o));
      cont = list.metadata.continue || '';
      if (initial) this.changed();
    } while (cont);
    this.items = fresh;
    this.loaded = true;
    this.changed();
    return rv;
  }

  async watch(rv, signal) {
    for (;;) {
      const r = await fetch(this.url({ watch: '1', resourceVersion: rv, allowWatchBookmarks: 'true' }),
        { credentials: 'same-origin', signal, headers: headers({ Accept: 'application/json' }) });
      if (r.status === 410) throw new Gone();
      if (!r.ok) throw await failure(r);
      for await (const ev of lines(r)) {
        const o = ev.object;
        switch (ev.type) {
          case 'ADDED':
          case 'MODIFIED':
            this.items.set(o.metadata.uid, this.map(o));
            rv = o.metadata.resourceVersion;
            this.changed();
            break;
          case 'DELETED':
            this.items.delete(o.metadata.uid);
            rv = o.metadata.resourceVersion;
            this.changed();
            break;
          case 'BOOKMARK':
            rv = o.metadata.resourceVersion;
            break;
          case 'ERROR':
            if (o.code === 410) throw new Gone();
            throw new HTTPError(o.code || 500, o.message || 'watch failed', o.reason);
          default:
        }
      }
      // The server ends every watch after a while: go on from where it stopped.
    }
  }
}

// streamText reads a text response as it arrives (a followed log).
export async function streamText(path, { signal, onText }) {
  const r = await fetch(path, { credentials: 'same-origin', signal, headers: headers() });
  if (!r.ok) throw await failure(r);
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    onText(decoder.decode(value, { stream: true }));
  }
}
