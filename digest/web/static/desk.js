// The editors' desk: post forms through fetch (with the CSRF token), live regions swapped in
// place, previews reloaded on Server-Sent Events. No framework, nothing from elsewhere.
// Each form names (data-answer) the live region (data-msg) beside it that shows its answer;
// those regions survive the swaps, so screen readers hear the answer where it happened.
"use strict";
(() => {
  const desk = document.querySelector("[data-desk]");
  document.documentElement.classList.add("js");
  if (!desk) return;
  const csrf = desk.dataset.csrf;
  const announce = document.getElementById("announce");
  let segment = desk.dataset.segment;
  let tab = "html";

  const say = (id, message, failed) => {
    const where = (id && document.getElementById(id)) || announce;
    for (const old of desk.querySelectorAll("[data-msg]")) {
      if (old !== where) old.textContent = "";
    }
    if (where !== announce) announce.textContent = "";
    where.textContent = message || "";
    where.classList.toggle("is-error", Boolean(failed));
    if (message) where.scrollIntoView({ block: "nearest" });
  };

  const dirty = (region) =>
    [...region.querySelectorAll("textarea, input[type=text], input[type=email]")].some(
      (t) => t.value !== t.defaultValue,
    );

  const showTab = () => {
    for (const button of desk.querySelectorAll('[role="tab"]')) {
      const selected = button.id === `tab-${tab}`;
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
      const panel = document.getElementById(button.getAttribute("aria-controls"));
      if (panel) panel.hidden = !selected;
    }
  };

  const refresh = async (focused) => {
    const url = `${desk.dataset.live}?segment=${encodeURIComponent(segment)}`;
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) return;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const keep = focused || (document.activeElement && document.activeElement.id);
    for (const fresh of doc.querySelectorAll("[data-region]")) {
      const current = document.getElementById(fresh.id);
      if (!current || dirty(current)) continue;
      const messages = new Map([...current.querySelectorAll("[data-msg]")].map((m) => [m.id, m]));
      const imported = document.importNode(fresh, true);
      for (const slot of imported.querySelectorAll("[data-msg]")) {
        const old = messages.get(slot.id);
        if (old) slot.replaceWith(old);
      }
      current.replaceWith(imported);
    }
    showTab();
    const target = keep && document.getElementById(keep);
    if (target && !target.disabled) target.focus();
    else if (keep && target) target.closest("form")?.querySelector("button:not([disabled])")?.focus();
  };

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-fetch")) return;
    event.preventDefault();
    const submitter = event.submitter;
    const focused = (submitter && submitter.id) || (document.activeElement && document.activeElement.id);
    const body = new URLSearchParams(new FormData(form, submitter));
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    let message = "";
    let failed = false;
    try {
      const response = await fetch(form.getAttribute("action"), {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf, Accept: "application/json" },
      });
      const answer = await response.json().catch(() => ({ message: response.statusText }));
      if (response.ok) {
        for (const field of form.querySelectorAll("textarea, input")) {
          if ("defaultValue" in field) field.defaultValue = field.value;
        }
      }
      message = answer.message;
      failed = !response.ok;
    } catch (error) {
      message = `The desk did not answer: ${error}`;
      failed = true;
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
    await refresh(focused);
    say(form.dataset.answer, message, failed);
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
    if (!button || !["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
    event.preventDefault();
    const tabs = [...desk.querySelectorAll('[role="tab"]')];
    const at = tabs.indexOf(button);
    const next = {
      ArrowLeft: (at - 1 + tabs.length) % tabs.length,
      ArrowRight: (at + 1) % tabs.length,
      Home: 0,
      End: tabs.length - 1,
    }[event.key];
    tab = tabs[next].id.replace("tab-", "");
    showTab();
    tabs[next].focus();
  });

  showTab();
  if (window.EventSource) {
    const events = new EventSource(desk.dataset.events);
    events.addEventListener("ready", () => { desk.dataset.liveReady = "yes"; });
    events.addEventListener("change", () => refresh());
  }
})();
