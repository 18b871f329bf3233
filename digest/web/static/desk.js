// The editors' desk: post forms through fetch (with the CSRF token), live regions swapped in
// place, previews reloaded on Server-Sent Events. No framework, nothing from elsewhere.
"use strict";
(() => {
  const desk = document.querySelector("[data-desk]");
  document.documentElement.classList.add("js");
  if (!desk) return;
  const csrf = desk.dataset.csrf;
  const announce = document.getElementById("announce");
  let segment = desk.dataset.segment;
  let tab = "html";

  const say = (message, failed) => {
    announce.textContent = message || "";
    announce.classList.toggle("is-error", Boolean(failed));
  };

  const dirty = (region) =>
    [...region.querySelectorAll("textarea")].some((t) => t.value !== t.defaultValue);

  const showTab = () => {
    for (const button of desk.querySelectorAll('[role="tab"]')) {
      const selected = button.id === `tab-${tab}`;
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
      const panel = document.getElementById(button.getAttribute("aria-controls"));
      if (panel) panel.hidden = !selected;
    }
  };

  const refresh = async () => {
    const url = `${desk.dataset.live}?segment=${encodeURIComponent(segment)}`;
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) return;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const focused = document.activeElement && document.activeElement.id;
    for (const fresh of doc.querySelectorAll("[data-region]")) {
      const current = document.getElementById(fresh.id);
      if (!current || dirty(current)) continue;
      current.replaceWith(document.importNode(fresh, true));
    }
    showTab();
    if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
  };

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-fetch")) return;
    event.preventDefault();
    const body = new URLSearchParams(new FormData(form, event.submitter));
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const response = await fetch(form.getAttribute("action"), {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf, Accept: "application/json" },
      });
      const answer = await response.json().catch(() => ({ message: response.statusText }));
      for (const area of form.querySelectorAll("textarea")) area.defaultValue = area.value;
      say(answer.message, !response.ok);
    } catch (error) {
      say(`The desk did not answer: ${error}`, true);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
    await refresh();
  });

  desk.addEventListener("change", (event) => {
    if (!event.target.matches("[data-segment-switch]")) return;
    segment = event.target.value;
    const url = new URL(window.location.href);
    url.searchParams.set("segment", segment);
    url.searchParams.delete("notice");
    history.replaceState(null, "", url);
    refresh();
  });

  desk.addEventListener("click", (event) => {
    const button = event.target.closest('[role="tab"]');
    if (!button) return;
    tab = button.id.replace("tab-", "");
    showTab();
  });

  desk.addEventListener("keydown", (event) => {
    const button = event.target.closest('[role="tab"]');
    if (!button || !["ArrowLeft", "ArrowRight"].includes(event.key)) return;
    tab = tab === "html" ? "text" : "html";
    showTab();
    document.getElementById(`tab-${tab}`).focus();
  });

  showTab();
  if (window.EventSource) {
    const events = new EventSource(desk.dataset.events);
    events.addEventListener("ready", () => { desk.dataset.liveReady = "yes"; });
    events.addEventListener("change", () => refresh());
  }
})();
