// Overview: every namespace's CronJobs (schedule in words, next run, the
// last 20 runs as marks) and Jobs (status, completions, active/failed,
// duration, age), live.

import { h, link, badge, bar, age, span, at, errorBox, section } from '../dom.js';
import { Collection } from '../api.js';
import { compactJob, compactCronJob, completionsText, completionsTotal } from '../model.js';
import { CRONJOB_LABEL, watchRuns, cronRuns } from '../runs.js';
import { PagedTable } from '../paged.js';
import { Schedules, strip } from '../cron.js';

const STATUSES = ['all', 'Running', 'Failed', 'Complete', 'Suspended'];

export function overviewPage(main) {
  const state = { filter: '', status: 'all' };
  const summary = h('div', { class: 'summary', id: 'summary' });
  const errors = h('div', { class: 'errors' });
  const schedules = new Schedules(1, () => render());

  const crons = new PagedTable({
    headers: ['CronJob', { text: 'Namespace', class: 'wide' }, 'Schedule', { text: 'Time zone', class: 'wide' }, { text: 'Last run', class: 'wide' }, 'Next run', { text: 'Last 20 runs', class: 'wide' }],
    key: (c) => c.cron.uid,
    signature: (c) => JSON.stringify([c.cron, c.preview, c.runs.map((r) => [r.name, r.outcome])]),
    build: cronRow,
    cls: 'crons',
    empty: 'No CronJobs.',
  });
  const jobsTable = new PagedTable({
    headers: ['Status', 'Job', { text: 'Namespace', class: 'wide' }, 'Completions', { text: 'Active', class: 'num wide' }, { text: 'Failed', class: 'num wide' }, { text: 'Duration', class: 'wide' }, 'Age'],
    key: (j) => j.uid,
    signature: (j) => JSON.stringify(j),
    build: jobRow,
    cls: 'jobs',
    empty: 'No Jobs.',
  });
  const filter = h('input', {
    type: 'search', placeholder: 'Filter by name or namespace', 'aria-label': 'Filter Jobs',
    oninput: (e) => { state.filter = e.target.value.trim().toLowerCase(); jobsTable.page = 0; render(); },
  });
  const status = h('select', {
    'aria-label': 'Status', onchange: (e) => { state.status = e.target.value; jobsTable.page = 0; render(); },
  }, STATUSES.map((s) => h('option', { value: s }, s === 'all' ? 'All statuses' : s)));

  main.replaceChildren(
    h('h1', null, 'Overview'),
    errors,
    summary,
    section('CronJobs', crons.el),
    section('Jobs', h('div', { class: 'toolbar' }, filter, status), jobsTable.el),
  );

  let firstRender = false;
  const showError = () => {
    const errs = [jobs, cronjobs, runs].filter((c) => c?.error).map((c) => errorBox(c.error));
    errors.replaceChildren(...errs);
  };
  const jobs = new Collection('/apis/batch/v1/jobs', { map: compactJob, onChange: () => render(), onError: showError });
  const cronjobs = new Collection('/apis/batch/v1/cronjobs', { map: compactCronJob, onChange: () => render(), onError: showError });
  let runs = null;

  function render() {
    showError();
    const all = [...jobs.items.values()];
    const counts = { Running: 0, Failed: 0, Complete: 0, Suspended: 0 };
    for (const j of all) if (counts[j.status] !== undefined) counts[j.status]++;
    summary.replaceChildren(
      stat('Jobs', all.length.toLocaleString('en') + (jobs.loaded ? '' : '…')),
      stat('Running', counts.Running, 'running'), stat('Failed', counts.Failed, 'failed'),
      stat('Complete', counts.Complete, 'complete'), stat('Suspended', counts.Suspended, 'suspended'),
      stat('CronJobs', cronjobs.items.size + (cronjobs.loaded ? '' : '…')));

    // CronJobs: the Jobs and runs of each, indexed once.
    const byOwner = new Map();
    for (const j of all) {
      if (j.owner?.kind !== 'CronJob') continue;
      if (!byOwner.has(j.owner.uid)) byOwner.set(j.owner.uid, new Map());
      byOwner.get(j.owner.uid).set(j.uid, j);
    }
    const runsByCron = new Map();
    if (runs) {
      for (const r of runs.items.values()) {
        if (!r.cronjob) continue;
        const k = `${r.ns}/${r.cronjob}`;
        if (!runsByCron.has(k)) runsByCron.set(k, new Map());
        runsByCron.get(k).set(r.uid, r);
      }
    }
    const cronList = [...cronjobs.items.values()].sort((a, b) => a.ns.localeCompare(b.ns) || a.name.localeCompare(b.name));
    const rows = cronList.map((cron) => ({ cron, preview: null, runs: [] }));
    // Only the visible page asks for previews and computes strips.
    const visible = crons.slice(rows);
    for (const r of visible) {
      r.preview = schedules.get(r.cron);
      r.runs = cronRuns(r.cron, { jobs: byOwner.get(r.cron.uid) || new Map(), runs: runs ? (runsByCron.get(`${r.cron.ns}/${r.cron.name}`) || new Map()) : null }).slice(-20);
    }
    crons.update(rows, cronjobs.loaded ? '' : ' (loading…)');

    const f = state.filter;
    const shown = all.filter((j) => (state.status === 'all' || j.status === state.status)
      && (!f || j.name.toLowerCase().includes(f) || j.ns.toLowerCase().includes(f)));
    shown.sort((a, b) => (b.created || 0) - (a.created || 0) || a.ns.localeCompare(b.ns) || a.name.localeCompare(b.name));
    jobsTable.update(shown, jobs.loaded ? '' : ' (loading…)');
    if (!firstRender && jobs.items.size > 0) {
      firstRender = true;
      performance.mark('batchd:overview-first-render');
    }
    if (jobs.loaded && !main.dataset.loaded) {
      main.dataset.loaded = 'true';
      performance.mark('batchd:overview-loaded');
    }
  }

  jobs.start();
  cronjobs.start();
  // Only CronJobs' runs (the label): the strips need no others, and every
  // Job has a run, so all of them would double what the page loads.
  watchRuns('/jobruns', { labelSelector: CRONJOB_LABEL }, {
    set: (c) => { runs = c; }, onChange: () => render(), onError: showError, stopped: () => jobs.abort.signal.aborted,
  });
  const refresh = setInterval(() => schedules.refreshDue(), 5000);
  render();
  return () => { jobs.stop(); cronjobs.stop(); runs?.stop(); schedules.stop(); clearInterval(refresh); };
}

