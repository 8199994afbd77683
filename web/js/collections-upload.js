// Adding many images to the opened collection: files from the chooser, a chosen folder or a
// drop (dropped folders are walked), sent in batches that stay within the gateway's limits on
// one request, one batch at a time, with a progress bar, the count, the time left, and every
// refused file listed with its reason while the others go on.
//
// A batch holds at most FIRST_BATCH_FILES files, and no more than the gateway's per-request
// limits from GET /api/v1/methods (`collection_max_files`, `max_request_bytes` less room for
// the form; a gateway that does not report them is taken to read two files at the upload
// limit); a 413 that names a lower limit (its `limit_files` or `limit_bytes`: a gateway behind
// a proxy with its own) shrinks the batches and the same files are sent again.

import { addImages } from "./collections-api.js";
import { $, dropZone, el } from "./dom.js";
import { formatBytes, typeNames } from "./format.js";
import { fileType } from "./pickers.js";

const FIRST_BATCH_FILES = 16; // small enough for a smooth bar, large enough for batched embedding
const PART_BYTES = 1024; // counted per file for its multipart headers (a long path included)
const FORM_ROOM = 64 * 1024; // the room the gateway leaves beside the files (api/uploads.py)
const BUSY_RETRIES = 3; // 429 / 503: wait Retry-After and send the batch again
const UNREACHABLE_LIMIT = 3; // batches in a row that got no answer: stop, the service is gone
const LISTED_MAX = 500; // refused files shown; the count says how many more

let view = null;
let run = null;

