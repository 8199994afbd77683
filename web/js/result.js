// One method's result: score, verdict, explanation, the difference maps, and the three ways of
// showing the pair (heatmap over A, side by side, swipe). The swipe view draws B on a canvas the
// way the comparison saw it: through the alignment's matrix when B was registered onto A (grey
// where B does not cover A, as on the heatmap), else scaled to cover A's box and centred.

import { $, el } from "./dom.js";
import { formatBytes, hashBitsDiffering } from "./format.js";
import { titleOf } from "./methods.js";

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

function showMaps(result) {
  const maps = [
    { name: "main", title: "Main map", description: "", image: result.heatmap, legend: result.heatmap_legend },
    ...result.extra_heatmaps,
  ];
  const select = $("map-select");
  select.replaceChildren(...maps.map((map) => el("option", { value: map.name, textContent: map.title })));
  $("map-choice").hidden = maps.length < 2;
  select.onchange = () => showMap(maps.find((m) => m.name === select.value), result.method);
  showMap(maps[0], result.method);
}

function details(result) {
  const image = (info) => `${info.width} × ${info.height} px, ${info.format}, ${formatBytes(info.bytes)}`;
  const timings = result.timings;
  return {
    "Raw score": result.score.toFixed(6),
    "Calibrated verdict": result.calibrated ? "yes" : "no",
    "Weights": result.weights,
    "Image A": image(result.image_a),
    "Image B": image(result.image_b),
    "Preparation": result.preparation,
    ...(result.alignment ? { "Alignment": result.alignment.note } : {}),
    ...Object.fromEntries(Object.entries(result.metrics).map(([key, value]) => [key.replaceAll("_", " "), String(value)])),
    "Time": timeText(timings),
  };
}

/** This request's time; a repeated request answered from the result cache says so, with the
 * stages as they were first computed rather than zeros. */
function timeText(timings) {
  const total = `${Math.round(timings.total_ms ?? timings.worker_ms)} ms`;
  const stages = (t) => `decode ${Math.round(t.decode_ms)}, compute ${Math.round(t.compute_ms)}, heatmap ${Math.round(t.heatmap_ms)}`;
  if (timings.replayed) {
    return `${total}: a repeat, answered from the result cache (first computed in ${Math.round(timings.replayed.worker_ms)} ms: ${stages(timings.replayed)})`;
  }
  return `${total} (${stages(timings)})`;
}

const SWIPE_MAX_SIDE = 2048; // canvas pixels: enough for any screen, bounded for phones' memory
let swipeDrawing = 0; // a newer result's drawing supersedes an older one still loading

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error(`could not load ${url.slice(0, 40)}`));
    image.src = url;
  });
}

// Affine maps as [[m00, m01, m02], [m10, m11, m12]]; `then(q, p)` is p followed by q.
const then = (q, p) => [0, 1].map((r) => [
  q[r][0] * p[0][0] + q[r][1] * p[1][0],
  q[r][0] * p[0][1] + q[r][1] * p[1][1],
  q[r][0] * p[0][2] + q[r][1] * p[1][2] + q[r][2],
]);
const scaling = (x, y) => [[x, 0, 0], [0, y, 0]];

/** How far B was turned back before comparing (quarter turns counter-clockwise, after
 * mirroring, as the worker's turn_back does), from the result's relation: its rotation less
 * the registration's own. */
function turnedBack(result) {
  const relation = result.relation;
  if (!relation || !(relation.found_by || []).includes("orientation")) return { turns: 0, mirrored: false };
  const registered = result.alignment && result.alignment.applied ? result.alignment.rotation_deg || 0 : 0;
  const turns = ((Math.round(-(relation.rotation_deg - registered) / 90) % 4) + 4) % 4;
  return { turns, mirrored: Boolean(relation.mirrored) };
}

