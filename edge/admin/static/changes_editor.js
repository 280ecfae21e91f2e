// What each variation does on the store: changes by CSS selector (text, HTML, attributes,
// classes, hide, insert), a stylesheet, a redirect with the pages it applies on, and a payload.
// The form keeps text as typed; `toApi` builds the `changes` object the configuration API checks
// (it names any problem's path, shown next to the field). Everything lands as text: no innerHTML.
import { h } from "./dom.js";

export const ACTIONS = [
  ["set_text", "Set text"],
  ["set_html", "Set HTML"],
  ["set_attribute", "Set attribute"],
  ["add_class", "Add class"],
  ["remove_class", "Remove class"],
  ["hide", "Hide"],
  ["insert_before", "Insert HTML before"],
  ["insert_after", "Insert HTML after"],
];
const VALUE_LABEL = {
  set_text: "Text", set_html: "HTML", set_attribute: "Value", add_class: "Class names",
  remove_class: "Class names", insert_before: "HTML", insert_after: "HTML",
};

// The form's state from the API's `changes` (or nothing).
export function fromApi(changes) {
  const c = changes || {};
  return {
    css: c.css || "",
    dom: (c.dom || []).map((d) => ({ selector: d.selector, action: d.action, value: d.value ?? "", attribute: d.attribute ?? "" })),
    redirect: c.redirect || "",
    pages: (c.pages || []).join("\n"),
    payload: "payload" in c ? JSON.stringify(c.payload, null, 2) : "",
  };
}

// The API's `changes` from the form (undefined when empty); problems found here get their path.
export function toApi(form, path, problems) {
  const out = {};
  if (form.css.trim()) out.css = form.css;
  const dom = form.dom
    .filter((d) => d.selector.trim() || d.value)
    .map((d) => {
      const item = { selector: d.selector.trim(), action: d.action };
      if (d.action !== "hide") item.value = d.value;
      if (d.action === "set_attribute") item.attribute = d.attribute.trim();
      return item;
    });
  if (dom.length) out.dom = dom;
  if (form.redirect.trim()) out.redirect = form.redirect.trim();
  const pages = form.pages.split(/[\n,]/).map((p) => p.trim()).filter(Boolean);
  if (pages.length) out.pages = pages;
  if (form.payload.trim()) {
    try {
      out.payload = JSON.parse(form.payload);
    } catch (err) {
      problems.push({ path: `${path}.payload`, message: "must be JSON (for example {\"discount\": 10} or \"text\" in quotes)" });
    }
  }
  return Object.keys(out).length ? out : undefined;
}

function textField(id, label, value, path, onInput, { multiline = false, help = "", mono = false, rows = 3 } = {}) {
  const attrs = {
    id, "data-path": path, class: mono ? "mono" : null, spellcheck: "false", autocomplete: "off",
    "aria-describedby": help ? `${id}-help` : null,
    oninput: (e) => onInput(e.currentTarget.value),
  };
  const input = multiline ? h("textarea", { ...attrs, rows }) : h("input", attrs);
  input.value = value;
  return h("div", { class: "field" },
    h("label", { for: id, text: label }),
    input,
    help ? h("p", { class: "help", id: `${id}-help`, text: help }) : null,
  );
}

