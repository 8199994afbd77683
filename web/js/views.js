// The page's two views, chosen by the address's hash: #collections shows the collections, any
// other hash (#compare, the skip link's #compare-form, none) the pairwise comparison. The view
// is a data attribute on <body> and the stylesheet hides the other one, so switching never
// touches the `hidden` state that the result renderers own.

const VIEWS = ["compare", "collections"];
let onShow = () => {};

/** The view the hash asks for. */
export function currentView() {
  return location.hash === "#collections" ? "collections" : "compare";
}

function apply() {
  const view = currentView();
  const changed = document.body.dataset.view !== view;
  document.body.dataset.view = view;
  for (const link of document.querySelectorAll(".view-nav a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (changed) onShow(view);
}

/** Show `view` (and record it in the address, so that Back returns to the other one). */
export function showView(view) {
  if (!VIEWS.includes(view)) return;
  if (currentView() !== view) location.hash = view === "collections" ? "#collections" : "#compare";
  apply(); // at once: hashchange comes later, and a caller may go on to use the view
}

/** Follow the hash; `shown(view)` runs each time the view changes (and once now). */
export function initViews(shown) {
  onShow = shown || (() => {});
  window.addEventListener("hashchange", apply);
  apply();
}
