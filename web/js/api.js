// The public API on the same origin: GET /api/v1/methods and POST /api/v1/compare, with the
// API key when the service asked for one and the person gave it.

const KEY_STORAGE = "isc-api-key";
let onUnauthorized = () => {};

/** Who to tell when the service answers 401, so that the page can ask for the key. */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/** Remember the key for this tab only (sessionStorage), for every later request. */
export function useKey(key) {
  sessionStorage.setItem(KEY_STORAGE, key);
}

/** Any API call with the key, when one was given; resolves to `{ response, body }` (body: the
 * parsed JSON, or null), throws only when the service cannot be reached. */
export async function request(path, options = {}) {
  const key = sessionStorage.getItem(KEY_STORAGE);
  const headers = { ...(options.headers || {}), ...(key ? { "X-API-Key": key } : {}) };
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) onUnauthorized();
  let body = null;
  try { body = await response.json(); } catch { body = null; }
  return { response, body };
}

/** The methods, their states and the upload limits; throws with the service's own message. */
export async function fetchMethods() {
  const { response, body } = await request("/api/v1/methods");
  if (!response.ok || !body) throw new Error(errorText(response, body));
  return body;
}

/** POST /api/v1/compare; resolves to `{ ok, body, message }`, throws only when unreachable. */
export async function postCompare(form) {
  const { response, body } = await request("/api/v1/compare", { method: "POST", body: form });
  const ok = response.ok && body !== null;
  return { ok, body, message: ok ? "" : errorText(response, body) };
}

/** The service's error message with its status and code, or what HTTP said when it gave none. */
export function errorText(response, body) {
  const error = body && body.error;
  if (error && error.message) return `${error.message} (HTTP ${response.status}, ${error.code})`;
  return `The server answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}.`;
}
