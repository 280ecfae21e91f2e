// The Integrations page's "Copy" button for the storefront snippet tag (rendered disabled: it
// does nothing until this script has run).
import { say } from "./dom.js";

const button = document.getElementById("snippet-copy");
const message = document.getElementById("snippet-message");

button.addEventListener("click", async () => {
  const text = document.getElementById(button.dataset.copy).textContent;
  try {
    await navigator.clipboard.writeText(text);
    say(message, "Copied. Paste it into your theme's <head>.", "ok");
  } catch (err) {
    const range = document.createRange();
    range.selectNodeContents(document.getElementById(button.dataset.copy));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    say(message, "Selected: press Ctrl+C (or Cmd+C) to copy.", "warn");
  }
});
button.disabled = false;
