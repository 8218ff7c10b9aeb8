// api.js: talking to levee's HTTP API from the page: its two tokens (the API token, taken from the page's
// URL or asked for, and the admin token that /api/subscriptions needs, only ever asked for; each kept in
// sessionStorage for this tab), GET and POST requests whose failures become plain sentences, and the live
// tail (Server-Sent Events read over fetch, so the token and Last-Event-ID travel as headers and a refused
// token is seen as a 401 rather than an endless reconnect).

/** The tokens a server may ask for, by scope: 'api' reads the store, 'admin' manages subscriptions. */
const TOKEN_KEYS = { api: 'levee.apiToken', admin: 'levee.adminToken' };
const memoryTokens = { api: '', admin: '' };

function tokenKey(scope) {
  const key = TOKEN_KEYS[scope];
  if (!key) throw new Error(`no such token scope: ${scope}`);
  return key;
}

export function getToken(scope = 'api') {
  const key = tokenKey(scope);
  try {
    return sessionStorage.getItem(key) ?? memoryTokens[scope];
  } catch {
    return memoryTokens[scope];
  }
}

export function setToken(token, scope = 'api') {
  const key = tokenKey(scope);
  memoryTokens[scope] = token;
  try {
    if (token) sessionStorage.setItem(key, token);
    else sessionStorage.removeItem(key);
  } catch {
    // storage refused (private mode): the token lives in memory for this page only
  }
}

/**
 * Takes ?token=... from the page's URL (before or inside the #/route), keeps it for this tab, and
 * removes it from the address bar so it does not stay in the history or get copied with a link.
 */
export function takeTokenFromUrl() {
  const url = new URL(location.href);
  let token = url.searchParams.get('token');
  url.searchParams.delete('token');
  const hash = url.hash;
  const q = hash.indexOf('?');
  if (q >= 0) {
    const params = new URLSearchParams(hash.slice(q + 1));
    if (params.has('token')) {
      token ??= params.get('token');
      params.delete('token');
      const rest = params.toString();
      url.hash = hash.slice(0, q) + (rest ? `?${rest}` : '');
    }
  }
  if (token === null) return false;
  setToken(token.trim());
  history.replaceState(history.state, '', url.href);
  return true;
}

function authHeaders(extra = {}, scope = 'api') {
  const token = getToken(scope);
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

/**
 * A failed API call. kind: 'auth' (401), 'network' (no answer), 'http' (an error answer), 'abort'.
 * scope: the token the call was sent with ('api' or 'admin'), so a refusal asks for the right one.
 */
export class ApiError extends Error {
  constructor(kind, status, message, scope = 'api') {
    super(message);
    this.name = 'ApiError';
    this.kind = kind;
    this.status = status;
    this.scope = scope;
  }
}

const listeners = new Set();
/** Called with the ApiError whenever the server refuses the token. */
export function onUnauthorized(fn) {
  listeners.add(fn);
}
function unauthorized(err) {
  for (const fn of listeners) fn(err);
}

async function errorMessage(response) {
  let text = '';
  try {
    text = await response.text();
    const body = JSON.parse(text);
    if (body && typeof body.error === 'string') return body.error;
  } catch {
    // not the API's JSON error: fall through to the status
  }
  return text && text.length < 200 ? text.trim() : `the server answered ${response.status} ${response.statusText}`;
}

export function apiUrl(path, params = {}) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const qs = search.toString();
  return `/api${path}${qs ? `?${qs}` : ''}`;
}

/**
 * Sends one request to /api + path with the token of its scope; resolves to the parsed JSON (null for
 * a 204) or throws ApiError. A 401 is also told to every onUnauthorized listener.
 */
async function request(method, path, { params = {}, body, signal, scope = 'api' } = {}) {
  const headers = authHeaders({ Accept: 'application/json' }, scope);
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(apiUrl(path, params), {
      method, headers, signal, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (signal?.aborted) throw new ApiError('abort', 0, 'cancelled', scope);
    throw new ApiError('network', 0, 'The levee server did not answer. Is it still running?', scope);
  }
  if (response.status === 401) {
    const err = new ApiError('auth', 401, await errorMessage(response), scope);
    unauthorized(err);
    throw err;
  }
  if (!response.ok) throw new ApiError('http', response.status, await errorMessage(response), scope);
  if (response.status === 204) return null;
  try {
    return await response.json();
  } catch {
    if (signal?.aborted) throw new ApiError('abort', 0, 'cancelled', scope);
    throw new ApiError('http', response.status, 'The server sent an answer the page could not read.', scope);
  }
}

/** GETs /api + path with the given query parameters; resolves to the parsed JSON or throws ApiError. */
export function apiGet(path, params = {}, { signal, scope } = {}) {
  return request('GET', path, { params, signal, scope });
}

/** POSTs a JSON body (none when undefined) to /api + path; resolves to the parsed answer or throws ApiError. */
export function apiPost(path, body, { signal, scope } = {}) {
  return request('POST', path, { body, signal, scope });
}

/**
 * Follows GET /api/tail (Server-Sent Events) with the given filters until close() is called.
 * handlers: onOpen(), onEvent({id, event, data}), onMissed(n), onState('connecting'|'live'|'retrying'),
 * onError(ApiError) for answers that retrying cannot fix (a bad filter, a refused token).
 */
export function openTail(params, handlers) {
  const controller = new AbortController();
  let lastId = null;
  let retryMs = 2000;
  let closed = false;
  let failures = 0;

  const parseBlock = (lines) => {
    let event = 'message';
    const data = [];
    let id = null;
    for (const line of lines) {
      if (line.startsWith(':')) {
        const missed = /^:\s*missed (\d+)/.exec(line);
        if (missed) handlers.onMissed?.(Number(missed[1]));
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
      else if (field === 'retry' && /^\d+$/.test(value)) retryMs = Number(value);
    }
    if (id !== null) lastId = id;
    if (data.length) handlers.onEvent?.({ id, event, data: data.join('\n') });
  };

  const run = async () => {
    while (!closed) {
      handlers.onState?.(failures ? 'retrying' : 'connecting');
      try {
        const headers = authHeaders({ Accept: 'text/event-stream' });
        if (lastId !== null) headers['Last-Event-ID'] = lastId;
        const response = await fetch(apiUrl('/tail', params), { headers, signal: controller.signal, cache: 'no-store' });
        if (response.status === 401) {
          const err = new ApiError('auth', 401, await errorMessage(response));
          unauthorized(err);
          handlers.onError?.(err);
          return;
        }
        if (!response.ok) {
          handlers.onError?.(new ApiError('http', response.status, await errorMessage(response)));
          return;
        }
        failures = 0;
        handlers.onState?.('live');
        handlers.onOpen?.();
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        let block = [];
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          const lines = buffer.split(/\r\n|\n|\r/);
          buffer = lines.pop();
          for (const line of lines) {
            if (line === '') {
              if (block.length) parseBlock(block);
              block = [];
            } else {
              block.push(line);
            }
          }
        }
      } catch {
        if (closed) return;
      }
      if (closed) return;
      failures++;
      handlers.onState?.('retrying');
      const wait = Math.min(retryMs * failures, 15000);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  };
  run();
  return {
    close() {
      closed = true;
      controller.abort();
    },
  };
}
