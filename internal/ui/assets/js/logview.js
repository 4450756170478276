// A log panel: one attempt's container log, followed live while the
// container runs (pods/log?follow=true), the previous run's with
// previous=true, or — once the pod is gone — the copy kept with its JobRun.

import { h } from './dom.js';
import { streamText, HTTPError } from './api.js';

const MAX_CHARS = 2 * 1024 * 1024;

export class LogView {
  constructor() {
    this.title = h('h3', { class: 'log-title' });
    this.state = h('span', { class: 'log-state muted' });
    this.pre = h('pre', { class: 'log', tabindex: '0', 'aria-live': 'polite' });
    this.picker = h('span', { class: 'log-picker' });
    this.el = h('section', { class: 'card log-card', hidden: true },
      h('div', { class: 'log-head' }, this.title, this.picker, this.state,
        h('button', { type: 'button', class: 'link-button', onclick: () => this.close() }, 'Close')),
      this.pre);
    this.abort = null;
  }

  close() {
    this.abort?.abort();
    this.el.hidden = true;
  }

  // show streams the log of source ({path, follow, fallback, note}), or
  // shows source.error.
  show(title, source, containers = [], onContainer = null) {
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    this.el.hidden = false;
    this.title.textContent = title;
    this.picker.replaceChildren();
    if (containers.length > 1 && onContainer) {
      const sel = h('select', { 'aria-label': 'container', onchange: (e) => onContainer(e.target.value) },
        containers.map((c) => h('option', { value: c, selected: c === source.container }, c)));
      this.picker.appendChild(sel);
    }
    this.pre.textContent = '';
    this.state.textContent = source.follow ? 'following live…' : 'loading…';
    this.el.scrollIntoView({ block: 'nearest' });
    const atBottom = () => this.pre.scrollHeight - this.pre.scrollTop - this.pre.clientHeight < 24;
    const append = (text) => {
      const stick = atBottom();
      let t = this.pre.textContent + text;
      if (t.length > MAX_CHARS) t = t.slice(t.length - MAX_CHARS);
      this.pre.textContent = t;
      if (stick) this.pre.scrollTop = this.pre.scrollHeight;
    };
    const run = async (src) => {
      try {
        await streamText(src.path, { signal: abort.signal, onText: append });
        if (abort.signal.aborted) return;
        this.state.textContent = src.follow ? 'ended' : '';
        if (!this.pre.textContent) this.state.textContent = '(empty log)';
      } catch (e) {
        if (abort.signal.aborted) return;
        if (e instanceof HTTPError && (e.status === 404 || e.status === 400) && src.fallback) {
          append('');
          this.state.textContent = src.fallback.note || '';
          return run(src.fallback);
        }
        this.state.textContent = '';
        this.pre.textContent = `${e.message}`;
        this.pre.classList.add('log-error');
        return;
      }
      this.pre.classList.remove('log-error');
    };
    this.pre.classList.remove('log-error');
    if (source.error) {
      this.state.textContent = '';
      this.pre.textContent = source.error;
      this.pre.classList.add('log-error');
      return;
    }
    run(source);
  }
}
