// ui.js: small DOM helpers. Text from the API only ever goes in through
// textContent or attributes, never as HTML.

import { message } from './api.js';

/**
 * h builds an element: h('button', {type: 'button', class: 'x', onclick: fn}, 'text', child).
 * Keys starting with "on" add listeners; true/false toggle boolean attributes.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else if (v !== false && v !== null && v !== undefined) el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** errorArea is an initially hidden alert paragraph for one form or section. */
export function errorArea(id) {
  return h('p', { class: 'error', role: 'alert', id, hidden: true });
}

/** showError puts err's message in area; null clears it. */
export function showError(area, err) {
  if (!err) {
    area.hidden = true;
    area.textContent = '';
    return;
  }
  area.textContent = message(err);
  area.hidden = false;
}

/** field is a labelled control: field('Email', h('input', {...})). */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), control,
    hint ? h('small', { class: 'hint' }, hint) : null);
}

/** busy disables a form's controls while promise runs. */
export async function busy(form, promise) {
  const controls = [...form.querySelectorAll('button, input, select, textarea')];
  controls.forEach((c) => { c.disabled = true; });
  try {
    return await promise;
  } finally {
    controls.forEach((c) => { c.disabled = false; });
  }
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** when formats an RFC 3339 time for people; empty for none. */
export function when(ts, none = '—') {
  if (!ts) return none;
  const d = new Date(ts);
  return h('time', { datetime: ts, title: d.toISOString() }, dateFmt.format(d));
}

/** table builds a table whose cells carry their column name, so narrow screens show rows as cards. */
export function table(caption, columns, rows) {
  return h('table', { class: 'cards' },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.map((cells) => h('tr', {},
      cells.map((cell, i) => h('td', { 'data-label': columns[i] }, cell))))));
}

/** confirm asks a yes/no question in the confirm dialog. */
export function confirm(text, ok = 'Confirm') {
  const dlg = document.getElementById('confirm-dialog');
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = ok;
  dlg.returnValue = '';
  dlg.showModal();
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
  });
}

/** page replaces the main area's content and moves focus to its heading. */
export function page(title, ...children) {
  const main = document.getElementById('main');
  const heading = h('h1', { tabindex: '-1' }, title);
  main.replaceChildren(heading, ...children.flat().filter(Boolean));
  document.title = `${title} · keygate`;
  return heading;
}