function seconds(ms) {
  const s = Math.max(1, Math.round(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** Why the page does not send this file (the service would refuse it), or "". */
function refusal(file) {
  const limits = view.limits;
  const type = fileType(file);
  if (limits && !limits.accepted_types.includes(type)) {
    return `not a supported image${type ? ` (${type})` : ""}; use ${typeNames(limits.accepted_types)}`;
  }
  if (file.size === 0) return "the file is empty";
  if (limits && file.size > limits.max_upload_bytes) {
    return `${formatBytes(file.size)}; the limit is ${formatBytes(limits.max_upload_bytes)}`;
  }
  return "";
}

function listRefused(name, reason) {
  run.refusedListed += 1;
  const list = $("upload-refused");
  if (run.refusedListed <= LISTED_MAX) {
    list.append(el("li", {}, el("span", { className: "file-name" }, name), `: ${reason}`));
  }
  const more = run.refusedListed - LISTED_MAX;
  $("upload-refused-title").textContent = `${run.refusedListed} file${run.refusedListed === 1 ? "" : "s"} refused` +
    (more > 0 ? ` (the first ${LISTED_MAX} are listed)` : "");
  $("upload-refused-box").hidden = false;
}

function showProgress() {
  const { done, total, bytesDone, bytesTotal, counts } = run;
  const bar = $("upload-progress");
  bar.max = Math.max(1, total);
  bar.value = done;
  const tally = `${counts.indexed} indexed, ${counts.already_present} already there, ${counts.refused} refused`;
  const elapsed = performance.now() - run.started;
  let text;
  if (done >= total) {
    text = `Done: ${total} of ${total} file${total === 1 ? "" : "s"} in ${seconds(elapsed)}: ${tally}.`;
  } else if (run.stopped) {
    text = `Stopped after ${done} of ${total} files: ${tally}; the other ${total - done} were not sent.`;
  } else {
    const sent = bytesDone - run.bytesSkipped;
    const left = sent > 0 ? `about ${seconds((elapsed / sent) * (bytesTotal - bytesDone))} left` : "estimating the time left…";
    text = `${done} of ${total} files (${formatBytes(bytesDone)} of ${formatBytes(bytesTotal)}) · ${left} · ${tally}`;
  }
  $("upload-status").textContent = `“${run.collection}”: ${text}`;
  $("upload-stop").hidden = done >= total || run.stopped;
  $("upload").dataset.state = done >= total ? "done" : run.stopped ? "stopped" : "running";
}

/** Count one file's outcome (as the API gives it: `status`, `message`, `error`). */
function settle(entry, outcome) {
  run.done += 1;
  run.bytesDone += entry.file.size;
  run.counts[outcome.status] = (run.counts[outcome.status] || 0) + 1;
  if (outcome.status === "refused") {
    listRefused(outcome.file_name || entry.name, outcome.message || outcome.error || "refused");
  }
}

/** Queue files for the opened collection; a run in progress takes them on. */
function enqueue(entries) {
  const info = view.collection;
  if (!info || !entries.length) return;
  if (!run || run.finished || run.collection !== info.name) {
    if (run && !run.finished) run.stopped = true; // another collection's run ends here
    run = {
      collection: info.name, queue: [], total: 0, done: 0, bytesTotal: 0, bytesDone: 0, bytesSkipped: 0,
      counts: { indexed: 0, already_present: 0, refused: 0 }, refusedListed: 0, started: performance.now(),
      ...batchLimits(view.limits),
      unreachable: 0, stopped: false, finished: false,
    };
    $("upload-refused").replaceChildren();
    $("upload-refused-box").hidden = true;
    $("upload").hidden = false;
    sendAll(run);
  }
  for (const entry of entries) {
    run.total += 1;
    run.bytesTotal += entry.file.size;
    const reason = refusal(entry.file);
    if (reason) {
      run.bytesSkipped += entry.file.size;
      settle(entry, { status: "refused", file_name: entry.name, message: `${reason} (not sent)` });
    } else {
      run.queue.push(entry);
    }
  }
  showProgress();
}

/** The first batches' limits: the gateway's own where it reports them. */
function batchLimits(limits) {
  const reported = limits || {};
  const maxFiles = Math.min(FIRST_BATCH_FILES, reported.collection_max_files || FIRST_BATCH_FILES);
  const maxBytes = reported.max_request_bytes
    ? reported.max_request_bytes - FORM_ROOM
    : 2 * (reported.max_upload_bytes || 20 * 1024 * 1024);
  return { maxFiles, maxBytes: Math.max(1, maxBytes) };
}

function takeBatch(current) {
  const batch = [];
  let bytes = 0;
  while (current.queue.length && batch.length < current.maxFiles) {
    const cost = current.queue[0].file.size + PART_BYTES;
    if (batch.length && bytes + cost > current.maxBytes) break;
    bytes += cost;
    batch.push(current.queue.shift());
  }
  return batch;
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** Lower the run's batch limits from a 413 that named them; false when there is nothing lower
 * to try (a single file over the limit is refused instead). */
function learnLimits(current, batch, error) {
  if (batch.length < 2) return false;
  const detail = (error && error.detail) || {};
  const bytes = batch.reduce((sum, entry) => sum + entry.file.size + PART_BYTES, 0);
  if (error && error.code === "too_many_files" && detail.limit_files) {
    current.maxFiles = Math.max(1, Math.min(detail.limit_files, batch.length - 1));
  } else if (detail.limit_bytes) {
    current.maxBytes = Math.max(1, Math.min(detail.limit_bytes - FORM_ROOM, bytes - 1));
  } else {
    current.maxFiles = Math.max(1, Math.floor(batch.length / 2));
  }
  return true;
}

/** Send one batch; its files are settled (or put back, smaller, after a 413 that says why). */
async function sendBatch(current, batch) {
  for (let attempt = 0; ; attempt += 1) {
    let answer;
    try {
      answer = await addImages(current.collection, batch.map((e) => e.file), batch.map((e) => e.name));
    } catch (error) {
      current.unreachable += 1;
      answer = { ok: false, status: 0, message: `could not reach the service (${error.message})` };
    }
    if (answer.ok) {
      current.unreachable = 0;
      answer.body.images.forEach((outcome, index) => settle(batch[index], outcome));
      return;
    }
    if (answer.status === 413 && learnLimits(current, batch, answer.error)) {
      current.queue.unshift(...batch);
      return;
    }
    if ((answer.status === 429 || answer.status === 503) && attempt < BUSY_RETRIES) {
      await sleep(1000 * Math.max(1, answer.retryAfter));
      continue;
    }
    // The whole request failed: its files are listed with the reason, the rest goes on.
    for (const entry of batch) settle(entry, { status: "refused", file_name: entry.name, message: answer.message });
    if (answer.status === 404) current.stopped = true; // the collection is gone
    return;
  }
}

async function sendAll(current) {
  // A run starts from enqueue: let it queue this drop's files before the first batch goes.
  await Promise.resolve();
  while (current.queue.length && !current.stopped) {
    if (current.unreachable >= UNREACHABLE_LIMIT) {
      current.stopped = true;
      view.showError("The service stopped answering, so adding images stopped; the files not sent are counted below.");
      break;
    }
    await sendBatch(current, takeBatch(current));
    if (current === run) showProgress();
    view.refresh(); // the collection's count, as it grows
  }
  current.finished = true;
  if (current === run) showProgress();
}

/** Every file under a dropped folder, with its path inside the drop as its name. */
async function walk(entry, prefix, out) {
  if (!entry) return;
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => { entry.file(resolve, reject); });
    out.push({ file, name: prefix + file.name });
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    for (;;) { // readEntries answers in chunks until it answers none
      const chunk = await new Promise((resolve, reject) => { reader.readEntries(resolve, reject); });
      if (!chunk.length) break;
      for (const child of chunk) await walk(child, `${prefix}${entry.name}/`, out);
    }
  }
}

async function dropped(dataTransfer) {
  // The entries must be taken before the first await: the drop's data is gone after the event.
  const items = Array.from(dataTransfer.items || []).filter((item) => item.kind === "file");
  const entries = items.map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
  if (!entries.some(Boolean)) return Array.from(dataTransfer.files || []).map((file) => ({ file, name: file.name }));
  const out = [];
  for (const entry of entries) await walk(entry, "", out);
  return out;
}

const fromInput = (input) => Array.from(input.files || []).map((file) => ({ file, name: file.webkitRelativePath || file.name }));

/** Forget what the last collection's upload showed (a run still going keeps its progress). */
export function resetUpload() {
  if (run && !run.finished) return;
  run = null;
  $("upload").hidden = true;
  $("upload-refused").replaceChildren();
  $("upload-refused-box").hidden = true;
}

export function initUpload(context) {
  view = context;
  for (const id of ["add-files", "add-folder"]) {
    const input = $(id);
    input.addEventListener("change", () => {
      enqueue(fromInput(input));
      input.value = ""; // the same files may be chosen again
    });
  }
  dropZone($("add-zone"), async (transfer) => {
    try {
      enqueue(await dropped(transfer));
    } catch (error) {
      view.showError(`Could not read what was dropped: ${error.message}`);
    }
  });
  $("upload-stop").addEventListener("click", () => {
    if (!run || run.finished) return;
    run.stopped = true;
    showProgress();
  });
}