function stat(label, value, kind) {
  return h('div', { class: `stat ${kind ? `s-${kind}` : ''}` }, h('span', { class: 'stat-value' }, String(value)), h('span', { class: 'stat-label' }, label));
}

function jobRow(j) {
  const total = completionsTotal(j);
  return h('tr', { dataset: { job: `${j.ns}/${j.name}`, status: j.status } },
    h('td', null, badge(j.status)),
    h('td', { class: 'name' }, link(`/ui/jobs/${encodeURIComponent(j.ns)}/${encodeURIComponent(j.name)}`, j.name), h('span', { class: 'narrow-ns' }, j.ns)),
    h('td', { class: 'wide' }, j.ns),
    h('td', { class: 'completions' }, bar(j.succeeded, 0, total, completionsText(j)),
      h('div', { class: 'narrow-only' }, `${j.active} active · `, h('span', { class: j.failed ? 'bad' : '' }, `${j.failed} failed`))),
    h('td', { class: 'num wide' }, String(j.active)),
    h('td', { class: `num wide ${j.failed ? 'bad' : ''}` }, String(j.failed)),
    h('td', { class: 'wide' }, span(j.start, j.end)),
    h('td', null, age(j.created)));
}

function cronRow({ cron, preview, runs }) {
  const next = preview?.next?.find((n) => n.fire);
  return h('tr', { dataset: { cronjob: `${cron.ns}/${cron.name}` } },
    h('td', { class: 'name' }, link(`/ui/cronjobs/${encodeURIComponent(cron.ns)}/${encodeURIComponent(cron.name)}`, cron.name),
      h('span', { class: 'narrow-ns' }, cron.ns),
      cron.suspend ? badge('Suspended') : null,
      h('div', { class: 'narrow-only' }, strip(runs))),
    h('td', { class: 'wide' }, cron.ns),
    h('td', null, h('div', { class: 'words' }, preview ? preview.words : ''), h('code', { class: 'cron' }, cron.schedule)),
    h('td', { class: 'wide' }, preview?.zone || cron.timeZone || ''),
    h('td', { class: 'wide' }, at(cron.lastSchedule)),
    h('td', null, cron.suspend ? h('span', { class: 'muted' }, 'suspended') : preview?.error ? h('span', { class: 'bad', title: preview.error }, 'invalid') : at(next ? Date.parse(next.at) : null)),
    h('td', { class: 'wide' }, strip(runs)));
}
