// kx-edge storefront snippet, part "start" (last): read the script tag and make the first call.
try {
  el = d.currentScript || d.querySelector('script[src*="/v1/snippet.js"]');
  if (el.hasAttribute("data-anti-flicker")) {
    veil = d.createElement("style");
    veil.textContent = "html{opacity:0!important}";
    (d.head || d.documentElement).appendChild(veil);
    setTimeout(reveal, num(el.getAttribute("data-anti-flicker"), 1500, 0, 10000));
  }
  const src = new URL(el.src, location.href);
  site = src.searchParams.get("site") || "";
  base = (el.getAttribute("data-api") || src.origin).replace(/\/+$/, "");
  timeoutMs = num(el.getAttribute("data-timeout"), 2500, 100, 30000);
  api.visitorId = readCookie("kx_vid");
  sticky = readCookie("kx_st");
  if (!site) throw new Error("kx-edge: no site key");
  api.ready = run();
} catch (e) {
  reveal();
  api.ready = Promise.resolve(api.decisions);
  try {
    emit(true, true);
  } catch (x) {
    // nothing left to do: the page shows its control
  }
}
