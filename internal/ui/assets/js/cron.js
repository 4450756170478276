// CronJob helpers: schedule previews from the server (the controller's own
// schedule code: zone, DST policy, jitter) and the strip of recent runs.

import { h, localTime, duration } from './dom.js';
import { postJSON } from './api.js';
import { scheduleKey } from './model.js';

// Schedules caches previews of count fire times per CronJob, asking the
// server in one batch for the ones missing and again once a fire time has
// passed.
export class Schedules {
  constructor(count, onChange) {
    this.count = count;
    this.onChange = onChange;
    this.cache = new Map(); // key → answer
    this.wanted = new Map(); // key → cron
    this.timer = null;
    this.abort = new AbortController();
  }

  get(cron) {
    const k = scheduleKey(cron);
    const a = this.cache.get(k);
    if (!a || this.due(a)) this.want(k, cron);
    return a || null;
  }

  due(a) {
    const next = a.next?.find((n) => n.fire);
    return next && Date.parse(next.at) <= Date.now() && !a.refreshing;
  }

  refreshDue() {
    let any = false;
    for (const a of this.cache.values()) if (this.due(a)) any = true;
    if (any) this.onChange();
  }

  want(k, cron) {
    this.wanted.set(k, cron);
    const a = this.cache.get(k);
    if (a) a.refreshing = true;
    if (!this.timer) this.timer = setTimeout(() => this.fetch(), 0);
  }

  async fetch() {
    this.timer = null;
    const batch = [...this.wanted.entries()].slice(0, 500);
    for (const [k] of batch) this.wanted.delete(k);
    if (batch.length === 0) return;
    try {
      const res = await postJSON('/ui/api/schedules', {
        items: batch.map(([, c]) => ({ schedule: c.schedule, timeZone: c.timeZone, annotations: c.annotations, uid: c.uid, count: this.count })),
      }, this.abort.signal);
      batch.forEach(([k], i) => this.cache.set(k, res.items[i]));
    } catch (e) {
      if (this.abort.signal.aborted) return;
      batch.forEach(([k]) => this.cache.set(k, { words: '', next: [], error: e.message }));
    }
    if (this.wanted.size) this.timer = setTimeout(() => this.fetch(), 0);
    this.onChange();
  }

  stop() { this.abort.abort(); clearTimeout(this.timer); }
}

// strip draws runs (oldest first) as coloured marks: succeeded, failed,
// skipped, running.
export function strip(runs) {
  const marks = runs.map((r) => {
    const when = r.scheduled || r.start || r.created;
    const took = r.start ? ` · ${duration((r.end || Date.now()) - r.start)}` : '';
    const title = `${r.name} · ${r.outcome}${r.reason ? ` (${r.reason})` : ''} · ${localTime(when)}${took}`;
    const attrs = { class: `mark m-${r.outcome}`, title, 'aria-label': title };
    if (r.source !== 'jobrun' || r.outcome !== 'skipped') {
      return h('a', { ...attrs, href: `/ui/jobs/${encodeURIComponent(r.ns)}/${encodeURIComponent(r.name)}`, 'data-link': true });
    }
    return h('span', attrs);
  });
  return h('div', { class: 'strip', role: 'list', 'aria-label': 'last runs' }, marks.length ? marks : h('span', { class: 'muted small' }, 'no runs yet'));
}
