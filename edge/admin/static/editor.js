// The experience editor: basics, variations and what each does on the store, targeting (Custom
// or Advanced), save with If-Match, preview on the store, the lifecycle buttons (Start after a
// confirmation), Duplicate and Delete. Everything goes through the configuration API.
import { api, sitePath } from "./api.js";
import { RuleBuilder } from "./builder.js";
import { fromApi, renderChanges, toApi } from "./changes_editor.js";
import { boot, h, say } from "./dom.js";
import { StorePreview } from "./store_preview.js";

const $ = (id) => document.getElementById(id);
const config = boot();
const form = $("editor");
const message = $("save-message");
const ACTIONS = [
  ["random", "Enter the test (variation by weight)"],
  ["assign", "Assign a variation"],
  ["exclude", "Exclude (never enters)"],
  ["defer", "Decide later (check again next visit)"],
];
const STATUS_TEXT = {
  draft: "Draft: not running. Start it to show it to visitors.",
  live: "Live: visitors see it now.",
  paused: "Paused: nobody sees it now; visitors keep their variation for when it resumes.",
  ended: "Ended: final. Nobody sees it, and it can no longer change.",
};

const state = {
  id: config.experience_id || null,
  type: "test",
  status: "draft",
  seed: null,
  etag: null,
  mode: "custom",
  variations: [
    { id: "control", name: "Control", weight: 1, is_control: true, saved: false, form: fromApi(null) },
    { id: "variant", name: "Variant", weight: 1, is_control: false, saved: false, form: fromApi(null), open: true },
  ],
  audiences: [],
  dirty: false,
  segments: null,
};

const touched = () => {
  state.dirty = true;
  updateWarning();
};
const custom = new RuleBuilder({ root: $("custom-builder"), pathPrefix: "targeting.rules", idPrefix: "custom", onChange: touched });

// Variations

function variationRow(v, i) {
  const base = `variation-${i}`;
  const label = (text) => h("label", { for: `${base}-${text.toLowerCase()}`, class: "visually-hidden", text: `${text} of variation ${i + 1}` });
  const name = h("input", {
    id: `${base}-name`, "data-path": `variations[${i}].name`, maxlength: 200, required: true,
    oninput: (e) => {
      v.name = e.currentTarget.value;
      if (!v.saved && !v.idTouched) {
        v.id = slug(v.name) || `variation-${i + 1}`;
        $(`${base}-id`).value = v.id;
      }
      refreshAssignOptions();
      renderAllChanges();
      touched();
    },
  });
  name.value = v.name;
  const id = h("input", {
    id: `${base}-id`, "data-path": `variations[${i}].id`, class: "mono", maxlength: 64, readonly: v.saved,
    "aria-describedby": v.saved ? "variation-id-help" : null,
    oninput: (e) => { v.id = e.currentTarget.value; v.idTouched = true; refreshAssignOptions(); touched(); },
  });
  id.value = v.id;
  const weight = h("input", {
    id: `${base}-weight`, "data-path": `variations[${i}].weight`, type: "number", min: "0", step: "any", class: "narrow",
    oninput: (e) => { v.weight = e.currentTarget.value; touched(); },
  });
  weight.value = String(v.weight);
  const control = h("input", {
    type: "radio", name: "control", id: `${base}-control`, checked: v.is_control, "data-path": `variations[${i}].is_control`,
    "aria-describedby": "control-help",
    onchange: () => { state.variations.forEach((other) => { other.is_control = other === v; }); renderAllChanges(); touched(); },
  });
  return h("tr", { "data-variation": i },
    h("td", {}, control, h("label", { for: `${base}-control`, class: "visually-hidden", text: `Variation ${i + 1} is the control` })),
    h("td", {}, label("Name"), name),
    h("td", {}, label("ID"), id),
    h("td", {}, label("Weight"), weight),
    h("td", {}, h("button", {
      type: "button", class: "remove", disabled: state.variations.length <= 2 || state.status === "ended",
      "aria-label": `Remove variation ${i + 1}`,
      onclick: () => {
        state.variations.splice(i, 1);
        if (!state.variations.some((x) => x.is_control)) state.variations[0].is_control = true;
        renderVariations();
        touched();
        $("add-variation").focus();
      },
    }, "Remove")),
  );
}

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64);
}

