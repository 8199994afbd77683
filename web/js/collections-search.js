// Searching the opened collection with an image: choose, drop or paste it, and the hits appear
// as a grid (thumbnail, score bar, verdict), most similar first. Choosing a hit opens the
// pairwise comparison of that pair: the query as image A, the hit's stored thumbnail as image B
// (the collection never keeps the file itself), with the collection's CNN.

import { searchCollection } from "./collections-api.js";
import { $, dropZone, el } from "./dom.js";
import { formatBytes } from "./format.js";
import { useFile } from "./pickers.js";
import { showView } from "./views.js";

let view = null;
let query = null;
let queryUrl = null;
let searching = 0; // a newer search supersedes an older one still waiting

function status(message) {
  $("search-status").textContent = message;
}

/** A File made from a data URL (a stored thumbnail), so the pairwise form can take it. */
async function fileFromDataUrl(dataUrl, name) {
  const blob = await (await fetch(dataUrl)).blob();
  return new File([blob], name, { type: blob.type || "image/jpeg" });
}

/** The pairwise view with the query as A and the hit's thumbnail as B, compared at once. */
async function openPair(hit, method) {
  const name = `${hit.image.file_name.split("/").pop().replace(/\.[^.]+$/, "")}-thumbnail.jpg`;
  let thumbnail;
  try {
    thumbnail = await fileFromDataUrl(hit.image.thumbnail, name);
  } catch (error) {
    view.showError(`Could not read the stored thumbnail: ${error.message}`);
    return;
  }
  showView("compare");
  useFile("a", query);
  useFile("b", thumbnail);
  const select = $("method");
  const option = Array.from(select.options).find((o) => o.value === method);
  if (option && !option.disabled) {
    select.value = method;
    select.dispatchEvent(new Event("change"));
  }
  $("compare-form").requestSubmit();
}

function percentText(score) {
  return `${(score * 100).toFixed(1)}%`;
}

function hitCard(hit, rank, method) {
  const { image } = hit;
  const label = `${image.file_name}: ${percentText(hit.score)}, ${hit.verdict.replace("-", " ")}`;
  const picture = image.thumbnail
    ? el("img", { className: "hit-thumb", src: image.thumbnail, alt: `Thumbnail of ${image.file_name}` })
    : el("div", { className: "hit-thumb no-thumb" }, "no thumbnail kept");
  const bar = el("div", { className: "bar", attrs: { "aria-hidden": "true" } }, el("div", {
    className: "bar-fill",
    dataset: { verdict: hit.verdict },
    attrs: { style: `width:${Math.max(0, Math.min(100, hit.score * 100))}%` },
  }));
  const body = [
    picture,
    el("span", { className: "hit-name file-name" }, image.file_name),
    el("span", { className: "hit-score" }, `${percentText(hit.score)} `, el("span", { className: "muted small" }, `(cosine ${hit.score.toFixed(4)})`)),
    bar,
    el("span", { className: "verdict", dataset: { verdict: hit.verdict } }, hit.verdict.replace("-", " ")),
    el("span", { className: "muted small" }, `${image.width} × ${image.height} px · ${formatBytes(image.bytes)}`),
  ];
  const card = image.thumbnail
    ? el("button", {
      type: "button",
      className: "hit",
      attrs: { "aria-label": `${label}. Compare it with the query in detail` },
      onclick: () => openPair(hit, method),
    }, ...body)
    : el("div", { className: "hit", attrs: { "aria-label": `${label} (no thumbnail kept, so it cannot be compared here)` } }, ...body);
  return el("li", { dataset: { rank: String(rank), id: image.id } }, card);
}

function readNumber(id, fallback) {
  const raw = $(id).value.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  return Number.isFinite(value) ? value : fallback;
}

async function search() {
  const info = view.collection;
  if (!info || !query) return;
  const ticket = ++searching;
  const k = Math.max(1, Math.min(100, Math.round(readNumber("search-k", 10))));
  const minScore = readNumber("search-min", null);
  $("search-button").disabled = true;
  status(`Searching “${info.name}”…`);
  try {
    const { ok, body, message } = await searchCollection(info.name, query, k, minScore);
    if (ticket !== searching) return;
    if (!ok) {
      status("");
      view.showError(message);
      return;
    }
    view.showError("");
    $("hits").replaceChildren(...body.hits.map((hit, index) => hitCard(hit, index + 1, body.method)));
    status(body.hits.length
      ? `${body.hits.length} hit${body.hits.length === 1 ? "" : "s"} for ${query.name || "the image"}, most similar first (${view.title(body.method)}); choose one to compare it in detail.`
      : "Nothing in the collection is that similar.");
  } catch (error) {
    if (ticket === searching) view.showError(`Could not reach the service: ${error.message}`);
  } finally {
    if (ticket === searching) $("search-button").disabled = !query;
  }
}

function useQuery(file) {
  if (!file) return;
  query = file;
  if (queryUrl) URL.revokeObjectURL(queryUrl);
  queryUrl = URL.createObjectURL(file);
  const preview = $("search-preview");
  preview.src = queryUrl;
  preview.alt = `The image searched for: ${file.name || "pasted image"}`;
  preview.hidden = false;
  $("search-button").disabled = false;
  search();
}

/** Forget the last collection's query and hits. */
export function resetSearch() {
  searching += 1;
  $("hits").replaceChildren();
  status("");
}

export function initSearch(context) {
  view = context;
  const input = $("search-file");
  input.addEventListener("change", () => useQuery(input.files[0]));
  $("search-button").addEventListener("click", search);
  for (const id of ["search-k", "search-min"]) {
    $(id).addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        search();
      }
    });
  }
  dropZone($("search-zone"), (transfer) => useQuery(transfer && transfer.files[0]));
  document.addEventListener("paste", (event) => {
    if (document.body.dataset.view !== "collections" || !view.collection) return;
    const item = Array.from((event.clipboardData && event.clipboardData.items) || []).find((i) => i.kind === "file");
    if (!item) return;
    event.preventDefault();
    useQuery(item.getAsFile());
  });
}
