// The condition builder: groups of conditions joined by OR, conditions in a group joined by AND.
//
//   [[VIP], [Wholesale, NOT Lapsed]]  <->  {"any": [{"all": [VIP]}, {"all": [Wholesale, NOT Lapsed]}]}
//
// "+AND Condition" adds a condition to a group, "+OR Condition" adds a group. Each condition picks
// its attribute (Klaviyo segment, page or landing URL, UTMs, URL parameter, traffic source,
// device, new or returning, country, cookie: conditions.js lists them with their operators), then
// an operator and a value fitting it. Segment pickers show names (starred first) and keep ids. A
// rule tree the builder cannot show (deeper nesting, an attribute or operator it does not know,
// {"any": []}) is kept and edited as JSON instead, never silently rewritten.
import { h } from "./dom.js";
import { KINDS, SEGMENT, attributeOf, conditionWords, isSupported, parseAttribute } from "./conditions.js";

const isCondition = (node) => node !== null && typeof node === "object" && !Array.isArray(node) && "attribute" in node;
const onlyKey = (node, key) => node !== null && typeof node === "object" && Object.keys(node).length === 1 && Array.isArray(node[key]);
const supported = (c) => isCondition(c) && isSupported(c);

/** The builder's form of a condition: {kind, name, operator, value}. */
function fromCondition(c) {
  const { kind, name } = parseAttribute(c.attribute);
  return { kind, name, operator: c.operator, value: c.value ?? "" };
}

/** The API's form: the value left out for operators that take none (`exists`). */
function toCondition(c) {
  const kind = KINDS[c.kind];
  const out = { attribute: attributeOf(c.kind, c.name.trim()), operator: c.operator };
  if (!kind.valueless.has(c.operator)) out.value = kind.value.value === "text" ? c.value.trim() : c.value;
  return out;
}

const newCondition = (kind = "segment") => ({ kind, name: "", operator: KINDS[kind].operators[0][0], value: "" });

/** Groups for a rule tree, or null when the builder cannot show it faithfully. */
export function toGroups(rules) {
  if (rules === null || rules === undefined) return [];
  if (typeof rules !== "object" || Array.isArray(rules)) return null;
  if (Object.keys(rules).length === 0) return [];
  if (isCondition(rules)) return supported(rules) ? [[fromCondition(rules)]] : null;
  if (onlyKey(rules, "all")) {
    if (rules.all.length === 0) return [];
    return rules.all.every(supported) ? [rules.all.map(fromCondition)] : null;
  }
  if (onlyKey(rules, "any") && rules.any.length > 0) {
    const groups = [];
    for (const child of rules.any) {
      if (supported(child)) groups.push([fromCondition(child)]);
      else if (onlyKey(child, "all") && child.all.length > 0 && child.all.every(supported)) groups.push(child.all.map(fromCondition));
      else return null;
    }
    return groups;
  }
  return null;
}

/** The rule tree for groups: null (everyone) when there are none. */
export function fromGroups(groups) {
  if (groups.length === 0) return null;
  return { any: groups.map((group) => ({ all: group.map(toCondition) })) };
}

export class RuleBuilder {
  constructor({ root, pathPrefix, idPrefix, onChange }) {
    this.root = root;
    this.pathPrefix = pathPrefix;
    this.idPrefix = idPrefix;
    this.onChange = onChange || (() => {});
    this.groups = [];
    this.raw = null;
    this.segments = null; // [{id, name, is_active, is_starred}] once loaded
    this.disabled = false;
  }

  setRules(rules) {
    const groups = toGroups(rules);
    this.groups = groups === null ? [] : groups;
    this.raw = groups === null ? JSON.stringify(rules, null, 2) : null;
    this.render();
  }

  setSegments(segments) {
    this.segments = segments;
    this.render();
  }

  hasSegmentCondition() {
    if (this.raw !== null) return this.raw.includes(SEGMENT);
    return this.groups.some((group) => group.some((c) => c.kind === "segment"));
  }

  /** {rules, problems}: rules is null for "everyone"; problems carry their document paths. */
  read() {
    if (this.raw !== null) {
      if (!this.raw.trim()) return { rules: null, problems: [] };
      try {
        return { rules: JSON.parse(this.raw), problems: [] };
      } catch (err) {
        return { rules: null, problems: [{ path: this.pathPrefix, message: "is not valid JSON" }] };
      }
    }
    const problems = [];
    this.groups.forEach((group, g) =>
      group.forEach((condition, c) => {
        const kind = KINDS[condition.kind];
        const path = this.conditionPath(g, c);
        if (kind.prefix && !condition.name.trim()) problems.push({ path: `${path}.attribute`, message: `enter the ${kind.nameLabel.toLowerCase()}` });
        if (!kind.valueless.has(condition.operator) && !condition.value.trim()) {
          problems.push({ path: `${path}.value`, message: kind.value.missing || "enter a value" });
        }
      }),
    );
    return { rules: fromGroups(this.groups), problems };
  }