function renderVariations() {
  $("variation-rows").replaceChildren(...state.variations.map(variationRow));
  refreshAssignOptions();
  renderAllChanges();
}

function renderAllChanges() {
  const ended = state.status === "ended";
  $("variation-changes").replaceChildren(...state.variations.map((v, i) => {
    const section = h("section", { "aria-label": `Changes of variation ${i + 1}` });
    renderChanges(section, v, i, { touched, disabled: ended });
    return section;
  }));
}

const preview = new StorePreview({
  root: $("store-preview"), frame: $("preview-frame"), message: $("preview-message"),
  pageInput: $("preview-page"), links: $("preview-links"),
});
$("preview-refresh").addEventListener("click", () => preview.refresh(state.id));

$("add-variation").addEventListener("click", () => {
  const n = state.variations.length + 1;
  state.variations.push({ id: `variation-${n}`, name: `Variation ${n}`, weight: 1, is_control: false, saved: false, form: fromApi(null), open: true });
  renderVariations();
  touched();
  $(`variation-${n - 1}-name`).focus();
});

// Advanced audiences

function newAudience(data = {}) {
  const audience = { action: data.action || "random", variation_id: data.variation_id || "", node: null };
  audience.builder = new RuleBuilder({ root: h("div", { class: "builder" }), pathPrefix: "", idPrefix: "", onChange: touched });
  audience.builder.segments = state.segments;
  audience.builder.setRules(data.rules);
  return audience;
}

function renderAudiences() {
  const list = $("audiences");
  list.replaceChildren(...state.audiences.map((audience, i) => audienceNode(audience, i)));
  if (state.audiences.length === 0) list.append(h("li", { class: "muted empty-rules", text: "No audiences: nobody is assigned yet. Add one." }));
}

function audienceNode(audience, i) {
  const base = `audience-${i}`;
  audience.builder.pathPrefix = `targeting.audiences[${i}].rules`;
  audience.builder.idPrefix = base;
  audience.builder.disabled = state.status === "ended";
  audience.builder.render();
  const variation = h("select", {
    id: `${base}-variation`, "data-path": `targeting.audiences[${i}].variation_id`, class: "assign-variation",
    onchange: (e) => { audience.variation_id = e.currentTarget.value; touched(); },
  });
  const variationField = h("div", { class: "field", hidden: audience.action !== "assign" },
    h("label", { for: `${base}-variation`, text: "Variation" }), variation);
  const action = h("select", {
    id: `${base}-action`, "data-path": `targeting.audiences[${i}].action`,
    onchange: (e) => {
      audience.action = e.currentTarget.value;
      variationField.hidden = audience.action !== "assign";
      touched();
    },
  }, ACTIONS.map(([value, text]) => h("option", { value, text, selected: audience.action === value })));
  const move = (delta, text) => h("button", {
    type: "button", disabled: i + delta < 0 || i + delta >= state.audiences.length,
    "aria-label": `${text} audience ${i + 1}`,
    onclick: () => {
      const [moved] = state.audiences.splice(i, 1);
      state.audiences.splice(i + delta, 0, moved);
      renderAudiences();
      touched();
      $(`audience-${i + delta}-action`).focus();
    },
  }, text);
  const node = h("li", { class: "audience", "data-path": `targeting.audiences[${i}]`, "aria-labelledby": `${base}-h` },
    h("h3", { id: `${base}-h`, text: `Audience ${i + 1}` }),
    h("p", { class: "muted small", text: "Visitors matching these conditions:" }),
    audience.builder.root,
    h("div", { class: "row" },
      h("div", { class: "field" }, h("label", { for: `${base}-action`, text: "Action" }), action),
      variationField,
    ),
    h("div", { class: "row end" },
      move(-1, "Move up"),
      move(1, "Move down"),
      h("button", {
        type: "button", class: "remove", "aria-label": `Remove audience ${i + 1}`,
        onclick: () => { state.audiences.splice(i, 1); renderAudiences(); touched(); $("add-audience").focus(); },
      }, "Remove audience"),
    ),
  );
  audience.variationSelect = variation;
  fillVariationOptions(audience);
  return node;
}

