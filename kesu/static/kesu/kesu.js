// Reveal on demand: the unblurred medium is fetched (and audited) only on click.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button.reveal");
  if (!button) return;
  var holder = button.previousElementSibling;
  var url = holder.getAttribute("data-reveal");
  if (button.dataset.target === "video") {
    var video = document.createElement("video");
    video.controls = true; video.muted = true; video.preload = "metadata"; video.src = url;
    video.style.maxWidth = "100%";
    holder.replaceWith(video);
  } else {
    holder.classList.remove("blurred");
    holder.src = url;
  }
  button.remove();
});

// Upload with a progress bar; falls back to a plain form post without JS.
(function () {
  var form = document.getElementById("upload");
  if (!form || !window.XMLHttpRequest) return;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var bar = document.getElementById("upload-progress");
    var status = document.getElementById("upload-status");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) { bar.hidden = false; bar.value = Math.round(100 * e.loaded / e.total); }
    };
    xhr.onload = function () {
      var reply = {};
      try { reply = JSON.parse(xhr.responseText); } catch (e) { reply = { error: xhr.statusText }; }
      var failed = (reply.results || []).filter(function (r) { return r.error; });
      if (reply.error || failed.length) {
        status.textContent = [reply.error].concat(failed.map(function (r) { return r.name + ": " + r.error; })).filter(Boolean).join(" / ");
      }
      if (!reply.error && !failed.length) { window.location.reload(); }
      else if ((reply.results || []).some(function (r) { return r.id; })) { setTimeout(function () { window.location.reload(); }, 2500); }
    };
    xhr.onerror = function () { status.textContent = "upload failed"; };
    xhr.send(new FormData(form));
  });
})();

// Copy buttons (web-form helper): <button data-copy="field-id"> copies that field's text.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button) return;
  var field = document.getElementById(button.getAttribute("data-copy"));
  if (!field) return;
  var done = function () { button.textContent = button.getAttribute("data-copied") || "✓"; };
  var fallback = function () { field.focus(); field.select(); };
  if (navigator.clipboard && navigator.clipboard.writeText) {
    navigator.clipboard.writeText(field.value).then(done, fallback);
  } else {
    fallback();
  }
});

// Long work shows progress: a section marked data-refresh="N" (patrol runs in progress) is fetched again
// every N seconds and swapped in place, until the server stops marking it. No full-page reload, so the
// reader keeps her place and focus.
(function () {
  var section = document.querySelector("[data-refresh]");
  if (!section || !window.fetch || !window.DOMParser) return;
  var seconds = Number(section.getAttribute("data-refresh")) || 10;
  function refresh() {
    fetch(window.location.href, { credentials: "same-origin" }).then(function (reply) {
      return reply.ok ? reply.text() : null;
    }).then(function (html) {
      if (!html) return;
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(section.id);
      if (!fresh) return;
      section.innerHTML = fresh.innerHTML;
      if (fresh.hasAttribute("data-refresh")) setTimeout(refresh, seconds * 1000);
      else section.removeAttribute("data-refresh");
    }).catch(function () { setTimeout(refresh, seconds * 3000); });
  }
  setTimeout(refresh, seconds * 1000);
})();

// Forms marked data-progress (imports) show the upload's progress, then an indeterminate bar while the
// server works on the file; its answer replaces the page as a plain post would.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.hasAttribute("data-progress") || !window.XMLHttpRequest || !window.FormData) return;
  event.preventDefault();
  var bar = document.createElement("progress");
  bar.max = 100; bar.value = 0;
  var status = document.createElement("output");
  status.setAttribute("role", "status");
  form.appendChild(bar); form.appendChild(status);
  var xhr = new XMLHttpRequest();
  xhr.open("POST", form.action || window.location.href);
  xhr.upload.onprogress = function (e) {
    if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); status.textContent = bar.value + " %"; }
  };
  xhr.upload.onload = function () {
    bar.removeAttribute("value");  // indeterminate: the server is reading the file now
    status.textContent = form.getAttribute("data-progress-label") || "…";
  };
  xhr.onload = function () { document.open(); document.write(xhr.responseText); document.close(); };
  xhr.onerror = function () { form.submit(); };
  xhr.send(new FormData(form));
});

// A select marked data-submit-on-change (the language) sends its form at once; a <noscript> button does it
// without JS.
document.addEventListener("change", function (event) {
  if (event.target.matches("select[data-submit-on-change]")) event.target.form.submit();
});
