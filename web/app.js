// Image Similarity Checker: the page. Plain JavaScript, no build step; talks only to the public
// API (GET /api/v1/methods, POST /api/v1/compare) on the same origin.
"use strict";

const FALLBACK_TYPES = ["image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp", "image/tiff"];
const EXTENSIONS = { jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", webp: "image/webp",
  gif: "image/gif", bmp: "image/bmp", tif: "image/tiff", tiff: "image/tiff" };
const SLOTS = ["a", "b"];

const state = {
  files: { a: null, b: null },
  urls: { a: null, b: null },
  limits: null,
  methods: [],
  busy: false,
  lastSlot: "a",
};

const $ = (id) => document.getElementById(id);
const KEY_STORAGE = "isc-api-key";

/** fetch with the API key, when the service asked for one and the person gave it. */
function api(path, options = {}) {
  const key = sessionStorage.getItem(KEY_STORAGE);
  const headers = { ...(options.headers || {}), ...(key ? { "X-API-Key": key } : {}) };
  return fetch(path, { ...options, headers });
}

function askForKey() {
  $("key-form").hidden = false;
  $("api-key").focus();
}

function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function acceptedTypes() {
  return state.limits ? state.limits.accepted_types : FALLBACK_TYPES;
}

/** The file's image type, from its declared type or, when the browser gives none, its name. */
function fileType(file) {
  if (file.type) return file.type;
  const extension = (file.name.split(".").pop() || "").toLowerCase();
  return EXTENSIONS[extension] || "";
}

// ---- the two image boxes -------------------------------------------------------------------

function setFieldError(slot, message) {
  $(`error-${slot}`).textContent = message || "";
}

function clearSlot(slot) {
  state.files[slot] = null;
  if (state.urls[slot]) URL.revokeObjectURL(state.urls[slot]);
  state.urls[slot] = null;
  const preview = $(`preview-${slot}`);
  preview.hidden = true;
  preview.removeAttribute("src");
  preview.alt = "";
  $(`info-${slot}`).textContent = "";
  updateButton();
}

function refuse(slot, message) {
  clearSlot(slot);
  $(`file-${slot}`).value = "";
  setFieldError(slot, message);
}

function acceptFile(slot, file) {
  setFieldError(slot, "");
  if (!file) return;
  const type = fileType(file);
  const label = `“${file.name || "pasted image"}”`;
  if (!acceptedTypes().includes(type)) {
    refuse(slot, `${label} is not a supported image${type ? ` (${type})` : ""}. ` +
      "Use JPEG, PNG, WebP, GIF, BMP or TIFF.");
    return;
  }
  if (file.size === 0) {
    refuse(slot, `${label} is empty.`);
    return;
  }
  const limit = state.limits ? state.limits.max_upload_bytes : Infinity;
  if (file.size > limit) {
    refuse(slot, `${label} is ${formatBytes(file.size)}; the limit is ${formatBytes(limit)}.`);
    return;
  }
  clearSlot(slot);
  state.files[slot] = file;
  state.urls[slot] = URL.createObjectURL(file);
  const basics = `${file.name || "pasted image"} · ${formatBytes(file.size)}`;
  $(`info-${slot}`).textContent = basics;
  const preview = $(`preview-${slot}`);
  preview.onload = () => {
    if (state.files[slot] !== file) return;
    const { naturalWidth: w, naturalHeight: h } = preview;
    const maxPixels = state.limits ? state.limits.max_image_pixels : Infinity;
    if (w * h > maxPixels) {
      refuse(slot, `${label} is ${w} × ${h} pixels; the limit is ${maxPixels.toLocaleString("en")} pixels.`);
      return;
    }
    preview.hidden = false;
    preview.alt = `Preview of image ${slot.toUpperCase()}: ${file.name || "pasted image"}`;
    $(`info-${slot}`).textContent = `${file.name || "pasted image"} · ${w} × ${h} px · ${formatBytes(file.size)}`;
  };
  preview.onerror = () => {
    if (state.files[slot] !== file) return;
    if (type === "image/tiff") {
      $(`info-${slot}`).textContent = `${basics} · no preview (browsers cannot show TIFF)`;
      return;
    }
    refuse(slot, `${label} could not be read as an image: it may be corrupt or not an image.`);
  };
  preview.src = state.urls[slot];
  updateButton();
}

