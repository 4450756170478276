// Nodes: capacity against what the pods on each request, the pods running
// there and the runtime handlers the node offers.

import { h, link, badge, age, errorBox, section, table, reconcile, quantity, cpu, bytes, ms } from '../dom.js';
import { Collection } from '../api.js';
import { podRequest, controller } from '../model.js';
import { drawFacts } from './job.js';

const ACTIVE = 'status.phase!=Succeeded,status.phase!=Failed';

function ready(node) {
  const c = (node.status?.conditions || []).find((x) => x.type === 'Ready');
  if (!c) return 'Unknown';
  return c.status === 'True' ? 'Ready' : 'NotReady';
}

// usage sums the requests of a node's pods against its allocatable.
function usage(node, pods) {
  const alloc = node.status?.allocatable || {};
  const cap = node.status?.capacity || {};
  let cpuReq = 0; let memReq = 0; let cpuLim = 0; let memLim = 0; let count = 0;
  for (const p of pods) {
    count++;
    cpuReq += podRequest(p, 'cpu', quantity);
    memReq += podRequest(p, 'memory', quantity);
    for (const c of p.spec?.containers || []) {
      cpuLim += quantity(c.resources?.limits?.cpu);
      memLim += quantity(c.resources?.limits?.memory);
    }
  }
  return {
    cpu: { cap: quantity(cap.cpu), alloc: quantity(alloc.cpu), req: cpuReq, lim: cpuLim },
    memory: { cap: quantity(cap.memory), alloc: quantity(alloc.memory), req: memReq, lim: memLim },
    pods: { cap: quantity(cap.pods), alloc: quantity(alloc.pods), req: count },
  };
}

function meter(label, used, total, fmt) {
  const pct = total > 0 ? Math.min(100, (100 * used) / total) : 0;
  return h('div', { class: 'meter' },
    h('div', { class: 'meter-head' }, h('span', null, label), h('span', { class: 'meter-text' }, `${fmt(used)} of ${fmt(total)} (${Math.round(pct)}%)`)),
    h('div', { class: `progress-track ${pct >= 90 ? 'hot' : ''}` }, h('div', { class: 'progress-done', style: { width: `${pct}%` } })));
}

function meters(u) {
  return [
    meter('CPU requested', u.cpu.req, u.cpu.alloc, cpu),
    meter('Memory requested', u.memory.req, u.memory.alloc, bytes),
    meter('Pods', u.pods.req, u.pods.alloc, (n) => String(Math.round(n))),
  ];
}