function fillVariationOptions(audience) {
  const select = audience.variationSelect;
  if (!select) return;
  const options = [h("option", { value: "", text: "Choose a variation…", selected: !audience.variation_id })];
  for (const v of state.variations) options.push(h("option", { value: v.id, text: `${v.name} (${v.id})`, selected: v.id === audience.variation_id }));
  if (audience.variation_id && !state.variations.some((v) => v.id === audience.variation_id)) {
    options.push(h("option", { value: audience.variation_id, text: `Unknown variation ${audience.variation_id}`, selected: true }));
  }
  select.replaceChildren(...options);
}

function refreshAssignOptions() {
  state.audiences.forEach(fillVariationOptions);
}

$("add-audience").addEventListener("click", () => {
  state.audiences.push(newAudience({ action: "random" }));
  renderAudiences();
  touched();
  $(`audience-${state.audiences.length - 1}-or`).focus();
});

// Mode, type, warning

function setMode(mode) {
  state.mode = mode;
  $("mode-custom").checked = mode === "custom";
  $("mode-advanced").checked = mode === "advanced";
  $("custom-panel").hidden = mode !== "custom";
  $("advanced-panel").hidden = mode !== "advanced";
  updateWarning();
}

function updateType() {
  const personalization = $("type").value === "personalization";
  state.type = $("type").value;
  $("test-options").hidden = personalization;
  $("personalization-options").hidden = !personalization;
  updateOptions();
  $("mode-advanced").disabled = personalization || state.status === "ended";
  $("advanced-help").hidden = !personalization;
  if (personalization && state.mode === "advanced") setMode("custom");
  updateWarning();
}

// Exclusion group (tests) and mode (personalizations): only the fields that apply are shown.
function updateOptions() {
  $("exclusion-weight-field").hidden = !$("exclusion-group").value.trim();
  const mode = $("personalization-mode").value;
  $("evaluate-field").hidden = mode !== "temporary";
  $("link-param-field").hidden = mode !== "link";
  $("link-value-field").hidden = mode !== "link";
}

function applyOptions(experience) {
  $("exclusion-group").value = experience.exclusion_group || "";
  $("exclusion-weight").value = String(experience.exclusion_weight ?? 1);
  $("personalization-mode").value = experience.mode || "permanent";
  $("evaluate-every-days").value = experience.evaluate_every_days ? String(experience.evaluate_every_days) : "";
  $("link-param").value = experience.link_param || "";
  $("link-value").value = experience.link_value || "";
  updateOptions();
}

/** The option fields into the document, each only where the API takes it. */
function optionsIntoDocument(doc) {
  if (state.type === "test") {
    const group = $("exclusion-group").value.trim();
    if (group) {
      doc.exclusion_group = group;
      if ($("exclusion-weight").value.trim()) doc.exclusion_weight = number($("exclusion-weight").value);
    }
    return;
  }
  const mode = $("personalization-mode").value;
  if (mode === "permanent") return;
  doc.mode = mode;
  if (mode === "temporary") doc.evaluate_every_days = number($("evaluate-every-days").value);
  if (mode === "link") {
    doc.link_param = $("link-param").value.trim();
    doc.link_value = $("link-value").value.trim();
  }
}

function updateWarning() {
  $("default-warning").hidden = !(state.type === "test" && state.mode === "custom" && custom.hasSegmentCondition());
}

for (const radio of document.querySelectorAll('input[name="mode"]')) {
  radio.addEventListener("change", (e) => { setMode(e.currentTarget.value); touched(); });
}
$("type").addEventListener("change", () => { updateType(); touched(); });
$("name").addEventListener("input", touched);
$("traffic").addEventListener("input", touched);
for (const id of ["exclusion-group", "exclusion-weight", "evaluate-every-days", "link-param", "link-value"]) {
  $(id).addEventListener("input", () => { updateOptions(); touched(); });
}
$("personalization-mode").addEventListener("change", () => { updateOptions(); touched(); });

// Segments

async function loadSegments() {
  const result = await api("GET", sitePath("/klaviyo/segments"));
  const note = $("segments-note");
  if (result.ok) {
    state.segments = result.data.segments;
    say(note, state.segments.length ? "" : "Your Klaviyo account has no segments yet: create one in Klaviyo (Lists & Segments).");
  } else {
    state.segments = null;
    const text = result.error.code === "klaviyo_not_connected"
      ? "Klaviyo is not connected, so segments cannot be listed by name. Connect it under Integrations (Sign in with Klaviyo)."
      : `Segments could not be listed: ${result.error.message}`;
    say(note, text, "error");
  }
  custom.setSegments(state.segments);
  for (const audience of state.audiences) audience.builder.segments = state.segments;
  renderAudiences();
  updateWarning();
}

