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
