// "Preview on store": signed links that force one variation in the browser that opens them, and
// a live preview of the store in a frame. Links come from the configuration API
// (POST .../preview-links) and show the saved version of the experience.
import { api, sitePath } from "./api.js";
import { h, say } from "./dom.js";

export class StorePreview {
  constructor({ root, frame, message, pageInput, links }) {
    this.root = root;
    this.frame = frame;
    this.message = message;
    this.pageInput = pageInput;
    this.links = links;
    this.origins = [];
    this.experienceId = null;
    this.chosen = null;
  }

  async loadSite() {
    const result = await api("GET", sitePath(""));
    this.origins = result.ok ? result.data.allowed_origins || [] : [];
    if (!this.pageInput.value && this.origins.length) this.pageInput.value = this.origins[0] + "/";
  }

  // Fetch links for the saved experience; keep showing the variation chosen last.
  async refresh(experienceId) {
    this.experienceId = experienceId;
    this.root.hidden = !experienceId;
    if (!experienceId) return;
    if (!this.origins.length) {
      say(this.message, "Add your shop's address to the site's allowed origins to preview it here.", "warn");
      this.links.replaceChildren();
      return;
    }
    const body = this.pageInput.value.trim() ? { url: this.pageInput.value.trim() } : {};
    const result = await api("POST", sitePath(`/experiences/${encodeURIComponent(experienceId)}/preview-links`), { body });
    if (!result.ok) {
      say(this.message, result.error.message, "error");
      this.links.replaceChildren();
      return;
    }
    say(this.message, "The preview shows the saved version. Links work in the browser that opens them until they expire.");
    this.links.replaceChildren(...result.data.links.map((link) => h("li", {},
      h("button", { type: "button", class: "small", "aria-pressed": String(link.variation_id === this.chosen),
        "data-variation": link.variation_id, onclick: () => this.show(link) }, `Show ${link.name}`), " ",
      h("a", { href: link.url, target: "_blank", rel: "noopener", "data-preview-link": link.variation_id,
        text: `Preview on store: ${link.name}${link.is_control ? " (control)" : ""}` }))));
    const again = result.data.links.find((link) => link.variation_id === this.chosen);
    if (again) this.show(again);
  }

  show(link) {
    this.chosen = link.variation_id;
    this.frame.hidden = false;
    this.frame.title = `Your store showing ${link.name}`;
    this.frame.src = link.url;
    for (const button of this.links.querySelectorAll("button[data-variation]")) {
      button.setAttribute("aria-pressed", String(button.dataset.variation === link.variation_id));
    }
  }
}
