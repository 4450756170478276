// A Job's timeline: one row per attempt (pod), a bar from its creation
// (waiting: scheduling, pulling, starting) through its start to its end,
// coloured by outcome; an Indexed Job's attempts grouped by index, with the
// back-off gap before each retry drawn; a container restarted in place
// shows its previous run and the back-off before the current one.
// Updated in place: bars move as time passes without being redrawn, so a
// click is never lost.

import { h, duration, localTime, clockTime } from './dom.js';

const MAX_ROWS = 1000;
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map((s) => s * 1000);

export class Gantt {
  constructor(onSelect) {
    this.onSelect = onSelect;
    this.selected = null; // {key, previous}
    this.axis = h('div', { class: 'gantt-axis', 'aria-hidden': 'true' });
    this.rows = h('div', { class: 'gantt-rows' });
    this.note = h('p', { class: 'muted small' });
    this.el = h('div', { class: 'gantt' }, this.axis, this.rows, this.note, legend());
  }

  select(key, previous) {
    this.selected = { key, previous: !!previous };
    for (const el of this.rows.querySelectorAll('.gantt-row')) el.classList.toggle('selected', el.dataset.key === key);
  }

  update(attempts, now = Date.now()) {
    const shown = attempts.slice(0, MAX_ROWS);
    this.note.textContent = attempts.length > MAX_ROWS ? `Showing the first ${MAX_ROWS} of ${attempts.length} attempts.` : '';
    if (shown.length === 0) {
      this.rows.replaceChildren(h('p', { class: 'muted' }, 'No pods yet.'));
      this.axis.replaceChildren();
      return;
    }
    const end = (a) => a.finished || now;
    let t0 = Math.min(...shown.map((a) => a.created || a.started || now));
    let t1 = Math.max(...shown.map(end));
    if (t1 - t0 < 1000) t1 = t0 + 1000;
    const pad = (t1 - t0) * 0.01;
    t0 -= pad; t1 += pad;
    const x = (t) => `${(100 * (t - t0)) / (t1 - t0)}%`;
    const w = (a, b) => `max(3px, ${(100 * Math.max(0, b - a)) / (t1 - t0)}%)`;
    this.drawAxis(t0, t1, x);

    const indexed = shown.some((a) => a.index !== null && a.index !== undefined);
    const items = [];
    if (indexed) {
      const groups = new Map();
      for (const a of shown) {
        const k = a.index ?? -1;
        if (!groups.has(k)) groups.set(k, []);
        groups.get(k).push(a);
      }
      for (const k of [...groups.keys()].sort((p, q) => p - q)) {
        const list = groups.get(k).sort((p, q) => (p.created || 0) - (q.created || 0));
        const last = list[list.length - 1];
        items.push({ group: true, key: `g:${k}`, label: k < 0 ? 'no index' : `index ${k}`, detail: `${list.length} attempt${list.length > 1 ? 's' : ''} · ${last.outcome}` });
        list.forEach((a, i) => items.push({ a, label: `#${i + 1}`, sub: a.pod, gapFrom: i > 0 ? end(list[i - 1]) : null }));
      }
    } else {
      [...shown].sort((p, q) => (p.created || 0) - (q.created || 0)).forEach((a) => items.push({ a, label: a.pod, sub: a.node }));
    }

    const old = new Map([...this.rows.children].map((el) => [el.dataset.key, el]));
    let i = 0;
    for (const it of items) {
      const key = it.group ? it.key : it.a.key;
      let el = old.get(key);
      if (!el) el = it.group ? groupRow() : this.attemptRow(key);
      old.delete(key);
      el.dataset.key = key;
      if (it.group) {
        el.querySelector('.gantt-glabel').textContent = it.label;
        el.querySelector('.gantt-gdetail').textContent = it.detail;
      } else {
        this.fill(el, it, x, w, now);
      }
      if (this.rows.children[i] !== el) this.rows.insertBefore(el, this.rows.children[i] || null);
      i++;
    }
    for (const el of old.values()) el.remove();
  }

  attemptRow(key) {
    const row = h('div', { class: 'gantt-row', role: 'listitem' },
      h('div', { class: 'gantt-label' }, h('span', { class: 'gantt-name' }), h('span', { class: 'gantt-sub' })),
      h('div', { class: 'gantt-track' }));
    row.segs = new Map();
    if (this.selected?.key === key) row.classList.add('selected');
    return row;
  }

