// kx-edge storefront snippet, part "track": window.kxEdge.track(event, {order_id, value,
// currency}) sends a conversion to /v1/track with the visitor's sticky token (which carries
// their assignments: the server attributes it). On a Shopify store the visitor id and token are
// also written into the cart's attributes, so the order webhook can attribute the order.
api.track = (event, props) => {
  const p = props || {};
  const body = { visitor_id: api.visitorId, sticky: sticky || undefined, event: String(event) };
  for (const k of ["order_id", "value", "currency"]) if (p[k] != null) body[k] = k === "order_id" ? String(p[k]) : p[k];
  return fetch(base + "/v1/track?site=" + encodeURIComponent(site), {
    method: "POST",
    headers: { "Content-Type": "text/plain;charset=UTF-8" },
    body: JSON.stringify(body),
    credentials: "omit",
    keepalive: true,
  })
    .then((res) => (res.ok ? res.json() : null))
    .catch(() => null);
};
let carted = "";
hooks.answered.push(() => {
  const cart = api.visitorId + "." + sticky;
  if (!w.Shopify || !api.visitorId || !sticky || carted === cart) return;
  carted = cart;
  fetch("/cart/update.js", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ attributes: { _kx_visitor_id: api.visitorId, _kx_sticky: sticky } }),
    credentials: "same-origin",
  }).catch(() => {});
});
