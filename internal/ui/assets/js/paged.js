// A paginated table: only one page of rows is ever in the DOM, so 10,000
// Jobs cost a sort and 50 rows, not 10,000.

import { h, reconcile, table } from './dom.js';

export class PagedTable {
  constructor({ headers, key, signature, build, pageSize = 50, cls, empty = 'Nothing here.' }) {
    Object.assign(this, { key, signature, build, pageSize, empty });
    this.page = 0;
    this.body = h('tbody');
    this.info = h('span', { class: 'pager-info' });
    this.prev = h('button', { type: 'button', class: 'pager-prev', onclick: () => this.go(this.page - 1) }, '‹ Prev');
    this.next = h('button', { type: 'button', class: 'pager-next', onclick: () => this.go(this.page + 1) }, 'Next ›');
    this.emptyEl = h('p', { class: 'muted empty' }, empty);
    this.el = h('div', { class: 'paged' }, table(headers, this.body, cls), this.emptyEl,
      h('div', { class: 'pager' }, this.prev, this.info, this.next));
    this.items = [];
  }

  go(page) {
    this.page = page;
    this.update(this.items);
  }

  // slice is the part of items update would show.
  slice(items) {
    const pages = Math.max(1, Math.ceil(items.length / this.pageSize));
    const page = Math.min(Math.max(0, this.page), pages - 1);
    return items.slice(page * this.pageSize, (page + 1) * this.pageSize);
  }

  // update shows items (already filtered and sorted); returns the visible ones.
  update(items, more = '') {
    this.items = items;
    const pages = Math.max(1, Math.ceil(items.length / this.pageSize));
    this.page = Math.min(Math.max(0, this.page), pages - 1);
    const from = this.page * this.pageSize;
    const visible = items.slice(from, from + this.pageSize);
    reconcile(this.body, visible, this.key, this.signature, this.build);
    this.emptyEl.hidden = items.length > 0;
    this.info.textContent = items.length
      ? `${from + 1}–${from + visible.length} of ${items.length.toLocaleString('en')}${more}`
      : more.trim();
    this.prev.disabled = this.page === 0;
    this.next.disabled = this.page >= pages - 1;
    this.prev.parentElement.hidden = pages <= 1 && !more;
    return visible;
  }
}