// Reading and showing the experience

function apply(experience, etag) {
  state.id = experience.id;
  state.type = experience.type;
  state.status = experience.status;
  state.seed = experience.seed || null;
  state.etag = etag || `"${experience.version}"`;
  const wasOpen = new Set(state.variations.filter((v) => v.open).map((v) => v.id));
  state.variations = experience.variations.map((v) => ({ ...v, saved: true, form: fromApi(v.changes), open: wasOpen.has(v.id) }));
  $("name").value = experience.name;
  $("type").value = experience.type;
  $("type").disabled = true;
  $("traffic").value = String(experience.traffic_percent);
  applyOptions(experience);
  const targeting = experience.targeting || { mode: "custom" };
  custom.setRules(targeting.mode === "custom" ? targeting.rules : null);
  state.audiences = (targeting.mode === "advanced" ? targeting.audiences : []).map(newAudience);
  renderVariations();
  renderAudiences();
  setMode(targeting.mode || "custom");
  updateType();
  $("editor-h").textContent = experience.name;
  document.title = `${experience.name} · kx-edge`;
  state.dirty = false;
  renderStatus();
  preview.refresh(state.id);
}

function renderStatus() {
  const badge = $("status-badge");
  badge.hidden = !state.id;
  badge.className = `badge badge-${state.status}`;
  badge.textContent = state.status.charAt(0).toUpperCase() + state.status.slice(1);
  const s = state.status;
  $("start").hidden = !(s === "draft" || s === "paused");
  $("start").textContent = s === "paused" ? "Resume" : "Start";
  $("pause").hidden = s !== "live";
  $("end").hidden = !(s === "live" || s === "paused");
  $("save").hidden = s === "ended";
  $("duplicate").hidden = !state.id;
  $("delete").hidden = !state.id || s === "live";
  $("start-confirm").hidden = true;
  $("delete-confirm").hidden = true;
  $("lifecycle-help").textContent = STATUS_TEXT[s] || "";
  const ended = s === "ended";
  for (const field of form.querySelectorAll("input, select, textarea, button")) {
    if (ended && !field.closest(".savebar")) field.disabled = true;
  }
}

async function load() {
  const result = await api("GET", sitePath(`/experiences/${encodeURIComponent(state.id)}`));
  $("loading").hidden = true;
  if (!result.ok) {
    showProblems([{ path: "", message: result.error.message }], "The experience could not be loaded:");
    return false;
  }
  form.hidden = false;
  apply(result.data, result.etag);
  return true;
}

// Saving

function number(value) {
  const n = typeof value === "number" ? value : Number(String(value).trim());
  return String(value).trim() === "" || Number.isNaN(n) ? value : n;
}

function documentFromForm() {
  const problems = [];
  const doc = {
    type: state.type,
    name: $("name").value.trim(),
    status: state.status,
    traffic_percent: number($("traffic").value),
    variations: state.variations.map((v, i) => {
      const out = { id: v.id.trim(), name: v.name.trim(), weight: number(v.weight), is_control: Boolean(v.is_control) };
      const changes = toApi(v.form, `variations[${i}].changes`, problems);
      if (changes) out.changes = changes;
      return out;
    }),
  };
  if (state.seed) doc.seed = state.seed;
  optionsIntoDocument(doc);
  if (!doc.name) problems.push({ path: "name", message: "give the experience a name" });
  if (state.mode === "custom") {
    const { rules, problems: more } = custom.read();
    problems.push(...more);
    doc.targeting = rules === null ? { mode: "custom" } : { mode: "custom", rules };
  } else {
    doc.targeting = {
      mode: "advanced",
      audiences: state.audiences.map((audience, i) => {
        const { rules, problems: more } = audience.builder.read();
        problems.push(...more);
        const out = { action: audience.action };
        if (rules !== null) out.rules = rules;
        if (audience.action === "assign") {
          out.variation_id = audience.variation_id;
          if (!audience.variation_id) problems.push({ path: `targeting.audiences[${i}].variation_id`, message: "choose the variation to assign" });
        }
        return out;
      }),
    };
  }
  return { doc, problems };
}

