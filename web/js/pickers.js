// The two image boxes: choose, drop or paste a file, check it against the service's limits at
// once, and preview it.

import { $, dropZone } from "./dom.js";
import { formatBytes, typeNames } from "./format.js";

export const SLOTS = ["a", "b"];
// File names whose extension is not the MIME subtype; the others map as `image/<extension>`.
const EXTENSION_SUBTYPES = { jpg: "jpeg", tif: "tiff", heic: "heic", heif: "heif" };
// Formats the service accepts that a browser may not preview: refused only by the service.
const NO_PREVIEW = { "image/tiff": "TIFF", "image/heic": "HEIC", "image/heif": "HEIF" };

const files = { a: null, b: null };
const urls = { a: null, b: null };
let limits = null;
let lastSlot = "a";
let onChange = () => {};

/** The chosen files (null where none), and object URLs that show them. */
export const chosen = { files, urls };

/**
 * The upload limits from GET /api/v1/methods: the file inputs offer exactly the accepted types,
 * and files are checked against the same list and sizes.
 */
export function setLimits(newLimits) {
  limits = newLimits;
  for (const slot of SLOTS) $(`file-${slot}`).accept = limits ? limits.accepted_types.join(",") : "";
}

/** The file's image type, from its declared type or, when the browser gives none, its name. */
export function fileType(file) {
  if (file.type) return file.type;
  const extension = (file.name.split(".").pop() || "").toLowerCase();
  return extension ? `image/${EXTENSION_SUBTYPES[extension] || extension}` : "";
}

function setFieldError(slot, message) {
  $(`error-${slot}`).textContent = message || "";
}

function clearSlot(slot) {
  files[slot] = null;
  if (urls[slot]) URL.revokeObjectURL(urls[slot]);
  urls[slot] = null;
  const preview = $(`preview-${slot}`);
  preview.hidden = true;
  preview.removeAttribute("src");
  preview.alt = "";
  $(`info-${slot}`).textContent = "";
  onChange();
}

function refuse(slot, message) {
  clearSlot(slot);
  $(`file-${slot}`).value = "";
  setFieldError(slot, message);
}

/** Why the service would refuse this file, or "" when it would take it. */
function refusal(file, type, label) {
  if (limits && !limits.accepted_types.includes(type)) {
    return `${label} is not a supported image${type ? ` (${type})` : ""}. ` +
      `Use ${typeNames(limits.accepted_types)}.`;
  }
  if (file.size === 0) return `${label} is empty.`;
  if (limits && file.size > limits.max_upload_bytes) {
    return `${label} is ${formatBytes(file.size)}; the limit is ${formatBytes(limits.max_upload_bytes)}.`;
  }
  return "";
}

function acceptFile(slot, file) {
  setFieldError(slot, "");
  if (!file) return;
  const type = fileType(file);
  const name = file.name || "pasted image";
  const label = `“${name}”`;
  const problem = refusal(file, type, label);
  if (problem) {
    refuse(slot, problem);
    return;
  }
  clearSlot(slot);
  files[slot] = file;
  urls[slot] = URL.createObjectURL(file);
  const basics = `${name} · ${formatBytes(file.size)}`;
  $(`info-${slot}`).textContent = basics;
  const preview = $(`preview-${slot}`);
  preview.onload = () => {
    if (files[slot] !== file) return;
    const { naturalWidth: w, naturalHeight: h } = preview;
    const maxPixels = limits ? limits.max_image_pixels : Infinity;
    if (w * h > maxPixels) {
      refuse(slot, `${label} is ${w} × ${h} pixels; the limit is ${maxPixels.toLocaleString("en")} pixels.`);
      return;
    }
    preview.hidden = false;
    preview.alt = `Preview of image ${slot.toUpperCase()}: ${name}`;
    $(`info-${slot}`).textContent = `${name} · ${w} × ${h} px · ${formatBytes(file.size)}`;
  };
  preview.onerror = () => {
    if (files[slot] !== file) return;
    const unpreviewable = NO_PREVIEW[type];
    if (unpreviewable) {
      // The service reads these formats; many browsers cannot show them.
      $(`info-${slot}`).textContent = `${basics} · no preview (this browser cannot show ${unpreviewable})`;
      return;
    }
    refuse(slot, `${label} could not be read as an image: it may be corrupt or not an image.`);
  };
  preview.src = urls[slot];
  onChange();
}

/** Put a file into box A or B as if the person had chosen it (the collections' search opens a
 * hit's pair this way), with the same checks and preview. */
export function useFile(slot, file) {
  $(`file-${slot}`).value = "";
  acceptFile(slot, file);
}

function slotOf(element) {
  const picker = element && element.closest ? element.closest(".picker") : null;
  return picker ? picker.dataset.slot : null;
}

function firstImageFile(dataTransfer) {
  if (!dataTransfer) return null;
  const dropped = Array.from(dataTransfer.files || []);
  if (dropped.length) return dropped[0];
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
  picker.addEventListener("focusin", () => { lastSlot = slot; });
  picker.addEventListener("pointerdown", () => { lastSlot = slot; });
  dropZone(zone, (transfer) => {
    lastSlot = slot;
    const file = firstImageFile(transfer);
    if (file) acceptFile(slot, file);
    else setFieldError(slot, "Nothing to use was dropped: drop an image file.");
  });
}

/** The box a paste goes to: the focused one, else the first empty one, else the last used. */
function pasteTarget() {
  const focused = slotOf(document.activeElement);
  if (focused) return focused;
  return SLOTS.find((slot) => !files[slot]) || lastSlot;
}

/** Wire both boxes and page-wide paste; `changed` runs whenever a box gains or loses a file. */
export function initPickers(changed) {
  onChange = changed;
  SLOTS.forEach(wirePicker);
  document.addEventListener("paste", (event) => {
    if (document.body.dataset.view === "collections") return; // that view takes its own pastes
    const file = firstImageFile(event.clipboardData);
    if (!file) return;
    event.preventDefault();
    acceptFile(pasteTarget(), file);
  });
  // A file dropped outside the boxes must not navigate away from the page.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
}
