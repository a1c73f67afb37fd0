// account.js: change password, two-factor authentication, and the
// sessions signed in to this account.

import * as api from './api.js';
import { h, field, errorArea, showError, busy, when, table, confirm, page } from './ui.js';
import { mfaSection } from './mfa.js';

/**
 * accountPage shows the account of me; signedOut runs after "sign out
 * everywhere"; notice, if given, is shown first (the server's two-factor
 * requirement).
 */
export async function accountPage(me, signedOut, notice) {
  const sessionsError = errorArea('sessions-error');
  const list = h('div', { id: 'sessions-list' }, h('p', { class: 'loading' }, 'Loading sessions…'));
  const reload = () => loadSessions(list, sessionsError, reload, signedOut);
  const everywhere = h('button', { type: 'button', class: 'danger', id: 'sign-out-everywhere' }, 'Sign out everywhere');
  everywhere.addEventListener('click', async () => {
    showError(sessionsError, null);
    if (!await confirm('Sign out of every session, this one too?', 'Sign out everywhere')) return;
    try {
      await api.call('DELETE', '/v1/me/sessions');
    } catch (err) {
      showError(sessionsError, err);
      return;
    }
    await api.signOut(); // clears the cookie; the session is already revoked
    signedOut('You have been signed out everywhere.');
  });
  page('Account',
    notice ? h('p', { class: 'notice', role: 'status', id: 'account-notice' }, notice) : null,
    h('p', {}, 'Signed in as ', h('strong', {}, me.email), ` · role ${me.role} · tiers ${me.tiers.join(', ') || 'none'}`),
    passwordForm(reload),
    mfaSection(me, reload),
    h('section', { class: 'card', 'aria-labelledby': 'sessions-title' },
      h('h2', { id: 'sessions-title' }, 'Sessions'), sessionsError, list,
      h('div', { class: 'actions' }, everywhere))).focus();
  await reload();
}

function passwordForm(reload) {
  const current = h('input', { id: 'current-password', type: 'password', required: true, autocomplete: 'current-password' });
  const next = h('input', { id: 'new-password', type: 'password', required: true, minlength: 8, maxlength: 72, autocomplete: 'new-password' });
  const repeat = h('input', { id: 'repeat-password', type: 'password', required: true, autocomplete: 'new-password' });
  const error = errorArea('password-error');
  const done = h('p', { id: 'password-done', class: 'notice', role: 'status', hidden: true }, 'Password changed. Every other session has been signed out.');
  const form = h('form', { id: 'password-form', class: 'card', 'aria-labelledby': 'password-title' },
    h('h2', { id: 'password-title' }, 'Change password'),
    field('Current password', current), field('New password', next, '8 to 72 bytes.'), field('Repeat new password', repeat),
    error, done, h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'password-submit' }, 'Change password')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(error, null);
    done.hidden = true;
    if (next.value !== repeat.value) {
      showError(error, new api.ApiError(400, 'invalid_request', 'The new passwords do not match.', 0));
      repeat.focus();
      return;
    }
    try {
      await busy(form, api.call('POST', '/v1/me/password', { current_password: current.value, new_password: next.value }));
    } catch (err) {
      showError(error, err);
      return;
    }
    form.reset();
    done.hidden = false;
    await reload();
  });
  return form;
}

async function loadSessions(list, error, reload, signedOut) {
  let sessions;
  try {
    sessions = (await api.call('GET', '/v1/me/sessions')).sessions;
  } catch (err) {
    showError(error, err);
    list.replaceChildren();
    return;
  }
  const rows = sessions.map((s) => [
    h('span', { class: 'ua' }, s.user_agent || 'unknown client', s.current ? h('span', { class: 'badge active' }, 'this session') : null),
    s.ip || '—', when(s.created_at), when(s.last_used_at, 'never'),
    h('button', { type: 'button', class: 'secondary', onclick: () => revoke(s, error, reload, signedOut) }, 'Sign out'),
  ]);
  list.replaceChildren(table('Your sessions', ['Client', 'Address', 'Signed in', 'Last active', 'Actions'], rows));
}

async function revoke(s, error, reload, signedOut) {
  showError(error, null);
  if (s.current) {
    await api.signOut();
    signedOut('You have been signed out.');
    return;
  }
  try {
    await api.call('DELETE', `/v1/me/sessions/${encodeURIComponent(s.id)}`);
  } catch (err) {
    showError(error, err);
    return;
  }
  await reload();
}
