// kx-edge storefront snippet, part "diagnostics": when kx-edge refuses this page (for example
// origin_not_allowed: the page's origin is not in the site's allowed_origins), say why in the
// console once, instead of leaving a developer with DevTools' bare "blocked by CORS policy".
// The other parts' calls find this fetch first, since all parts share one function scope
// (snippet.py): nothing global is replaced. kx-edge makes such refusals readable to the page.
let warned = false;
const fetch = async (url, init) => {
  const res = await w.fetch(url, init);
  if (!res.ok && res.status < 500 && !warned) {
    warned = true;
    res.clone().json().then((b) => {
      const e = b && b.error;
      if (e && e.code) console.warn("kx-edge: " + e.code + ": " + e.message + " (page origin " + location.origin + ", site " + site + ")");
    }).catch(() => {});
  }
  return res;
};
