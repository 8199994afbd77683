// The answer to method=all: one table row per method (from <template id="all-row">), the
// summary of where they agree, and the methods that could not run.

import { $, el, fromTemplate } from "./dom.js";
import { titleOf } from "./methods.js";

function row(result, show) {
  const { root, parts } = fromTemplate("all-row");
  const title = titleOf(result.method);
  root.dataset.method = result.method;
  parts.title.textContent = title;
  parts.family.textContent = result.family;
  parts.score.textContent = `${result.similarity_percent.toFixed(1)}%`;
  parts.verdict.dataset.verdict = result.verdict;
  parts.verdict.textContent = result.verdict.replace("-", " ");
  parts.map.src = result.heatmap;
  parts.map.alt = `${title} heatmap: red where the images differ`;
  parts.show.setAttribute("aria-label", `Show the ${title} result in detail`);
  parts.show.addEventListener("click", () => show(result));
  return root;
}

/** Show the table; `show(result)` opens one row's result in the single-result view. */
export function renderAll(all, show) {
  $("summary").textContent = all.summary;
  $("all-table").tBodies[0].replaceChildren(...all.results.map((result) => row(result, show)));
  $("all-unavailable").replaceChildren(...Object.entries(all.unavailable).map(
    ([name, reason]) => el("li", { textContent: `${titleOf(name)} did not run: ${reason}` }),
  ));
  $("result").hidden = true;
  const section = $("all-results");
  section.hidden = false;
  $("all-title").focus({ preventScroll: true });
  section.scrollIntoView({ behavior: "smooth", block: "start" });
}
