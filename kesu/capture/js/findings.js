// Every image and video an element of this document shows, with where it is.
// Runs inside each frame; returns plain data. Canvas pixels are read here,
// because only the page can read them.
() => {
  const found = [];
  const selector = (el) => {
    const parts = [];
    for (let node = el; node && node.nodeType === 1 && parts.length < 8; node = node.parentElement) {
      if (node.id) { parts.unshift(`${node.localName}#${CSS.escape(node.id)}`); break; }
      const siblings = node.parentElement ? [...node.parentElement.children].filter((s) => s.localName === node.localName) : [];
      parts.unshift(siblings.length > 1 ? `${node.localName}:nth-of-type(${siblings.indexOf(node) + 1})` : node.localName);
    }
    return parts.join(" > ");
  };
  const box = (el) => {
    const r = el.getBoundingClientRect();
    return [r.x + window.scrollX, r.y + window.scrollY, r.width, r.height];
  };
  const absolute = (url) => { try { return new URL(url, document.baseURI).href; } catch (e) { return null; } };
  const add = (kind, url, source, el, extra) => {
    const href = url && absolute(url.trim());
    if (href) found.push({ kind, url: href, source, selector: selector(el), box: box(el), ...(extra || {}) });
  };
  const candidates = (srcset) => (srcset || "").split(/,\s+/).map((c) => c.trim().split(/\s+/)[0]).filter(Boolean);

  for (const img of document.querySelectorAll("img")) {
    const lazy = img.loading === "lazy" || img.dataset.src;
    const source = img.closest("picture") ? "picture" : img.srcset ? "srcset" : lazy ? "lazy" : "img";
    add("image", img.currentSrc || img.getAttribute("src"), source, img);
    // A <picture>'s fallback img: the browser showed a <source>, the fallback is another file.
    if (img.getAttribute("src") && img.currentSrc) add("image", img.getAttribute("src"), source, img);
    for (const c of candidates(img.getAttribute("srcset"))) add("image", c, "srcset", img);
    for (const name of ["data-src", "data-original", "data-lazy-src"]) {
      if (img.getAttribute(name)) add("image", img.getAttribute(name), "lazy", img);
    }
  }
  for (const source of document.querySelectorAll("picture source[srcset]")) {
    for (const c of candidates(source.getAttribute("srcset"))) add("image", c, "picture", source);
  }
  for (const el of document.querySelectorAll("*")) {
    const background = getComputedStyle(el).backgroundImage;
    if (!background || background === "none") continue;
    for (const m of background.matchAll(/url\(\s*["']?(.*?)["']?\s*\)/g)) add("image", m[1], "css", el);
  }
  for (const media of document.querySelectorAll("video, audio")) {
    add("video", media.currentSrc || media.getAttribute("src"), "video", media);
    for (const s of media.querySelectorAll("source[src]")) add("video", s.getAttribute("src"), "video", s);
    if (media.poster) add("image", media.poster, "poster", media);
  }
  for (const canvas of document.querySelectorAll("canvas")) {
    if (!canvas.width || !canvas.height) continue;
    const extra = { width: canvas.width, height: canvas.height };
    try { extra.data = canvas.toDataURL("image/png"); } catch (e) { extra.error = "canvas holds pixels from another origin and cannot be read"; }
    found.push({ kind: "image", url: "", source: "canvas", selector: selector(canvas), box: box(canvas), ...extra });
  }
  return found;
}
