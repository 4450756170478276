// CronJob page: the schedule (in words, its zone, DST policy, jitter), the
// next 10 fire times with DST notes, the run history (outcome, duration,
// exit codes) and the events.

import { h, link, badge, age, span, at, localTime, errorBox, section, table, reconcile, ms } from '../dom.js';
import { Collection } from '../api.js';
import { compactCronJob, compactJob, completionsText } from '../model.js';
import { CRONJOB_LABEL, watchRuns, cronRuns } from '../runs.js';
import { Schedules, strip } from '../cron.js';
import { drawFacts, drawEvents, evTime } from './job.js';

export function cronJobPage(main, { ns, name }) {
  const title = h('h1', null, name);
  const crumbs = h('p', { class: 'crumbs' }, link('/ui/', 'Overview'), ' / ', `CronJob in ${ns}`);
  const errors = h('div', { class: 'errors' });
  const summary = h('dl', { class: 'facts', id: 'cron-summary' });
  const recent = h('div', { class: 'recent' });
  const next = h('tbody');
  const history = h('tbody');
  const events = h('tbody');
  const notFound = h('div');
  main.replaceChildren(crumbs, title, errors, notFound, summary, recent,
    section('Next 10 runs', table(['#', 'Time (schedule\'s zone)', `Your time (${Intl.DateTimeFormat().resolvedOptions().timeZone})`, 'In'], next, 'next-runs')),
    section('Run history', table(['Job', 'Scheduled', 'Outcome', 'Started', 'Duration', 'Completions', 'Exit codes'], history, 'history')),
    section('Events', table(['Type', 'Reason', 'Age', 'From', 'Message'], events, 'events stack')));

  const nsPath = encodeURIComponent(ns);
  const showErrors = () => errors.replaceChildren(...[cron, jobs, pods, evs, runs].filter((c) => c?.error).map((c) => errorBox(c.error)));
  const schedules = new Schedules(10, () => render());
  const cron = new Collection(`/apis/batch/v1/namespaces/${nsPath}/cronjobs`, { params: { fieldSelector: `metadata.name=${name}` }, map: compactCronJob, onChange: render, onError: showErrors });
  const jobs = new Collection(`/apis/batch/v1/namespaces/${nsPath}/jobs`, { map: compactJob, onChange: render, onError: showErrors });
  // Pods of this namespace's Jobs, for exit codes (kept small).
  const pods = new Collection(`/api/v1/namespaces/${nsPath}/pods`, {
    params: { labelSelector: 'batch.kubernetes.io/controller-uid' },
    map: podExits, onChange: render, onError: showErrors,
  });
  const evs = new Collection(`/api/v1/namespaces/${nsPath}/events`, { params: { fieldSelector: `involvedObject.kind=CronJob,involvedObject.name=${name}` }, onChange: render, onError: showErrors });
  let runs = null;

  function render() {
    showErrors();
    const c = [...cron.items.values()][0];
    if (!c) {
      notFound.replaceChildren(cron.loaded ? h('p', { class: 'notice' }, `CronJob ${ns}/${name} was not found.`) : '');
      return;
    }
    notFound.replaceChildren();
    const preview = schedules.get(c);
    title.textContent = name;
    if (c.suspend) title.append(' ', badge('Suspended'));
    const facts = [
      ['Schedule', h('span', null, h('span', { class: 'words' }, preview?.words || ''), ' ', h('code', { class: 'cron' }, c.schedule))],
      ['Time zone', preview?.zone || c.timeZone || '(the server\'s)'],
      ['DST policy', preview?.dst || 'kubernetes'],
      ['Suspended', c.suspend ? 'yes' : 'no'],
      ['Concurrency policy', c.concurrencyPolicy],
      ['Last schedule', at(c.lastSchedule)],
      ['Last successful', at(c.lastSuccessful)],
      ['Active', String(c.active)],
      ['Age', age(c.created)],
    ];
    if (preview?.jitter) facts.splice(3, 0, ['Jitter', `${preview.jitter} (this CronJob's offset: ${preview.offset})`]);
    if (preview?.error) facts.push(['Schedule error', h('span', { class: 'bad' }, preview.error)]);
    drawFacts(summary, facts);

    // Next runs, with DST notes between them.
    let n = 0;
    const entries = (preview?.next || []).map((e) => ({ ...e, n: e.fire ? ++n : null }));
    reconcile(next, entries, (e) => `${e.at}/${e.fire}/${e.note || ''}`, (e) => `${e.n}`, (e) => (e.fire
      ? h('tr', { class: 'fire' }, h('td', { class: 'num' }, String(e.n)), h('td', null, e.local), h('td', null, localTime(Date.parse(e.at))), h('td', null, at(Date.parse(e.at))))
      : h('tr', { class: 'dst-note' }, h('td', null, '⚠'), h('td', { colspan: 3 }, e.note))));
    if (c.suspend && entries.length) next.prepend(h('tr', { class: 'dst-note' }, h('td', null, ''), h('td', { colspan: 3 }, 'Suspended: none of these start until it is resumed.')));
    if (!entries.length) next.replaceChildren(h('tr', null, h('td', { colspan: 4, class: 'muted' }, preview ? 'Never fires.' : 'Loading…')));

    // Run history, newest first.
    const owned = new Map([...jobs.items.values()].filter((j) => j.owner?.uid === c.uid).map((j) => [j.uid, j]));
    const list = cronRuns(c, { jobs: owned, runs: runs ? runs.items : null });
    recent.replaceChildren(h('span', { class: 'muted small' }, 'Last 20 runs '), strip(list.slice(-20)));
    const exits = new Map();
    for (const p of pods.items.values()) {
      if (!exits.has(p.job)) exits.set(p.job, []);
      exits.get(p.job).push(p);
    }
    const rows = [...list].reverse().map((r) => {
      const j = owned.get(r.jobUID);
      let codes = r.attempts.map((a) => a.exitCode).filter((x) => x !== null && x !== undefined);
      if (!codes.length && exits.has(r.jobUID)) {
        codes = exits.get(r.jobUID).sort((a, b) => a.created - b.created).flatMap((p) => p.codes);
      }
      return { r, j, codes };
    });
    reconcile(history, rows, (x) => x.r.uid, (x) => JSON.stringify([x.r, x.j?.succeeded, x.codes]), historyRow);
    if (!rows.length) history.replaceChildren(h('tr', null, h('td', { colspan: 7, class: 'muted' }, 'No runs yet.')));
    drawEvents(events, [...evs.items.values()].filter((e) => !e.involvedObject.uid || e.involvedObject.uid === c.uid).sort((a, b) => evTime(b) - evTime(a)));
  }

  cron.start();
  jobs.start();
  pods.start();
  evs.start();
  watchRuns(`/namespaces/${nsPath}/jobruns`, { labelSelector: `${CRONJOB_LABEL}=${name}` }, {
    set: (c) => { runs = c; }, onChange: render, onError: showErrors, stopped: () => cron.abort.signal.aborted,
  });
  const refresh = setInterval(() => schedules.refreshDue(), 5000);
  render();
  return () => { cron.stop(); jobs.stop(); pods.stop(); evs.stop(); runs?.stop(); schedules.stop(); clearInterval(refresh); };
}

