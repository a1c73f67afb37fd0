// keys.js: the API keys page: list, create, rotate, revoke, and the
// dialog that shows a raw key exactly once.

import * as api from './api.js';
import { h, field, errorArea, showError, busy, when, table, confirm, page } from './ui.js';

const expiries = [
  ['', 'Never'], [86400, '1 day'], [7 * 86400, '7 days'], [30 * 86400, '30 days'],
  [90 * 86400, '90 days'], [365 * 86400, '1 year'],
];

/** status is a key's state in words. */
export function status(k) {
  const now = new Date();
  if (!k.is_active) {
    if (k.expires_at && new Date(k.expires_at) <= now) return 'expired';
    return k.replaced_by ? 'rotated' : 'revoked';
  }
  if (k.replaced_by) return 'rotating out';
  return 'active';
}

export function limits(k) {
  return `${k.rate_limit_per_minute}/min · ${k.rate_limit_per_day}/day`;
}

/** keysPage lists the user's keys; me is the signed-in user. */
export async function keysPage(me) {
  const listError = errorArea('keys-error');
  const list = h('div', { id: 'keys-list' }, h('p', { class: 'loading' }, 'Loading keys…'));
  const reload = () => loadKeys(list, listError, reload);
  page('API keys', createForm(me, reload), h('section', { 'aria-labelledby': 'keys-title' },
    h('h2', { id: 'keys-title' }, 'Your keys'), listError, list)).focus();
  await reload();
}

async function loadKeys(list, listError, reload) {
  let keys;
  try {
    keys = (await api.call('GET', '/v1/keys')).keys;
  } catch (err) {
    showError(listError, err);
    list.replaceChildren();
    return;
  }
  if (keys.length === 0) {
    list.replaceChildren(h('p', { class: 'empty' }, 'No keys yet. Create one above.'));
    return;
  }
  keys.sort((a, b) => Number(b.is_active) - Number(a.is_active) || b.created_at.localeCompare(a.created_at));
  const rows = keys.map((k) => [
    h('a', { href: `#/keys/${encodeURIComponent(k.id)}`, class: 'key-name' }, k.name),
    h('code', {}, `${k.prefix}…`), k.tier, limits(k), when(k.last_used_at, 'never'), when(k.created_at),
    when(k.expires_at, 'never'), h('span', { class: `badge ${status(k).replace(' ', '-')}` }, status(k)),
    h('div', { class: 'row-actions' },
      h('a', { href: `#/keys/${encodeURIComponent(k.id)}`, class: 'button secondary' }, 'Usage'),
      k.is_active ? h('button', { type: 'button', class: 'secondary', 'data-action': 'rotate', onclick: () => rotate(k, listError, reload) }, 'Rotate') : null,
      k.is_active ? h('button', { type: 'button', class: 'danger', 'data-action': 'revoke', onclick: () => revoke(k, listError, reload) }, 'Revoke') : null),
  ]);
  list.replaceChildren(table('Your API keys',
    ['Name', 'Prefix', 'Tier', 'Limits', 'Last used', 'Created', 'Expires', 'Status', 'Actions'], rows));
}

function createForm(me, reload) {
  const name = h('input', { id: 'key-name', name: 'name', required: true, maxlength: 100, autocomplete: 'off' });
  const tier = h('select', { id: 'key-tier', name: 'tier' }, me.tiers.map((t) => h('option', { value: t }, t)));
  const expires = h('select', { id: 'key-expires', name: 'expires' }, expiries.map(([v, l]) => h('option', { value: v }, l)));
  const error = errorArea('create-error');
  const form = h('form', { id: 'create-key', class: 'card inline-form', 'aria-labelledby': 'create-title' },
    h('h2', { id: 'create-title' }, 'Create a key'),
    h('div', { class: 'fields' }, field('Name', name), field('Tier', tier), field('Expires', expires)),
    error, h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'create-submit' }, 'Create key')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(error, null);
    const body = { name: name.value, tier: tier.value };
    if (expires.value) body.expires_in = Number(expires.value);
    try {
      const k = await busy(form, api.call('POST', '/v1/keys', body));
      name.value = '';
      await showRawKey(k.key);
    } catch (err) {
      showError(error, err);
      return;
    }
    await reload();
  });
  return form;
}

async function rotate(k, listError, reload) {
  showError(listError, null);
  const dlg = document.getElementById('rotate-dialog');
  const form = document.getElementById('rotate-form');
  const error = document.getElementById('rotate-error');
  document.getElementById('rotate-name').textContent = k.name;
  showError(error, null);
  const onSubmit = async (e) => {
    if (e.submitter?.value !== 'rotate') return; // Cancel closes the dialog
    e.preventDefault();
    const grace = Number(document.getElementById('rotate-grace').value);
    try {
      const next = await busy(form, api.call('POST', `/v1/keys/${encodeURIComponent(k.id)}/rotate`, { grace_seconds: grace }));
      dlg.close('rotated');
      await showRawKey(next.key);
      await reload();
    } catch (err) {
      showError(error, err);
    }
  };
  form.addEventListener('submit', onSubmit);
  dlg.addEventListener('close', () => form.removeEventListener('submit', onSubmit), { once: true });
  dlg.showModal();
}

async function revoke(k, listError, reload) {
  showError(listError, null);
  const ok = await confirm(`Revoke “${k.name}”? Every request with this key is refused from now on. This cannot be undone.`, 'Revoke key');
  if (!ok) return;
  try {
    await api.call('DELETE', `/v1/keys/${encodeURIComponent(k.id)}`);
  } catch (err) {
    showError(listError, err);
    return;
  }
  await reload();
}

/** curlCommand is a ready-to-paste call of the demo route with key. */
export function curlCommand(key) {
  return `curl -X POST ${location.origin}/v1/chat \\\n  -H "Authorization: Bearer ${key}" \\\n` +
    `  -H "Content-Type: application/json" \\\n  -d '{"message":"hello"}'`;
}

/**
 * showRawKey shows key in the one-time dialog and resolves when it
 * closes; the key is then removed from the page.
 */
export function showRawKey(key) {
  const dlg = document.getElementById('key-dialog');
  const value = document.getElementById('new-key-value');
  const curl = document.getElementById('new-key-curl');
  const statusLine = document.getElementById('copy-status');
  value.value = key;
  curl.value = curlCommand(key);
  statusLine.textContent = '';
  dlg.showModal();
  value.select();
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => {
      value.value = '';
      curl.value = '';
      statusLine.textContent = '';
      resolve();
    }, { once: true });
  });
}

/** wireCopyButtons makes every [data-copy] button copy its target's value. */
export function wireCopyButtons() {
  for (const btn of document.querySelectorAll('[data-copy]')) {
    btn.addEventListener('click', async () => {
      const target = document.getElementById(btn.dataset.copy);
      const statusLine = document.getElementById('copy-status');
      try {
        await navigator.clipboard.writeText(target.value);
        statusLine.textContent = 'Copied to the clipboard.';
      } catch {
        target.select();
        statusLine.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
      }
    });
  }
}
