// One method's result: score, verdict, explanation, the difference maps, and the three ways of
// showing the pair (heatmap over A, side by side, swipe).

import { $, el } from "./dom.js";
import { formatBytes } from "./format.js";
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

/** Show one result; `urls` are the page's own copies of A and B (the heatmap stands in for A). */
export function renderResult(result, urls) {
  $("score-percent").textContent = `${result.similarity_percent.toFixed(1)}%`;
  $("result-method").textContent = titleOf(result.method);
  const verdict = $("verdict");
  verdict.textContent = result.verdict.replace("-", " ");
  verdict.dataset.verdict = result.verdict;
  const bar = $("score-bar");
  bar.style.width = `${result.similarity_percent}%`;
  bar.dataset.verdict = result.verdict;
  $("explanation").textContent = result.explanation;
  $("warnings").replaceChildren(...result.warnings.map((warning) => el("li", { textContent: warning })));

  showMaps(result);
  const urlA = urls.a || result.heatmap;
  const urlB = urls.b || "";
  for (const id of ["heatmap-base", "side-a", "swipe-a"]) $(id).src = urlA;
  for (const id of ["side-b", "swipe-b"]) $(id).src = urlB;

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
