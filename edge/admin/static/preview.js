// Preview: explain what one visitor gets and why, from POST /v1/sites/{id}/explain.
import { api, sitePath } from "./api.js";
import { conditionWords } from "./conditions.js";
import { h, say } from "./dom.js";

const $ = (id) => document.getElementById(id);
const message = $("preview-message");
const out = $("explanation");

const REASONS = {
  sticky: "kept from the visitor's earlier visit (their sticky token)",
  everyone: "there are no conditions, so everyone can enter; the hash chose the variation",
  rules_matched: "the targeting matched; the hash chose the variation by weight",
  assigned: "an Advanced audience assigns this variation",
  not_in_traffic: "the targeting matched, but the hash fell outside the traffic percentage, so the control is shown",
  holdout: "the targeting matched, but the visitor is in the holdout (traffic below 100%), so the control is shown",
  rules_not_matched: "the targeting did not match, so the control is shown",
  unidentified: "Klaviyo does not know this visitor, and an unidentified visitor matches no segment condition, so the control is shown",
  pending: "the visitor's segments are still being looked up, so the control is shown for now",
  excluded: "an Advanced audience excludes this visitor: they see the control and never enter",
  deferred: "nothing is assigned yet: the visitor is checked again on the next visit",
  sticky_variation_removed: "their earlier variation was removed, so they were decided afresh",
};
const IDENTITY = { identified: "Identified", unidentified: "Unidentified", pending: "Pending" };
const SOURCES = { l1: "this process's cache", l2: "the shared cache (Redis)", klaviyo: "Klaviyo, asked just now", index: "the synced membership index", none: "nowhere" };
const RESULT = { true: ["✓", "matches"], false: ["✗", "does not match"], unknown: ["?", "unknown for now"] };
const ACTION_TEXT = { random: "enter the test (variation by weight)", assign: "assign", exclude: "exclude", defer: "decide later" };

const lookups = { segments: new Map(), experiences: new Map() };

async function loadNames() {
  const [segments, experiences] = await Promise.all([
    api("GET", sitePath("/klaviyo/segments")),
    api("GET", sitePath("/experiences")),
  ]);
  if (segments.ok) for (const s of segments.data.segments) lookups.segments.set(s.id, s.name);
  if (experiences.ok) for (const e of experiences.data.experiences) lookups.experiences.set(e.id, e);
}

const segmentName = (ref) => ref.name || lookups.segments.get(ref.id) || ref.id;

function variationName(experienceId, variationId) {
  if (!variationId) return "no variation yet";
  const experience = lookups.experiences.get(experienceId);
  const found = experience && experience.variations.find((v) => v.id === variationId);
  return found ? found.name : variationId;
}

const conditionText = (c) => conditionWords(c, (id) => segmentName({ id }));

function conditionItem(c) {
  const [mark, words] = RESULT[c.result] || ["?", c.result];
  return h("li", { class: `cond result-${c.result}` },
    h("span", { class: "mark", "aria-hidden": "true", text: mark }), " ",
    conditionText(c), " ", h("span", { class: "muted", text: `— ${words}` }));
}

function rulesBlock(rules, subject = "The targeting") {
  if (!rules || rules.conditions.length === 0) return h("p", { text: "No conditions: everyone matches." });
  // Group conditions by their OR branch (…any[g]…) so the +OR / +AND structure shows.
  const groups = new Map();
  for (const c of rules.conditions) {
    const m = c.path.match(/any\[(\d+)\]/);
    const key = m ? Number(m[1]) : 0;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(c);
  }
  const items = [];
  [...groups.values()].forEach((conditions, i) => {
    const all = conditions.every((c) => c.result === "true");
    if (i > 0) items.push(h("li", { class: "joiner or", text: "OR" }));
    items.push(h("li", { class: `cond-group${all ? " matched" : ""}` },
      all ? h("strong", { class: "matched-label", text: "This group matched" }) : null,
      h("ul", { class: "conds" }, conditions.map((c, j) => [j > 0 ? h("li", { class: "joiner and", text: "AND" }) : null, conditionItem(c)]))));
  });
  const verdict = { true: `${subject} matched.`, false: `${subject} did not match.`, unknown: `${subject} is unknown until the visitor's segments are known.` }[rules.result];
  return h("div", {}, h("ul", { class: "rule-groups" }, items), h("p", { class: "verdict", text: verdict || "" }));
}

function audiencesBlock(trace, experienceId) {
  if (!trace.audiences.length) return h("p", { text: "No audiences: nobody is assigned yet." });
  return h("ol", { class: "audience-trace" }, trace.audiences.map((a) => {
    const decided = trace.matched_audience === a.index;
    const action = ACTION_TEXT[a.action] + (a.action === "assign" ? ` ${variationName(experienceId, a.variation_id)}` : "");
    return h("li", { class: decided ? "matched" : "" },
      h("p", {}, h("strong", { text: `Audience ${a.index + 1}` }), ` → ${action}`, decided ? h("strong", { class: "matched-label", text: " (decided)" }) : null),
      rulesBlock(a.rules, "This audience"));
  }));
}

