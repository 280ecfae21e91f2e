// kx-edge storefront snippet, part "core": settings, identity (_kx), the assign call, the
// decisions on <html>, the answer kept for the next page view, hiding (veils), the public
// window.kxEdge API. Parts share one function scope (snippet.py wraps them and minifies the whole).
const w = window;
const d = document;
if (w.kxEdge && w.kxEdge.refresh) return;
const YEAR = 31536000;
const MAX_RETRIES = 5;
// A kept answer older than this is not applied before the network answers (7 days, in ms).
const KEEP_MS = 6048e5;
// Klaviyo's exchange id: base64-like text, a dot, a short suffix (docs/KLAVIYO.md).
const KX_RE = /^[\w+\/=.-]{1,500}$/;
let el = null;
let site = "";
let base = "";
let timeoutMs = 2500;
let sticky = null;
let gen = 0;
let timer = 0;
// Set when the page is navigating away (a redirect): nothing is revealed any more.
let leaving = false;
// Set by parts that must not trust the kept answer (a forced preview).
let fresh = false;
// key -> <style> hiding what that key's changes touch ("*": the whole page)
const veils = {};
// experience key -> {a: attribute, v: value, c: class} currently on <html>
const applied = {};
// What the other parts add: fields of the assign body, steps once settings are read, steps that
// may rewrite an answer before it applies (awaited), what applies decisions, steps after each answer.
const hooks = { body: [], init: [], merge: [], apply: [], answered: [] };

const api = {
  decisions: [],
  visitorId: null,
  identity: null,
  ready: null,
  get: (id) => api.decisions.find((e) => e && e.id === id) || null,
  refresh: () => run(),
};
w.kxEdge = api;

const num = (v, def, lo, hi) => {
  const n = parseInt(v, 10);
  return isNaN(n) ? def : Math.min(hi, Math.max(lo, n));
};
const readCookie = (name) => {
  const m = d.cookie.match(new RegExp("(?:^|;\\s*)" + name + "=([^;]*)"));
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch (e) {
    return m[1];
  }
};
// age: seconds, or 0 for a session cookie (gone when the browser closes)
const writeCookie = (name, value, age) => {
  if (readCookie(name) === value) return;
  const secure = location.protocol === "https:" ? "; Secure" : "";
  const life = age === 0 ? "" : "; max-age=" + (age || YEAR);
  d.cookie = name + "=" + encodeURIComponent(value) + "; path=/" + life + "; SameSite=Lax" + secure;
};
const validKx = (v) => (typeof v === "string" && KX_RE.test(v) ? v : null);
// URLSearchParams would turn a literal "+" into a space: decode the raw query ourselves.
const param = (name) => {
  for (const part of location.search.slice(1).split("&")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i) === name) {
      try {
        return decodeURIComponent(part.slice(i + 1));
      } catch (e) {
        return part.slice(i + 1);
      }
    }
  }
  return null;
};
// klaviyo.js keeps {"$exchange_id": ...} as base64 JSON in __kla_id (padding and alphabet vary).
const klaKx = () => {
  try {
    let b = (readCookie("__kla_id") || "").replace(/-/g, "+").replace(/_/g, "/").replace(/[^A-Za-z0-9+\/]/g, "");
    b += "===".slice((b.length + 3) % 4);
    const o = JSON.parse(atob(b));
    return o && o.$exchange_id;
  } catch (e) {
    return null;
  }
};
const findKx = () => {
  const kx = validKx(param("_kx")) || validKx(klaKx()) || validKx(readCookie("kx_kx"));
  if (kx) writeCookie("kx_kx", kx);
  return kx;
};

// Hide what a key's changes touch until they apply: one rule per selector, so a selector this
// browser rejects drops only its own rule.
const veil = (k, sels) => {
  let s = veils[k];
  if (!s) {
    s = veils[k] = d.createElement("style");
    (d.head || d.documentElement).appendChild(s);
  }
  for (const sel of sels) {
    const rule = sel + "{opacity:0!important}";
    if (s.textContent.indexOf(rule) < 0) s.textContent += rule;
  }
};
const unveil = (k) => {
  if (veils[k] && !leaving) {
    veils[k].remove();
    delete veils[k];
  }
};
// Reveal everything, except the keys in `keep` (experiences still pending).
const reveal = (keep) => {
  for (const k of Object.keys(veils)) if (!keep || !keep[k]) unveil(k);
};

