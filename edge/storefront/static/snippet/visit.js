// kx-edge storefront snippet, part "visit": what the site's live experiences read of the visit.
// `needs` (embedded per site by snippet.py) says what to collect; a site that targets only
// segments embeds {} and nothing more is read or sent. The session (sessionStorage, as peers
// do): its landing page, referrer, UTMs (a page with UTMs replaces them), and new/returning
// (returning: the visitor id cookie was there when the session began). Link parameters stay
// in localStorage for as long as the site asks for them.
const VISIT_KEY = "kx_vs_";
const UTMS = ["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"];
const cut = (v, n) => (typeof v === "string" && v.length <= n ? v : undefined);
const store = (kind, key, value) => {
  try {
    if (value === undefined) return JSON.parse(w[kind].getItem(key));
    w[kind].setItem(key, JSON.stringify(value));
  } catch (e) {
    // storage blocked: this page view still sends what it sees
  }
  return null;
};
hooks.body.push((body) => {
  const n = needs;
  if (!(n.landing_url || n.referrer || n.utm || n.visitor || n.cookies || n.links)) return;
  const key = VISIT_KEY + site;
  let s = store("sessionStorage", key);
  if (!s || typeof s !== "object") {
    s = { l: cut(location.href, 2048), r: cut(d.referrer, 2048) || "", v: api.visitorId ? "returning" : "new" };
  }
  const u = {};
  for (const k of UTMS) {
    const v = cut(param(k), 512);
    if (v) u[k] = v;
  }
  if (Object.keys(u).length) s.u = u;
  store("sessionStorage", key, s);
  if (n.landing_url || n.referrer) body.landing_url = s.l;
  if (n.referrer) body.referrer = s.r;
  if (n.utm && s.u) body.utm = s.u;
  if (n.visitor) body.visitor = s.v;
  if (n.cookies) {
    body.cookies = {};
    for (const c of n.cookies) {
      const v = cut(readCookie(c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")), 1024);
      if (v !== undefined) body.cookies[c] = v;
    }
  }
  if (n.links) {
    const lk = "kx_links_" + site;
    const kept = store("localStorage", lk) || {};
    const links = {};
    for (const p of n.links) {
      const v = cut(param(p), 256) || cut(kept[p], 256);
      if (v) links[p] = v;
    }
    store("localStorage", lk, links);
    body.links = links;
  }
});
