// kx-edge storefront snippet, part "preview": ?kx_preview=<experience>:<variation>~<expiry>~<signature>
// forces that variation in this browser only (a session cookie), with a badge that ends it.
// The server checks the signature (GET /v1/preview), so visitors cannot pick a variation.
const PREVIEW = "kx_pv";

const badge = (f) => {
  const b = d.createElement("a");
  b.href = "#";
  b.setAttribute("data-kx-preview", "");
  b.style.cssText = "position:fixed;z-index:2147483647;left:9px;bottom:9px;padding:6px 9px;background:#1d2330;color:#fff;font:13px sans-serif";
  b.textContent = (f ? "Preview " + f.id + ": " + f.variation_id : "Preview link not valid") + " \u00b7 Exit preview";
  b.onclick = (ev) => {
    ev.preventDefault();
    d.cookie = PREVIEW + "=; path=/; max-age=0";
    const u = new URL(location.href);
    u.searchParams.delete("kx_preview");
    location.replace(u.href);
  };
  const add = () => d.body.appendChild(b);
  if (d.body) add();
  else d.addEventListener("DOMContentLoaded", add);
};

hooks.init.push(() => {
  const link = param("kx_preview");
  if (link) writeCookie(PREVIEW, link, 0);
  const p = link || readCookie(PREVIEW);
  if (!p) return;
  fresh = true;
  const forced = fetch(base + "/v1/preview?site=" + encodeURIComponent(site) + "&p=" + encodeURIComponent(p), { credentials: "omit" })
    .then((res) => res.json())
    .then((j) => j.experience || null)
    .catch(() => null);
  let shown = 0;
  hooks.merge.push(async (r) => {
    const f = await forced;
    if (f) r.experiences = r.experiences.filter((e) => !e || e.id !== f.id).concat([f]);
    if (!shown++) badge(f);
  });
});
