/* MD5 (RFC 1321), incremental, for the victim's hashing page: browsers' SubtleCrypto has no MD5, and many
   hash lists sites and hotlines share are MD5. new MD5(); update(Uint8Array) as often as needed; hex(). */
(function (scope) {
  "use strict";
  const S = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
    5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10,
    15, 21, 6, 10, 15, 21];
  const K = new Int32Array(64);
  for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 4294967296) | 0;

  function MD5() {
    this.state = new Int32Array([0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476]);
    this.block = new Uint8Array(64);
    this.words = new Int32Array(16);
    this.filled = 0;
    this.length = 0; // bytes so far
  }

  MD5.prototype.compress = function (bytes, offset) {
    const w = this.words, st = this.state;
    for (let i = 0; i < 16; i++) {
      const p = offset + i * 4;
      w[i] = bytes[p] | (bytes[p + 1] << 8) | (bytes[p + 2] << 16) | (bytes[p + 3] << 24);
    }
    let a = st[0], b = st[1], c = st[2], d = st[3];
    for (let i = 0; i < 64; i++) {
      let f, g;
      if (i < 16) { f = (b & c) | (~b & d); g = i; }
      else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) & 15; }
      else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) & 15; }
      else { f = c ^ (b | ~d); g = (7 * i) & 15; }
      const sum = (a + f + K[i] + w[g]) | 0;
      a = d; d = c; c = b;
      b = (b + ((sum << S[i]) | (sum >>> (32 - S[i])))) | 0;
    }
    st[0] = (st[0] + a) | 0; st[1] = (st[1] + b) | 0; st[2] = (st[2] + c) | 0; st[3] = (st[3] + d) | 0;
  };

  MD5.prototype.update = function (bytes) {
    let i = 0;
    this.length += bytes.length;
    if (this.filled) {
      while (this.filled < 64 && i < bytes.length) this.block[this.filled++] = bytes[i++];
      if (this.filled < 64) return this;
      this.compress(this.block, 0);
      this.filled = 0;
    }
    for (; i + 64 <= bytes.length; i += 64) this.compress(bytes, i);
    while (i < bytes.length) this.block[this.filled++] = bytes[i++];
    return this;
  };

  MD5.prototype.hex = function () {
    const bits = this.length * 8;
    const pad = new Uint8Array(((this.filled < 56 ? 56 : 120) - this.filled) + 8);
    pad[0] = 0x80;
    const tail = pad.length - 8;
    for (let i = 0; i < 8; i++) pad[tail + i] = Math.floor(bits / Math.pow(2, 8 * i)) & 255;
    this.update(pad);
    let out = "";
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++) out += ((this.state[i] >>> (8 * j)) & 255).toString(16).padStart(2, "0");
    return out;
  };

  scope.MD5 = MD5;
})(typeof self !== "undefined" ? self : globalThis);