  seg(row, kind, clickable) {
    let el = row.segs.get(kind);
    if (!el) {
      if (clickable) {
        el = h('button', { type: 'button', class: 'seg' });
        el.addEventListener('click', () => {
          const previous = kind === 'prev';
          this.select(row.dataset.key, previous);
          this.onSelect(row.attempt, previous);
        });
      } else {
        el = h('div', { class: 'seg' });
      }
      row.segs.set(kind, el);
      row.querySelector('.gantt-track').appendChild(el);
    }
    return el;
  }

  fill(row, it, x, w, now) {
    const a = it.a;
    row.attempt = a;
    row.querySelector('.gantt-name').textContent = it.label;
    row.querySelector('.gantt-sub').textContent = it.sub || '';
    row.querySelector('.gantt-label').title = `${a.pod}${a.node ? ` on ${a.node}` : ''}`;
    const want = new Set();
    const put = (kind, from, to, cls, title, clickable) => {
      if (!from || !to || to < from) return;
      want.add(kind);
      const el = this.seg(row, kind, clickable);
      el.className = `seg ${cls}`;
      el.style.left = x(from);
      el.style.width = w(from, to);
      el.title = title;
      if (clickable) el.setAttribute('aria-label', title);
    };
    const end = a.finished || now;
    const exit = a.exitCode !== null && a.exitCode !== undefined ? ` · exit ${a.exitCode}` : '';
    const reason = a.reason ? ` · ${a.reason}` : '';
    if (it.gapFrom && a.created && a.created > it.gapFrom) {
      put('gap', it.gapFrom, a.created, 'seg-gap', `back-off before this retry: ${duration(a.created - it.gapFrom)}`);
    }
    const firstRun = a.previous?.started || a.started;
    put('wait', a.created, firstRun || end, 'seg-wait', `waiting to start: ${duration((firstRun || end) - a.created)}`);
    if (a.previous) {
      const p = a.previous;
      put('prev', p.started, p.finished, `seg-${p.exitCode === 0 ? 'succeeded' : 'failed'}`,
        `${a.pod}: previous run · exit ${p.exitCode}${p.reason ? ` · ${p.reason}` : ''} · ${duration(p.finished - p.started)} — ${a.restarts} restart${a.restarts === 1 ? '' : 's'}; click for its log`, true);
      put('backoff', p.finished, a.started && a.started > p.finished ? a.started : end, 'seg-backoff',
        `restart back-off: ${duration((a.started && a.started > p.finished ? a.started : end) - p.finished)}`);
    }
    if (a.started && !(a.previous && a.outcome === 'backoff')) {
      put('run', a.started, end, `seg-${a.outcome}`,
        `${a.pod}: ${a.outcome}${exit}${reason} · started ${localTime(a.started)} · ${duration(end - a.started)}; click for its log`, true);
    } else if (!a.started && a.finished) {
      // Ended without a recorded start (e.g. failed to start): a thin mark at its end.
      put('run', a.finished, a.finished, `seg-${a.outcome}`, `${a.pod}: ${a.outcome}${exit}${reason}; click for its log`, true);
    }
    for (const [kind, el] of row.segs) {
      if (!want.has(kind)) { el.remove(); row.segs.delete(kind); }
    }
    row.classList.toggle('restarted', a.restarts > 0);
    row.dataset.outcome = a.outcome;
  }

  drawAxis(t0, t1, x) {
    const span = t1 - t0;
    const step = STEPS.find((s) => span / s <= 6) || STEPS[STEPS.length - 1];
    const ticks = [h('span', { class: 'gantt-start', title: localTime(t0) }, clockTime(t0))];
    for (let t = step; t < span; t += step) {
      // Leave room for the start time; never crowd the right edge.
      if (t / span < 0.2 || t / span > 0.95) continue;
      ticks.push(h('span', { class: 'gantt-tick', style: { left: x(t0 + t) } }, `+${duration(t)}`));
    }
    this.axis.replaceChildren(h('div', { class: 'gantt-label' }), h('div', { class: 'gantt-track' }, ticks));
  }
}

function groupRow() {
  return h('div', { class: 'gantt-group', role: 'listitem' },
    h('span', { class: 'gantt-glabel' }), h('span', { class: 'gantt-gdetail' }));
}

function legend() {
  const item = (cls, text) => h('span', { class: 'legend-item' }, h('span', { class: `swatch ${cls}` }), text);
  return h('div', { class: 'legend' },
    item('seg-wait', 'waiting'), item('seg-running', 'running'), item('seg-succeeded', 'succeeded'),
    item('seg-failed', 'failed'), item('seg-backoff', 'back-off'), item('seg-gap', 'gap before retry'));
}
