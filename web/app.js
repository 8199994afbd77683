// Image Similarity Checker: the page's entry module. Plain ES modules, no build step; talks only
// to the public API (GET /api/v1/methods, POST /api/v1/compare, /api/v1/collections) on the same
// origin. The Collections view (#collections) is js/collections.js's.

import { postCompare, useKey, whenUnauthorized } from "./js/api.js";
import { initCollections } from "./js/collections.js";
import { renderAll } from "./js/compare-all.js";
import { $ } from "./js/dom.js";
import { ALL, initMethods, loadMethods, selectedMethod } from "./js/methods.js";
import { chosen, initPickers, setLimits } from "./js/pickers.js";
import { initResultViews, renderResult } from "./js/result.js";

let busy = false;

function showError(message) {
  const banner = $("error");
  banner.textContent = message;
  banner.hidden = !message;
}

function updateButton() {
  const method = selectedMethod();
  const ready = chosen.files.a && chosen.files.b && method && method.available;
  $("compare-button").disabled = busy || !ready;
}

function refreshMethods() {
  loadMethods((limits) => { setLimits(limits); updateButton(); }, showError);
}

function showResult(result) {
  $("all-results").hidden = true;
  renderResult(result, chosen.urls);
}

function setBusy(value) {
  busy = value;
  updateButton();
  $("progress").hidden = !value;
  if (value) $("compare-form").setAttribute("aria-busy", "true");
  else $("compare-form").removeAttribute("aria-busy");
}

async function compare(event) {
  event.preventDefault();
  if (busy) return; // a second press while waiting sends nothing
  const { a, b } = chosen.files;
  if (!a || !b) {
    showError("Choose both images first.");
    return;
  }
  setBusy(true);
  showError("");
  const form = new FormData();
  form.append("image_a", a, a.name || "image_a");
  form.append("image_b", b, b.name || "image_b");
  form.append("method", $("method").value);
  form.append("align", $("align").checked ? "true" : "false");
  form.append("heatmap_format", "jpeg"); // the page always shows maps, whatever the server's default
  try {
    const { ok, body, message } = await postCompare(form);
    if (!ok) showError(message);
    else if (body.method === ALL.name) renderAll(body, (result) => renderResult(result, chosen.urls));
    else showResult(body);
  } catch (error) {
    showError(`Could not reach the service: ${error.message}`);
  } finally {
    setBusy(false);
  }
}

function askForKey() {
  $("key-form").hidden = false;
  $("api-key").focus();
}

function init() {
  whenUnauthorized(askForKey);
  initPickers(updateButton);
  initMethods(updateButton);
  initResultViews();
  initCollections();
  $("compare-form").addEventListener("submit", compare);
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    useKey($("api-key").value);
    $("key-form").hidden = true;
    showError("");
    refreshMethods();
  });
  refreshMethods();
}

init(); // a module runs once the document is parsed
