// The answer to method=all: the combined verdict of all scores, one table row per method (from
// <template id="all-row">), the summary of where they agree, and the methods that could not run.

import { $, el, fromTemplate } from "./dom.js";
import { primaryFigure } from "./format.js";
import { titleOf } from "./methods.js";
import { showRelation } from "./result.js";

function row(result, show) {
  const { root, parts } = fromTemplate("all-row");
  const title = titleOf(result.method);
  root.dataset.method = result.method;
  parts.title.textContent = title;
  parts.family.textContent = result.family;
  parts.score.textContent = primaryFigure(result);
  parts.verdict.dataset.verdict = result.verdict;
  parts.verdict.textContent = result.verdict.replace("-", " ");
  parts.map.src = result.heatmap;
  parts.map.alt = `${title} heatmap: red where the images differ`;
  parts.show.setAttribute("aria-label", `Show the ${title} result in detail`);
  parts.show.addEventListener("click", () => show(result));
  return root;
}

const percent = (share) => (share === null ? "n/a" : `${Math.round(share * 100)} %`);

/** The combined verdict, above the summary: the verdict badge, the methods it came from and
 * how often that verdict was right on photos its model was not fitted on. */
function combinedBlock(combined) {
  const badge = el("span", {
    className: "verdict",
    dataset: { verdict: combined.verdict },
    textContent: combined.verdict.replace("-", " "),
  });
  const details = [];
  if (combined.methods.length) details.push(`from ${combined.methods.map(titleOf).join(", ")}`);
  if (combined.held_out) {
    const { precision, recall } = combined.held_out;
    details.push(`held-out precision ${percent(precision)}, recall ${percent(recall)}`);
  }
  if (!combined.calibrated) details.push("no combined model fits these methods");
  const said = details.length ? ` (${details.join("; ")})` : "";
  return [el("strong", {}, "Combined verdict: "), badge, said];
}

/** Show the table; `show(result)` opens one row's result in the single-result view. */
export function renderAll(all, show) {
  let combined = $("combined");
  if (!combined) {
    combined = el("p", { id: "combined", className: "summary combined" });
    $("summary").before(combined);
  }
  combined.dataset.verdict = all.combined.verdict;
  combined.replaceChildren(...combinedBlock(all.combined));
  showRelation($("all-relation"), all.relation);
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
