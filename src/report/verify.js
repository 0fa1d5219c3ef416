// Integrity check of a runbook report, in the page itself. No network, no crypto.subtle
// (viewers of files opened from disk may lack it): SHA-256 is computed here, on typed arrays.
//
// 1. Each embedded event's hash (#events, exactly as `runbook audit export` writes them) is
//    recomputed from its fields with the canonical encoding (README "The hash chain"); where
//    two events are adjacent in the chain (consecutive ids), the later one's prev_hash must
//    be the earlier one's hash. An edit of what an event says names the event.
// 2. The embedded text must hash to the digest the renderer wrote after it (#digest): an
//    edit that no event's hash covers (an id, the layout) shows too.
// 3. Each rendered timeline row (the first page of each timeline, plain HTML) names its event
//    (data-event) and the digest of its own text (data-text-sha256). A row whose text was
//    edited, or that names an event the embedded ones lack, shows.
// The badge turns green only when all three hold, and names the first event that fails.
// Rows past the first page are not in the file: rows.js builds them from the checked events.
// The report's script is this file, rows.js and pager.js inside one function (html/mod.rs).
// These files are ASCII only (other characters as \u escapes): a page embedding the report in
// a frame may decode it with another charset, and the script's hash in the CSP must still hold.
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

  var KW = new Int32Array(K);
  var W = new Int32Array(64);
  var H = new Int32Array(8);
  var pad = new Uint8Array(128);
  var encoder = new TextEncoder();

  function utf8(s) {
    return encoder.encode(s);
  }

  function blocks(m, off, end) {
    var w = W, k = KW;
    var a, b, c, d, e, f, g, h, i, j, t1, t2, x, y;
    for (; off < end; off += 64) {
      for (i = 0, j = off; i < 16; i++, j += 4) {
        w[i] = (m[j] << 24) | (m[j + 1] << 16) | (m[j + 2] << 8) | m[j + 3];
      }
      for (i = 16; i < 64; i++) {
        x = w[i - 15]; y = w[i - 2];
        w[i] = (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) +
          (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) +
          w[i - 16] + w[i - 7] | 0;
      }
      a = H[0]; b = H[1]; c = H[2]; d = H[3]; e = H[4]; f = H[5]; g = H[6]; h = H[7];
      for (i = 0; i < 64; i++) {
        t1 = h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
          ((e & f) ^ (~e & g)) + k[i] + w[i] | 0;
        t2 = (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
          ((a & b) ^ (a & c) ^ (b & c)) | 0;
        h = g; g = f; f = e; e = d + t1 | 0; d = c; c = b; b = a; a = t1 + t2 | 0;
      }
      H[0] = H[0] + a | 0; H[1] = H[1] + b | 0; H[2] = H[2] + c | 0; H[3] = H[3] + d | 0;
      H[4] = H[4] + e | 0; H[5] = H[5] + f | 0; H[6] = H[6] + g | 0; H[7] = H[7] + h | 0;
    }
  }

  var HEX = [];
  for (var hx = 0; hx < 256; hx++) HEX.push((hx < 16 ? "0" : "") + hx.toString(16));

  // SHA-256 of bytes[0, n), as hex: whole blocks straight from the input, the tail padded in
  // a small buffer, no copy of the input.
  function sha256(bytes, n) {
    if (n === undefined) n = bytes.length;
    H[0] = 0x6a09e667; H[1] = 0xbb67ae85 | 0; H[2] = 0x3c6ef372; H[3] = 0xa54ff53a | 0;
    H[4] = 0x510e527f; H[5] = 0x9b05688c | 0; H[6] = 0x1f83d9ab; H[7] = 0x5be0cd19;
    var whole = n - (n % 64);
    blocks(bytes, 0, whole);
    var rest = n - whole;
    pad.fill(0);
    pad.set(bytes.subarray(whole, n));
    pad[rest] = 0x80;
    var end = rest + 9 > 64 ? 128 : 64;
    var bits = n * 8, hi = Math.floor(bits / 4294967296);
    pad[end - 8] = hi >>> 24; pad[end - 7] = hi >>> 16; pad[end - 6] = hi >>> 8; pad[end - 5] = hi;
    pad[end - 4] = bits >>> 24; pad[end - 3] = bits >>> 16; pad[end - 2] = bits >>> 8; pad[end - 1] = bits;
    blocks(pad, 0, end);
    var out = "";
    for (var i = 0; i < 8; i++) {
      var v = H[i];
      out += HEX[(v >>> 24) & 255] + HEX[(v >>> 16) & 255] + HEX[(v >>> 8) & 255] + HEX[v & 255];
    }
    return out;
  }

  // A growing byte buffer the canonical records and row texts are encoded into.
  var buf = new Uint8Array(1 << 16);
  var len = 0;
  function room(more) {
    if (len + more <= buf.length) return;
    var bigger = new Uint8Array(Math.max(buf.length * 2, len + more));
    bigger.set(buf.subarray(0, len));
    buf = bigger;
  }
  function put(s) {
    room(s.length * 3);
    len += encoder.encodeInto(s, buf.subarray(len)).written;
  }
  function putAscii(s) {
    room(s.length);
    for (var i = 0; i < s.length; i++) buf[len++] = s.charCodeAt(i);
  }

  // One field of the canonical encoding: `-` for none, else `<utf-8 length>:<text>`, then `\n`.
  function field(x) {
    if (x === null || x === undefined) {
      putAscii("-\n");
      return;
    }
    var s = String(x);
    room(s.length * 3 + 24);
    var at = len + 22; // room for the length prefix, moved into place below
    var n = encoder.encodeInto(s, buf.subarray(at)).written;
    putAscii(n + ":");
    buf.copyWithin(len, at, at + n);
    len += n;
    buf[len++] = 10;
  }

  function eventHash(e) {
    len = 0;
    putAscii("runbook-audit-v1\n");
    field(e.prev_hash); field(e.run); field(e.seq); field(e.time); field(e.kind);
    field(e.step); field(e.payload_text);
    return sha256(buf, len);
  }

  // Each run's events in order, once checked: what the pager shows past the first page.
  var pages = {};

  function check() {
    var badge = document.getElementById("badge");
    var script = document.getElementById("events");
    var digest = document.getElementById("digest");
    var started = Date.now();
    function fail(why) {
      badge.className = "badge bad";
      badge.querySelector(".verdict").textContent = "NOT INTACT: " + why;
      badge.setAttribute("data-verified", "false");
      badge.setAttribute("data-verify-ms", String(Date.now() - started));
      return false;
    }
    if (!badge || !script) return false;
    if (!digest) return fail("the digest of the embedded events is missing");
    var text = script.textContent;
    var events;
    try {
      events = JSON.parse(text);
    } catch (err) {
      return fail("the embedded events are not readable JSON");
    }
    // The events the rendered rows name, looked up while the events are checked.
    var rows = document.querySelectorAll("[data-event]");
    var named = Object.create(null);
    for (var i = 0; i < rows.length; i++) named[rows[i].getAttribute("data-event")] = null;
    var prev = null;
    var byRun = Object.create(null);
    if (!Array.isArray(events)) return fail("the embedded events are not a list");
    for (i = 0; i < events.length; i++) {
      var e = events[i];
      if (typeof e !== "object" || e === null) return fail("embedded event " + i + " is not a record");
      if (eventHash(e) !== e.hash) {
        return fail("event " + e.id + " (run " + e.run + ", seq " + e.seq + ") does not hash to its recorded hash");
      }
      if (prev && e.id === prev.id + 1 && e.prev_hash !== prev.hash) {
        return fail("event " + e.id + " does not link to event " + prev.id);
      }
      if (named[e.hash] === null) named[e.hash] = e;
      (byRun[e.run] || (byRun[e.run] = [])).push(e);
      prev = e;
    }
    // Last, as it names no event: an edit no event's hash covers (an id, the layout).
    if (sha256(utf8(text)) !== digest.getAttribute("data-events-sha256")) {
      return fail("the embedded events differ from the ones rendered (their digest does not match)");
    }
    for (i = 0; i < rows.length; i++) {
      var row = rows[i];
      var ev = named[row.getAttribute("data-event")];
      if (!ev) {
        return fail("a rendered row names an event that is not among the embedded ones");
      }
      len = 0;
      put(row.textContent);
      if (sha256(buf, len) !== row.getAttribute("data-text-sha256")) {
        return fail("the rendered text of event " + ev.id + " (run " + ev.run + ", seq " + ev.seq + ") was edited");
      }
    }
    pages = byRun;
    badge.className = "badge good";
    badge.querySelector(".verdict").textContent = "Chain intact for these " + events.length +
      " events: every hash recomputes in this page.";
    badge.setAttribute("data-verified", "true");
    badge.setAttribute("data-verify-ms", String(Date.now() - started));
    return true;
  }

