// api.js: calls to keygate's JSON API, and the browser session.
//
// The access token lives only in this module's memory. The refresh token
// is an HttpOnly cookie the page never sees: keygate sets it when a
// request carries X-Requested-With: keygate-dashboard, and POST
// /v1/auth/refresh with that header and an empty body spends it for the
// next pair. A reload therefore starts with a refresh.

const browserHeader = { 'X-Requested-With': 'keygate-dashboard' };

let accessToken = '';
let refreshTimer = 0;
let refreshing = null; // the refresh in flight, shared by every caller
let onSignedOut = () => {};

/** ApiError is a failed call: HTTP status, keygate's code and detail. */
export class ApiError extends Error {
  constructor(status, code, detail, retryAfter) {
    super(detail || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.retryAfter = retryAfter; // seconds, for a 429; else 0
  }
}

/** message is what to show a person for err. */
export function message(err) {
  if (!(err instanceof ApiError)) {
    return 'keygate could not be reached. Check your connection and try again.';
  }
  let text = err.detail || err.code || `Request failed (HTTP ${err.status})`;
  if (err.status === 429 && err.retryAfter > 0 && !/try again/i.test(text)) {
    text += `. Try again in ${err.retryAfter} seconds.`;
  }
  return text;
}

/** whenSignedOut registers fn, called when the session ends or is refused. */
export function whenSignedOut(fn) {
  onSignedOut = fn;
}

export function signedIn() {
  return accessToken !== '';
}

async function send(method, path, body, headers = {}) {
  const init = { method, headers: { ...headers }, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', '', 0);
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const retry = parseInt(res.headers.get('Retry-After') || '0', 10) || 0;
    const err = new ApiError(res.status, data?.error || '', data?.detail || '', retry);
    // The password was right and the account asks for a second factor.
    err.mfaRequired = res.headers.get('X-Keygate-MFA') === 'required';
    throw err;
  }
  return data;
}

function setTokens(pair) {
  accessToken = pair.access_token;
  clearTimeout(refreshTimer);
  // Refresh a minute before the access token expires (sooner for short
  // lives), so requests rarely meet a 401.
  const lead = Math.min(60, pair.expires_in / 5);
  refreshTimer = setTimeout(() => refresh().catch(() => {}), Math.max(5, pair.expires_in - lead) * 1000);
}

function clearSession() {
  accessToken = '';
  clearTimeout(refreshTimer);
}

// Spending a refresh token twice revokes the session, so one refresh at a
// time: within this page through `refreshing`, across tabs through a Web
// Lock when the browser has them (the cookie is read when the request is
// sent, so a tab that waited sends the already rotated token).
function withLock(fn) {
  if (navigator.locks?.request) return navigator.locks.request('keygate-refresh', fn);
  return fn();
}

/** refresh trades the refresh cookie for a new pair; it rejects when there is no session. */
export function refresh() {
  if (!refreshing) {
    refreshing = withLock(() => send('POST', '/v1/auth/refresh', undefined, browserHeader))
      .then(setTokens)
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

/** resume restores the session after a page load; it resolves to whether there is one. */
export async function resume() {
  try {
    await refresh();
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return false;
    throw err;
  }
}

/** signIn signs in; code, when given, is a TOTP or recovery code. */
export async function signIn(email, password, code) {
  const body = code ? { email, password, code } : { email, password };
  setTokens(await send('POST', '/v1/auth/login', body, browserHeader));
}

export async function signUp(email, password) {
  await send('POST', '/v1/auth/register', { email, password });
  await signIn(email, password);
}

/** signOut ends this session on the server (best effort) and here. */
export async function signOut() {
  try {
    await send('POST', '/v1/auth/logout', undefined, browserHeader);
  } catch {
    // The session may be gone already; the page forgets it either way.
  }
  clearSession();
}

/**
 * call sends an authenticated request. A 401 gets one refresh and one
 * retry; if that fails the session is over and whenSignedOut's callback runs.
 */
export async function call(method, path, body) {
  try {
    return await send(method, path, body, { Authorization: `Bearer ${accessToken}` });
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
  }
  try {
    await refresh();
  } catch (err) {
    clearSession();
    onSignedOut('Your session has ended. Please sign in again.');
    throw err;
  }
  return send(method, path, body, { Authorization: `Bearer ${accessToken}` });
}

/** forget drops the session here without asking the server (it is already gone). */
export function forget() {
  clearSession();
}
