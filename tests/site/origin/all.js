// Behaviour for all.html: media that only appear through script.
"use strict";
const CDN = "{{cdn}}";

// A blob: URL whose bytes are those of a fetched file.
fetch(CDN + "/img/blob.png")
  .then((response) => response.blob())
  .then((blob) => { document.getElementById("blob").src = URL.createObjectURL(blob); });

// A canvas painted from a CORS image (not tainted, so toDataURL works).
const source = new Image();
source.crossOrigin = "anonymous";
source.onload = () => {
  const canvas = document.getElementById("canvas");
  const context = canvas.getContext("2d");
  context.drawImage(source, 0, 0, canvas.width, canvas.height);
  context.fillStyle = "rgba(255, 255, 255, 0.8)";
  context.fillRect(8, 8, 120, 28);
  context.fillStyle = "#000";
  context.font = "16px sans-serif";
  context.fillText("canvas", 16, 28);
};
source.src = CDN + "/img/canvas-source.png";

// An image that appears only after 1.5 s.
setTimeout(() => {
  const image = document.createElement("img");
  image.id = "delayed-img";
  image.width = 200;
  image.height = 150;
  image.src = CDN + "/img/delayed.jpg";
  document.getElementById("delayed").append(image);
}, 1500);

// Script-driven lazy loading: data-src becomes src once in view.
const observer = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (entry.isIntersecting) {
      entry.target.src = entry.target.dataset.src;
      observer.unobserve(entry.target);
    }
  }
});
document.querySelectorAll("img.io-lazy").forEach((image) => observer.observe(image));

// HLS through Media Source Extensions (hls.js transmuxes the MPEG-TS segments).
if (Hls.isSupported()) {
  const hls = new Hls();
  hls.loadSource(CDN + "/hls/index.m3u8");
  hls.attachMedia(document.getElementById("hls"));
}

// DASH through dash.js.
const dash = dashjs.MediaPlayer().create();
dash.updateSettings({ debug: { logLevel: dashjs.Debug.LOG_LEVEL_NONE } });
dash.initialize(document.getElementById("dash"), CDN + "/dash/manifest.mpd", true);
