/* PDQ, Meta's perceptual hash (ThreatExchange pdq/cpp), ported to plain JavaScript for the victim's hashing
   page: luminance, two passes of Jarosz box filters, 64x64 decimation, the 16x16 corner of the DCT, bits
   above the median. Input: RGBA pixels (a canvas's ImageData), at most 512 px a side as Kesu's server
   hashes them. Output: the 64 hex digits ThreatExchange writes, and the 0-100 quality. */
(function (scope) {
  "use strict";
  const PASSES = 2;
  const DCT = (function () {
    const scale = Math.sqrt(2 / 64);
    const m = new Float64Array(16 * 64);
    for (let i = 0; i < 16; i++)
      for (let j = 0; j < 64; j++) m[i * 64 + j] = scale * Math.cos((Math.PI / 2 / 64) * (i + 1) * (2 * j + 1));
    return m;
  })();

  function luma(rgba, count) {
    const out = new Float32Array(count);
    for (let i = 0, p = 0; i < count; i++, p += 4)
      out[i] = 0.299 * rgba[p] + 0.587 * rgba[p + 1] + 0.114 * rgba[p + 2];
    return out;
  }

  function windowSize(dimension) {
    return Math.floor((dimension + 2 * 64 - 1) / (2 * 64));
  }

  // A centred box filter along one line (length values, stride apart), its window shrinking at the ends.
  function box1D(input, output, start, length, stride, full) {
    const half = Math.floor((full + 2) / 2);
    const phase1 = half - 1, phase2 = full - half + 1, phase3 = length - full, phase4 = half - 1;
    let li = start, ri = start, oi = start, sum = 0, size = 0;
    for (let i = 0; i < phase1; i++) { sum += input[ri]; size++; ri += stride; }
    for (let i = 0; i < phase2; i++) { sum += input[ri]; size++; output[oi] = sum / size; ri += stride; oi += stride; }
    for (let i = 0; i < phase3; i++) {
      sum += input[ri]; sum -= input[li]; output[oi] = sum / size; li += stride; ri += stride; oi += stride;
    }
    for (let i = 0; i < phase4; i++) { sum -= input[li]; size--; output[oi] = sum / size; li += stride; oi += stride; }
  }

  function jarosz(buffer1, buffer2, rows, cols) {
    const alongRows = windowSize(cols), alongCols = windowSize(rows);
    for (let pass = 0; pass < PASSES; pass++) {
      for (let i = 0; i < rows; i++) box1D(buffer1, buffer2, i * cols, cols, 1, alongRows);
      for (let j = 0; j < cols; j++) box1D(buffer2, buffer1, j, rows, cols, alongCols);
    }
  }

  function decimate(buffer, rows, cols) {
    const out = new Float32Array(64 * 64);
    for (let i = 0; i < 64; i++) {
      const ini = Math.floor(((i + 0.5) * rows) / 64);
      for (let j = 0; j < 64; j++) out[i * 64 + j] = buffer[ini * cols + Math.floor(((j + 0.5) * cols) / 64)];
    }
    return out;
  }

  function quality(b) {
    let sum = 0;
    for (let i = 0; i < 63; i++)
      for (let j = 0; j < 64; j++) sum += Math.abs(Math.trunc(((b[i * 64 + j] - b[(i + 1) * 64 + j]) * 100) / 255));
    for (let i = 0; i < 64; i++)
      for (let j = 0; j < 63; j++) sum += Math.abs(Math.trunc(((b[i * 64 + j] - b[i * 64 + j + 1]) * 100) / 255));
    return Math.min(100, Math.trunc(sum / 90));
  }

  function dct16(a) {
    const t = new Float64Array(16 * 64), out = new Float64Array(256);
    for (let i = 0; i < 16; i++)
      for (let j = 0; j < 64; j++) {
        let s = 0;
        for (let k = 0; k < 64; k++) s += DCT[i * 64 + k] * a[k * 64 + j];
        t[i * 64 + j] = s;
      }
    for (let i = 0; i < 16; i++)
      for (let j = 0; j < 16; j++) {
        let s = 0;
        for (let k = 0; k < 64; k++) s += t[i * 64 + k] * DCT[j * 64 + k];
        out[i * 16 + j] = s;
      }
    return out;
  }

  // Bit i*16+j is set when coefficient (i, j) is above the median; written as 16-bit words, the last first.
  function toHex(coefficients) {
    const median = Float64Array.from(coefficients).sort()[127];
    let hex = "";
    for (let i = 15; i >= 0; i--) {
      let word = 0;
      for (let j = 0; j < 16; j++) if (coefficients[i * 16 + j] > median) word |= 1 << j;
      hex += word.toString(16).padStart(4, "0");
    }
    return hex;
  }

  function fromRGBA(rgba, width, height) {
    const buffer1 = luma(rgba, width * height), buffer2 = new Float32Array(width * height);
    jarosz(buffer1, buffer2, height, width);
    const small = decimate(buffer1, height, width);
    return { hash: toHex(dct16(small)), quality: quality(small) };
  }

  // The size Kesu's server hashes at: the longer side at most 512 px, as PIL's thumbnail rounds it.
  function fitted(width, height, side) {
    side = side || 512;
    if (Math.max(width, height) <= side) return { width: width, height: height };
    if (width >= height) return { width: side, height: Math.max(1, Math.round((height * side) / width)) };
    return { width: Math.max(1, Math.round((width * side) / height)), height: side };
  }

  scope.PDQ = { fromRGBA: fromRGBA, fitted: fitted };
})(typeof self !== "undefined" ? self : globalThis);