// podExits keeps of a pod its Job and its containers' exit codes (current
// and previous runs).
function podExits(p) {
  const codes = [];
  for (const cs of p.status?.containerStatuses || []) {
    if (cs.lastState?.terminated) codes.push(cs.lastState.terminated.exitCode);
    if (cs.state?.terminated) codes.push(cs.state.terminated.exitCode);
  }
  return { uid: p.metadata.uid, job: p.metadata.labels?.['batch.kubernetes.io/controller-uid'], created: ms(p.metadata.creationTimestamp) || 0, codes };
}

function historyRow({ r, j, codes }) {
  const shown = codes.slice(0, 8).join(', ') + (codes.length > 8 ? ', …' : '');
  const nameCell = r.source === 'jobrun' && r.outcome === 'skipped'
    ? h('span', null, r.name)
    : link(`/ui/jobs/${encodeURIComponent(r.ns)}/${encodeURIComponent(r.name)}`, r.name);
  return h('tr', { dataset: { run: r.name, outcome: r.outcome, source: r.source } },
    h('td', { class: 'name' }, nameCell),
    h('td', null, r.scheduled ? localTime(r.scheduled) : '—'),
    h('td', null, badge(r.outcome), r.reason ? h('span', { class: 'muted small' }, ` ${r.reason}`) : null),
    h('td', null, r.start ? localTime(r.start) : '—'),
    h('td', null, span(r.start, r.end)),
    h('td', null, j ? completionsText(j) : r.outcome === 'skipped' ? '—' : r.completions !== null ? `${r.succeeded}/${r.completions}` : String(r.succeeded)),
    h('td', { class: `exits ${codes.some((x) => x !== 0) ? 'bad' : ''}` }, shown || '—'));
}
