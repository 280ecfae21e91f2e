// Integrations: Sign in with Klaviyo, Disconnect (confirmed), and the event trigger switches.
import { api, sitePath } from "./api.js";
import { h, say } from "./dom.js";

const message = document.getElementById("klaviyo-message");

const TRIGGER_LABELS = {
  entered_test: "Entered a test",
  saw_personalization: "Saw a personalization",
  profile_sync: "Profile data sync",
};

async function connect(event) {
  const button = event.currentTarget;
  button.disabled = true;
  say(message, "Opening Klaviyo…");
  const result = await api("POST", sitePath("/klaviyo/connect"));
  if (result.ok && result.data.authorize_url) {
    window.location.assign(result.data.authorize_url);
    return;
  }
  button.disabled = false;
  say(message, result.error.message, "error");
}

function setupDisconnect() {
  const open = document.getElementById("klaviyo-disconnect");
  const box = document.getElementById("klaviyo-confirm");
  const yes = document.getElementById("klaviyo-confirm-yes");
  const no = document.getElementById("klaviyo-confirm-no");
  if (!open) return;
  const show = (visible) => {
    box.hidden = !visible;
    open.setAttribute("aria-expanded", String(visible));
    (visible ? yes : open).focus();
  };
  open.addEventListener("click", () => show(box.hidden));
  no.addEventListener("click", () => show(false));
  box.addEventListener("keydown", (event) => {
    if (event.key === "Escape") show(false);
  });
  yes.addEventListener("click", async () => {
    yes.disabled = true;
    say(message, "Disconnecting…");
    const result = await api("DELETE", sitePath("/klaviyo"));
    if (result.ok) {
      window.location.reload();
      return;
    }
    yes.disabled = false;
    say(message, result.error.message, "error");
  });
}

// Scopes the server found missing for targeting itself; events:write is the triggers' to decide.
const baseMissing = Array.from(document.querySelectorAll("#klaviyo-missing-list code"), (c) => c.textContent)
  .filter((scope) => scope !== "events:write");

function showMissingScopes(eventScopes) {
  const box = document.getElementById("klaviyo-missing");
  const list = document.getElementById("klaviyo-missing-list");
  if (!box || !Array.isArray(eventScopes)) return;
  const scopes = [...new Set([...baseMissing, ...eventScopes])];
  const current = document.getElementById("klaviyo-card").dataset.status;
  box.hidden = scopes.length === 0 || current === "disconnected";
  list.replaceChildren(...scopes.flatMap((scope, i) => [i ? ", " : "", h("code", { text: scope })]));
}

function when(epoch) {
  return epoch ? new Date(epoch * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC" : "never";
}

function triggerItem(key, trigger, status, onToggle) {
  const id = `trigger-${key}`;
  const counts = status
    ? h("p", { class: "counts", id: `${id}-counts` },
        `Last 24 h: ${status.sent} sent · ${status.failed} failed · ${status.pending} pending`,
        ` · last sent ${when(status.last_sent_at)}`)
    : null;
  const lastError = status && status.last_error
    ? h("p", { class: "problem small" }, "Last error: ", h("code", { text: status.last_error.message }))
    : null;
  const properties = (trigger.properties || []).concat(trigger.profile_properties || []);
  const input = h("input", {
    type: "checkbox",
    role: "switch",
    id,
    checked: Boolean(trigger.enabled),
    "aria-describedby": `${id}-when`,
    onchange: (event) => onToggle(key, event.currentTarget),
  });
  return h("li", { class: "trigger", "data-trigger": key },
    h("div", { class: "switch-row" },
      input,
      h("label", { for: id }, h("strong", { text: TRIGGER_LABELS[key] || key }), " ", h("span", { class: "state", text: trigger.enabled ? "On" : "Off" })),
    ),
    h("p", { class: "muted", id: `${id}-when` }, "Metric ", h("code", { text: trigger.metric_name }), ". ", trigger.when || ""),
    properties.length
      ? h("details", {},
          h("summary", { text: `Properties (${properties.length})` }),
          h("ul", { class: "properties" }, properties.map((p) => h("li", {}, h("code", { text: p.name }), " ", p.description || ""))))
      : null,
    counts,
    lastError,
  );
}

async function loadTriggers() {
  const card = document.getElementById("triggers-card");
  const list = document.getElementById("triggers-list");
  const note = document.getElementById("triggers-message");
  const triggers = await api("GET", sitePath("/klaviyo/triggers"));
  if (!triggers.ok) return; // not served by this kx-edge (or not running): the card stays hidden
  const status = await api("GET", sitePath("/klaviyo/triggers/status"));
  const stats = status.ok ? status.data.triggers || {} : {};
  if (!status.ok) say(note, `Counts for the last 24 hours are not available: ${status.error.message}`, "error");

  async function onToggle(key, input) {
    const enabled = input.checked;
    input.disabled = true;
    say(note, `Turning ${TRIGGER_LABELS[key] || key} ${enabled ? "on" : "off"}…`);
    const result = await api("PUT", sitePath("/klaviyo/triggers"), { body: { [key]: { enabled } } });
    input.disabled = false;
    if (!result.ok) {
      input.checked = !enabled;
      say(note, result.error.message, "error");
      return;
    }
    render(result.data);
    showMissingScopes(result.data.missing_scopes);
    const extra = (result.data.missing_scopes || []).length
      ? " Events need the events:write permission: reconnect Klaviyo to grant it."
      : "";
    say(note, `${TRIGGER_LABELS[key] || key} is ${enabled ? "on" : "off"}.${extra}`, extra ? "warn" : "ok");
    document.getElementById(`trigger-${key}`).focus();
  }

  function render(view) {
    const keys = Object.keys(view).filter((k) => view[k] && typeof view[k] === "object" && "metric_name" in view[k]);
    list.replaceChildren(...keys.map((key) => triggerItem(key, view[key], stats[key], onToggle)));
  }

  render(triggers.data);
  showMissingScopes(triggers.data.missing_scopes);
  card.hidden = false;
}

// Back from Klaviyo (?klaviyo=connected|denied): the outcome is on the card; a reload should not repeat it.
if (new URLSearchParams(window.location.search).has("klaviyo")) {
  window.history.replaceState(null, "", window.location.pathname + window.location.hash);
}

for (const button of document.querySelectorAll('[data-action="connect"]')) button.addEventListener("click", connect);
setupDisconnect();
loadTriggers();
