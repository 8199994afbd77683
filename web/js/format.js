// How sizes and image types read on the page.

export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** "JPEG, PNG, WEBP" from the service's MIME types, one name per format. */
export function typeNames(mimeTypes) {
  const names = mimeTypes.map((type) => type.split("/").pop().replace(/^x-(ms-)?/, "").toUpperCase());
  return [...new Set(names)].join(", ");
}
