// DOM helpers and formatting. Text always goes in as text nodes (never as
// HTML), so nothing an object holds can become markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'style') Object.assign(el.style, v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

// link is an in-app link: the router takes the click.
export function link(href, text, cls) {
  return h('a', { href, class: cls, 'data-link': true }, text);
}

// reconcile makes parent's children the rows of items, reusing the element
// of every row whose signature did not change (so a click or a hover is not
// lost to a redraw).
export function reconcile(parent, items, key, signature, build) {
  const old = new Map();
  for (const el of parent.children) old.set(el.dataset.key, el);
  let i = 0;
  for (const item of items) {
    const k = String(key(item));
    const sig = signature(item);
    let el = old.get(k);
    old.delete(k);
    if (!el || el.dataset.sig !== sig) {
      const fresh = build(item);
      fresh.dataset.key = k;
      fresh.dataset.sig = sig;
      if (el) el.replaceWith(fresh);
      el = fresh;
    }
    if (parent.children[i] !== el) parent.insertBefore(el, parent.children[i] || null);
    i++;
  }
  for (const el of old.values()) el.remove();
}

export function ms(ts) {
  if (!ts) return null;
  const t = Date.parse(ts);
  return Number.isNaN(t) ? null : t;
}

// duration prints like kubectl's: 45s, 3m12s, 5h7m, 3d4h.
export function duration(d) {
  if (d === null || d === undefined || Number.isNaN(d)) return '';
  let s = Math.max(0, Math.round(d / 1000));
  if (s < 60) return `${s}s`;
  let m = Math.floor(s / 60); s %= 60;
  if (m < 10) return s ? `${m}m${s}s` : `${m}m`;
  if (m < 60) return `${m}m`;
  let hrs = Math.floor(m / 60); m %= 60;
  if (hrs < 8) return m ? `${hrs}h${m}m` : `${hrs}h`;
  if (hrs < 48) return `${hrs}h`;
  const days = Math.floor(hrs / 24); hrs %= 24;
  if (days < 8) return hrs ? `${days}d${hrs}h` : `${days}d`;
  if (days < 365 * 2) return `${days}d`;
  return `${Math.floor(days / 365)}y`;
}

// relTime is "3m ago" / "in 5h".
export function relTime(t, now = Date.now()) {
  if (!t) return '—';
  return t <= now ? `${duration(now - t)} ago` : `in ${duration(t - now)}`;
}

// Live text: elements whose text depends on the clock carry data-since
// (age), data-from/data-to (duration; no data-to: running) or data-at
// (relative); tick() rewrites them every second without a redraw.
export function age(t) {
  return h('span', { class: 'live', dataset: { since: t ?? '' }, title: t ? new Date(t).toLocaleString() : '' }, t ? duration(Date.now() - t) : '—');
}

export function span(from, to) {
  return h('span', { class: 'live', dataset: { from: from ?? '', to: to ?? '' } }, from ? duration((to || Date.now()) - from) : '—');
}

export function at(t) {
  return h('span', { class: 'live', dataset: { at: t ?? '' }, title: t ? new Date(t).toLocaleString() : '' }, relTime(t));
}

export function tick(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll('.live')) {
    const d = el.dataset;
    let text;
    if (d.since !== undefined) text = d.since ? duration(now - Number(d.since)) : '—';
    else if (d.from !== undefined) text = d.from ? duration((d.to ? Number(d.to) : now) - Number(d.from)) : '—';
    else if (d.at !== undefined) text = d.at ? relTime(Number(d.at), now) : '—';
    if (text !== undefined && el.textContent !== text) el.textContent = text;
  }
}

export function clockTime(t) {
  const d = new Date(t);
  const pad = (n) => String(n).padStart(2, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function localTime(t) {
  if (!t) return '—';
  const d = new Date(t);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// quantity reads a Kubernetes quantity ("250m", "1.5", "128Mi", "1e3") as a number.
export function quantity(q) {
  if (q === undefined || q === null || q === '') return 0;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$/.exec(String(q).trim());
  if (!m) return 0;
  const n = parseFloat(m[1]);
  const mult = {
    '': 1, m: 1e-3, u: 1e-6, n: 1e-9, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, Pi: 1024 ** 5, Ei: 1024 ** 6,
  }[m[2]];
  return mult === undefined ? 0 : n * mult;
}

export function cpu(cores) {
  if (cores < 1) return `${Math.round(cores * 1000)}m`;
  return `${Math.round(cores * 100) / 100}`;
}

export function bytes(b) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
  return `${b >= 10 || i === 0 ? Math.round(b) : Math.round(b * 10) / 10} ${units[i]}`;
}

export function badge(text, kind) {
  const t = String(text);
  return h('span', { class: `badge b-${kind || t.toLowerCase()}` }, t.charAt(0).toUpperCase() + t.slice(1));
}

export function bar(done, failed, total, label) {
  const pct = (n) => (total > 0 ? Math.min(100, (100 * n) / total) : 0);
  return h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': total, 'aria-valuenow': done, 'aria-label': label },
    h('div', { class: 'progress-track' },
      h('div', { class: 'progress-done', style: { width: `${pct(done)}%` } }),
      h('div', { class: 'progress-failed', style: { width: `${pct(failed)}%` } })),
    h('span', { class: 'progress-text' }, label));
}

export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', null, title), ...children);
}

export function table(headers, tbody, cls) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: cls },
      h('thead', null, h('tr', null, headers.map((x) => (typeof x === 'string' ? h('th', null, x) : h('th', { class: x.class }, x.text))))),
      tbody));
}

export function errorBox(err) {
  return h('div', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err));
}