function domRow(form, d, j, base, path, rerender, touched, disabled) {
  const id = `${base}-dom-${j}`;
  const at = `${path}.dom[${j}]`;
  const set = (key) => (value) => { d[key] = value; touched(); };
  const action = h("select", {
    id: `${id}-action`, "data-path": `${at}.action`, disabled,
    onchange: (e) => { d.action = e.currentTarget.value; touched(); rerender(); },
  }, ACTIONS.map(([value, text]) => h("option", { value, text, selected: d.action === value })));
  return h("li", { class: "dom-change", "data-path": at },
    h("div", { class: "row" },
      h("div", { class: "field grow" }, h("label", { for: `${id}-selector`, text: `Change ${j + 1}: elements (CSS selector)` }),
        Object.assign(h("input", { id: `${id}-selector`, "data-path": `${at}.selector`, class: "mono", spellcheck: "false",
          autocomplete: "off", placeholder: ".hero h1", disabled, oninput: (e) => set("selector")(e.currentTarget.value) }), { value: d.selector })),
      h("div", { class: "field" }, h("label", { for: `${id}-action`, text: "Action" }), action),
      d.action === "set_attribute"
        ? h("div", { class: "field" }, h("label", { for: `${id}-attribute`, text: "Attribute" }),
          Object.assign(h("input", { id: `${id}-attribute`, "data-path": `${at}.attribute`, class: "mono narrow-wide",
            placeholder: "href", disabled, oninput: (e) => set("attribute")(e.currentTarget.value) }), { value: d.attribute }))
        : null,
      h("button", { type: "button", class: "remove small", disabled, "aria-label": `Remove change ${j + 1}`,
        onclick: () => { form.dom.splice(j, 1); touched(); rerender(); } }, "Remove"),
    ),
    d.action === "hide" ? null : textField(`${id}-value`, VALUE_LABEL[d.action] || "Value", d.value, `${at}.value`, set("value"),
      { multiline: d.action !== "add_class" && d.action !== "remove_class" && d.action !== "set_attribute", mono: d.action !== "set_text", rows: 2 }),
  );
}

// One variation's changes form, rendered into `root` (a <section>); `v.form` holds its state.
export function renderChanges(root, v, i, { touched, disabled }) {
  const base = `variation-${i}-changes`;
  const path = `variations[${i}].changes`;
  const form = v.form;
  const rerender = () => renderChanges(root, v, i, { touched, disabled });
  const list = h("ol", { class: "dom-changes", "data-path": `${path}.dom` },
    form.dom.map((d, j) => domRow(form, d, j, base, path, rerender, touched, disabled)));
  const count = form.dom.length + (form.css.trim() ? 1 : 0) + (form.redirect.trim() ? 1 : 0) + (form.payload.trim() ? 1 : 0);
  root.replaceChildren(
    h("details", { class: "changes", open: v.open ? true : null, "data-variation": i,
      ontoggle: (e) => { v.open = e.currentTarget.open; } },
    h("summary", {}, h("strong", { text: `${v.name || v.id}` }), " ",
      h("span", { class: "muted", text: v.is_control ? "(control) " : "" }),
      h("span", { class: "muted small", text: count ? `${count} change${count === 1 ? "" : "s"}` : "no changes" })),
    h("p", { class: "help", text: "Changes apply to the elements matching the selector, also when the page adds them later. HTML is cleaned when saved: scripts, event handlers and javascript: links are refused." }),
    list,
    h("button", { type: "button", id: `${base}-add`, disabled,
      onclick: () => { form.dom.push({ selector: "", action: "set_text", value: "", attribute: "" }); touched(); rerender();
        document.getElementById(`${base}-dom-${form.dom.length - 1}-selector`).focus(); } }, "Add a change"),
    textField(`${base}-css`, "CSS", form.css, `${path}.css`, (x) => { form.css = x; touched(); },
      { multiline: true, mono: true, help: "Inserted while this variation applies. No @import; url() to https or relative addresses." }),
    h("div", { class: "grid two" },
      textField(`${base}-redirect`, "Redirect to (split URL test)", form.redirect, `${path}.redirect`, (x) => { form.redirect = x; touched(); },
        { help: "A /path on your shop or a full https:// URL. The visitor's query string is kept." }),
      textField(`${base}-pages`, "Only on pages", form.pages, `${path}.pages`, (x) => { form.pages = x; touched(); },
        { multiline: true, mono: true, rows: 2, help: "One path per line, * matches anything (/products/*). Empty: every page. A redirect needs the pages it sends visitors from." }),
    ),
    textField(`${base}-payload`, "Payload (JSON, for your theme's code)", form.payload, `${path}.payload`, (x) => { form.payload = x; touched(); },
      { multiline: true, mono: true, rows: 2, help: "Read in the store with kxEdge.get(\"<experience id>\").payload." }),
    ),
  );
  for (const field of root.querySelectorAll("input, select, textarea, button")) field.disabled = disabled;
}