function bucketLine(trace, experienceId) {
  const b = trace.bucket;
  if (!b.used) return null;
  const hit = b.hit
    ? `in ${variationName(experienceId, b.hit.variation_id)}'s range [${b.hit.low.toFixed(4)}, ${b.hit.high.toFixed(4)})`
    : `outside every range (traffic ${(b.coverage * 100).toFixed(0)}%)`;
  return h("p", { class: "muted" }, `Hash of the visitor id: ${b.n.toFixed(4)}, ${hit}.`);
}

function experienceCard(item) {
  const d = item.decision;
  const t = item.trace;
  const kind = d.type === "test" ? "Test" : "Personalization";
  return h("article", { class: "card explain-experience", "data-experience-id": item.id, "aria-labelledby": `x-${item.id}` },
    h("h3", { id: `x-${item.id}` }, item.name, " ", h("span", { class: "muted small", text: `${kind} · ${t.mode === "advanced" ? "Advanced" : "Custom"} targeting` })),
    h("p", { class: "outcome" },
      "Sees ", h("strong", { class: "variation", text: variationName(item.id, d.variation_id) }),
      d.is_control ? " (the control)" : "", d.entered ? " · entered" : " · not entered",
      d.status === "pending" ? " · pending" : ""),
    h("p", { class: "why" }, h("strong", { text: "Why: " }), REASONS[d.reason] || d.reason, "."),
    t.mode === "advanced" ? audiencesBlock(t, item.id) : rulesBlock(t.rules),
    bucketLine(t, item.id),
    h("details", {}, h("summary", { text: "One-line summary" }), h("p", { class: "mono small", text: item.summary })),
  );
}

function identityCard(data) {
  const id = data.identity;
  const resolution = id.resolution;
  const calls = resolution ? Object.values(resolution.klaviyo_calls).reduce((a, b) => a + b, 0) : 0;
  const facts = [
    ["_kx", id.kx ? h("code", { class: "kx", text: id.kx }) : "none (anonymous)"],
    ["Segments targeted by live experiences", id.targeted_segments.length ? id.targeted_segments.map(segmentName).join(", ") : "none"],
    ["In segments", id.kind === "identified" ? (id.matched_segments.map(segmentName).join(", ") || "none of the targeted segments") : "—"],
  ];
  if (resolution) facts.push(["Looked up in", `${SOURCES[resolution.source] || resolution.source}${calls ? ` (${calls} Klaviyo call${calls === 1 ? "" : "s"})` : ""}`]);
  facts.push(["Visitor id", data.visitor_id_placeholder ? `${data.visitor_id} (a placeholder: none given)` : data.visitor_id]);
  return h("section", { class: "card", id: "identity", "aria-labelledby": "identity-h" },
    h("div", { class: "card-head" }, h("h2", { id: "identity-h", text: "Visitor" }),
      h("span", { class: `badge badge-${id.kind}`, id: "identity-kind", text: IDENTITY[id.kind] || id.kind })),
    h("p", { id: "identity-summary", text: id.summary.charAt(0).toUpperCase() + id.summary.slice(1) + "." }),
    h("dl", { class: "facts" }, facts.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", {}, v)])),
    id.warnings.length ? h("p", { class: "warning", text: `Warnings: ${id.warnings.join(", ")}` }) : null,
  );
}

function render(data) {
  const parts = [identityCard(data)];
  parts.push(h("h2", { text: `Live experiences (${data.experiences.length})` }));
  parts.push(...data.experiences.map(experienceCard));
  if (data.not_live.length) {
    parts.push(h("section", { class: "card", "aria-labelledby": "not-live-h" },
      h("h2", { id: "not-live-h", text: "Not live" }),
      h("ul", {}, data.not_live.map((e) => h("li", { text: e.summary })))));
  }
  for (const note of data.notes) parts.push(h("p", { class: "muted", text: note }));
  out.replaceChildren(...parts);
}

const profile = $("profile");
if (profile) {
  profile.addEventListener("change", () => { $("kx").value = profile.value; });
  // A profile picked before this script ran (a slow load) fills the field too.
  if (profile.value && !$("kx").value) $("kx").value = profile.value;
}

$("preview-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = {};
  const kx = $("kx").value.trim();
  const visitor = $("visitor").value.trim();
  if (kx) body.kx = kx;
  if (visitor) body.visitor_id = visitor;
  $("explain").disabled = true;
  say(message, "Explaining…");
  if (lookups.experiences.size === 0) await loadNames();
  const result = await api("POST", sitePath("/explain"), { body });
  $("explain").disabled = false;
  if (!result.ok) {
    say(message, result.error.message, "error");
    out.replaceChildren();
    return;
  }
  render(result.data);
  say(message, `Explained: ${IDENTITY[result.data.identity.kind] || result.data.identity.kind} visitor, ${result.data.experiences.length} live experience(s).`, "ok");
});

loadNames();
