// The collections API (/api/v1/collections) on the same origin, through api.js's request (so
// the API key goes with every call). Each call resolves to `{ ok, status, body, message }` and
// throws only when the service cannot be reached, as postCompare does.

import { errorText, request } from "./api.js";

const BASE = "/api/v1/collections";
const path = (name, rest = "") => `${BASE}/${encodeURIComponent(name)}${rest}`;

async function call(url, options) {
  const { response, body } = await request(url, options);
  const ok = response.ok;
  return {
    ok,
    status: response.status,
    retryAfter: Number(response.headers.get("Retry-After")) || 0,
    body,
    error: body && body.error ? body.error : null,
    message: ok ? "" : errorText(response, body),
  };
}

const json = (value) => ({
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify(value),
});

export const listCollections = () => call(BASE);
export const createCollection = (name, method, thumbnails) => call(BASE, json({ name, method, thumbnails }));
export const deleteCollection = (name) => call(path(name), { method: "DELETE" });
export const getImage = (name, id) => call(path(name, `/images/${encodeURIComponent(id)}`));

/** POST one batch of files (the field `files` once per file), each under `names[i]`. */
export function addImages(name, files, names) {
  const form = new FormData();
  files.forEach((file, index) => form.append("files", file, names[index]));
  return call(path(name, "/images"), { method: "POST", body: form });
}

/** The `k` nearest images to `file`, leaving out those below `minScore` (null: none). */
export function searchCollection(name, file, k, minScore) {
  const form = new FormData();
  form.append("image", file, file.name || "query");
  form.append("k", String(k));
  if (minScore !== null) form.append("min_score", String(minScore));
  return call(path(name, "/search"), { method: "POST", body: form });
}

/** Every near-duplicate pair and group; `threshold` null: the CNN's calibrated one. */
export function findDuplicates(name, threshold) {
  const query = threshold === null ? "" : `?threshold=${encodeURIComponent(threshold)}`;
  return call(path(name, `/duplicates${query}`));
}