function slotOf(element) {
  const picker = element && element.closest ? element.closest(".picker") : null;
  return picker ? picker.dataset.slot : null;
}

function firstImageFile(dataTransfer) {
  if (!dataTransfer) return null;
  const files = Array.from(dataTransfer.files || []);
  if (files.length) return files[0];
  for (const item of Array.from(dataTransfer.items || [])) {
    if (item.kind === "file") return item.getAsFile();
  }
  return null;
}

function wirePicker(slot) {
  const input = $(`file-${slot}`);
  const picker = $(`picker-${slot}`);
  const zone = picker.querySelector(".dropzone");
  input.addEventListener("change", () => acceptFile(slot, input.files[0]));
  picker.addEventListener("focusin", () => { state.lastSlot = slot; });
  picker.addEventListener("pointerdown", () => { state.lastSlot = slot; });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragover");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragover"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragover");
    state.lastSlot = slot;
    const file = firstImageFile(event.dataTransfer);
    if (file) acceptFile(slot, file);
    else setFieldError(slot, "Nothing to use was dropped: drop an image file.");
  });
}

function pasteTarget() {
  const focused = slotOf(document.activeElement);
  if (focused) return focused;
  return SLOTS.find((slot) => !state.files[slot]) || state.lastSlot;
}

// ---- methods -------------------------------------------------------------------------------

const ALL = {
  name: "all",
  title: "All methods, side by side",
  description: "Runs every available method on the pair at once, shows them in one table, and explains where they agree and where they disagree.",
};

function selectedMethod() {
  const name = $("method").value;
  if (name === ALL.name) return { ...ALL, available: state.methods.some((m) => m.available) };
  return state.methods.find((m) => m.name === name);
}

function describeMethod() {
  const method = selectedMethod();
  $("method-description").textContent = method ? method.description : "";
}

function fillMethods(methods) {
  const select = $("method");
  select.innerHTML = "";
  for (const method of methods) {
    const option = document.createElement("option");
    option.value = method.name;
    option.textContent = method.available ? method.title : `${method.title} (unavailable: ${method.reason || method.state})`;
    option.disabled = !method.available;
    if (!method.available) option.title = method.reason || "";
    select.appendChild(option);
  }
  const all = document.createElement("option");
  all.value = ALL.name;
  all.textContent = ALL.title;
  all.disabled = !methods.some((m) => m.available);
  select.appendChild(all);
  const first = methods.find((m) => m.available);
  if (first) select.value = first.name;
  describeMethod();
  updateButton();
}

async function loadMethods() {
  try {
    const response = await api("/api/v1/methods");
    const body = await response.json();
    if (response.status === 401) askForKey();
    if (!response.ok) throw new Error(errorText(response, body));
    state.limits = body.limits || null;
    state.methods = body.methods;
    fillMethods(body.methods);
    if (body.methods.some((m) => m.state === "loading")) setTimeout(loadMethods, 3000);
  } catch (error) {
    showError(`Could not load the list of methods: ${error.message}`);
  }
}

// ---- comparing -----------------------------------------------------------------------------

function updateButton() {
  const method = selectedMethod();
  const ready = state.files.a && state.files.b && method && method.available;
  $("compare-button").disabled = state.busy || !ready;
}

function showError(message) {
  const banner = $("error");
  banner.textContent = message;
  banner.hidden = !message;
}

function errorText(response, body) {
  const error = body && body.error;
  if (error && error.message) return `${error.message} (HTTP ${response.status}, ${error.code})`;
  return `The server answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}.`;
}

