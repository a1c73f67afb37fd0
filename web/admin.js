// admin.js: the administrators' pages: users and the audit log.

import * as api from './api.js';
import { h, errorArea, showError, busy, when, table, confirm, page } from './ui.js';
import { status, limits } from './keys.js';

/** usersPage lists every user; me is the signed-in administrator. */
export async function usersPage(me) {
  const error = errorArea('users-error');
  const list = h('div', { id: 'users-list' }, h('p', { class: 'loading' }, 'Loading users…'));
  const keys = h('section', { id: 'user-keys', 'aria-live': 'polite' });
  const reload = () => loadUsers(me, list, error, keys, reload);
  page('Users', error, list, keys).focus();
  await reload();
}

async function loadUsers(me, list, error, keys, reload) {
  let users;
  try {
    users = (await api.call('GET', '/v1/admin/users')).users;
  } catch (err) {
    showError(error, err);
    list.replaceChildren();
    return;
  }
  const rows = users.map((u) => [
    h('span', { class: 'email' }, u.email), u.role, tiersForm(u),
    h('span', {}, h('span', { class: `badge ${u.disabled ? 'revoked' : 'active'}` }, u.disabled ? 'disabled' : 'enabled'),
      u.mfa_enabled ? h('span', { class: 'badge', 'data-mfa': 'on', title: 'Two-factor authentication is on' }, '2FA') : null),
    when(u.created_at),
    h('div', { class: 'row-actions' },
      h('button', { type: 'button', class: 'secondary', onclick: () => showKeys(u, keys) }, 'Keys'),
      u.id === me.id ? null : h('button', {
        type: 'button', class: u.disabled ? 'secondary' : 'danger', 'data-action': u.disabled ? 'enable' : 'disable',
        onclick: () => toggle(u, error, reload),
      }, u.disabled ? 'Enable' : 'Disable'),
      // Administrators turn off their own from the account page, with a code.
      u.mfa_enabled && u.id !== me.id ? h('button', {
        type: 'button', class: 'danger', 'data-action': 'mfa-off', onclick: () => mfaOff(u, error, reload),
      }, 'Turn off two-factor') : null),
  ]);
  list.replaceChildren(table('Users', ['Email', 'Role', 'Tiers', 'Status', 'Created', 'Actions'], rows));
}

function tiersForm(u) {
  const input = h('input', {
    value: u.tiers.join(', '), 'aria-label': `Tiers of ${u.email}, separated by commas`,
    class: 'tiers-input', autocomplete: 'off', spellcheck: 'false',
  });
  const error = errorArea(null);
  const saved = h('span', { class: 'hint', role: 'status' });
  const form = h('form', { class: 'tiers-form', 'data-user': u.email },
    h('div', { class: 'copy-row' }, input, h('button', { type: 'submit', class: 'secondary' }, 'Save')), error, saved);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(error, null);
    saved.textContent = '';
    const tiers = input.value.split(/[\s,]+/).filter(Boolean);
    try {
      const res = await busy(form, api.call('PATCH', `/v1/admin/users/${encodeURIComponent(u.id)}`, { tiers }));
      input.value = res.user.tiers.join(', ');
      saved.textContent = 'Saved.';
    } catch (err) {
      showError(error, err);
    }
  });
  return form;
}

async function toggle(u, error, reload) {
  showError(error, null);
  if (!u.disabled && !await confirm(`Disable ${u.email}? They are signed out and every key they own stops working.`, 'Disable user')) return;
  try {
    await api.call('PATCH', `/v1/admin/users/${encodeURIComponent(u.id)}`, { disabled: !u.disabled });
  } catch (err) {
    showError(error, err);
    return;
  }
  await reload();
}

// mfaOff is for a user who lost their authenticator and recovery codes:
// they are signed out and sign in again with their password alone.
async function mfaOff(u, error, reload) {
  showError(error, null);
  if (!await confirm(`Turn off two-factor authentication for ${u.email}? Do this only once you are sure who is asking. `
    + 'They are signed out everywhere and can then sign in with their password alone.', 'Turn off two-factor')) return;
  try {
    await api.call('DELETE', `/v1/admin/users/${encodeURIComponent(u.id)}/mfa`);
  } catch (err) {
    showError(error, err);
    return;
  }
  await reload();
}

async function showKeys(u, section) {
  const error = errorArea('user-keys-error');
  section.replaceChildren(h('h2', { id: 'user-keys-title', tabindex: '-1' }, `Keys of ${u.email}`), error);
  section.querySelector('h2').focus();
  let keys;
  try {
    keys = (await api.call('GET', `/v1/admin/keys?user_id=${encodeURIComponent(u.id)}`)).keys;
  } catch (err) {
    showError(error, err);
    return;
  }
  if (keys.length === 0) {
    section.append(h('p', { class: 'empty' }, 'This user has no keys.'));
    return;
  }
  section.append(table(`Keys of ${u.email}`, ['Name', 'Prefix', 'Tier', 'Limits', 'Last used', 'Status'],
    keys.map((k) => [k.name, h('code', {}, `${k.prefix}…`), k.tier, limits(k), when(k.last_used_at, 'never'), status(k)])));
}

/** auditPage shows the audit log, newest first, a page at a time. */
export async function auditPage() {
  const error = errorArea('audit-error');
  const body = h('tbody', {});
  const more = h('button', { type: 'button', class: 'secondary', id: 'audit-more', hidden: true }, 'Load older events');
  const columns = ['Time', 'Action', 'Actor', 'Target', 'Address'];
  page('Audit log', error, h('table', { class: 'cards', id: 'audit' },
    h('caption', { class: 'visually-hidden' }, 'Audit events, newest first'),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))), body),
  h('div', { class: 'actions' }, more)).focus();
  let before = '';
  const load = async () => {
    showError(error, null);
    let events;
    try {
      events = (await api.call('GET', `/v1/admin/audit?limit=50${before ? `&before=${encodeURIComponent(before)}` : ''}`)).events;
    } catch (err) {
      showError(error, err);
      return;
    }
    for (const e of events) {
      body.append(h('tr', {}, [when(e.time), h('code', {}, e.action), e.actor_id || '—', e.target_id || '—', e.ip || '—']
        .map((cell, i) => h('td', { 'data-label': columns[i] }, cell))));
    }
    before = events.length ? events[events.length - 1].id : before;
    more.hidden = events.length < 50;
  };
  more.addEventListener('click', load);
  await load();
}