/**
 * The canvas transform (a, b, c, d, e, f) that puts B's pixels where the comparison put them in
 * A's frame, on a canvas of `width` x `height` over A: B turned back to A's orientation when it
 * was turned or mirrored, then through the alignment's matrix when B was registered onto A. The
 * matrix maps B's pixel centres to A's at the decoded sizes (`image_a`, `image_b`); the page's
 * copies may differ in size, and a canvas addresses pixel corners, so both are accounted for.
 */
export function swipeTransform(result, imageB, width, height) {
  let w = result.image_b.width;
  let h = result.image_b.height;
  let map = scaling(w / imageB.naturalWidth, h / imageB.naturalHeight); // page copy -> decoded
  const { turns, mirrored } = turnedBack(result);
  if (mirrored) map = then([[-1, 0, w], [0, 1, 0]], map);
  for (let turn = 0; turn < turns; turn += 1) { // numpy's rot90: a quarter turn counter-clockwise
    map = then([[0, 1, 0], [-1, 0, w]], map);
    [w, h] = [h, w];
  }
  const alignment = result.alignment;
  if (alignment && alignment.applied && alignment.matrix) {
    const [[m00, m01, m02], [m10, m11, m12]] = alignment.matrix;
    const corners = [ // pixel centres to corners: shift by half a pixel on both sides
      [m00, m01, m02 + 0.5 - 0.5 * (m00 + m01)],
      [m10, m11, m12 + 0.5 - 0.5 * (m10 + m11)],
    ];
    map = then(scaling(width / result.image_a.width, height / result.image_a.height), then(corners, map));
  } else {
    // Not registered: B resized to cover A's box and centre-cropped, as the methods prepare it.
    const scale = Math.max(width / w, height / h);
    map = then([[scale, 0, (width - scale * w) / 2], [0, scale, (height - scale * h) / 2]], map);
  }
  return [map[0][0], map[1][0], map[0][1], map[1][1], map[0][2], map[1][2]];
}

async function drawSwipeB(result, urlA, urlB) {
  const drawing = ++swipeDrawing;
  const canvas = $("swipe-b");
  canvas.dataset.drawn = "";
  if (!urlA || !urlB) return;
  let a;
  let b;
  try {
    [a, b] = await Promise.all([loadImage(urlA), loadImage(urlB)]);
  } catch {
    return; // the previews already said what is wrong with a file
  }
  if (drawing !== swipeDrawing) return;
  const fit = Math.min(1, SWIPE_MAX_SIDE / Math.max(a.naturalWidth, a.naturalHeight));
  canvas.width = Math.max(1, Math.round(a.naturalWidth * fit));
  canvas.height = Math.max(1, Math.round(a.naturalHeight * fit));
  const context = canvas.getContext("2d");
  // Where B has no counterpart: A in grey, half-way to neutral grey, as on the heatmap.
  context.fillStyle = "rgb(128, 128, 128)";
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.filter = "grayscale(1)";
  context.globalAlpha = 0.5;
  context.drawImage(a, 0, 0, canvas.width, canvas.height);
  context.filter = "none";
  context.globalAlpha = 1;
  context.imageSmoothingQuality = "high";
  context.setTransform(...swipeTransform(result, b, canvas.width, canvas.height));
  context.drawImage(b, 0, 0);
  context.setTransform(1, 0, 0, 1, 0, 0);
  const aligned = Boolean(result.alignment && result.alignment.applied && result.alignment.matrix);
  canvas.dataset.drawn = aligned ? "aligned" : "fitted";
}

/** A badge saying what was undone before comparing (turned, mirrored, scaled, cropped). */
export function showRelation(element, relation) {
  element.hidden = !relation;
  element.textContent = relation ? relation.note : "";
}

/** Zoom the heatmap stack onto one region (null: the whole picture). Boxes are placed in percent
 * of A's size, so they stay on their pixels at any display size and zoom. */
function zoomTo(region, width, height) {
  const layers = [...$("heatmap-stack").children];
  for (const box of $("region-boxes").children) box.classList.toggle("current", box.dataset.index === String(region?.index));
  if (!region) {
    for (const layer of layers) layer.style.transform = "";
    return;
  }
  const scale = Math.min(8, Math.max(1.5, Math.min(width / (region.width * 3), height / (region.height * 3))));
  const cx = ((region.x + region.width / 2) / width) * 100;
  const cy = ((region.y + region.height / 2) / height) * 100;
  for (const layer of layers) {
    layer.style.transformOrigin = `${cx}% ${cy}%`;
    layer.style.transform = `scale(${scale})`;
  }
}

