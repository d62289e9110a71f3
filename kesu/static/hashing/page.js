/* The victim's hashing page: she picks pictures and videos; each is hashed here (MD5, SHA-256, PDQ, and PDQ of
   a video's frames at 1 fps, the vPDQ convention) and only the hashes are posted. Her files are read into
   memory and never written anywhere (no storage API is used); thumbnails are drawn on canvases here. */
(function () {
  "use strict";
  const form = document.getElementById("hashing");
  const picker = document.getElementById("files");
  const progress = document.getElementById("progress");
  const status = document.getElementById("status");
  const thumbs = document.getElementById("thumbs");
  const send = document.getElementById("send");
  const result = document.getElementById("result");
  const texts = document.getElementById("texts").dataset;
  const maxFiles = Number(form.dataset.maxFiles);
  const worker = new Worker(form.dataset.worker); // loaded now: hashing needs no network afterwards
  const files = [];
  const waiting = new Map(); // job id -> resolve
  let nextJob = 0, queue = Promise.resolve(), work = { done: 0, total: 0 }, sent = false;

  worker.onmessage = function (event) {
    const answer = event.data;
    if (answer.op === "read") return;
    const resolve = waiting.get(answer.id);
    waiting.delete(answer.id);
    if (resolve) resolve(answer);
  };

  function ask(message, transfer) {
    const id = ++nextJob;
    return new Promise(function (resolve) {
      waiting.set(id, resolve);
      worker.postMessage(Object.assign({ id: id }, message), transfer || []);
    });
  }

  function say(text, n) {
    status.textContent = text.replace("{n}", String(n));
  }

  function step(units) {
    work.done += units;
    progress.max = Math.max(1, work.total);
    progress.value = Math.min(work.done, work.total);
  }

  function thumbnail(entry, draw, width, height) {
    const item = document.createElement("li");
    const canvas = document.createElement("canvas");
    canvas.width = width; canvas.height = height;
    canvas.className = "blurred";
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", entry.kind === "video" ? "video" : "picture");
    draw(canvas.getContext("2d"));
    item.appendChild(canvas);
    thumbs.appendChild(item);
  }

  function once(target, name) {
    return new Promise(function (resolve, reject) {
      target.addEventListener(name, resolve, { once: true });
      target.addEventListener("error", reject, { once: true });
    });
  }

  const STALE_TRIES = 5, STALE_PAUSE_MS = 40;

  function pause(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  // FNV-1a over the pixels' 32-bit words: equal frames, equal sums (the pixels themselves go to the worker).
  function checksum(data) {
    const words = new Uint32Array(data.buffer, data.byteOffset, data.byteLength >> 2);
    let sum = 0x811c9dc5;
    for (let i = 0; i < words.length; i += 1) sum = Math.imul(sum ^ words[i], 0x01000193);
    return sum >>> 0;
  }

  // Frames at 0, 1, 2... s, read through <video> and a canvas at the size the server hashes them.
  async function videoFrames(entry) {
    const url = URL.createObjectURL(entry.file);
    const video = document.createElement("video");
    video.muted = true; video.playsInline = true; video.preload = "auto";
    try {
      video.src = url;
      await once(video, "loadeddata");
      const size = PDQ.fitted(video.videoWidth, video.videoHeight);
      const canvas = document.createElement("canvas");
      canvas.width = size.width; canvas.height = size.height;
      const context = canvas.getContext("2d", { willReadFrequently: true });
      // A recording may not know its length (Infinity): hash at most the hour the server accepts.
      const duration = Number.isFinite(video.duration) ? Math.min(video.duration, 3600) : 0;
      if (!duration) throw new Error("no duration");
      work.total += Math.ceil(duration);
      const answers = [];
      const draw = function () {
        context.drawImage(video, 0, 0, size.width, size.height);
        return context.getImageData(0, 0, size.width, size.height).data;
      };
      let last = null;
      for (let t = 0; t < duration; t += 1) {
        video.currentTime = t;
        await once(video, "seeked");
        // Chromium can fire "seeked" before the frame at the new time reaches the element (seen on a busy
        // machine): the canvas then shows the last second's frame again. A frame the same as the last one is
        // drawn again after a pause, a few times (a still picture stays the same and costs the pauses only).
        let data = draw();
        for (let tries = 0; last !== null && tries < STALE_TRIES && checksum(data) === last; tries += 1) {
          await pause(STALE_PAUSE_MS);
          data = draw();
        }
        last = checksum(data);
        if (t === 0) thumbnail(entry, (c) => c.drawImage(canvas, 0, 0, 96, Math.round((96 * size.height) / size.width)), 96, Math.round((96 * size.height) / size.width));
        answers.push(ask({ op: "frame", t: t, width: size.width, height: size.height, pixels: data.buffer }, [data.buffer]).then(function (a) { step(1); return a; }));
      }
      const frames = await Promise.all(answers);
      entry.frames = frames.filter((f) => !f.error).map((f) => [f.t, f.pdq, f.quality]);
    } finally {
      video.removeAttribute("src");
      video.load();
      URL.revokeObjectURL(url);
    }
  }

  async function hashOne(entry) {
    const image = entry.kind === "image";
    const answer = await ask({ op: "file", file: entry.file, image: image });
    if (answer.error) throw new Error(answer.error);
    entry.md5 = answer.md5; entry.sha256 = answer.sha256;
    if (image) {
      entry.pdq = answer.pdq; entry.quality = answer.quality;
      thumbnail(entry, (c) => c.drawImage(answer.thumb, 0, 0), answer.thumb.width, answer.thumb.height);
      answer.thumb.close();
    } else {
      await videoFrames(entry);
    }
    step(1);
  }

  async function hashAll(chosen) {
    send.disabled = true;
    progress.hidden = false;
    say(texts.working);
    for (const entry of chosen) {
      try {
        await hashOne(entry);
        entry.done = true;
      } catch (error) {
        entry.failed = true;
        step(1);
        const line = document.createElement("li");
        line.textContent = texts.unreadable + " " + (files.indexOf(entry) + 1);
        thumbs.appendChild(line);
      }
      entry.file = null; // the page keeps only the hashes
    }
    const ready = files.filter((f) => f.done).length;
    say(texts.ready, ready);
    send.disabled = sent || ready === 0;
  }

  picker.addEventListener("change", function () {
    const chosen = Array.from(picker.files);
    picker.value = "";
    if (files.length + chosen.length > maxFiles) { say(texts.tooMany); return; }
    const entries = chosen.map((file) => ({ file: file, kind: file.type.startsWith("video/") ? "video" : "image" }));
    files.push.apply(files, entries);
    work.total += entries.length;
    queue = queue.then(() => hashAll(entries));
  });

  function body() {
    const done = files.filter((f) => f.done).map(function (f) {
      const item = { kind: f.kind, md5: f.md5, sha256: f.sha256 };
      if (f.kind === "image") { item.pdq = f.pdq; item.quality = f.quality; } else { item.frames = f.frames; }
      return item;
    });
    const keywords = document.getElementById("keywords").value.split(/[,、，\n]/).map((w) => w.trim()).filter(Boolean);
    return JSON.stringify({ nonce: form.dataset.nonce, count: done.length, files: done, keywords: keywords });
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (send.disabled) return;
    send.disabled = true;
    say(texts.sending);
    let answer = null;
    try {
      const response = await fetch(form.dataset.submit, {
        method: "POST", credentials: "same-origin", body: body(),
        headers: { "Content-Type": "application/json", "X-CSRFToken": form.dataset.csrf },
      });
      answer = await response.json();
    } catch (error) {
      answer = { error: texts.failed };
    }
    if (answer.received !== undefined) {
      sent = true;
      result.textContent = texts.sent.replace("{n}", String(answer.received));
    } else {
      result.textContent = answer.error;
      send.disabled = false;
    }
    status.textContent = "";
    result.focus();
  });

  // For the page's own tests and benchmark: the hashes it holds (never the files).
  self.kesuHashing = {
    files: () => files.map((f) => ({ kind: f.kind, done: !!f.done, failed: !!f.failed, md5: f.md5, sha256: f.sha256, pdq: f.pdq, quality: f.quality, frames: f.frames })),
    idle: () => queue.then(() => true),
  };
})();
