// Integrity check of a runbook report, in the page itself. No network, no crypto.subtle
// (viewers of files opened from disk may lack it): SHA-256 is computed here.
//
// 1. The embedded events (#events, exactly as `runbook audit export` writes them) must hash
//    to the digest the renderer wrote (data-events-sha256): any edit of their text shows.
// 2. Each event's hash is recomputed from its fields with the canonical encoding
//    (README "The hash chain"); where two events are adjacent in the chain (consecutive ids),
//    the later one's prev_hash must be the earlier one's hash.
// 3. Each rendered timeline row names its event (data-event) and the digest of its own text
//    (data-text-sha256): a row whose text was edited, or that names a hash the events do not
//    have, shows.
// The badge turns green only when all three hold, and names the first event that fails.
(function () {
  "use strict";
  var K = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ];

  function utf8(s) {
    return new TextEncoder().encode(s);
  }

  function sha256(bytes) {
    var n = bytes.length;
    var withPad = ((n + 9 + 63) >> 6) << 6;
    var m = new Uint8Array(withPad);
    m.set(bytes);
    m[n] = 0x80;
    var bits = n * 8;
    var dv = new DataView(m.buffer);
    dv.setUint32(withPad - 4, bits >>> 0);
    dv.setUint32(withPad - 8, Math.floor(bits / 4294967296));
    var h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    var w = new Uint32Array(64);
    for (var off = 0; off < withPad; off += 64) {
      for (var i = 0; i < 16; i++) w[i] = dv.getUint32(off + i * 4);
      for (i = 16; i < 64; i++) {
        var x = w[i - 15], y = w[i - 2];
        var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
      for (i = 0; i < 64; i++) {
        var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        var ch = (e & f) ^ (~e & g);
        var t1 = (k + S1 + ch + K[i] + w[i]) | 0;
        var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        var maj = (a & b) ^ (a & c) ^ (b & c);
        var t2 = (S0 + maj) | 0;
        k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
      h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + k) | 0;
    }
    var hex = "";
    for (i = 0; i < 8; i++) hex += ("00000000" + (h[i] >>> 0).toString(16)).slice(-8);
    return hex;
  }

  function field(x) {
    if (x === null || x === undefined) return "-\n";
    var s = String(x);
    return utf8(s).length + ":" + s + "\n";
  }

  function eventHash(e) {
    return sha256(utf8("runbook-audit-v1\n" + field(e.prev_hash) + field(e.run) + field(e.seq) +
      field(e.time) + field(e.kind) + field(e.step) + field(e.payload_text)));
  }

  function check() {
    var badge = document.getElementById("badge");
    var script = document.getElementById("events");
    var started = Date.now();
    function fail(why) {
      badge.className = "badge bad";
      badge.querySelector(".verdict").textContent = "NOT INTACT: " + why;
      badge.setAttribute("data-verified", "false");
      badge.setAttribute("data-verify-ms", String(Date.now() - started));
    }
    if (!badge || !script) return;
    var text = script.textContent;
    if (sha256(utf8(text)) !== badge.getAttribute("data-events-sha256")) {
      return fail("the embedded events differ from the ones rendered (their digest does not match)");
    }
    var events;
    try {
      events = JSON.parse(text);
    } catch (err) {
      return fail("the embedded events are not readable JSON");
    }
    var byHash = {};
    var prev = null;
    for (var i = 0; i < events.length; i++) {
      var e = events[i];
      if (eventHash(e) !== e.hash) {
        return fail("event " + e.id + " (run " + e.run + ", seq " + e.seq + ") does not hash to its recorded hash");
      }
      if (prev && e.id === prev.id + 1 && e.prev_hash !== prev.hash) {
        return fail("event " + e.id + " does not link to event " + prev.id);
      }
      byHash[e.hash] = e;
      prev = e;
    }
    var rows = document.querySelectorAll("[data-event]");
    for (i = 0; i < rows.length; i++) {
      var row = rows[i];
      var ev = byHash[row.getAttribute("data-event")];
      if (!ev) {
        return fail("a rendered row names an event that is not among the embedded ones");
      }
      if (sha256(utf8(row.textContent)) !== row.getAttribute("data-text-sha256")) {
        return fail("the rendered text of event " + ev.id + " (run " + ev.run + ", seq " + ev.seq + ") was edited");
      }
    }
    badge.className = "badge good";
    badge.querySelector(".verdict").textContent = "Chain intact for these " + events.length +
      " events: every hash recomputes in this page.";
    badge.setAttribute("data-verified", "true");
    badge.setAttribute("data-verify-ms", String(Date.now() - started));
  }

  // Filtering the timeline by kind: the table is plain HTML without script.
  function filters() {
    var boxes = document.querySelectorAll("input[data-kind-filter]");
    for (var i = 0; i < boxes.length; i++) {
      boxes[i].parentNode.hidden = false;
      boxes[i].addEventListener("change", function (ev) {
        var kind = ev.target.getAttribute("data-kind-filter");
        var rows = document.querySelectorAll("tr.kind-" + kind);
        for (var j = 0; j < rows.length; j++) rows[j].hidden = !ev.target.checked;
      });
    }
  }

  check();
  filters();
})();