  conditionPath(g, c) {
    return `${this.pathPrefix}.any[${g}].all[${c}]`;
  }

  segmentName(id) {
    const found = (this.segments || []).find((s) => s.id === id);
    return found ? found.name : id;
  }

  /** "Klaviyo segment equals VIP OR (device is mobile AND UTM campaign equals summer)": the rules read aloud. */
  sentence() {
    if (this.raw !== null) return "Rules edited as JSON.";
    if (this.groups.length === 0) return "Everyone matches (no conditions).";
    const text = (c) => conditionWords({ attribute: attributeOf(c.kind, c.name.trim()), operator: c.operator, value: c.value.trim() }, (id) => this.segmentName(id));
    const groups = this.groups.map((group) => {
      const inner = group.map(text).join(" AND ");
      return group.length > 1 && this.groups.length > 1 ? `(${inner})` : inner;
    });
    return groups.join(" OR ");
  }

  changed() {
    this.sentenceNode.textContent = this.sentence();
    this.onChange();
  }

  /** Render again (a condition's inputs changed shape) and put the focus back on `id`. */
  reshaped(id) {
    this.render();
    this.focus(id);
    this.onChange();
  }

  addCondition(g) {
    this.groups[g].push(newCondition());
    this.render();
    this.focus(`${this.idPrefix}-g${g}-c${this.groups[g].length - 1}-segment`);
    this.onChange();
  }

  addGroup() {
    this.groups.push([newCondition()]);
    this.render();
    this.focus(`${this.idPrefix}-g${this.groups.length - 1}-c0-segment`);
    this.onChange();
  }

  removeCondition(g, c) {
    this.groups[g].splice(c, 1);
    const groupGone = this.groups[g].length === 0;
    if (groupGone) this.groups.splice(g, 1);
    this.render();
    this.focus(groupGone ? `${this.idPrefix}-or` : `${this.idPrefix}-g${g}-and`);
    this.onChange();
  }

  focus(id) {
    const node = document.getElementById(id);
    if (node) node.focus();
  }

  render() {
    const id = this.idPrefix;
    this.sentenceNode = h("p", { class: "sentence", id: `${id}-sentence`, "aria-live": "polite" }, this.sentence());
    if (this.raw !== null) {
      this.root.replaceChildren(this.rawEditor());
      return;
    }
    const parts = [];
    this.groups.forEach((group, g) => {
      if (g > 0) parts.push(h("div", { class: "joiner or", "aria-hidden": "true", text: "OR" }));
      parts.push(this.groupNode(group, g));
    });
    parts.push(
      h("button", { type: "button", class: "add-or", id: `${id}-or`, disabled: this.disabled, onclick: () => this.addGroup() },
        this.groups.length ? "+OR Condition" : "+ Add condition"),
    );
    this.root.replaceChildren(...parts, this.sentenceNode);
  }

  groupNode(group, g) {
    const id = this.idPrefix;
    const rows = [];
    group.forEach((condition, c) => {
      if (c > 0) rows.push(h("div", { class: "joiner and", "aria-hidden": "true", text: "AND" }));
      rows.push(this.conditionNode(condition, g, c));
    });
    return h("div", { class: "group", role: "group", "aria-label": `Group ${g + 1} (every condition must hold)`, "data-group": g },
      rows,
      h("button", { type: "button", class: "add-and", id: `${id}-g${g}-and`, disabled: this.disabled, onclick: () => this.addCondition(g) },
        "+AND Condition", h("span", { class: "visually-hidden", text: ` to group ${g + 1}` })),
    );
  }

  conditionNode(condition, g, c) {
    const base = `${this.idPrefix}-g${g}-c${c}`;
    const path = this.conditionPath(g, c);
    const where = `group ${g + 1}, condition ${c + 1}`;
    const kind = KINDS[condition.kind];
    // Server problems about the attribute land on the name field when there is one.
    const type = h("select", {
      id: `${base}-type`, class: "attribute", disabled: this.disabled, "aria-label": `Targeting type (${where})`,
      "data-path": kind.prefix ? null : `${path}.attribute`,
      onchange: (e) => {
        const next = newCondition(e.currentTarget.value);
        Object.assign(condition, next, { name: KINDS[next.kind].prefix && kind.prefix ? condition.name : "" });
        this.reshaped(`${base}-type`);
      },
    }, Object.entries(KINDS).map(([key, k]) => h("option", { value: key, text: k.label, selected: key === condition.kind })));
    const fields = [h("div", { class: "field" }, h("label", { for: `${base}-type`, text: "Targeting type" }), type)];
    if (kind.prefix) {
      const name = h("input", {
        id: `${base}-name`, class: "mono narrow-text", "data-path": `${path}.attribute`, maxlength: 64, autocomplete: "off",
        spellcheck: "false", placeholder: kind.namePlaceholder, disabled: this.disabled,
        oninput: (e) => { condition.name = e.currentTarget.value; this.changed(); },
      });
      name.value = condition.name;
      fields.push(h("div", { class: "field" }, h("label", { for: `${base}-name`, text: kind.nameLabel }), name));
    }
    const operator = h("select", {
      id: `${base}-operator`, "data-path": `${path}.operator`, class: "operator", disabled: this.disabled,
      onchange: (e) => {
        const before = kind.valueless.has(condition.operator);
        condition.operator = e.currentTarget.value;
        if (before !== kind.valueless.has(condition.operator)) this.reshaped(`${base}-operator`);
        else this.changed();
      },
    }, kind.operators.map(([value, label]) => h("option", { value, text: label, selected: condition.operator === value })));
    fields.push(h("div", { class: "field" }, h("label", { for: `${base}-operator`, text: kind.label }), operator));
    const [value, help] = kind.valueless.has(condition.operator) ? [null, null] : this.valueField(condition, kind, base, path);
    fields.push(value);
    return h("div", { class: "condition", "data-path": path, "data-condition": `${g}.${c}`, "data-kind": condition.kind },
      ...fields,
      h("button", {
        type: "button", class: "remove", disabled: this.disabled, "aria-label": `Remove condition (${where})`,
        onclick: () => this.removeCondition(g, c),
      }, "Remove"),
      help,
    );
  }

