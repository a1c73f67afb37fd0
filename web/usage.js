// usage.js: one key's page: its details and the last 30 days of use.

import * as api from './api.js';
import { h, errorArea, showError, when, page } from './ui.js';
import { liveChart } from './chart.js';
import { status, limits } from './keys.js';

/** usagePage shows key id's usage. */
export async function usagePage(id) {
  const error = errorArea('usage-error');
  const body = h('div', { id: 'usage' }, h('p', { class: 'loading' }, 'Loading usage…'));
  page('Key usage', h('p', {}, h('a', { href: '#/keys' }, '← All keys')), error, body).focus();
  let key, usage;
  try {
    [key, usage] = await Promise.all([
      api.call('GET', `/v1/keys/${encodeURIComponent(id)}`),
      api.call('GET', `/v1/keys/${encodeURIComponent(id)}/usage?days=30`),
    ]);
  } catch (err) {
    showError(error, err);
    body.replaceChildren();
    return;
  }
  const days = usage.days;
  const today = days.length ? days[days.length - 1].count : 0;
  const pct = key.rate_limit_per_day > 0 ? Math.min(100, (today / key.rate_limit_per_day) * 100) : 0;
  document.querySelector('#main h1').textContent = `Usage of ${key.name}`;
  const chart = h('div', { class: 'chart-box' });
  body.replaceChildren(
    h('dl', { class: 'facts' },
      h('div', {}, h('dt', {}, 'Prefix'), h('dd', {}, h('code', {}, `${key.prefix}…`))),
      h('div', {}, h('dt', {}, 'Tier'), h('dd', {}, key.tier)),
      h('div', {}, h('dt', {}, 'Limits'), h('dd', {}, limits(key))),
      h('div', {}, h('dt', {}, 'Status'), h('dd', {}, status(key))),
      h('div', {}, h('dt', {}, 'Last used'), h('dd', {}, when(key.last_used_at, 'never')))),
    h('section', { class: 'card', 'aria-labelledby': 'today-title' },
      h('h2', { id: 'today-title' }, 'Today (UTC)'),
      h('p', { id: 'today-count', class: 'big' }, `${today} of ${key.rate_limit_per_day} requests`),
      h('progress', { max: 100, value: pct.toFixed(1), 'aria-labelledby': 'today-title' })),
    h('section', { class: 'card', 'aria-labelledby': 'chart-title' },
      h('h2', { id: 'chart-title' }, 'Last 30 days'),
      chart));
  liveChart(chart, days, `Requests per day with ${key.name}`);
}
