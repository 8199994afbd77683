// The method picker: filled from GET /api/v1/methods, refreshed while a model is still loading,
// and never changing the person's choice when it refreshes.

import { fetchMethods } from "./api.js";
import { $, el } from "./dom.js";

const POLL_MS = 3000;

export const ALL = {
  name: "all",
  title: "All methods, side by side",
  description: "Runs every available method on the pair at once, shows them in one table, and explains where they agree and where they disagree.",
};

let methods = [];
let pollTimer = null;

/** The title of a method by name, for results; the name itself when the list lacks it. */
export function titleOf(name) {
  return (methods.find((m) => m.name === name) || { title: name }).title;
}

/** The chosen method's listing (with `available`), or undefined before the list arrives. */
export function selectedMethod() {
  const name = $("method").value;
  if (name === ALL.name) return { ...ALL, available: methods.some((m) => m.available) };
  return methods.find((m) => m.name === name);
}

function describeMethod() {
  const method = selectedMethod();
  $("method-description").textContent = method ? method.description : "";
}

/**
 * The option for this name, appended the first time; later refreshes update it in place, since
 * moving or rebuilding options would drop the person's selection.
 */
function optionFor(select, name) {
  return Array.from(select.options).find((option) => option.value === name) ||
    select.appendChild(el("option", { value: name }));
}

function fillMethods(listing) {
  const select = $("method");
  for (const option of Array.from(select.options)) {
    if (!option.value) option.remove(); // the "Loading methods…" placeholder
  }
  for (const method of listing) {
    const option = optionFor(select, method.name);
    option.textContent = method.available
      ? method.title
      : `${method.title} (unavailable: ${method.reason || method.state})`;
    option.disabled = !method.available;
    option.title = method.available ? "" : method.reason || "";
  }
  const all = optionFor(select, ALL.name);
  all.textContent = ALL.title;
  all.disabled = !listing.some((m) => m.available);
  // Keep what is chosen; choose for the person only when nothing usable is.
  const current = select.selectedOptions[0];
  if (!current || current.disabled) {
    const first = listing.find((m) => m.available);
    if (first) select.value = first.name;
  }
}

/**
 * Load the list now, and again every few seconds while a model is loading.
 * `changed(limits)` runs after each load; `failed(message)` when the list cannot be had.
 */
export async function loadMethods(changed, failed) {
  clearTimeout(pollTimer);
  try {
    const body = await fetchMethods();
    methods = body.methods;
    fillMethods(methods);
    describeMethod();
    changed(body.limits || null);
    if (methods.some((m) => m.state === "loading")) {
      pollTimer = setTimeout(() => loadMethods(changed, failed), POLL_MS);
    }
  } catch (error) {
    failed(`Could not load the list of methods: ${error.message}`);
  }
}

/** React to the person's choice; `changed` runs after the description is updated. */
export function initMethods(changed) {
  $("method").addEventListener("change", () => { describeMethod(); changed(); });
}
