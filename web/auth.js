// auth.js: the sign-in and sign-up page.

import * as api from './api.js';
import { h, field, errorArea, showError, busy, page } from './ui.js';

/** signInPage shows the sign-in and sign-up forms; done runs once signed in. */
export function signInPage(done, notice) {
  const signIn = credentialsForm('signin', 'Sign in', 'current-password', api.signIn, done);
  const signUp = credentialsForm('signup', 'Create account', 'new-password', api.signUp, done);
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

function credentialsForm(id, submit, autocomplete, action, done) {
  const email = h('input', { id: `${id}-email`, name: 'email', type: 'email', required: true, autocomplete: 'email' });
  const password = h('input', {
    id: `${id}-password`, name: 'password', type: 'password', required: true, minlength: 8, maxlength: 72, autocomplete,
  });
  const error = errorArea(`${id}-error`);
  const form = h('form', { id: `${id}-form`, novalidate: false },
    field('Email', email), field('Password', password), error,
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: `${id}-submit` }, submit)));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(error, null);
    try {
      await busy(form, action(email.value, password.value));
    } catch (err) {
      showError(error, err);
      password.focus();
      return;
    }
    done();
  });
  return form;
}
