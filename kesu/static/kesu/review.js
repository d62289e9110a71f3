// The review queue's keyboard layer. It only presses buttons and follows links the page already has
// (marked data-key), so everything works without it too. Keys are ignored while typing in a field.
(function () {
  "use strict";

  function typing(event) {
    var t = event.target;
    return t && (t.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(t.tagName));
  }

  // --- the queue: j / k move the selection, Enter opens ----------------------------------------
  var rows = Array.prototype.slice.call(document.querySelectorAll("#review-queue tr[data-hit-id]"));
  var current = -1;
  function select(i) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (row, n) { row.classList.toggle("selected", n === current); });
    var link = rows[current].querySelector("a");
    if (link) link.focus();
  }

  // --- reveal, with the gentle daily limit -------------------------------------------------------
  var meter = document.getElementById("exposure");
  var panel = document.getElementById("limit-panel");
  var pending = null;
  function show(button, anyway) {
    var holder = button.previousElementSibling;
    var src = button.getAttribute("data-src") + (anyway ? "?anyway=1" : "");
    var element;
    if (button.getAttribute("data-video")) {
      // Muted and paused: she decides whether to play it.
      element = document.createElement("video");
      element.controls = true; element.muted = true; element.preload = "metadata"; element.autoplay = false;
    } else {
      element = document.createElement("img");
      element.alt = holder.getAttribute("alt") || "";
    }
    element.src = src;
    element.className = "revealed big";
    // The desk counts a look only once there is something to see: so does the meter.
    element.addEventListener(button.getAttribute("data-video") ? "loadedmetadata" : "load", counted, { once: true });
    element.addEventListener("error", function () { unshown(element, button); }, { once: true });
    holder.replaceWith(element);
    button.remove();
  }
  function counted() {
    if (!meter) return;
    var count = Number(meter.getAttribute("data-count")) + 1;
    meter.setAttribute("data-count", String(count));
  }
  function unshown(element, button) {
    var message = document.createElement("p");
    message.className = "video-placeholder big";
    message.setAttribute("role", "alert");
    message.textContent = button.getAttribute("data-unshown") || "";
    element.replaceWith(message);
  }
  function reveal(button) {
    var reached = meter && Number(meter.getAttribute("data-count")) >= Number(meter.getAttribute("data-limit"));
    if (reached && panel) {
      pending = button;
      panel.hidden = false;
      document.getElementById("limit-anyway").focus();
      return;
    }
    show(button, false);
  }
  if (panel) {
    document.getElementById("limit-anyway").addEventListener("click", function () {
      panel.hidden = true;
      if (pending) show(pending, true);
      pending = null;
    });
    document.getElementById("limit-cancel").addEventListener("click", function () {
      panel.hidden = true;
      pending = null;
    });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.reveal-gated");
    if (button) reveal(button);
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    if (rows.length && (event.key === "j" || event.key === "k")) {
      select(current + (event.key === "j" ? 1 : -1));
      event.preventDefault();
      return;
    }
    var target = document.querySelector('[data-key="' + event.key + '"]');
    if (!target) return;
    event.preventDefault();
    target.click();
  });
})();
