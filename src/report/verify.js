// Integrity check of a runbook report, in the page itself. No network, no crypto.subtle
// (viewers of files opened from disk may lack it): SHA-256 is computed here, on typed arrays.
//
// 1. The embedded events (#events, exactly as `runbook audit export` writes them) must hash
//    to the digest the renderer wrote after them (#digest): any edit of their text shows.
// 2. Each event's hash is recomputed from its fields with the canonical encoding
//    (README "The hash chain"); where two events are adjacent in the chain (consecutive ids),
//    the later one's prev_hash must be the earlier one's hash.
// 3. Each rendered timeline row names its event (data-event) and the digest of its own text
//    (data-text-sha256); the rows past a timeline's first page are data (script.rows) with the
//    same two, checked from the data they are shown from. A row whose text was edited, or that
//    names an event the embedded ones lack, shows.
// The badge turns green only when all three hold, and names the first event that fails.
// Then the pager shows the rows past the first page, a page at a time (#run-ID-page-N).
// This file is ASCII only (other characters as \u escapes): a page embedding the report in a
// frame may decode it with another charset, and the script's hash in the CSP must still hold.
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

  // A data row: [id, text sha256, kind, class, at, step, line, label, lead, excerpt, value, took].
  var TEXT = [4, 5, 7, 8, 9, 10, 11];
  function rowSha(r) {
    len = 0;
    for (var i = 0; i < TEXT.length; i++) put(r[TEXT[i]]);
    return sha256(buf, len);
  }

  // Rows past the first page, per run id, once checked.
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
    var bytes = utf8(text);
    if (sha256(bytes) !== digest.getAttribute("data-events-sha256")) {
      return fail("the embedded events differ from the ones rendered (their digest does not match)");
    }
    var events;
    try {
      events = JSON.parse(text);
    } catch (err) {
      return fail("the embedded events are not readable JSON");
    }
    var byHash = {};
    var byId = {};
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
      byId[e.id] = e;
      prev = e;
    }
    var rows = document.querySelectorAll("[data-event]");
    for (i = 0; i < rows.length; i++) {
      var row = rows[i];
      var ev = byHash[row.getAttribute("data-event")];
      if (!ev) {
        return fail("a rendered row names an event that is not among the embedded ones");
      }
      len = 0;
      put(row.textContent);
      if (sha256(buf, len) !== row.getAttribute("data-text-sha256")) {
        return fail("the rendered text of event " + ev.id + " (run " + ev.run + ", seq " + ev.seq + ") was edited");
      }
    }
    var sets = document.querySelectorAll("script.rows");
    for (i = 0; i < sets.length; i++) {
      var data;
      try {
        data = JSON.parse(sets[i].textContent);
      } catch (err) {
        return fail("the timeline rows of run " + sets[i].getAttribute("data-run") + " are not readable JSON");
      }
      for (var j = 0; j < data.length; j++) {
        var r = data[j];
        var of = byId[r[0]];
        if (!of) {
          return fail("a rendered row names an event that is not among the embedded ones");
        }
        if (rowSha(r) !== r[1]) {
          return fail("the rendered text of event " + of.id + " (run " + of.run + ", seq " + of.seq + ") was edited");
        }
      }
      pages[sets[i].getAttribute("data-run")] = data;
    }
    badge.className = "badge good";
    badge.querySelector(".verdict").textContent = "Chain intact for these " + events.length +
      " events: every hash recomputes in this page.";
    badge.setAttribute("data-verified", "true");
    badge.setAttribute("data-verify-ms", String(Date.now() - started));
    return true;
  }

  function hiddenKinds() {
    var off = {};
    var boxes = document.querySelectorAll("input[data-kind-filter]");
    for (var i = 0; i < boxes.length; i++) {
      if (!boxes[i].checked) off[boxes[i].getAttribute("data-kind-filter")] = true;
    }
    return off;
  }

  function cell(tr, cls, text) {
    var td = document.createElement("td");
    td.className = cls;
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function el(tag, cls, text) {
    var x = document.createElement(tag);
    if (cls) x.className = cls;
    x.textContent = text;
    return x;
  }

  // Page `n` (1 = the plain HTML rows) of a run's timeline.
  function showPage(run, n) {
    var data = pages[run] || [];
    var table = document.querySelector("table.timeline[data-run=\"" + run + "\"]");
    if (!table) return;
    var first = table.tBodies[0], paged = table.tBodies[1];
    // A page holds as many rows as the plain HTML first page.
    var per = first.rows.length;
    var last = 1 + Math.ceil(data.length / per);
    n = Math.max(1, Math.min(last, n));
    first.hidden = n !== 1;
    paged.textContent = "";
    var off = hiddenKinds();
    var rows = n === 1 ? [] : data.slice((n - 2) * per, (n - 1) * per);
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      var tr = document.createElement("tr");
      tr.className = "kind-" + r[2] + " " + r[3];
      tr.setAttribute("data-row", String(r[0]));
      tr.hidden = !!off[r[2]];
      cell(tr, "at", r[4]);
      var step = cell(tr, "step", "");
      if (r[6]) {
        var a = el("a", "", r[5]);
        a.href = "#src-" + run + "-" + r[6];
        step.appendChild(a);
      } else {
        step.textContent = r[5];
      }
      cell(tr, "kind", r[7]);
      var what = cell(tr, "what", r[8]);
      if (r[9]) {
        var det = document.createElement("details");
        det.appendChild(el("summary", "", r[9]));
        det.appendChild(el("code", "block", r[10]));
        what.appendChild(det);
      } else if (r[10]) {
        what.appendChild(el("code", "", r[10]));
      }
      cell(tr, "took", r[11]);
      paged.appendChild(tr);
    }
    var nav = document.querySelector("nav.pager[data-run=\"" + run + "\"]");
    nav.textContent = "";
    function go(label, to) {
      var b = el("button", "", label);
      b.type = "button";
      b.disabled = to === n || to < 1 || to > last;
      b.addEventListener("click", function () { showPage(run, to); });
      nav.appendChild(b);
    }
    go("\u00ab first", 1);
    go("\u2039 previous", n - 1);
    var at = el("span", "page", " page " + n + " of " + last + " (events " +
      (n === 1 ? 1 : per + (n - 2) * per + 1) + "\u2013" +
      Math.min(per + (n - 1) * per, per + data.length) + ") ");
    nav.appendChild(at);
    go("next \u203a", n + 1);
    go("last \u00bb", last);
    nav.setAttribute("data-page", String(n));
  }

  function pager() {
    for (var run in pages) {
      if (!Object.prototype.hasOwnProperty.call(pages, run)) continue;
      document.querySelector("nav.pager[data-run=\"" + run + "\"]").hidden = false;
      showPage(run, 1);
    }
    var m = /^#run-(.+)-page-(\d+)$/.exec(location.hash);
    if (m && pages[m[1]]) showPage(m[1], parseInt(m[2], 10));
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

  // Rows are only shown from checked data: a page that does not verify shows no more rows.
  if (check()) pager();
  filters();
})();