/** A screenshot check (the pixel method with its exact comparison): the verdict in one line,
 * a box over the heatmap around every changed region, and a button to zoom to each. */
function showCheck(result) {
  const check = result.screenshot;
  const boxes = $("region-boxes");
  $("check").hidden = !check;
  zoomTo(null, 1, 1);
  if (!check) {
    boxes.replaceChildren();
    return;
  }
  const { width, height } = result.image_a;
  const summary = $("check-summary");
  summary.textContent = check.summary;
  summary.dataset.passed = check.passed === null ? "" : String(check.passed);
  const percent = (value, total) => `${(100 * value) / total}%`;
  boxes.replaceChildren(...check.regions.map((region, index) => el("div", {
    className: "region-box",
    dataset: { index: String(index) },
    attrs: {
      style: `left:${percent(region.x, width)};top:${percent(region.y, height)};width:${percent(region.width, width)};height:${percent(region.height, height)}`,
    },
  })));
  $("region-list").replaceChildren(...check.regions.map((region, index) => el(
    "li",
    {},
    `${region.width} × ${region.height} px at (${region.x}, ${region.y}): ${region.pixels} pixels changed, ΔE00 up to ${region.max_delta_e2000.toFixed(1)}`,
    el("button", {
      type: "button",
      textContent: "Zoom",
      attrs: { "aria-label": `Zoom to region ${index + 1}`, "aria-pressed": "false" },
      onclick: (event) => {
        const button = event.currentTarget;
        const zoomed = button.getAttribute("aria-pressed") === "true";
        for (const other of $("region-list").querySelectorAll("button")) other.setAttribute("aria-pressed", "false");
        button.setAttribute("aria-pressed", String(!zoomed));
        zoomTo(zoomed ? null : { ...region, index }, width, height);
      },
    }),
  )));
}

/** Show one result; `urls` are the page's own copies of A and B (the heatmap stands in for A). */
export function renderResult(result, urls) {
  const bits = hashBitsDiffering(result);
  $("score-percent").textContent = bits === null ? `${result.similarity_percent.toFixed(1)}%` : `${bits} of 64`;
  $("score-unit").textContent = bits === null ? "similar by" : "bits of the hashes differ, by";
  $("result-method").textContent = titleOf(result.method);
  // A bar filled to pHash's share of agreeing bits would read as "mostly alike" for two
  // unrelated photos (about half the bits agree by chance): the bit count stands alone.
  $("score-bar").parentElement.hidden = bits !== null;
  const verdict = $("verdict");
  verdict.textContent = result.verdict.replace("-", " ");
  verdict.dataset.verdict = result.verdict;
  const bar = $("score-bar");
  bar.style.width = `${result.similarity_percent}%`;
  bar.dataset.verdict = result.verdict;
  showRelation($("relation"), result.relation);
  showCheck(result);
  $("explanation").textContent = result.explanation;
  $("warnings").replaceChildren(...result.warnings.map((warning) => el("li", { textContent: warning })));

  showMaps(result);
  const urlA = urls.a || result.heatmap;
  const urlB = urls.b || "";
  for (const id of ["heatmap-base", "side-a", "swipe-a"]) $(id).src = urlA;
  $("side-b").src = urlB;
  drawSwipeB(result, urlA, urlB);

  $("details-list").replaceChildren(...Object.entries(details(result)).flatMap(
    ([term, value]) => [el("dt", { textContent: term }), el("dd", { textContent: value })],
  ));
  const section = $("result");
  section.hidden = false;
  $("result-title").focus({ preventScroll: true });
  section.scrollIntoView({ behavior: "smooth", block: "start" });
}

/** The view switch and the two sliders. */
export function initResultViews() {
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