function clearProblems() {
  $("errors").hidden = true;
  $("error-list").replaceChildren();
  for (const node of form.querySelectorAll(".field-error")) node.remove();
  for (const node of form.querySelectorAll("[aria-invalid]")) {
    node.removeAttribute("aria-invalid");
    const kept = (node.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && !x.startsWith("error-"));
    if (kept.length) node.setAttribute("aria-describedby", kept.join(" "));
    else node.removeAttribute("aria-describedby");
  }
}

function describe(path) {
  let m;
  if (!path) return "";
  if ((m = path.match(/^variations\[(\d+)\]\.changes\.?(\w*)(?:\[(\d+)\])?\.?(\w*)/))) {
    const change = m[3] !== undefined ? `, change ${+m[3] + 1}${m[4] ? ` ${m[4]}` : ""}` : m[2] ? `, ${m[2]}` : "";
    return `Variation ${+m[1] + 1}${change}`;
  }
  if ((m = path.match(/^variations\[(\d+)\]\.?(\w*)/))) return `Variation ${+m[1] + 1}${m[2] ? ` ${m[2].replace("_", " ")}` : ""}`;
  const where = (rest) => {
    const c = rest.match(/any\[(\d+)\]\.all\[(\d+)\]/);
    return c ? `, group ${+c[1] + 1}, condition ${+c[2] + 1}` : "";
  };
  if ((m = path.match(/^targeting\.audiences\[(\d+)\](.*)$/))) {
    const field = m[2].endsWith("action") ? ", action" : m[2].endsWith("variation_id") ? ", variation" : "";
    return `Audience ${+m[1] + 1}${where(m[2])}${field}`;
  }
  if (path.startsWith("targeting")) return `Targeting${where(path)}`;
  const fields = {
    name: "Name", traffic_percent: "Traffic", type: "Type", exclusion_group: "Exclusion group",
    exclusion_weight: "Share of the group", mode: "How long it lasts", evaluate_every_days: "Decide again every (days)",
    link_param: "Link parameter", link_value: "Link value",
  };
  return fields[path] || path;
}

function fieldFor(path) {
  let candidate = path;
  while (candidate) {
    const node = form.querySelector(`[data-path="${CSS.escape(candidate)}"]`);
    if (node) return node;
    const cut = Math.max(candidate.lastIndexOf("."), candidate.lastIndexOf("["));
    candidate = cut > 0 ? candidate.slice(0, cut) : "";
  }
  return null;
}

function showProblems(problems, title = "The experience was not saved:") {
  clearProblems();
  // Problems inside a variation's changes: open its form so the field can be shown and focused.
  let opened = false;
  for (const problem of problems) {
    const m = (problem.path || "").match(/^variations\[(\d+)\]\.changes/);
    const v = m && state.variations[+m[1]];
    if (v && !v.open) opened = v.open = true;
  }
  if (opened) renderAllChanges();
  $("errors-title").textContent = title;
  problems.forEach((problem, i) => {
    const text = `${describe(problem.path) ? describe(problem.path) + ": " : ""}${problem.message}`;
    const node = problem.path ? fieldFor(problem.path) : null;
    const item = h("li", {}, node
      ? h("a", { href: "#", onclick: (e) => { e.preventDefault(); node.focus(); }, text })
      : text);
    $("error-list").append(item);
    if (node) {
      const id = `error-${i}`;
      const note = h("p", { class: "field-error", id, text: problem.message });
      const isInput = ["INPUT", "SELECT", "TEXTAREA"].includes(node.tagName);
      if (isInput) {
        node.setAttribute("aria-invalid", "true");
        node.setAttribute("aria-describedby", `${node.getAttribute("aria-describedby") || ""} ${id}`.trim());
        (node.closest(".field, td") || node).append(note);
      } else if (node.tagName === "TABLE" || node.tagName === "OL") {
        node.after(note);
      } else {
        node.append(note);
      }
    }
  });
  $("errors").hidden = false;
  $("errors").focus();
}

function showConflict() {
  clearProblems();
  $("conflict").hidden = false;
  say(message, "");
  $("conflict-reload").focus();
}

$("conflict-reload").addEventListener("click", async () => {
  $("conflict").hidden = true;
  if (await load()) say(message, "Reloaded the latest version. Make your change again and save.", "ok");
  $("name").focus();
});

