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

  // Page `n` (1 = the plain HTML rows) of a run's timeline: the rows of pages past the first
  // are built from the run's checked events.
  function showPage(run, n) {
    var table = document.querySelector("table.timeline[data-run=\"" + run + "\"]");
    if (!table) return;
    var first = table.tBodies[0], paged = table.tBodies[1];
    // A page holds as many rows as the plain HTML first page.
    var per = first.rows.length;
    var data = (pages[run] || []).slice(per);
    var started = micros(table.getAttribute("data-started") || "");
    var lines = JSON.parse(table.getAttribute("data-step-lines") || "{}");
    var last = 1 + Math.ceil(data.length / per);
    n = Math.max(1, Math.min(last, n));
    first.hidden = n !== 1;
    paged.textContent = "";
    var off = hiddenKinds();
    var events = n === 1 ? [] : data.slice((n - 2) * per, (n - 1) * per);
    for (var i = 0; i < events.length; i++) {
      var r = row(events[i], started);
      var tr = document.createElement("tr");
      tr.className = "kind-" + r.kind + (r.cls ? " " + r.cls : "");
      tr.setAttribute("data-row", String(events[i].id));
      tr.hidden = !!off[r.kind];
      cell(tr, "at", r.at);
      var step = cell(tr, "step", "");
      var line = Object.prototype.hasOwnProperty.call(lines, r.step) ? lines[r.step] : 0;
      if (line) {
        var a = el("a", "", r.step);
        a.href = "#src-" + run + "-" + line;
        step.appendChild(a);
      } else {
        step.textContent = r.step;
      }
      cell(tr, "kind", r.label);
      var what = cell(tr, "what", r.lead);
      if (r.excerpt) {
        var det = document.createElement("details");
        det.appendChild(el("summary", "", r.excerpt));
        det.appendChild(el("code", "block", r.value));
        what.appendChild(det);
      } else if (r.value) {
        what.appendChild(el("code", "", r.value));
      }
      cell(tr, "took", r.took);
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
    var navs = document.querySelectorAll("nav.pager[data-run]");
    for (var i = 0; i < navs.length; i++) {
      navs[i].hidden = false;
      showPage(navs[i].getAttribute("data-run"), 1);
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

  // Rows are only built from checked events: a page that does not verify shows no more rows.
  if (check()) pager();
  filters();

