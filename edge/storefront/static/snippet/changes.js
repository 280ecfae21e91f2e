// kx-edge storefront snippet, part "changes": what a decided variation does to the page (css,
// dom, redirect), applied to the elements present now and to those added later (a
// MutationObserver, bounded per element), and undone when a later answer decides otherwise.
// Elements that could run what they are given (script, style, iframe, ...) are never touched.
const SKIP = /^(script|style|link|meta|base|iframe|frame|object|embed|noscript|template)$/;
// How often one change is re-applied to one element that the page keeps changing back.
const MAX_TRIES = 5;
// experience id -> {j: what applied, c: dom changes, u: undo steps, s: <style>}
const active = {};
let watcher = null;

const esc = (s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
// The pages rule of changes.py: "*" matches any run of characters, a trailing slash is not
// significant, no pages means every page.
const onPage = (pages) =>
  !(pages && pages.length) ||
  pages.some((p) => new RegExp("^" + String(p).replace(/\/+$/, "").split("*").map(esc).join(".*") + "/?$").test(location.pathname));
const classes = (v) => String(v).split(/\s+/).filter(Boolean);

// Split URL tests: the target keeps this page's query and fragment; never the page itself.
const redirect = (to) => {
  const u = new URL(to, location.href);
  const q = location.search.slice(1);
  if (q) u.search = (u.search ? u.search.slice(1) + "&" : "") + q;
  if (!u.hash) u.hash = location.hash;
  if (u.origin + u.pathname === location.origin + location.pathname) return false;
  leaving = true;
  location.replace(u.href);
  return true;
};

// action -> [whether the element already shows it, apply it (returning how to undo it)]
const ACTIONS = {
  set_text: [
    (e, c) => e.textContent === c.value,
    (e, c) => {
      const kids = [...e.childNodes];
      e.textContent = c.value;
      return () => e.replaceChildren(...kids);
    },
  ],
  set_html: [
    (e, c) => e.innerHTML === c.h,
    (e, c) => {
      const kids = [...e.childNodes];
      e.innerHTML = c.value;
      c.h = e.innerHTML;
      return () => e.replaceChildren(...kids);
    },
  ],
  set_attribute: [
    (e, c) => e.getAttribute(c.attribute) === c.value,
    (e, c) => {
      const old = e.getAttribute(c.attribute);
      e.setAttribute(c.attribute, c.value);
      return () => (old === null ? e.removeAttribute(c.attribute) : e.setAttribute(c.attribute, old));
    },
  ],
  add_class: [(e, c) => classes(c.value).every((x) => e.classList.contains(x)), (e, c) => toggle(e, c, true)],
  remove_class: [(e, c) => !classes(c.value).some((x) => e.classList.contains(x)), (e, c) => toggle(e, c, false)],
  hide: [
    (e) => e.style.getPropertyValue("display") === "none",
    (e) => {
      const s = e.style;
      const old = s.getPropertyValue("display");
      const prio = s.getPropertyPriority("display");
      s.setProperty("display", "none", "important");
      return () => s.setProperty("display", old, prio);
    },
  ],
  insert_before: [(e, c) => !!e.previousSibling && e.previousSibling.kx === c, (e, c) => insert(e, c, "beforebegin")],
  insert_after: [(e, c) => !!e.nextSibling && e.nextSibling.kx === c, (e, c) => insert(e, c, "afterend")],
};
const toggle = (e, c, on) => {
  const xs = classes(c.value).filter((x) => e.classList.contains(x) !== on);
  xs.forEach((x) => e.classList.toggle(x, on));
  return () => xs.forEach((x) => e.classList.toggle(x, !on));
};
// The markup goes in a box that takes no layout of its own, so it can be found and removed.
const insert = (e, c, where) => {
  const box = d.createElement("div");
  box.style.display = "contents";
  box.setAttribute("data-kx-insert", "");
  box.kx = c;
  box.innerHTML = c.value;
  e.insertAdjacentElement(where, box);
  return () => box.remove();
};

// Bring every element matching an active change up to date. A selector this browser rejects,
// or a change that throws, is set aside: the other changes still apply.
const sweep = () => {
  let any = false;
  for (const k of Object.keys(active)) {
    const rec = active[k];
    for (const c of rec.c) {
      any = true;
      const how = ACTIONS[c.action];
      if (c.bad || !how) continue;
      try {
        for (const e of d.querySelectorAll(c.selector)) {
          const n = c.n.get(e) || 0;
          if (SKIP.test(e.localName) || n >= MAX_TRIES || how[0](e, c)) continue;
          c.n.set(e, n + 1);
          const undo = how[1](e, c);
          // Re-applied after the page changed it back: the first undo still restores the original.
          if (!n) rec.u.push(undo);
        }
      } catch (x) {
        c.bad = true;
      }
    }
  }
  if (any && !watcher && w.MutationObserver) {
    watcher = new MutationObserver(sweep);
    watcher.observe(d.documentElement, { childList: true, subtree: true, characterData: true });
  }
};

const undo = (k) => {
  const rec = active[k];
  delete active[k];
  for (const u of rec.u.reverse()) {
    try {
      u();
    } catch (x) {
      // the element went away: nothing to restore
    }
  }
  if (rec.s) rec.s.remove();
};

const start = (k, ch, j) => {
  const rec = (active[k] = { j: j, c: [], u: [], s: null });
  if (!ch || !onPage(ch.pages) || (ch.redirect && redirect(ch.redirect))) return;
  if (ch.css) {
    rec.s = d.createElement("style");
    rec.s.textContent = ch.css;
    (d.head || d.documentElement).appendChild(rec.s);
  }
  for (const c of ch.dom || []) rec.c.push(Object.assign({ n: new WeakMap() }, c));
};

// Decided experiences show their variation's changes; pending ones keep what they have.
hooks.apply.push((exps) => {
  const seen = {};
  for (const e of exps) {
    if (!e || typeof e.id !== "string") continue;
    seen[e.id] = 1;
    if (e.status !== "decided" || leaving) continue;
    const ch = e.changes || null;
    const j = JSON.stringify([e.variation_id, ch, ch && ch.pages ? location.pathname : 0]);
    if (active[e.id] && active[e.id].j === j) continue;
    if (active[e.id]) undo(e.id);
    start(e.id, ch, j);
  }
  for (const k of Object.keys(active)) if (!seen[k]) undo(k);
  sweep();
});
