// Calls to the configuration API with the page's session: the cookie goes along on its own (it is
// HttpOnly), and every change carries the session's CSRF token from the page's meta tag.

const SAFE = new Set(["GET", "HEAD"]);

export function siteId() {
  return document.querySelector('meta[name="kx-site-id"]').content;
}

export function sitePath(rest) {
  return `/v1/sites/${encodeURIComponent(siteId())}${rest}`;
}

export async function api(method, path, { body, ifMatch } = {}) {
  const headers = { Accept: "application/json" };
  if (!SAFE.has(method)) headers["X-CSRF-Token"] = document.querySelector('meta[name="csrf-token"]').content;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (ifMatch !== undefined) headers["If-Match"] = ifMatch;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (err) {
    return { ok: false, status: 0, data: null, etag: null, error: { code: "network", message: "kx-edge did not answer. Check your connection and try again." } };
  }
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
  }
  const error = response.ok ? null : (data && data.error) || { code: "http_" + response.status, message: `kx-edge answered ${response.status}.` };
  if (response.status === 401) error.message = "Your session has ended. Sign in again (reload the page) and repeat your change.";
  return { ok: response.ok, status: response.status, data, etag: response.headers.get("ETag"), error };
}