const san = (s) => String(s).toLowerCase().replace(/[^a-z0-9_-]/g, "-");
const put = (k, next) => {
  const root = d.documentElement;
  const prev = applied[k];
  if (prev) {
    root.removeAttribute(prev.a);
    root.classList.remove(prev.c);
    delete applied[k];
  }
  if (next) {
    root.setAttribute(next.a, next.v);
    root.classList.add(next.c);
    applied[k] = next;
  }
};
// Decided experiences get their variation; pending ones keep what they have (the control).
const apply = (exps) => {
  const seen = {};
  for (const e of exps) {
    if (!e || typeof e.id !== "string" || !e.id) continue;
    const k = san(e.id);
    const c = e.changes;
    e.payload = c && "payload" in c ? c.payload : null;
    seen[k] = 1;
    if (e.status !== "decided") continue;
    const v = e.variation_id == null ? null : String(e.variation_id);
    put(k, v === null ? null : { a: "data-kx-" + k, v: v, c: "kx-" + k + "-" + san(v) });
  }
  for (const k of Object.keys(applied)) if (!seen[k]) put(k, null);
  for (const h of hooks.apply) h(exps);
};
const emit = (final, error) => {
  const detail = { decisions: api.decisions, identity: api.identity, visitor_id: api.visitorId, final: final, error: error };
  d.dispatchEvent(new CustomEvent("kxedge:decided", { detail: detail }));
};

// The last answer, kept in first-party storage so the next page view applies it at first paint.
const keepKey = () => "kx_ans_" + site;
const keep = (exps) => {
  try {
    localStorage.setItem(keepKey(), JSON.stringify({ t: Date.now(), v: api.visitorId, e: exps }));
  } catch (e) {
    // storage full or blocked: the next page view waits for the network
  }
};
const kept = () => {
  try {
    const s = JSON.parse(localStorage.getItem(keepKey()));
    if (!fresh && s && s.v === api.visitorId && Date.now() - s.t < KEEP_MS && Array.isArray(s.e)) return s.e;
  } catch (e) {
    // unreadable: ignore it
  }
  return null;
};

// A text/plain body keeps this a CORS simple request: no preflight, one round trip.
const call = async (kx) => {
  const ctl = new AbortController();
  const t = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const body = { visitor_id: api.visitorId || undefined, kx: kx || undefined, sticky: sticky || undefined, url: location.href };
    for (const h of hooks.body) h(body);
    const res = await fetch(base + "/v1/assign?site=" + encodeURIComponent(site), {
      method: "POST",
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
      body: JSON.stringify(body),
      credentials: "omit",
      signal: ctl.signal,
    });
    if (!res.ok) return null;
    const r = await res.json();
    return r && Array.isArray(r.experiences) ? r : null;
  } finally {
    clearTimeout(t);
  }
};

const run = () => {
  const g = ++gen;
  clearTimeout(timer);
  let tries = 0;
  let last = "";
  return new Promise((done) => {
    const step = async () => {
      try {
        let r = null;
        try {
          r = await call(findKx());
          for (const h of hooks.merge) if (r) await h(r);
        } catch (e) {
          r = null;
        }
        if (g !== gen) return done(api.decisions);
        // Fail open: show what is there (the control on a first visit), stop retrying.
        if (!r) {
          reveal();
          done(api.decisions);
          return emit(true, true);
        }
        if (typeof r.visitor_id === "string" && r.visitor_id && r.visitor_id.length < 256) {
          api.visitorId = r.visitor_id;
          writeCookie("kx_vid", r.visitor_id);
        }
        if (typeof r.sticky === "string" && r.sticky) {
          sticky = r.sticky;
          if (sticky.length < 3800) writeCookie("kx_st", sticky);
        }
        api.identity = typeof r.identity === "string" ? r.identity : null;
        api.decisions = r.experiences;
        const waiting = {};
        for (const e of r.experiences) if (e && e.status === "pending") waiting[e.id] = 1;
        const pending = r.identity === "pending" || Object.keys(waiting).length > 0;
        const final = !pending || tries >= MAX_RETRIES;
        apply(r.experiences);
        reveal(final ? null : waiting);
        keep(r.experiences);
        for (const h of hooks.answered) h(r);
        const sig = JSON.stringify([api.identity, r.experiences.map((e) => e && [e.id, e.status, e.variation_id])]);
        done(api.decisions);
        if (sig !== last || final) emit(final, false);
        last = sig;
        if (!final) {
          timer = setTimeout(() => {
            tries++;
            step();
          }, num(r.retry_after_ms, 800, 200, 5000));
        }
      } catch (e) {
        reveal();
        done(api.decisions);
      }
    };
    step();
  });
};