async function compare(event) {
  event.preventDefault();
  if (state.busy) return; // a second press while waiting sends nothing
  if (!state.files.a || !state.files.b) {
    showError("Choose both images first.");
    return;
  }
  state.busy = true;
  updateButton();
  $("progress").hidden = false;
  $("compare-form").setAttribute("aria-busy", "true");
  showError("");
  const form = new FormData();
  form.append("image_a", state.files.a, state.files.a.name || "image_a");
  form.append("image_b", state.files.b, state.files.b.name || "image_b");
  form.append("method", $("method").value);
  form.append("align", $("align").checked ? "true" : "false");
  try {
    const response = await api("/api/v1/compare", { method: "POST", body: form });
    if (response.status === 401) askForKey();
    let body = null;
    try { body = await response.json(); } catch { body = null; }
    if (!response.ok || !body) showError(errorText(response, body));
    else if (body.method === ALL.name) renderAll(body);
    else {
      $("all-results").hidden = true;
      renderResult(body);
    }
  } catch (error) {
    showError(`Could not reach the service: ${error.message}`);
  } finally {
    state.busy = false;
    $("progress").hidden = true;
    $("compare-form").removeAttribute("aria-busy");
    updateButton();
  }
}

function renderResult(result) {
  const method = state.methods.find((m) => m.name === result.method);
  const title = method ? method.title : result.method;
  $("score-percent").textContent = `${result.similarity_percent.toFixed(1)}%`;
  $("result-method").textContent = title;
  const verdict = $("verdict");
  verdict.textContent = result.verdict.replace("-", " ");
  verdict.dataset.verdict = result.verdict;
  const bar = $("score-bar");
  bar.style.width = `${result.similarity_percent}%`;
  bar.dataset.verdict = result.verdict;
  $("explanation").textContent = result.explanation;
  const warnings = $("warnings");
  warnings.innerHTML = "";
  for (const warning of result.warnings) {
    const item = document.createElement("li");
    item.textContent = warning;
    warnings.appendChild(item);
  }

  const urlA = state.urls.a || result.heatmap;
  const urlB = state.urls.b || "";
  const maps = [
    { name: "main", title: "Main map", description: "", image: result.heatmap, legend: result.heatmap_legend },
    ...result.extra_heatmaps,
  ];
  const mapSelect = $("map-select");
  mapSelect.innerHTML = "";
  for (const map of maps) {
    const option = document.createElement("option");
    option.value = map.name;
    option.textContent = map.title;
    mapSelect.appendChild(option);
  }
  $("map-choice").hidden = maps.length < 2;
  mapSelect.onchange = () => showMap(maps.find((m) => m.name === mapSelect.value), result.method);
  showMap(maps[0], result.method);
  $("heatmap-base").src = urlA;
  $("side-a").src = urlA;
  $("side-b").src = urlB;
  $("swipe-a").src = urlA;
  $("swipe-b").src = urlB;

  const details = {
    "Raw score": result.score.toFixed(6),
    "Calibrated verdict": result.calibrated ? "yes" : "no",
    "Weights": result.weights,
    "Image A": `${result.image_a.width} × ${result.image_a.height} px, ${result.image_a.format}, ${formatBytes(result.image_a.bytes)}`,
    "Image B": `${result.image_b.width} × ${result.image_b.height} px, ${result.image_b.format}, ${formatBytes(result.image_b.bytes)}`,
    "Preparation": result.preparation,
    ...(result.alignment ? { "Alignment": result.alignment.note } : {}),
    ...Object.fromEntries(Object.entries(result.metrics).map(([key, value]) => [key.replaceAll("_", " "), String(value)])),
    "Time": `${Math.round(result.timings.total_ms ?? result.timings.worker_ms)} ms (decode ${Math.round(result.timings.decode_ms)}, compute ${Math.round(result.timings.compute_ms)}, heatmap ${Math.round(result.timings.heatmap_ms)})`,
  };
  const list = $("details-list");
  list.innerHTML = "";
  for (const [term, value] of Object.entries(details)) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value;
    list.append(dt, dd);
  }
  const section = $("result");
  section.hidden = false;
  $("result-title").focus({ preventScroll: true });
  section.scrollIntoView({ behavior: "smooth", block: "start" });
}

