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

/** pHash's differing bits out of 64, or null for other methods: its primary figure, since a
 * percentage of agreeing bits misleads (two unrelated photos agree on about half of them). */
export function hashBitsDiffering(result) {
  const distance = result.metrics && result.metrics.phash_distance;
  return result.method === "phash" && typeof distance === "number" ? Math.round(distance) : null;
}

/** The figure a result is read by: "24 of 64 bits differ" for pHash, "83.1%" otherwise. */
export function primaryFigure(result) {
  const bits = hashBitsDiffering(result);
  return bits === null ? `${result.similarity_percent.toFixed(1)}%` : `${bits} of 64 bits differ`;
}
