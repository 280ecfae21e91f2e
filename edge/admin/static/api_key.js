// The Integrations page's "API key" card: rotate (confirmed), then the new key once with Copy.
import { api, sitePath } from "./api.js";
import { say } from "./dom.js";

const open = document.getElementById("api-key-rotate");
const box = document.getElementById("api-key-confirm");
const yes = document.getElementById("api-key-confirm-yes");
const no = document.getElementById("api-key-confirm-no");
const shown = document.getElementById("api-key-new");
const value = document.getElementById("api-key-value");
const grace = document.getElementById("api-key-grace");
const copy = document.getElementById("api-key-copy");
const message = document.getElementById("api-key-message");

function confirmBox(visible) {
  box.hidden = !visible;
  open.setAttribute("aria-expanded", String(visible));
  (visible ? yes : open).focus();
}

function graceText(seconds, until) {
  if (seconds === 0) return "The old key no longer works.";
  const hours = seconds / 3600;
  const span = Number.isInteger(hours) ? `${hours} hour${hours === 1 ? "" : "s"}` : `${seconds} seconds`;
  return `The old key keeps working for ${span}, until ${new Date(until * 1000).toLocaleString()}, then it is refused.`;
}

open.addEventListener("click", () => confirmBox(box.hidden));
no.addEventListener("click", () => confirmBox(false));
box.addEventListener("keydown", (event) => {
  if (event.key === "Escape") confirmBox(false);
});

yes.addEventListener("click", async () => {
  yes.disabled = true;
  say(message, "Rotating…");
  const result = await api("POST", sitePath("/rotate-key"));
  yes.disabled = false;
  if (!result.ok) {
    say(message, result.error.message, "error");
    return;
  }
  box.hidden = true;
  open.setAttribute("aria-expanded", "false");
  value.textContent = result.data.api_key;
  grace.textContent = graceText(result.data.grace_s, result.data.previous_key_valid_until);
  shown.hidden = false;
  say(message, "New key issued.", "ok");
  copy.focus();
});

copy.addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(value.textContent);
    say(message, "Copied. Keep it somewhere safe: it is not shown again.", "ok");
  } catch (err) {
    const range = document.createRange();
    range.selectNodeContents(value);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    say(message, "Selected: press Ctrl+C (or Cmd+C) to copy.", "warn");
  }
});
