// The opened collection's near-duplicates: every group with its images' thumbnails and the
// scores of the pairs that join it, and the whole answer as CSV or JSON, made in the page
// (Blob downloads; nothing is asked of the service twice). The CSV has one row per image of a
// group, `group,file,id`, as `isc dedup --report groups.csv` writes it; the JSON is the service's
// own answer.

import { findDuplicates, getImage } from "./collections-api.js";
import { $, el } from "./dom.js";
import { formatBytes } from "./format.js";

const SHOWN_GROUPS = 100; // groups drawn with thumbnails; the downloads hold all of them
const THUMBNAIL_FETCHES = 4; // at once: a pair in the answer carries no thumbnail

let view = null;
let asked = 0; // a newer request supersedes an older one
const downloadUrls = [];

function status(message) {
  $("dup-status").textContent = message;
}

/** CSV field: quoted when it holds a comma, quote or line break (RFC 4180). */
const csvField = (value) => (/[",\r\n]/.test(value) ? `"${value.replaceAll("\"", "\"\"")}"` : value);

/** The images of each group, in the group's order, with what the pairs say of them. */
function describeGroups(result) {
  const images = new Map();
  for (const pair of result.pairs) {
    images.set(pair.a.id, pair.a);
    images.set(pair.b.id, pair.b);
  }
  return result.groups.map((ids) => ids.map((id) => images.get(id) || { id, file_name: id }));
}

export function duplicatesCsv(result) {
  const rows = [["group", "file", "id"]];
  describeGroups(result).forEach((group, index) => {
    for (const image of group) rows.push([String(index + 1), image.file_name, image.id]);
  });
  return `${rows.map((row) => row.map(csvField).join(",")).join("\r\n")}\r\n`;
}

function offerDownloads(result) {
  for (const url of downloadUrls.splice(0)) URL.revokeObjectURL(url);
  const files = [
    ["dup-csv", new Blob([duplicatesCsv(result)], { type: "text/csv" }), "csv"],
    ["dup-json", new Blob([`${JSON.stringify(result, null, 2)}\n`], { type: "application/json" }), "json"],
  ];
  for (const [id, blob, extension] of files) {
    const url = URL.createObjectURL(blob);
    downloadUrls.push(url);
    $(id).href = url;
    $(id).download = `duplicates-${result.collection}.${extension}`;
  }
  $("dup-downloads").hidden = false;
}

/** Fill the thumbnails, a few requests at a time; a newer answer stops the fetching. */
async function loadThumbnails(collection, slots, ticket) {
  const queue = [...slots];
  async function next() {
    while (queue.length && ticket === asked) {
      const [id, image] = queue.shift();
      try {
        const { ok, body } = await getImage(collection, id);
        if (ticket !== asked) return;
        if (ok && body.thumbnail) image.src = body.thumbnail;
        else image.replaceWith(el("div", { className: "dup-thumb no-thumb" }, "no thumbnail kept"));
      } catch {
        return; // the service is gone; the names and scores are there already
      }
    }
  }
  await Promise.all(Array.from({ length: THUMBNAIL_FETCHES }, next));
}

function groupItem(group, number, pairs, slots) {
  const members = new Set(group.map((image) => image.id));
  const figures = group.map((image) => {
    const picture = el("img", { className: "dup-thumb", alt: `Thumbnail of ${image.file_name}` });
    slots.push([image.id, picture]);
    const size = image.width ? `${image.width} × ${image.height} px · ${formatBytes(image.bytes)}` : "";
    return el("li", { dataset: { id: image.id } }, el(
      "figure",
      {},
      picture,
      el("figcaption", {}, el("span", { className: "file-name" }, image.file_name), el("br"), el("span", { className: "muted small" }, size)),
    ));
  });
  const inside = pairs.filter((pair) => members.has(pair.a.id) && members.has(pair.b.id));
  const scores = inside.map((pair) => el(
    "li",
    {},
    el("span", { className: "file-name" }, pair.a.file_name),
    " and ",
    el("span", { className: "file-name" }, pair.b.file_name),
    `: ${(pair.score * 100).toFixed(1)}% (cosine ${pair.score.toFixed(4)})`,
  ));
  return el(
    "li",
    { className: "dup-group", dataset: { group: String(number) } },
    el("h5", {}, `Group ${number}: ${group.length} images`),
    el("ul", { className: "dup-images", attrs: { "aria-label": `Images of group ${number}` } }, ...figures),
    el("ul", { className: "dup-pairs", attrs: { "aria-label": `Pair scores of group ${number}` } }, ...scores),
  );
}

function render(result, ticket) {
  const groups = describeGroups(result);
  const slots = [];
  const shown = groups.slice(0, SHOWN_GROUPS);
  $("dup-groups").replaceChildren(...shown.map((group, index) => groupItem(group, index + 1, result.pairs, slots)));
  const where = result.threshold_source === "calibrated"
    ? `the calibrated near-duplicate threshold of ${view.title(result.method)}`
    : "the score asked for";
  const cut = result.truncated ? " There were more pairs than the service lists: only the most similar are grouped." : "";
  const more = groups.length > shown.length ? ` The first ${shown.length} are shown; the downloads hold all.` : "";
  status(groups.length
    ? `${groups.length} group${groups.length === 1 ? "" : "s"} of near-duplicates (${result.pairs.length} pair${result.pairs.length === 1 ? "" : "s"} at or above ${result.threshold.toFixed(3)}, ${where}).${cut}${more}`
    : `No two images score ${result.threshold.toFixed(3)} or more (${where}): no duplicates.`);
  offerDownloads(result);
  loadThumbnails(result.collection, slots, ticket);
}

async function find(event) {
  event.preventDefault();
  const info = view.collection;
  if (!info) return;
  const raw = $("dup-threshold").value.trim();
  const threshold = raw === "" ? null : Number(raw);
  if (threshold !== null && !(threshold >= -1 && threshold <= 1)) {
    status("The lowest score is a cosine from -1 to 1; leave it empty for the calibrated one.");
    return;
  }
  const ticket = ++asked;
  $("dup-button").disabled = true;
  status(`Looking for duplicates in “${info.name}”…`);
  try {
    const { ok, body, message } = await findDuplicates(info.name, threshold);
    if (ticket !== asked) return;
    if (!ok) {
      status("");
      view.showError(message);
      return;
    }
    view.showError("");
    render(body, ticket);
  } catch (error) {
    if (ticket === asked) view.showError(`Could not reach the service: ${error.message}`);
  } finally {
    if (ticket === asked) $("dup-button").disabled = false;
  }
}

/** Forget the last collection's groups. */
export function resetDuplicates() {
  asked += 1;
  $("dup-groups").replaceChildren();
  $("dup-downloads").hidden = true;
  $("dup-button").disabled = false;
  status("");
}

export function initDuplicates(context) {
  view = context;
  $("dup-form").addEventListener("submit", find);
}
