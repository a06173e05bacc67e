/* The privacy notice and the accessibility statement: their text in the page language (pages.js),
   the retention period from the service's configuration (GET /api/privacy). */
"use strict";

(function () {
  const I18N = window.CARE_I18N;
  const PAGES = window.CARE_PAGES;
  const DISPLAY = window.CARE_DISPLAY;
  const page = document.body.dataset.page;
  const select = document.getElementById("language");
  const content = document.getElementById("page-content");
  const state = { lang: "en", days: null };

  function t(key) {
    const table = I18N[state.lang] || I18N.en;
    return table[key] !== undefined ? table[key] : (I18N.en[key] !== undefined ? I18N.en[key] : key);
  }

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fill(text) {
    return String(text).split("{days}").join(state.days === null ? "…" : String(state.days));
  }

  function render() {
    const doc = (PAGES[page] || {})[state.lang] || (PAGES[page] || {}).en;
    document.documentElement.lang = state.lang;
    document.querySelectorAll("[data-i18n]").forEach(function (node) { node.textContent = t(node.dataset.i18n); });
    document.getElementById("page-title").textContent = doc.title;
    document.title = doc.title + " – " + t("pageTitle");
    content.textContent = "";
    content.appendChild(make("p", "lead", fill(doc.intro)));
    doc.sections.forEach(function (section) {
      content.appendChild(make("h2", null, section.heading));
      (section.paragraphs || []).forEach(function (text) { content.appendChild(make("p", null, fill(text))); });
      if (section.items) {
        const list = make("ul");
        section.items.forEach(function (text) { list.appendChild(make("li", null, fill(text))); });
        content.appendChild(list);
      }
    });
    content.dataset.retentionDays = state.days === null ? "" : String(state.days);
  }

  select.addEventListener("change", function () {
    state.lang = select.value;
    DISPLAY.save("care.lang", state.lang);
    render();
  });
  DISPLAY.wire(null);
  state.lang = DISPLAY.detectLanguage();
  select.value = state.lang;
  render();
  if (page === "privacy") {
    fetch("/api/privacy", { headers: { Accept: "application/json" } })
      .then(function (resp) { if (!resp.ok) throw new Error("status " + resp.status); return resp.json(); })
      .then(function (body) { state.days = Number(body.retention_days); render(); })
      .catch(function () { /* the text keeps "…" for the number */ });
  }
})();
