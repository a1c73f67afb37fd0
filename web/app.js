// app.js: the dashboard's entry point: session start, navigation by the
// URL fragment (#/keys, #/keys/{id}, #/account, #/admin/users,
// #/admin/audit) and the header.

import * as api from './api.js';
import { showError } from './ui.js';
import { signInPage } from './auth.js';
import { keysPage, wireCopyButtons } from './keys.js';
import { usagePage } from './usage.js';
import { accountPage } from './account.js';
import { usersPage, auditPage } from './admin.js';

let me = null; // the signed-in user, from GET /v1/me

const banner = () => document.getElementById('banner');

function signedOut(notice) {
  me = null;
  api.forget();
  header();
  if (location.hash !== '' && location.hash !== '#/') history.replaceState(null, '', location.pathname);
  signInPage(start, notice);
}

async function start() {
  try {
    me = (await api.call('GET', '/v1/me')).user;
  } catch (err) {
    if (!api.signedIn()) return; // signedOut has already shown the sign-in page
    showError(banner(), err);
    return;
  }
  header();
  await route();
}

function header() {
  const nav = document.getElementById('nav');
  nav.hidden = !me;
  document.getElementById('who').hidden = !me;
  document.getElementById('who-email').textContent = me ? me.email : '';
  for (const a of nav.querySelectorAll('[data-admin]')) a.hidden = me?.role !== 'admin';
}

async function route() {
  showError(banner(), null);
  if (!me) return;
  const path = location.hash.replace(/^#/, '') || '/keys';
  const parts = path.split('/').filter(Boolean);
  const current = parts[0] === 'admin' ? `admin-${parts[1]}` : parts[0];
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.route === current) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  try {
    // The server answers this user's other routes with 403 until then.
    if (me.mfa_required && !me.mfa_enabled) {
      // On #/account, so that following any link once it is on is a change.
      if (location.hash !== '#/account') history.replaceState(null, '', '#/account');
      await accountPage(me, signedOut, enrolFirst);
    }
    else if (parts[0] === 'keys' && parts[1]) await usagePage(decodeURIComponent(parts[1]));
    else if (parts[0] === 'account') await accountPage(me, signedOut);
    else if (path === '/admin/users' && me.role === 'admin') await usersPage(me);
    else if (path === '/admin/audit' && me.role === 'admin') await auditPage();
    else await keysPage(me);
  } catch (err) {
    showError(banner(), err);
  }
}

const enrolFirst = 'This server asks you to turn on two-factor authentication before anything else. ' +
  'Turn it on below; then the rest of the dashboard opens.';

async function boot() {
  wireCopyButtons();
  api.whenSignedOut(signedOut);
  window.addEventListener('hashchange', route);
  document.getElementById('sign-out').addEventListener('click', async () => {
    await api.signOut();
    signedOut('You have been signed out.');
  });
  let resumed;
  try {
    resumed = await api.resume();
  } catch (err) {
    showError(banner(), err);
    document.getElementById('main').replaceChildren();
    return;
  }
  if (resumed) await start();
  else signedOut();
}

boot();