  /** [the value's field, its help or null]. */
  valueField(condition, kind, base, path) {
    const spec = kind.value;
    const set = (e) => { condition.value = e.currentTarget.value; this.changed(); };
    if (spec.value === "segment") {
      const segment = h("select", {
        id: `${base}-segment`, "data-path": `${path}.value`, class: "segment", disabled: this.disabled, onchange: set,
      }, this.segmentOptions(condition.value));
      return [h("div", { class: "field grow" }, h("label", { for: `${base}-segment`, text: spec.label }), segment), null];
    }
    if (spec.value === "choice") {
      const select = h("select", {
        id: `${base}-value`, "data-path": `${path}.value`, class: "choice", disabled: this.disabled, onchange: set,
      }, this.choiceOptions(spec, condition.value));
      return [h("div", { class: "field grow" }, h("label", { for: `${base}-value`, text: spec.label }), select), null];
    }
    const helpId = spec.help ? `${base}-value-help` : null;
    const input = h("input", {
      id: `${base}-value`, "data-path": `${path}.value`, class: "value", maxlength: spec.max || 256, autocomplete: "off",
      spellcheck: "false", placeholder: spec.placeholder || null, disabled: this.disabled, "aria-describedby": helpId,
      oninput: set,
    });
    input.value = condition.value;
    const help = spec.help ? h("p", { class: "help condition-help", id: helpId, text: spec.help }) : null;
    return [h("div", { class: "field grow" }, h("label", { for: `${base}-value`, text: spec.label }), input), help];
  }

  choiceOptions(spec, value) {
    const options = [h("option", { value: "", text: spec.placeholder, selected: !value, disabled: Boolean(value) })];
    if (value && !spec.options.some(([v]) => v === value)) options.push(h("option", { value, text: value, selected: true }));
    for (const [v, label] of spec.options) options.push(h("option", { value: v, text: label, selected: v === value }));
    return options;
  }

  segmentOptions(value) {
    const options = [h("option", { value: "", text: "Choose a segment…", selected: !value, disabled: Boolean(value) })];
    const segments = this.segments || [];
    if (value && !segments.some((s) => s.id === value)) {
      const label = this.segments ? `Unknown segment ${value}` : `Segment ${value}`;
      options.push(h("option", { value, text: label, selected: true }));
    }
    const option = (s) => h("option", { value: s.id, text: s.name + (s.is_active ? "" : " (inactive)"), selected: s.id === value });
    const starred = segments.filter((s) => s.is_starred);
    const others = segments.filter((s) => !s.is_starred);
    if (starred.length) options.push(h("optgroup", { label: "★ Starred in Klaviyo" }, starred.map(option)));
    if (others.length) options.push(h("optgroup", { label: starred.length ? "Other segments" : "Segments" }, others.map(option)));
    return options;
  }

  rawEditor() {
    const id = `${this.idPrefix}-json`;
    const area = h("textarea", {
      id, rows: 8, class: "mono", "data-path": this.pathPrefix, spellcheck: "false", disabled: this.disabled,
      "aria-describedby": `${id}-help`,
      oninput: (e) => { this.raw = e.currentTarget.value; this.onChange(); },
    });
    area.value = this.raw;
    return h("div", { class: "raw" },
      h("label", { for: id, text: "Rules (JSON)" }),
      h("p", { class: "help", id: `${id}-help`, text: "These rules nest deeper than the builder shows (they were made with the API), so they are edited as JSON. Or start over with the builder." }),
      area,
      h("button", { type: "button", disabled: this.disabled, onclick: () => { this.raw = null; this.groups = []; this.render(); this.onChange(); this.focus(`${this.idPrefix}-or`); } },
        "Start over with the builder"),
      this.sentenceNode,
    );
  }
}
