// mfa.js: the account page's two-factor authentication (TOTP) section:
// turn it on (password, then the secret for the app, then a first code,
// then the recovery codes, shown once), turn it off, and replace the
// recovery codes. Secrets and codes live only in this section's DOM and
// go when the person moves on.

import * as api from './api.js';
import { h, field, errorArea, showError, busy } from './ui.js';

/**
 * mfaSection is the section for me (GET /v1/me's user, whose mfa_enabled
 * it keeps current); enrolled runs once turning it on has signed out
 * every other session.
 */
export function mfaSection(me, enrolled) {
  const body = h('div', { id: 'mfa-body' });
  const show = (focus, ...children) => {
    body.replaceChildren(...children.filter(Boolean));
    focus?.focus();
  };

  const overview = (focus, notice) => {
    const on = Boolean(me.mfa_enabled);
    const first = on
      ? button('mfa-disable', 'danger', 'Turn off', () => disableForm())
      : button('mfa-enable', '', 'Turn on', () => enableForm());
    show(focus ? first : null,
      notice ? h('p', { class: 'notice', role: 'status', id: 'mfa-notice' }, notice) : null,
      h('p', { id: 'mfa-status' }, h('span', { class: `badge ${on ? 'active' : ''}` }, on ? 'On' : 'Off'), ' ',
        on ? 'Signing in asks for a code from your authenticator app after your password.'
          : 'Signing in needs only your password. Add a code from an authenticator app to protect the account if the password leaks.'),
      h('div', { class: 'actions' },
        on ? button('mfa-regenerate', 'secondary', 'New recovery codes', () => regenerateForm()) : null, first));
  };

  const enableForm = () => {
    const f = form('Continue', { password: true }, async ({ password }) => {
      secretStep(await api.call('POST', '/v1/me/mfa/totp', { password }));
    });
    show(f.first, h('p', {}, 'Confirm your password to set up an authenticator app.'), f.el);
  };

  const secretStep = (res) => {
    const copied = h('p', { class: 'hint', role: 'status', id: 'mfa-copy-status' });
    const secret = h('input', { id: 'mfa-secret', readonly: true, spellcheck: 'false', value: res.secret.replace(/(.{4})(?=.)/g, '$1 ') });
    const url = h('textarea', { id: 'mfa-url', readonly: true, rows: 3, spellcheck: 'false' }, res.otpauth_url);
    const f = form('Turn on', { code: true }, async ({ code }) => {
      const out = await api.call('POST', '/v1/me/mfa/totp/confirm', { code });
      me.mfa_enabled = true;
      codesStep(out.recovery_codes, 'Two-factor authentication is on. Every other session has been signed out.');
      enrolled();
    });
    show(secret,
      h('ol', { class: 'steps' },
        h('li', {}, 'In your authenticator app, add an account with this setup key (or paste the setup link if the app takes one).'),
        h('li', {}, 'Enter the 6-digit code the app shows.')),
      copyField('Setup key', secret, copyButton('mfa-copy-secret', () => res.secret, secret, copied)),
      copyField('Setup link', url, copyButton('mfa-copy-url', () => res.otpauth_url, url, copied)),
      copied, f.el);
  };

  const codesStep = (codes, notice) => {
    const list = h('ol', { id: 'mfa-codes', class: 'codes' }, codes.map((c) => h('li', {}, h('code', {}, c))));
    const copied = h('p', { class: 'hint', role: 'status', id: 'mfa-copy-status' });
    const done = button('mfa-codes-done', '', 'I have saved them', () => overview(true));
    const heading = h('h3', { id: 'mfa-codes-title', tabindex: '-1' }, 'Your recovery codes');
    show(heading, h('p', { class: 'notice', role: 'status' }, notice), heading,
      h('p', { class: 'warning', role: 'note' }, h('strong', {}, 'Save these codes now: you will not see them again. '),
        'Each one signs you in once if you lose your authenticator app. Keep them somewhere safe, apart from your password.'),
      list, h('div', { class: 'actions' }, copyButton('mfa-copy-codes', () => codes.join('\n'), list, copied), done), copied);
  };

  const disableForm = () => {
    const f = form('Turn off', { password: true, code: true }, async (v) => {
      await api.call('POST', '/v1/me/mfa/disable', v);
      me.mfa_enabled = false;
      overview(true, 'Two-factor authentication is off.');
    });
    show(f.first, h('p', {}, 'To turn it off, confirm your password and a code from your app (or a recovery code).'), f.el);
  };

  const regenerateForm = () => {
    const f = form('Create new codes', { password: true, code: true }, async (v) => {
      const out = await api.call('POST', '/v1/me/mfa/recovery-codes', v);
      codesStep(out.recovery_codes, 'New recovery codes: the old ones no longer work.');
    });
    show(f.first, h('p', {}, 'New recovery codes replace all the old ones. Confirm your password and a code from your app.'), f.el);
  };

  // form asks for the password, a code or both (ask.password, ask.code)
  // and gives their values to run; an error keeps the form open, Cancel
  // goes back to the overview.
  const form = (submit, ask, run) => {
    const password = ask.password ? h('input', {
      id: 'mfa-password', type: 'password', required: true, autocomplete: 'current-password',
    }) : null;
    const code = ask.code ? h('input', {
      id: 'mfa-code', required: true, autocomplete: 'one-time-code', inputmode: 'numeric', maxlength: 20, spellcheck: 'false',
    }) : null;
    const error = errorArea('mfa-error');
    const el = h('form', { id: 'mfa-form' },
      password ? field('Password', password) : null,
      code ? field('Authentication code', code, password ? 'From your app, or a recovery code.' : null) : null, error,
      h('div', { class: 'actions' },
        button('mfa-cancel', 'secondary', 'Cancel', () => overview(true)),
        h('button', { type: 'submit', id: 'mfa-submit' }, submit)));
    el.addEventListener('submit', async (e) => {
      e.preventDefault();
      showError(error, null);
      const values = {};
      if (password) values.password = password.value;
      if (code) values.code = code.value.trim();
      try {
        await busy(el, run(values));
      } catch (err) {
        showError(error, err);
        if (code) code.value = '';
        (code || password).focus();
      }
    });
    return { el, first: password || code };
  };

  overview(false);
  return h('section', { class: 'card', id: 'mfa', 'aria-labelledby': 'mfa-title' },
    h('h2', { id: 'mfa-title' }, 'Two-factor authentication'), body);
}

function button(id, cls, label, onclick) {
  return h('button', { type: 'button', id, class: cls || null, onclick }, label);
}

// copyField is a labelled read-only control with a Copy button beside it.
function copyField(label, control, btn) {
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), h('div', { class: 'copy-row' }, control, btn));
}

// copyButton copies text() to the clipboard; where the browser refuses,
// it selects el so that the person can copy it.
function copyButton(id, text, el, statusLine) {
  return button(id, 'secondary', 'Copy', async () => {
    try {
      await navigator.clipboard.writeText(text());
      statusLine.textContent = 'Copied to the clipboard.';
    } catch {
      if (el.select) el.select();
      else getSelection().selectAllChildren(el);
      statusLine.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
    }
  });
}