export function nodesPage(main) {
  const errors = h('div', { class: 'errors' });
  const list = h('div', { class: 'node-cards' });
  main.replaceChildren(h('h1', null, 'Nodes'), errors, list);
  const showErrors = () => errors.replaceChildren(...[nodes, pods].filter((c) => c.error).map((c) => errorBox(c.error)));
  const nodes = new Collection('/api/v1/nodes', { onChange: render, onError: showErrors });
  const pods = new Collection('/api/v1/pods', { params: { fieldSelector: ACTIVE }, map: slimPod, onChange: render, onError: showErrors });
  function render() {
    showErrors();
    const byNode = new Map();
    for (const p of pods.items.values()) {
      if (!p.spec.nodeName) continue;
      if (!byNode.has(p.spec.nodeName)) byNode.set(p.spec.nodeName, []);
      byNode.get(p.spec.nodeName).push(p);
    }
    const all = [...nodes.items.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    reconcile(list, all, (n) => n.metadata.uid, (n) => `${n.metadata.resourceVersion}/${(byNode.get(n.metadata.name) || []).map((p) => p.metadata.uid).join()}`, (n) => {
      const u = usage(n, byNode.get(n.metadata.name) || []);
      return h('section', { class: 'card node-card' },
        h('h2', null, link(`/ui/nodes/${encodeURIComponent(n.metadata.name)}`, n.metadata.name), ' ', badge(ready(n))),
        ...meters(u),
        h('p', { class: 'muted small' }, `Runtime handlers: ${(n.status?.runtimeHandlers || []).map((r) => r.name || '(default)').join(', ') || 'none reported'}`));
    });
    if (nodes.loaded && !all.length) list.replaceChildren(h('p', { class: 'muted' }, 'No nodes.'));
  }
  nodes.start();
  pods.start();
  render();
  return () => { nodes.stop(); pods.stop(); };
}

// slimPod keeps what the node pages read of a pod.
function slimPod(p) {
  return {
    metadata: { uid: p.metadata.uid, name: p.metadata.name, namespace: p.metadata.namespace, creationTimestamp: p.metadata.creationTimestamp, ownerReferences: p.metadata.ownerReferences, labels: p.metadata.labels },
    spec: { nodeName: p.spec?.nodeName, containers: p.spec?.containers?.map((c) => ({ name: c.name, resources: c.resources })), initContainers: p.spec?.initContainers?.map((c) => ({ name: c.name, resources: c.resources, restartPolicy: c.restartPolicy })), overhead: p.spec?.overhead, runtimeClassName: p.spec?.runtimeClassName },
    status: { phase: p.status?.phase, startTime: p.status?.startTime },
  };
}

export function nodePage(main, { name }) {
  const title = h('h1', null, name);
  const crumbs = h('p', { class: 'crumbs' }, link('/ui/nodes', 'Nodes'), ' / ', 'Node');
  const errors = h('div', { class: 'errors' });
  const notFound = h('div');
  const capacity = h('div', { class: 'meters', id: 'node-meters' });
  const resources = h('tbody');
  const handlers = h('tbody');
  const info = h('dl', { class: 'facts' });
  const conditions = h('tbody');
  const podRows = h('tbody');
  main.replaceChildren(crumbs, title, errors, notFound,
    section('Capacity', capacity, table(['Resource', 'Capacity', 'Allocatable', 'Requested', 'Limits'], resources, 'resources')),
    section('Running pods', table(['Pod', { text: 'Namespace', class: 'wide' }, 'Job', 'Phase', 'CPU', 'Memory', { text: 'Runtime', class: 'wide' }, 'Age'], podRows, 'pods')),
    section('Runtime handlers', table(['Handler', 'Recursive read-only mounts', 'User namespaces'], handlers, 'handlers')),
    section('System', info),
    section('Conditions', table(['Type', 'Status', 'Reason', 'Message', 'Last heartbeat'], conditions, 'conditions stack')));
  const showErrors = () => errors.replaceChildren(...[node, pods].filter((c) => c.error).map((c) => errorBox(c.error)));
  const node = new Collection('/api/v1/nodes', { params: { fieldSelector: `metadata.name=${name}` }, onChange: render, onError: showErrors });
  const pods = new Collection('/api/v1/pods', { params: { fieldSelector: `spec.nodeName=${name},${ACTIVE}` }, map: slimPod, onChange: render, onError: showErrors });
  function render() {
    showErrors();
    const n = [...node.items.values()][0];
    if (!n) {
      notFound.replaceChildren(node.loaded ? h('p', { class: 'notice' }, `Node ${name} was not found.`) : '');
      return;
    }
    notFound.replaceChildren();
    title.textContent = name;
    title.append(' ', badge(ready(n)));
    const list = [...pods.items.values()];
    const u = usage(n, list);
    capacity.replaceChildren(...meters(u));
    const row = (label, x, fmt) => h('tr', null, h('td', null, label), h('td', null, fmt(x.cap)), h('td', null, fmt(x.alloc)), h('td', null, fmt(x.req)), h('td', null, x.lim !== undefined ? fmt(x.lim) : '—'));
    resources.replaceChildren(row('CPU', u.cpu, cpu), row('Memory', u.memory, bytes), row('Pods', u.pods, (v) => String(Math.round(v))));
    const rh = n.status?.runtimeHandlers || [];
    handlers.replaceChildren(...rh.map((r) => h('tr', null, h('td', null, h('code', null, r.name || '(default)')),
      h('td', null, r.features?.recursiveReadOnlyMounts ? 'yes' : 'no'), h('td', null, r.features?.userNamespaces ? 'yes' : 'no'))));
    if (!rh.length) handlers.replaceChildren(h('tr', null, h('td', { colspan: 3, class: 'muted' }, 'None reported.')));
    const ni = n.status?.nodeInfo || {};
    drawFacts(info, [
      ['OS', `${ni.osImage || ''} (${ni.operatingSystem || ''}/${ni.architecture || ''})`],
      ['Kernel', ni.kernelVersion || ''],
      ['Kubelet', ni.kubeletVersion || ''],
      ['Container runtime', ni.containerRuntimeVersion || ''],
      ['Addresses', (n.status?.addresses || []).map((a) => `${a.type} ${a.address}`).join(', ')],
      ['Taints', (n.spec?.taints || []).map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`).join(', ') || 'none'],
      ['Age', age(ms(n.metadata.creationTimestamp))],
    ]);
    reconcile(conditions, n.status?.conditions || [], (c) => c.type, (c) => JSON.stringify(c), (c) => h('tr', null,
      h('td', null, c.type), h('td', null, c.status), h('td', null, c.reason || ''), h('td', { class: 'msg' }, c.message || ''), h('td', null, age(ms(c.lastHeartbeatTime)))));
    list.sort((a, b) => a.metadata.namespace.localeCompare(b.metadata.namespace) || a.metadata.name.localeCompare(b.metadata.name));
    reconcile(podRows, list, (p) => p.metadata.uid, (p) => JSON.stringify(p.status), (p) => {
      const owner = controller(p.metadata);
      const jobName = owner?.kind === 'Job' ? owner.name : null;
      return h('tr', { dataset: { pod: `${p.metadata.namespace}/${p.metadata.name}` } },
        h('td', { class: 'name' }, p.metadata.name, h('span', { class: 'narrow-ns' }, p.metadata.namespace)),
        h('td', { class: 'wide' }, p.metadata.namespace),
        h('td', null, jobName ? link(`/ui/jobs/${encodeURIComponent(p.metadata.namespace)}/${encodeURIComponent(jobName)}`, jobName) : '—'),
        h('td', null, badge(p.status.phase || 'Pending')),
        h('td', null, cpu(podRequest(p, 'cpu', quantity))),
        h('td', null, bytes(podRequest(p, 'memory', quantity))),
        h('td', { class: 'wide' }, p.spec.runtimeClassName || 'default'),
        h('td', null, age(ms(p.metadata.creationTimestamp))));
    });
    if (!list.length) podRows.replaceChildren(h('tr', null, h('td', { colspan: 8, class: 'muted' }, 'No pods running.')));
  }
  node.start();
  pods.start();
  render();
  return () => { node.stop(); pods.stop(); };
}
