  // Timeline rows past a run's first page, built here from the embedded events once they
  // verified, a page at a time: the file carries each event once, and what these rows say is
  // covered by the events' own hashes. The wording follows the renderer's (html/describe.rs)
  // so the pages read alike; the first page, plain HTML for viewers without script, is checked
  // against its own digests above.

  // Text as shown: line ends as \n, no other control characters (html/mod.rs `shown`).
  function shown(x) {
    if (x === null || x === undefined) return "";
    return String(x).replace(/\r\n?/g, "\n").replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, "");
  }

  function json(v) {
    return JSON.stringify(v === undefined ? null : v);
  }

  // `name=value` pairs of a map, on one line (describe.rs `compact`).
  function compact(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "string") return v;
    if (typeof v !== "object" || Array.isArray(v)) return json(v);
    var out = [];
    for (var k in v) {
      if (Object.prototype.hasOwnProperty.call(v, k)) {
        out.push(k + "=" + (typeof v[k] === "string" ? v[k] : json(v[k])));
      }
    }
    return out.join(", ");
  }

  function pretty(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "string") return v;
    return JSON.stringify(v, null, 2);
  }

  function or(x, dflt) {
    return x === null || x === undefined ? dflt : x;
  }

  function call(p) {
    return p["function"] + "(" + compact(p.args) + ")";
  }

  // [label, lead, value, duration in ms or null, row class] of one event.
  function describe(kind, p) {
    switch (kind) {
      case "run-start":
        var who = p.operator || {};
        return [kind, p.runbook + " started by " + (typeof who.login === "string" ? who.login :
          typeof who.user === "string" ? who.user : "?") + " on " + p.host, "", null, ""];
      case "step-start":
        return [kind, "step " + or(p.name, ""), "", null, ""];
      case "step-end":
        return [kind, p.status === "failed" ? "failed: " : p.status === "ok" ? "ok" :
          "skipped by the learner", or(p.error, ""), p.duration_ms, p.status === "failed" ? "bad" : ""];
      case "call":
        if (p.error !== null && p.error !== undefined) {
          return ["read", call(p) + " failed: ", p.error, p.duration_ms, "bad"];
        }
        return ["read", call(p) + " \u2192 ", pretty(p.result), p.duration_ms, ""];
      case "planned":
        return ["planned", "would call " + call(p) + "; ", pretty(p.plan), null, "planned"];
      case "intent":
        return ["intent", "about to call " + call(p), "", null, "change"];
      case "outcome":
        if (p.error !== null && p.error !== undefined) {
          return ["outcome", p["function"] + " failed: ", p.error, p.duration_ms, "bad"];
        }
        return ["outcome", p["function"] + " done \u2192 ", pretty(p.result), p.duration_ms, "change"];
      case "gate":
        var verdict = p.approved === true ? "approved" : p.approved === false ? "refused" :
          "answer not judged by this version";
        var typed = p.gate === "typed" && p.expected !== null && p.expected !== undefined ?
          " (type \"" + p.expected + "\")" : "";
        return ["gate", "asked \"" + p.question + "\"" + typed + ": answered \"" + or(p.answer, "") +
          "\" (" + verdict + ") by " + or(p.answered_by, "") + " via " + or(p.via, ""), "", null,
          p.approved === false ? "bad" : "gate"];
      case "refused":
        return ["refused", p["function"] ? p["function"] + " refused: " : "refused: ", p.reason, null, "bad"];
      case "approval":
        return [kind, "approved by " + p.principal + " (" + p.algorithm + " " + p.fingerprint + ")",
          "plan " + p.plan_hash + " requested by " + p.requester, null, ""];
      case "signature":
        return [kind, "signature by " + or(p.principal, "no operator") + " " + p.verdict,
          p.reason + " (" + or(p.algorithm, "-") + " " + or(p.fingerprint, "-") + ", namespace " +
          or(p.namespace, "-") + ") for plan " + p.plan_hash, null, p.verdict === "accepted" ? "" : "bad"];
      case "plan-refused":
        return [kind, "run --plan refused (" + p.check + "): ", p.reason + " (plan " + p.plan_hash + ")", null, "bad"];
      case "break-glass":
        return [kind, "BREAK-GLASS by " + p.principal + ": ", p.reason + " (in place of: " +
          (p.rules || []).join("; ") + "; plan " + p.plan_hash + ")", null, "bad"];
      case "co-sign":
        return [kind, "co-signed break-glass run " + p.run + " by " + p.principal + " (" + p.algorithm +
          " " + p.fingerprint + ")", "plan " + p.plan_hash, null, ""];
      case "lock":
        return [kind, p.acquired ? "locked " + (p.resources || []).join(", ") :
          "lock " + or(p.blocked_on, "") + " held by another run",
          p.holder === null || p.holder === undefined ? "" : json(p.holder), null, p.acquired ? "" : "bad"];
      case "module":
        return [kind, "loaded module " + p.name + " (" + p.origin + ")", "sha256 " + p.source_sha256, null,
          p.origin === "built-in" ? "" : "sev-warn"];
      case "log":
        return ["print", "", p.message, null, ""];
      case "answer":
        return ["answer", p.question + " answered " + (p.correct ? "right" : "wrong") + " (try " + p.attempt +
          "): ", p.answer, null, p.correct ? "" : "bad"];
      case "finding":
        return ["finding", p.severity + " " + p.subject + " \u2014 " + p.summary, "", null,
          p.severity === "crit" ? "sev-crit" : p.severity === "warn" ? "sev-warn" : ""];
      case "drill":
        return [kind, "drill " + p.result + " of " + p.dump + ": " + (p.mismatches || []).join("; "),
          "RPO " + or(p.rpo_secs, "?") + " s, RTO " + p.rto_ms + " ms, sha256 " + or(p.sha256, ""), null,
          p.result === "pass" ? "" : "bad"];
      case "run-end":
        return [kind, p.status + ", exit " + p.exit_code, p.error ? ": " + p.error : "", p.duration_ms,
          p.exit_code === 0 ? "" : "bad"];
      case "interrupted":
        return [kind, "interrupted: " + p.reason, "", null, "bad"];
    }
    return null;
  }

  // Microseconds since the epoch of a stored time (RFC 3339, UTC, microseconds).
  function micros(t) {
    var m = /^(.{19})(?:\.(\d{1,6}))?Z$/.exec(t);
    if (!m) return NaN;
    return Date.parse(m[1] + "Z") * 1000 + parseInt(((m[2] || "") + "000000").slice(0, 6), 10);
  }

  // Longest excerpt of a value shown before it folds into a <details> (timeline.rs EXCERPT).
  var EXCERPT = 160;

  // One row's parts: {kind, cls, at, step, label, lead, excerpt, value, took}.
  function row(e, started) {
    var d = null;
    try {
      d = describe(e.kind, JSON.parse(e.payload_text));
    } catch (err) {
      d = null;
    }
    if (!d) d = [e.kind, "unreadable payload: ", e.payload_text, null, "bad"];
    var value = shown(d[2]);
    var chars = Array.from(value);
    var excerpt = "";
    if (chars.length > EXCERPT || value.indexOf("\n") >= 0) {
      excerpt = chars.slice(0, EXCERPT).join("").replace(/\n/g, " ") + "\u2026";
    }
    var at = "";
    var us = micros(e.time) - started;
    if (us === us) at = "+" + (Math.trunc(us / 1000) / 1000).toFixed(3) + "s";
    return {
      kind: e.kind, cls: d[4], at: at, step: shown(e.step), label: shown(d[0]), lead: shown(d[1]),
      excerpt: excerpt, value: value,
      took: d[3] === null || d[3] === undefined ? "" : d[3] + " ms"
    };
  }
