// auth.js: the sign-in and sign-up page.

import * as api from './api.js';
import { h, field, errorArea, showError, busy, page } from './ui.js';

/** signInPage shows the sign-in and sign-up forms; done runs once signed in. */
export function signInPage(done, notice) {
  const signIn = credentialsForm('signin', 'Sign in', 'current-password', api.signIn, done, codeField());
  const signUp = credentialsForm('signup', 'Create account', 'new-password', api.signUp, done, null);
  const heading = page('Sign in',
    notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
    h('div', { class: 'auth-grid' },
      h('section', { class: 'card', 'aria-labelledby': 'signin-title' },
        h('h2', { id: 'signin-title' }, 'Welcome back'), signIn),
      h('section', { class: 'card', 'aria-labelledby': 'signup-title' },
        h('h2', { id: 'signup-title' }, 'New to keygate?'),
        h('p', { class: 'hint' }, 'Passwords are 8 to 72 bytes.'), signUp)));
  heading.focus();
}

// codeField is the second-factor field of the sign-in form, hidden until
// keygate answers that the account needs it. Recovery codes hold letters,
// so a button switches the phone keyboard from digits to text.
function codeField() {
  const input = h('input', {
    id: 'signin-code', name: 'code', autocomplete: 'one-time-code', inputmode: 'numeric',
    maxlength: 20, spellcheck: 'false', 'aria-describedby': 'signin-code-hint',
  });
  const hint = h('p', { id: 'signin-code-hint', class: 'hint', role: 'status' });
  const toggle = h('button', { type: 'button', class: 'link', id: 'signin-use-recovery' }, 'Use a recovery code');
  toggle.addEventListener('click', () => {
    const recovery = input.inputMode === 'numeric';
    input.inputMode = recovery ? 'text' : 'numeric';
    input.autocomplete = recovery ? 'off' : 'one-time-code';
    toggle.textContent = recovery ? 'Use a code from the app' : 'Use a recovery code';
    input.focus();
  });
  const row = h('div', { id: 'signin-code-row', hidden: true }, field('Authentication code', input), hint, toggle);
  const show = () => {
    row.hidden = false;
    hint.textContent = 'Enter the 6-digit code from your authenticator app, or one of your recovery codes.';
    input.value = '';
    input.focus();
  };
  return { row, input, show, value: () => (row.hidden ? '' : input.value.trim()) };
}

function credentialsForm(id, submit, autocomplete, action, done, code) {
  const email = h('input', { id: `${id}-email`, name: 'email', type: 'email', required: true, autocomplete: 'email' });
  const password = h('input', {
    id: `${id}-password`, name: 'password', type: 'password', required: true, minlength: 8, maxlength: 72, autocomplete,
  });
  const error = errorArea(`${id}-error`);
  const form = h('form', { id: `${id}-form`, novalidate: false },
    field('Email', email), field('Password', password), code?.row, error,
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: `${id}-submit` }, submit)));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(error, null);
    try {
      await busy(form, action(email.value, password.value, code?.value()));
    } catch (err) {
      if (code && err.mfaRequired) {
        code.show(); // not an error: the password was right
        return;
      }
      showError(error, err);
      if (code?.value()) {
        code.input.value = '';
        code.input.focus();
      } else {
        password.focus();
      }
      return;
    }
    done();
  });
  return form;
}
