// The Collections view: create a collection (a name the API accepts and a CNN that is ready),
// list them with their counts, open one, delete one. The opened collection's three jobs are
// their own modules: adding images (collections-upload.js), searching it with an image
// (collections-search.js) and finding its duplicates (collections-duplicates.js).

import { fetchMethods } from "./api.js";
import { createCollection, deleteCollection, listCollections } from "./collections-api.js";
import { initDuplicates, resetDuplicates } from "./collections-duplicates.js";
import { initSearch, resetSearch } from "./collections-search.js";
import { initUpload, resetUpload } from "./collections-upload.js";
import { $, el } from "./dom.js";
import { initViews } from "./views.js";

// The API's own rule (shared/collections.py COLLECTION_NAME_PATTERN), checked here first so that
// a wrong name is explained next to the field instead of as a 422.
const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

let collections = [];
let currentName = null;
let limits = null;
let titles = {};
let methodsTimer = null;
const POLL_MS = 3000; // while a CNN is still loading, as the method picker does

/** What the submodules need of the view: the opened collection, the upload limits, the method
 * titles, the error banner and a way to re-read the counts. */
const view = {
  get collection() { return collections.find((c) => c.name === currentName) || null; },
  get limits() { return limits; },
  title: (name) => titles[name] || name,
  showError,
  refresh: () => refreshList(),
};

function showError(message) {
  const banner = $("collections-error");
  banner.textContent = message;
  banner.hidden = !message;
}

/** Fill the CNN choice with the methods that give an embedding and are ready now. */
async function loadMethods() {
  clearTimeout(methodsTimer);
  try {
    const body = await fetchMethods();
    limits = body.limits || null;
    titles = Object.fromEntries(body.methods.map((m) => [m.name, m.title]));
    const select = $("collection-method");
    const chosen = select.value;
    const cnns = body.methods.filter((m) => m.family === "semantic");
    select.replaceChildren(...cnns.map((m) => el("option", {
      value: m.name,
      disabled: !m.available,
      textContent: m.available ? m.title : `${m.title} (unavailable: ${m.reason || m.state})`,
    })));
    const ready = cnns.filter((m) => m.available);
    select.value = ready.some((m) => m.name === chosen) ? chosen : (ready[0] || { name: "" }).name;
    $("create-button").disabled = !ready.length;
    $("collection-method-note").textContent = ready.length
      ? ""
      : "No CNN is ready, so no collection can be made now: a collection needs one to embed its images.";
    if (cnns.some((m) => m.state === "loading")) methodsTimer = setTimeout(loadMethods, POLL_MS);
    renderList(); // with the methods' titles
  } catch (error) {
    showError(`Could not load the list of methods: ${error.message}`);
  }
}

function row(info) {
  const open = el("button", {
    type: "button",
    className: "small-button",
    textContent: "Open",
    attrs: { "aria-label": `Open collection ${info.name}` },
    onclick: () => openCollection(info.name),
  });
  const remove = el("button", {
    type: "button",
    className: "small-button danger",
    textContent: "Delete",
    attrs: { "aria-label": `Delete collection ${info.name}` },
    onclick: () => remove_(info),
  });
  const current = info.name === currentName;
  return el(
    "tr",
    { dataset: { name: info.name }, className: current ? "current" : "" },
    el("th", { scope: "row" }, info.name),
    el("td", {}, view.title(info.method)),
    el("td", { className: "count" }, String(info.images)),
    el("td", { className: "actions" }, open, " ", remove),
  );
}

function renderList() {
  $("collections-table").tBodies[0].replaceChildren(...collections.map(row));
  $("collections-table").hidden = !collections.length;
  $("collections-empty").hidden = collections.length > 0;
  const info = view.collection;
  $("collection-panel").hidden = !info;
  if (info) {
    $("current-name").textContent = info.name;
    const images = `${info.images.toLocaleString("en")} image${info.images === 1 ? "" : "s"}`;
    const thumbs = info.thumbnails ? "thumbnails kept" : "no thumbnails kept";
    $("current-info").textContent = `${images}, indexed with ${view.title(info.method)} (${info.dimensions} numbers per image; ${thumbs}).`;
  }
}

/** Read the list again (after a change, or when the view is shown). */
async function refreshList() {
  try {
    const { ok, body, message } = await listCollections();
    if (!ok) {
      showError(message);
      return;
    }
    collections = body.collections.slice().sort((a, b) => a.name.localeCompare(b.name));
    if (currentName && !view.collection) currentName = null;
    renderList();
  } catch (error) {
    showError(`Could not reach the service: ${error.message}`);
  }
}

function openCollection(name) {
  if (name !== currentName) {
    currentName = name;
    resetUpload();
    resetSearch();
    resetDuplicates();
  }
  renderList();
  $("current-title").focus({ preventScroll: true });
  $("collection-panel").scrollIntoView({ behavior: "smooth", block: "start" });
}

async function remove_(info) {
  const images = `${info.images} image${info.images === 1 ? "" : "s"}`;
  if (!window.confirm(`Delete collection “${info.name}” and everything stored for its ${images}?`)) return;
  try {
    const { ok, message } = await deleteCollection(info.name);
    if (!ok) showError(message);
    else showError("");
  } catch (error) {
    showError(`Could not reach the service: ${error.message}`);
  }
  await refreshList();
}

function nameProblem(name) {
  if (!name) return "Give the collection a name.";
  if (name.length > 63) return `The name is ${name.length} characters long; at most 63.`;
  if (!NAME_PATTERN.test(name)) {
    return "Use lower-case letters, digits, “-” and “_” only, starting with a letter or digit.";
  }
  return "";
}

async function create(event) {
  event.preventDefault();
  const input = $("collection-name");
  const name = input.value.trim();
  const problem = nameProblem(name);
  $("collection-name-error").textContent = problem;
  input.setAttribute("aria-invalid", String(Boolean(problem)));
  if (problem) {
    input.focus();
    return;
  }
  const button = $("create-button");
  button.disabled = true;
  try {
    const { ok, body, message } = await createCollection(name, $("collection-method").value, $("collection-thumbnails").checked);
    if (!ok) {
      $("collection-name-error").textContent = message;
      return;
    }
    showError("");
    input.value = "";
    await refreshList();
    openCollection(body.name);
  } catch (error) {
    showError(`Could not reach the service: ${error.message}`);
  } finally {
    button.disabled = !$("collection-method").value;
  }
}

/** Wire the view; its data is loaded each time it is shown. */
export function initCollections() {
  $("create-form").addEventListener("submit", create);
  $("collection-name").addEventListener("input", () => {
    $("collection-name-error").textContent = "";
    $("collection-name").removeAttribute("aria-invalid");
  });
  // A key given in the form the service asked for (app.js stores it first): read again with it.
  $("key-form").addEventListener("submit", () => setTimeout(() => {
    if (document.body.dataset.view === "collections") { loadMethods(); refreshList(); }
  }));
  initUpload(view);
  initSearch(view);
  initDuplicates(view);
  initViews((shown) => {
    if (shown !== "collections") return;
    loadMethods();
    refreshList();
  });
}
