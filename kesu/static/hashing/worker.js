/* The hashing page's worker: everything heavy runs here, off the page's thread. Messages in:
   {id, op: "file", file, image}  MD5 and SHA-256 of the file; PDQ and a small thumbnail when image is true;
   {id, op: "frame", t, width, height, pixels}  PDQ of one video frame (RGBA, already at hashing size).
   Answers {id, ...} or {id, error}. Nothing is written anywhere: files are read into memory and dropped. */
"use strict";
importScripts("md5.js", "pdq.js");

const CHUNK = 4 * 1024 * 1024;
const THUMB = 96;

async function digests(file, id) {
  const md5 = new MD5();
  for (let start = 0; start < file.size; start += CHUNK) {
    md5.update(new Uint8Array(await file.slice(start, start + CHUNK).arrayBuffer()));
    self.postMessage({ id: id, op: "read", fraction: Math.min(1, (start + CHUNK) / file.size) });
  }
  const sha = new Uint8Array(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
  return { md5: md5.hex(), sha256: Array.from(sha, (b) => b.toString(16).padStart(2, "0")).join("") };
}

function pixels(bitmap, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0, width, height);
  return context.getImageData(0, 0, width, height).data;
}

// Turned upright by its EXIF orientation as the server turns it, then shrunk to the size the server hashes.
async function picture(file) {
  const upright = await createImageBitmap(file, { imageOrientation: "from-image" });
  const size = PDQ.fitted(upright.width, upright.height);
  const small = await createImageBitmap(upright, { resizeWidth: size.width, resizeHeight: size.height, resizeQuality: "high" });
  const pdq = PDQ.fromRGBA(pixels(small, size.width, size.height), size.width, size.height);
  const thumbSize = PDQ.fitted(upright.width, upright.height, THUMB);
  const thumb = await createImageBitmap(upright, { resizeWidth: thumbSize.width, resizeHeight: thumbSize.height, resizeQuality: "medium" });
  upright.close();
  small.close();
  return { pdq: pdq.hash, quality: pdq.quality, thumb: thumb };
}

self.onmessage = async function (event) {
  const job = event.data;
  try {
    if (job.op === "frame") {
      const pdq = PDQ.fromRGBA(new Uint8ClampedArray(job.pixels), job.width, job.height);
      self.postMessage({ id: job.id, op: "frame", t: job.t, pdq: pdq.hash, quality: pdq.quality });
      return;
    }
    const result = await digests(job.file, job.id);
    if (job.image) {
      const image = await picture(job.file);
      Object.assign(result, { pdq: image.pdq, quality: image.quality });
      self.postMessage(Object.assign({ id: job.id, op: "file", thumb: image.thumb }, result), [image.thumb]);
      return;
    }
    self.postMessage(Object.assign({ id: job.id, op: "file" }, result));
  } catch (error) {
    self.postMessage({ id: job.id, op: job.op, error: String((error && error.name) || "error") });
  }
};
