// kx-edge storefront snippet, part "start" (last): read the script tag, apply the kept answer,
// hide what live experiences touch until they are decided, make the first call.
// `plan` (embedded per site by snippet.py): experience id -> [[pages, selectors, redirects], ...]
try {
  el = d.currentScript || d.querySelector('script[src*="/v1/snippet.js"]');
  const src = new URL(el.src, location.href);
  site = src.searchParams.get("site") || "";
  base = (el.getAttribute("data-api") || src.origin).replace(/\/+$/, "");
  timeoutMs = num(el.getAttribute("data-timeout"), 2500, 100, 30000);
  api.visitorId = readCookie("kx_vid");
  sticky = readCookie("kx_st");
  if (!site) throw new Error("kx-edge: no site key");
  for (const h of hooks.init) h();
  if (el.hasAttribute("data-anti-flicker")) {
    veil("*", ["html"]);
    setTimeout(reveal, num(el.getAttribute("data-anti-flicker"), 1500, 0, 10000));
  }
  // A returning visitor: the previous answer applies now, before the network answers.
  const before = kept();
  const known = {};
  if (before) {
    for (const e of before) if (e && e.status === "decided") known[e.id] = 1;
    api.decisions = before;
    apply(before);
  }
  // What is not known yet stays hidden (element by element; the whole page only where a
  // redirect may send the visitor elsewhere) until decided, or until the hard timeout.
  for (const k of Object.keys(plan)) {
    if (known[k]) continue;
    for (const v of plan[k]) {
      if (!onPage(v[0])) continue;
      veil(k, v[1]);
      if (v[2]) veil("*", ["html"]);
    }
  }
  setTimeout(reveal, num(el.getAttribute("data-hide-timeout"), 2000, 0, 10000));
  // Redirected by the kept answer: the exposure was counted when the visitor entered, and the
  // target page asks again, so nothing is sent from a page that is leaving.
  api.ready = leaving ? Promise.resolve(api.decisions) : run();
} catch (e) {
  reveal();
  api.ready = Promise.resolve(api.decisions);
  try {
    emit(true, true);
  } catch (x) {
    // nothing left to do: the page shows its control
  }
}