function showMap(map, method) {
  $("heatmap").src = map.image;
  $("map-description").textContent = map.description;
  $("legend-low").textContent = map.legend.low;
  $("legend-high").textContent = map.legend.high;
  $("legend-none").textContent = map.legend.no_counterpart;
  $("legend-scale").textContent = map.legend.scale;
  const download = $("download-heatmap");
  download.href = map.image;
  const extension = map.image.startsWith("data:image/png") ? "png" : "jpg";
  const suffix = map.name === "main" ? "" : `-${map.name}`;
  download.download = `heatmap-${method}${suffix}.${extension}`;
  download.textContent = `Download heatmap (${extension.toUpperCase()})`;
}

function renderAll(all) {
  const titleOf = (name) => (state.methods.find((m) => m.name === name) || { title: name }).title;
  $("summary").textContent = all.summary;
  const body = $("all-table").querySelector("tbody");
  body.innerHTML = "";
  for (const result of all.results) {
    const row = document.createElement("tr");
    row.dataset.method = result.method;
    const cells = [titleOf(result.method), result.family, `${result.similarity_percent.toFixed(1)}%`];
    for (const text of cells) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.appendChild(cell);
    }
    const verdictCell = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = "verdict";
    badge.dataset.verdict = result.verdict;
    badge.textContent = result.verdict.replace("-", " ");
    verdictCell.appendChild(badge);
    const mapCell = document.createElement("td");
    const map = document.createElement("img");
    map.src = result.heatmap;
    map.alt = `${titleOf(result.method)} heatmap: red where the images differ`;
    mapCell.appendChild(map);
    const actionCell = document.createElement("td");
    const show = document.createElement("button");
    show.type = "button";
    show.textContent = "Show";
    show.setAttribute("aria-label", `Show the ${titleOf(result.method)} result in detail`);
    show.addEventListener("click", () => renderResult(result));
    actionCell.appendChild(show);
    row.append(verdictCell, mapCell, actionCell);
    body.appendChild(row);
  }
  const missing = $("all-unavailable");
  missing.innerHTML = "";
  for (const [name, reason] of Object.entries(all.unavailable)) {
    const item = document.createElement("li");
    item.textContent = `${titleOf(name)} did not run: ${reason}`;
    missing.appendChild(item);
  }
  $("result").hidden = true;
  const section = $("all-results");
  section.hidden = false;
  $("all-title").focus({ preventScroll: true });
  section.scrollIntoView({ behavior: "smooth", block: "start" });
}

// ---- result views --------------------------------------------------------------------------

function wireViews() {
  for (const radio of document.querySelectorAll('input[name="view"]')) {
    radio.addEventListener("change", () => {
      for (const view of ["heatmap", "side", "swipe"]) $(`view-${view}`).hidden = radio.value !== view;
    });
  }
  const opacity = $("opacity");
  opacity.addEventListener("input", () => {
    $("heatmap").style.opacity = String(opacity.value / 100);
    opacity.setAttribute("aria-valuetext", `${opacity.value} percent`);
  });
  const swipe = $("swipe");
  const applySwipe = () => {
    $("swipe-b").style.clipPath = `inset(0 0 0 ${100 - swipe.value}%)`;
    swipe.setAttribute("aria-valuetext", `${swipe.value} percent of image B shown`);
  };
  swipe.addEventListener("input", applySwipe);
  applySwipe();
}

function init() {
  SLOTS.forEach(wirePicker);
  wireViews();
  $("method").addEventListener("change", () => { describeMethod(); updateButton(); });
  $("compare-form").addEventListener("submit", compare);
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORAGE, $("api-key").value);
    $("key-form").hidden = true;
    showError("");
    loadMethods();
  });
  document.addEventListener("paste", (event) => {
    const file = firstImageFile(event.clipboardData);
    if (!file) return;
    event.preventDefault();
    acceptFile(pasteTarget(), file);
  });
  // A file dropped outside the boxes must not navigate away from the page.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
  loadMethods();
}

document.addEventListener("DOMContentLoaded", init);
