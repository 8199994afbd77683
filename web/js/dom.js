// Small helpers for building the page's elements: by id, by description, or from a <template>.

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/**
 * A new element: `el("td", { className: "x", dataset: { method: "ssim" } }, "text", child)`.
 * Properties are assigned (so `textContent`, `disabled`, `onclick` work), `dataset` and
 * `attrs` are copied key by key; children are nodes or strings (set as text, never as HTML).
 */
export function el(tag, props = {}, ...children) {
  const { dataset = {}, attrs = {}, ...rest } = props;
  const element = Object.assign(document.createElement(tag), rest);
  Object.assign(element.dataset, dataset);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

/**
 * A copy of the <template id="..."> content's first element, with its `[data-part]`
 * descendants collected by name, so a caller fills the parts instead of walking the tree.
 */
export function fromTemplate(id) {
  const root = $(id).content.firstElementChild.cloneNode(true);
  const parts = {};
  for (const node of root.querySelectorAll("[data-part]")) parts[node.dataset.part] = node;
  return { root, parts };
}

/**
 * Make `zone` take dropped files: highlighted (class `dragover`) while something is dragged
 * over it, and `onDrop(dataTransfer)` called with what was dropped.
 */
export function dropZone(zone, onDrop) {
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragover");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragover"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragover");
    onDrop(event.dataTransfer);
  });
}