async function save() {
  const { doc, problems } = documentFromForm();
  if (problems.length) {
    showProblems(problems);
    return false;
  }
  clearProblems();
  say(message, "Saving…");
  const creating = !state.id;
  const result = creating
    ? await api("POST", sitePath("/experiences"), { body: doc })
    : await api("PUT", sitePath(`/experiences/${encodeURIComponent(state.id)}`), { body: doc, ifMatch: state.etag });
  return handleWrite(result, creating ? "Created as a draft." : "Saved.");
}

function handleWrite(result, done) {
  if (result.ok) {
    const created = !state.id;
    apply(result.data, result.etag);
    if (created) history.replaceState(null, "", `/admin/experiences/${encodeURIComponent(state.id)}`);
    const warnings = (result.data.warnings || []).map((w) => w.message);
    say(message, [done, ...warnings].join(" "), warnings.length ? "warn" : "ok");
    return true;
  }
  say(message, "");
  if (result.status === 412) showConflict();
  else if (result.status === 422 && Array.isArray(result.error.details)) showProblems(result.error.details);
  else showProblems([{ path: "", message: result.error.message }]);
  return false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  $("save").disabled = true;
  await save();
  $("save").disabled = false;
});

async function lifecycle(action, done) {
  if (state.dirty || !state.id) {
    if (!(await save())) return;
  }
  say(message, "Working…");
  const result = await api("POST", sitePath(`/experiences/${encodeURIComponent(state.id)}/${action}`), { ifMatch: state.etag });
  handleWrite(result, done);
}

$("start").addEventListener("click", () => {
  $("start-confirm").hidden = false;
  $("start").setAttribute("aria-expanded", "true");
  $("start-yes").focus();
});
$("start-no").addEventListener("click", () => {
  $("start-confirm").hidden = true;
  $("start").setAttribute("aria-expanded", "false");
  $("start").focus();
});
$("start-yes").addEventListener("click", () => {
  $("start-confirm").hidden = true;
  $("start").setAttribute("aria-expanded", "false");
  lifecycle("start", "Started: the experience is live.");
});

// Duplicate: a new draft with the form's content (its own id and bucketing), opened at once.
$("duplicate").addEventListener("click", async () => {
  const { doc, problems } = documentFromForm();
  if (problems.length) {
    showProblems(problems, "The copy was not made:");
    return;
  }
  const copy = { ...doc, name: `Copy of ${doc.name}`.slice(0, 200), status: "draft" };
  delete copy.seed;
  say(message, "Duplicating…");
  const result = await api("POST", sitePath("/experiences"), { body: copy });
  if (!result.ok) {
    say(message, "");
    showProblems(result.status === 422 && Array.isArray(result.error.details) ? result.error.details : [{ path: "", message: result.error.message }], "The copy was not made:");
    return;
  }
  window.location.assign(`/admin/experiences/${encodeURIComponent(result.data.id)}?copied=1`);
});

$("delete").addEventListener("click", () => {
  $("delete-confirm").hidden = false;
  $("delete").setAttribute("aria-expanded", "true");
  $("delete-no").focus();
});
$("delete-no").addEventListener("click", () => {
  $("delete-confirm").hidden = true;
  $("delete").setAttribute("aria-expanded", "false");
  $("delete").focus();
});
$("delete-yes").addEventListener("click", async () => {
  const result = await api("DELETE", sitePath(`/experiences/${encodeURIComponent(state.id)}`), { ifMatch: state.etag });
  if (result.ok) {
    window.location.assign("/admin/experiences?deleted=1");
    return;
  }
  $("delete-confirm").hidden = true;
  if (result.status === 412) showConflict();
  else showProblems([{ path: "", message: result.error.message }], "The experience was not deleted:");
});
$("pause").addEventListener("click", () => lifecycle("pause", "Paused: nobody sees it until you resume it."));
$("end").addEventListener("click", () => {
  if (window.confirm("End this experience? Ending is final: it stops for everyone and can no longer be edited.")) {
    lifecycle("end", "Ended.");
  }
});

// Start

async function start() {
  await preview.loadSite();
  if (state.id) {
    if (!(await load())) return;
    if (new URLSearchParams(location.search).get("copied")) say(message, "Copied as a new draft. Review it, then save or start it.", "ok");
  } else {
    $("traffic").value = "100";
    applyOptions({});
    custom.setRules(null);
    renderVariations();
    renderAudiences();
    setMode("custom");
    updateType();
    renderStatus();
    state.dirty = false;
  }
  await loadSegments();
}

start();
