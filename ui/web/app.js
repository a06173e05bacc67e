/* The citizens' chat page: streamed answers, source cards with translations, a person to talk to,
   copy and print, feedback with reasons, and a conversation kept for this browser tab only.
   Everything that comes from documents or users is rendered with textContent, never innerHTML. */
"use strict";

(function () {
  const I18N = window.CARE_I18N;
  const DISPLAY = window.CARE_DISPLAY;
  const LANGS = ["da", "sv", "nb", "en"];
  const HISTORY_TURNS = 6;
  const HISTORY_CHARS = 8000;
  const KEPT_TURNS = 30;
  const SESSION_KEY = "care.conversation.v1";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const REASONS = ["did_not_answer", "wrong_municipality", "hard_to_understand", "other"];
  const OFFICE_SITES = { DK: "https://www.borger.dk", SE: "https://www.1177.se", NO: "https://www.helsenorge.no" };

  const el = {
    html: document.documentElement,
    language: document.getElementById("language"),
    municipality: document.getElementById("municipality"),
    log: document.getElementById("log"),
    empty: document.getElementById("empty"),
    starters: document.getElementById("starters"),
    startOver: document.getElementById("start-over"),
    announcer: document.getElementById("announcer"),
    form: document.getElementById("ask-form"),
    question: document.getElementById("question"),
    send: document.getElementById("send"),
    error: document.getElementById("form-error"),
  };

  /* turns: what is kept for this tab: [{question (redacted by the server), answer: {...}, feedback}] */
  const state = { lang: "en", busy: false, turns: [], municipalities: [] };

  // ------------------------------------------------------------------ storage (may be unavailable)

  const load = DISPLAY.load;
  const save = DISPLAY.save;

  function loadSession() {
    try {
      const raw = window.sessionStorage.getItem(SESSION_KEY);
      const data = raw ? JSON.parse(raw) : null;
      return data && Array.isArray(data.turns) ? data.turns : [];
    } catch (e) { return []; }
  }

  function saveSession() {
    try {
      const kept = state.turns.slice(-KEPT_TURNS);
      if (kept.length) window.sessionStorage.setItem(SESSION_KEY, JSON.stringify({ turns: kept }));
      else window.sessionStorage.removeItem(SESSION_KEY);
    } catch (e) { /* storage full or disabled: the conversation is simply not kept */ }
  }

  /* Earlier turns sent with a question: the server's redacted question and the answer text, never what was typed. */
  function history() {
    const out = [];
    state.turns.forEach(function (turn) {
      out.push({ role: "user", content: turn.question || "" });
      out.push({ role: "assistant", content: String(turn.answer.text || "").slice(0, HISTORY_CHARS) });
    });
    return out.slice(-HISTORY_TURNS);
  }

  // ------------------------------------------------------------------ texts

  function t(key, vars) {
    const table = I18N[state.lang] || I18N.en;
    let text = table[key] !== undefined ? table[key] : (I18N.en[key] !== undefined ? I18N.en[key] : key);
    if (vars) {
      Object.keys(vars).forEach(function (name) {
        const value = vars[name];
        // {language} etc. may name another text key (e.g. "lang_nb"); it is looked up in the page language.
        const shown = (typeof value === "string" && value.indexOf("@") === 0) ? t(value.slice(1)) : String(value);
        text = text.split("{" + name + "}").join(shown);
      });
    }
    return text;
  }

  /* Mark an element as showing a page text; applyTexts() refreshes it when the language changes. */
  function label(node, key, vars, attr) {
    if (attr) {
      node.dataset.i18nAttr = attr;
      node.dataset.i18nAttrKey = key;
      if (vars) node.dataset.i18nAttrVars = JSON.stringify(vars);
      node.setAttribute(attr, t(key, vars));
    } else {
      node.dataset.i18n = key;
      if (vars) node.dataset.i18nVars = JSON.stringify(vars);
      node.textContent = t(key, vars);
    }
    return node;
  }

  function applyTexts() {
    document.querySelectorAll("[data-i18n]").forEach(function (node) {
      const vars = node.dataset.i18nVars ? JSON.parse(node.dataset.i18nVars) : undefined;
      node.textContent = t(node.dataset.i18n, vars);
    });
    document.querySelectorAll("[data-i18n-attr]").forEach(function (node) {
      const vars = node.dataset.i18nAttrVars ? JSON.parse(node.dataset.i18nAttrVars) : undefined;
      node.setAttribute(node.dataset.i18nAttr, t(node.dataset.i18nAttrKey, vars));
    });
    // Page-text islands inside answers (which carry the answer's own lang) follow the page language.
    document.querySelectorAll("[data-page-lang]").forEach(function (node) { node.lang = state.lang; });
    document.querySelectorAll("optgroup[data-country]").forEach(function (group) {
      group.label = t("country" + group.dataset.country);
    });
    el.html.lang = state.lang;
    document.title = t("pageTitle");
    renderStarters();
  }

  function setLanguage(lang, remember) {
    state.lang = LANGS.indexOf(lang) >= 0 ? lang : "en";
    el.language.value = state.lang;
    if (remember) save("care.lang", state.lang);
    applyTexts();
  }

  function announce(text) {
    el.announcer.textContent = "";
    window.setTimeout(function () { el.announcer.textContent = text; }, 50);
  }

  // ------------------------------------------------------------------ small DOM helpers

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function pageText(tag, className, key, vars) {
    const node = label(make(tag, className), key, vars);
    node.lang = state.lang;
    node.dataset.pageLang = "";
    return node;
  }

  function icon(pathData, className) {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "20");
    svg.setAttribute("height", "20");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "icon" + (className ? " " + className : ""));
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", pathData);
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  const THUMB = "M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z";
  const COPY = "M16 1H4a2 2 0 0 0-2 2v14h2V3h12V1zm3 4H8a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h11a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2zm0 16H8V7h11v14z";
  const PRINT = "M19 8H5a3 3 0 0 0-3 3v6h4v4h12v-4h4v-6a3 3 0 0 0-3-3zm-3 11H8v-5h8v5zm3-7a1 1 0 1 1 0-2 1 1 0 0 1 0 2zM18 3H6v4h12V3z";
  const PERSON = "M12 12a5 5 0 1 0 0-10 5 5 0 0 0 0 10zm0 2c-3.3 0-10 1.7-10 5v3h20v-3c0-3.3-6.7-5-10-5z";

  let uid = 0;
  function nextId(prefix) { uid += 1; return prefix + "-" + uid; }

  function safeUrl(url) {
    if (!url) return null;
    try {
      const parsed = new URL(url, window.location.href);
      return (parsed.protocol === "https:" || parsed.protocol === "http:") ? parsed.href : null;
    } catch (e) { return null; }
  }

  function nearBottom() {
    const doc = document.documentElement;
    return window.innerHeight + window.scrollY >= doc.scrollHeight - 120;
  }

  function periodText(citation) {
    if (!citation.period) return t("noPeriod");
    return citation.period_ended ? t("periodEnded", { period: citation.period }) : citation.period;
  }

  // ------------------------------------------------------------------ municipalities

  async function loadMunicipalities() {
    const stored = load("care.municipality") || "";
    try {
      const resp = await fetch("/api/municipalities", { headers: { Accept: "application/json" } });
      if (!resp.ok) throw new Error("status " + resp.status);
      const list = await resp.json();
      state.municipalities = Array.isArray(list) ? list : [];
    } catch (e) {
      showError(t("municipalitiesError"));
      return;
    }
    const byCountry = {};
    state.municipalities.forEach(function (m) {
      (byCountry[m.country] = byCountry[m.country] || []).push(m);
    });
    ["DK", "SE", "NO"].forEach(function (country) {
      const items = byCountry[country];
      if (!items || !items.length) return;
      const group = document.createElement("optgroup");
      group.dataset.country = country;
      group.label = t("country" + country);
      items.forEach(function (m) {
        const option = make("option", null, m.name);
        option.value = m.name;
        group.appendChild(option);
      });
      el.municipality.appendChild(group);
    });
    if (stored && state.municipalities.some(function (m) { return m.name === stored; })) {
      el.municipality.value = stored;
    }
  }

  function onMunicipalityChange() {
    const name = el.municipality.value;
    save("care.municipality", name);
    announce(t("municipalityChanged", { name: name || t("allMunicipalities") }));
  }

  // ------------------------------------------------------------------ starter questions

  function renderStarters() {
    el.starters.textContent = "";
    const questions = (I18N[state.lang] || I18N.en).starters || [];
    questions.forEach(function (text) {
      const item = make("li");
      const button = make("button", "starter", text);
      button.type = "button";
      button.lang = state.lang;
      button.addEventListener("click", function () {
        if (state.busy) return;
        el.question.value = text;
        el.question.focus();
        submit();
      });
      item.appendChild(button);
      el.starters.appendChild(item);
    });
  }

  function showEmptyState() {
    const empty = state.turns.length === 0 && !el.log.children.length;
    el.empty.hidden = !empty;
    el.startOver.hidden = empty;
  }

  // ------------------------------------------------------------------ rendering answers

  /* Turn answer text into paragraphs and lists; [n] markers become buttons when that source exists. */
  function renderText(container, text, turn) {
    container.textContent = "";
    const lines = text.split("\n");
    let list = null;
    let para = null;
    lines.forEach(function (raw) {
      const line = raw.replace(/\s+$/, "");
      if (!line.trim()) { list = null; para = null; return; }
      const bullet = /^\s*[-•*]\s+/.exec(line);
      if (bullet) {
        para = null;
        if (!list) { list = make("ul"); container.appendChild(list); }
        const item = make("li");
        appendInline(item, line.slice(bullet[0].length), turn);
        list.appendChild(item);
      } else {
        list = null;
        if (!para) { para = make("p"); container.appendChild(para); } else { para.appendChild(document.createElement("br")); }
        appendInline(para, line, turn);
      }
    });
  }

  function appendInline(parent, text, turn) {
    const parts = text.split(/(\[\d+\])/);
    parts.forEach(function (part) {
      if (!part) return;
      const marker = /^\[(\d+)\]$/.exec(part);
      const n = marker ? Number(marker[1]) : null;
      if (n !== null && turn.cards[n]) {
        const button = make("button", "cite-marker", "[" + n + "]");
        button.type = "button";
        label(button, "openSource", { n: n }, "aria-label");
        button.addEventListener("click", function () { openCard(turn, n); });
        parent.appendChild(button);
      } else {
        parent.appendChild(document.createTextNode(part));
      }
    });
  }

  function openCard(turn, n) {
    const card = turn.cards[n];
    if (!card) return;
    card.open = true;
    const summary = card.querySelector("summary");
    summary.focus();
    card.scrollIntoView({ block: "nearest" });
  }

  /* The passage as the reader reads it: the translation in the answer's language with the verbatim
     original one click away, or the original with a note when it is not translated. */
  function renderPassage(body, c, answerLanguage) {
    const sourceLang = c.language || "";
    const translation = c.translation && c.translation.text ? c.translation : null;
    if (translation) {
      const status = translation.status === "reviewed" ? "translationReviewed" : "translationDraft";
      const note = make("p", "quote-label translation-note");
      note.dataset.translationStatus = translation.status;
      note.lang = state.lang;
      note.dataset.pageLang = "";
      note.appendChild(label(make("span", "translated-from"), "translatedFrom", { language: "@lang_" + sourceLang }));
      note.appendChild(document.createTextNode(" "));
      const badge = label(make("span", "translation-status " + translation.status), status);
      note.appendChild(badge);
      body.appendChild(note);
      body.appendChild(quote("source-text translated", translation.text, translation.language));
      const original = make("details", "original");
      const summary = label(make("summary"), "showOriginal", { language: "@lang_" + sourceLang });
      summary.lang = state.lang;
      summary.dataset.pageLang = "";
      original.appendChild(summary);
      original.appendChild(quote("source-text original-text", c.text, sourceLang));
      body.appendChild(original);
    } else {
      body.appendChild(pageText("p", "quote-label", "quote"));
      if (sourceLang && answerLanguage && sourceLang !== answerLanguage) {
        body.appendChild(pageText("p", "untranslated-note", "untranslatedNote", { language: "@lang_" + sourceLang }));
      }
      body.appendChild(quote("source-text", c.text, sourceLang));
    }
  }

  function quote(className, text, lang) {
    const block = make("blockquote", className);
    if (lang) block.lang = lang;
    String(text || "").split(/\n{2,}/).forEach(function (chunk) {
      if (chunk.trim()) block.appendChild(make("p", null, chunk.trim()));
    });
    return block;
  }

  function renderCitations(turn, citations) {
    turn.cards = {};
    turn.sourcesSlot.textContent = "";
    if (!citations.length) return;
    const section = make("section", "sources");
    const headingId = nextId("sources");
    const heading = pageText("h3", "sources-heading", "sources");
    heading.id = headingId;
    section.setAttribute("aria-labelledby", headingId);
    section.appendChild(heading);
    const list = make("ol", "source-list");
    citations.forEach(function (c) {
      const item = make("li");
      const card = make("details", "source-card");
      card.id = nextId("source");
      card.dataset.n = String(c.n);
      const summary = make("summary");
      const number = make("span", "source-n", String(c.n));
      number.setAttribute("aria-hidden", "true");
      const srNumber = pageText("span", "visually-hidden", "source", { n: c.n });
      summary.appendChild(number);
      const headingText = make("span", "source-heading-text");
      headingText.appendChild(srNumber);
      const title = make("span", "source-title", c.title);
      if (c.language) title.lang = c.language;
      headingText.appendChild(title);
      const sub = make("span", "source-sub");
      if (c.municipality) sub.appendChild(make("span", "source-muni", c.municipality));
      else sub.appendChild(pageText("span", "source-muni", "noMunicipality"));
      sub.appendChild(document.createTextNode(" · "));
      if (c.period && c.period_ended) sub.appendChild(pageText("span", "source-period", "periodEnded", { period: c.period }));
      else if (c.period) sub.appendChild(make("span", "source-period", c.period));
      else sub.appendChild(pageText("span", "source-period", "noPeriod"));
      if (c.translation) {
        sub.appendChild(document.createTextNode(" · "));
        sub.appendChild(pageText("span", "source-translated", "translatedFrom", { language: "@lang_" + c.language }));
      }
      headingText.appendChild(sub);
      summary.appendChild(headingText);
      card.appendChild(summary);

      const body = make("div", "source-body");
      const dl = make("dl", "source-meta");
      addMeta(dl, "plan", c.title, c.language);
      addMeta(dl, "municipality", c.municipality || null, null, "noMunicipality");
      addMeta(dl, "section", c.section, c.language);
      if (c.period && c.period_ended) addMeta(dl, "period", null, null, "periodEnded", { period: c.period });
      else addMeta(dl, "period", c.period || null, null, "noPeriod");
      if (c.language) addMeta(dl, "documentLanguage", null, null, "lang_" + c.language);
      body.appendChild(dl);
      renderPassage(body, c, turn.language);
      const href = safeUrl(c.url);
      if (href) {
        const link = pageText("a", "source-link", "link");
        link.href = href;
        link.rel = "noopener noreferrer";
        link.target = "_blank";
        body.appendChild(link);
      }
      card.appendChild(body);
      item.appendChild(card);
      list.appendChild(item);
      turn.cards[c.n] = card;
    });
    section.appendChild(list);
    turn.sourcesSlot.appendChild(section);
  }

  function addMeta(dl, key, value, lang, emptyKey, emptyVars) {
    const dt = label(make("dt"), key);
    dt.lang = state.lang;
    dt.dataset.pageLang = "";
    const dd = make("dd");
    if (value) {
      dd.textContent = value;
      if (lang) dd.lang = lang;
    } else if (emptyKey) {
      label(dd, emptyKey, emptyVars);
      dd.lang = state.lang;
      dd.dataset.pageLang = "";
    }
    dl.appendChild(dt);
    dl.appendChild(dd);
  }

  /* "Talk to a person": who decides a person's own case, named by the country the answer points to. */
  function renderPersonCard(turn) {
    const info = turn.record.answer;
    if (info.status !== "referred" && info.status !== "not_found") return;
    const card = make("section", "person-card");
    const headingId = nextId("person");
    card.setAttribute("aria-labelledby", headingId);
    card.appendChild(icon(PERSON, "person-icon"));
    const content = make("div", "person-content");
    const heading = pageText("h3", "person-heading", "personHeading");
    heading.id = headingId;
    content.appendChild(heading);
    const country = OFFICE_SITES[info.office_country] ? info.office_country : null;
    content.appendChild(pageText("p", "person-office", country ? "personOffice_" + country : "personOfficeAny"));
    content.appendChild(
      info.municipality
        ? pageText("p", "person-contact", "personContactNamed", { municipality: info.municipality })
        : pageText("p", "person-contact", "personContact")
    );
    const links = make("p", "person-links");
    (country ? [country] : ["DK", "SE", "NO"]).forEach(function (code) {
      const link = pageText("a", "person-link", "personMore", { site: OFFICE_SITES[code].replace("https://www.", "") });
      link.href = OFFICE_SITES[code];
      link.rel = "noopener noreferrer";
      links.appendChild(link);
    });
    content.appendChild(links);
    card.appendChild(content);
    turn.personSlot.appendChild(card);
  }

  // ------------------------------------------------------------------ copy and print

  function plainAnswer(turn) {
    const info = turn.record.answer;
    const lines = [info.text.trim()];
    const citations = info.citations || [];
    if (citations.length) {
      lines.push("", t("sources") + ":");
      citations.forEach(function (c) {
        const parts = [c.title, c.municipality || t("noMunicipality"), c.section, periodText(c)];
        lines.push("[" + c.n + "] " + parts.join(" – ") + (safeUrl(c.url) ? " " + safeUrl(c.url) : ""));
      });
    }
    return lines.join("\n");
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try { await navigator.clipboard.writeText(text); return true; } catch (e) { /* fall back */ }
    }
    const area = make("textarea", "copy-buffer");
    area.value = text;
    area.setAttribute("readonly", "");
    area.setAttribute("aria-hidden", "true");
    area.tabIndex = -1;
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    area.remove();
    return ok;
  }

  const printing = { cards: [] };

  /* Open the source cards (and originals) that will be printed, remembering how they were. */
  function openForPrint(scope) {
    printing.cards = [];
    scope.querySelectorAll("details.source-card, details.original").forEach(function (node) {
      printing.cards.push([node, node.open]);
      node.open = true;
    });
  }

  function restoreAfterPrint() {
    printing.cards.forEach(function (pair) { pair[0].open = pair[1]; });
    printing.cards = [];
    document.body.classList.remove("print-one");
    document.querySelectorAll(".print-target").forEach(function (node) { node.classList.remove("print-target"); });
  }

  function printTurn(turn) {
    restoreAfterPrint();
    document.body.classList.add("print-one");
    turn.userTurn.classList.add("print-target");
    turn.article.classList.add("print-target");
    openForPrint(turn.article);
    window.print();
  }

  window.addEventListener("beforeprint", function () {
    if (!document.body.classList.contains("print-one")) openForPrint(el.log);  // the browser's own print command
  });
  window.addEventListener("afterprint", restoreAfterPrint);

  function renderActions(turn) {
    const bar = make("div", "answer-actions");
    bar.setAttribute("role", "group");
    label(bar, "answerActions", null, "aria-label");
    bar.dataset.pageLang = "";
    bar.lang = state.lang;
    const copy = make("button", "action copy-answer");
    copy.type = "button";
    copy.appendChild(icon(COPY));
    copy.appendChild(label(make("span"), "copyAnswer"));
    const print = make("button", "action print-answer");
    print.type = "button";
    print.appendChild(icon(PRINT));
    print.appendChild(label(make("span"), "printAnswer"));
    const status = make("p", "action-status");
    status.setAttribute("role", "status");
    copy.addEventListener("click", async function () {
      const ok = await copyText(plainAnswer(turn));
      label(status, ok ? "copied" : "copyFailed");
      status.className = "action-status " + (ok ? "ok" : "failed");
    });
    print.addEventListener("click", function () { printTurn(turn); });
    bar.appendChild(copy);
    bar.appendChild(print);
    turn.actionsSlot.appendChild(bar);
    turn.actionsSlot.appendChild(status);
  }

  // ------------------------------------------------------------------ feedback

  function renderFeedback(turn) {
    const box = make("div", "feedback");
    const questionId = nextId("fbq");
    const prompt = pageText("p", "feedback-question", "feedbackQuestion");
    prompt.id = questionId;
    box.appendChild(prompt);

    const buttons = make("div", "thumbs");
    buttons.setAttribute("role", "group");
    buttons.setAttribute("aria-labelledby", questionId);
    const up = make("button", "thumb");
    const down = make("button", "thumb");
    [[up, true], [down, false]].forEach(function (pair) {
      const button = pair[0];
      const helpful = pair[1];
      button.type = "button";
      button.setAttribute("aria-pressed", "false");
      button.dataset.helpful = helpful ? "yes" : "no";
      button.appendChild(icon(THUMB, helpful ? "" : "flip"));
      button.appendChild(label(make("span"), helpful ? "helpfulYes" : "helpfulNo"));
      buttons.appendChild(button);
    });
    box.appendChild(buttons);

    const form = make("form", "feedback-form");
    form.hidden = true;
    form.noValidate = true;

    const reasons = make("fieldset", "reasons");
    reasons.hidden = true;
    reasons.appendChild(label(make("legend"), "reasonsLegend"));
    const radioName = nextId("reason");
    const radios = REASONS.map(function (reason) {
      const row = make("div", "reason");
      const input = make("input");
      input.type = "radio";
      input.name = radioName;
      input.value = reason;
      input.id = nextId("reason-" + reason);
      const text = label(make("label"), "reason_" + reason);
      text.htmlFor = input.id;
      row.appendChild(input);
      row.appendChild(text);
      reasons.appendChild(row);
      return input;
    });
    form.appendChild(reasons);

    const commentId = nextId("fbc");
    const commentLabel = label(make("label"), "commentLabel");
    commentLabel.htmlFor = commentId;
    const comment = make("textarea");
    comment.id = commentId;
    comment.rows = 2;
    comment.maxLength = 2000;
    const submit = label(make("button", "secondary"), "sendFeedback");
    submit.type = "submit";
    form.appendChild(commentLabel);
    form.appendChild(comment);
    form.appendChild(submit);
    box.appendChild(form);

    const status = make("p", "feedback-status");
    status.setAttribute("role", "status");
    box.appendChild(status);

    function markSent(value) {
      up.setAttribute("aria-pressed", String(value === true));
      down.setAttribute("aria-pressed", String(value === false));
      form.hidden = true;
      up.disabled = true;
      down.disabled = true;
      label(status, "feedbackThanks");
      status.className = "feedback-status ok";
    }

    let helpful = null;
    function choose(value) {
      helpful = value;
      up.setAttribute("aria-pressed", String(value === true));
      down.setAttribute("aria-pressed", String(value === false));
      form.hidden = false;
      reasons.hidden = value !== false;
      status.textContent = "";
    }
    up.addEventListener("click", function () { choose(true); comment.focus(); });
    down.addEventListener("click", function () { choose(false); radios[0].focus(); });

    let sending = false;
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (helpful === null || sending) return;
      sending = true;
      const payload = { answer_id: turn.id, helpful: helpful };
      const chosen = radios.find(function (r) { return r.checked; });
      if (helpful === false && chosen) payload.reason = chosen.value;
      const text = comment.value.trim();
      if (text) payload.comment = text;
      try {
        const resp = await fetch("/api/feedback", {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify(payload),
        });
        if (!resp.ok) throw new Error("status " + resp.status);
        comment.value = "";
        markSent(helpful);
        turn.record.feedback = { helpful: helpful, reason: payload.reason || null };
        saveSession();
      } catch (e) {
        label(status, "feedbackError");
        status.className = "feedback-status failed";
      } finally {
        sending = false;
      }
    });
    turn.feedbackSlot.appendChild(box);
    if (turn.record.feedback) markSent(turn.record.feedback.helpful);
  }

  // ------------------------------------------------------------------ the conversation

  function addQuestion(text) {
    const turn = make("div", "turn turn-user");
    turn.appendChild(pageText("p", "who", "you"));
    const bubble = make("p", "bubble bubble-user", text);
    bubble.dir = "auto";
    turn.appendChild(bubble);
    el.log.appendChild(turn);
    el.empty.hidden = true;
    el.startOver.hidden = false;
    return turn;
  }

  function addAnswer(userTurn) {
    const article = make("article", "turn turn-assistant pending");
    article.setAttribute("aria-busy", "true");
    article.appendChild(pageText("p", "who", "assistant"));
    const bubble = make("div", "bubble bubble-assistant");
    const body = make("div", "answer-text");
    body.appendChild(pageText("p", "typing", "sending"));
    bubble.appendChild(body);
    article.appendChild(bubble);
    const slots = {};
    ["pii", "person", "sources", "actions", "feedback"].forEach(function (name) {
      slots[name] = make("div", name + "-slot");
      article.appendChild(slots[name]);
    });
    el.log.appendChild(article);
    return {
      article: article, bubble: bubble, body: body, userTurn: userTurn,
      piiSlot: slots.pii, personSlot: slots.person, sourcesSlot: slots.sources,
      actionsSlot: slots.actions, feedbackSlot: slots.feedback,
      text: "", cards: {}, id: null, language: null,
      record: { question: "", answer: { text: "", citations: [] }, feedback: null },
    };
  }

  function applyStatus(turn, info) {
    turn.id = info.id;
    turn.language = info.language;
    turn.article.classList.remove("pending");
    turn.article.classList.add("status-" + info.status);
    turn.article.dataset.answerId = info.id;
    turn.article.dataset.status = info.status;
    turn.bubble.lang = info.language;
    turn.body.textContent = "";
    if (info.status === "crisis") {
      turn.bubble.classList.add("crisis");
      turn.bubble.setAttribute("role", "alert");
      const heading = pageText("p", "crisis-heading", "crisisHeading");
      turn.bubble.insertBefore(heading, turn.body);
    } else if (["not_found", "refused", "referred", "about"].indexOf(info.status) >= 0) {
      const key = { not_found: "notFound", refused: "refused", referred: "referred", about: "about" }[info.status];
      turn.article.insertBefore(pageText("p", "badge", key), turn.bubble);
    }
    if (info.pii_detected) turn.piiSlot.appendChild(pageText("p", "pii-note", "piiNote"));
    turn.record.question = typeof info.question === "string" ? info.question : "";
    turn.record.answer = {
      id: info.id,
      status: info.status,
      language: info.language,
      intent: info.intent || "",
      municipality: info.municipality || null,
      office_country: info.office_country || null,
      pii_detected: Boolean(info.pii_detected),
      text: "",
      citations: [],
    };
    // What the server kept is what the page shows (and keeps): the question with personal details removed.
    if (info.pii_detected && turn.record.question) turn.userTurn.querySelector(".bubble-user").textContent = turn.record.question;
  }

  function finishAnswer(turn) {
    turn.article.classList.add("complete");
    turn.article.setAttribute("aria-busy", "false");
    renderPersonCard(turn);
    renderActions(turn);
    renderFeedback(turn);
  }

  /* Draw a turn kept from earlier in this tab (after a reload). */
  function restoreTurn(record) {
    const userTurn = addQuestion(record.question);
    const turn = addAnswer(userTurn);
    const info = record.answer;
    applyStatus(turn, Object.assign({}, info, { question: record.question }));
    turn.record = record;
    turn.text = info.text || "";
    renderCitations(turn, info.citations || []);
    renderText(turn.body, turn.text, turn);
    finishAnswer(turn);
  }

  function startOver() {
    if (state.busy) return;
    state.turns = [];
    saveSession();
    el.log.textContent = "";
    el.error.textContent = "";
    showEmptyState();
    el.question.value = "";
    el.question.focus();
    announce(t("conversationCleared"));
  }

  function showError(text) {
    el.error.textContent = "";
    window.setTimeout(function () { el.error.textContent = text; }, 30);
  }

  function setBusy(busy) {
    state.busy = busy;
    el.send.setAttribute("aria-disabled", String(busy));
    el.send.classList.toggle("busy", busy);
    label(el.send, busy ? "sending" : "send");
  }

  async function errorText(resp) {
    if (resp.status === 503) return t("errorUnavailable");
    let detail = "";
    try {
      const body = await resp.json();
      if (body && typeof body.detail === "string") detail = body.detail;
    } catch (e) { /* not JSON */ }
    if (/too long/i.test(detail)) return t("errorTooLong");
    if (/empty/i.test(detail)) return t("errorEmpty");
    return t("errorInvalid") + (detail ? " (" + detail + ")" : "");
  }

  /* Read server-sent events from a fetch response body; call onEvent(name, data) for each. */
  async function readEvents(resp, onEvent) {
    const reader = resp.body.getReader();
    const decoder = new TextDecoder("utf-8");
    let buffer = "";
    function flush(block) {
      let name = "message";
      const data = [];
      block.split("\n").forEach(function (line) {
        if (!line || line.charAt(0) === ":") return;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.charAt(0) === " ") value = value.slice(1);
        if (field === "event") name = value;
        else if (field === "data") data.push(value);
      });
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      buffer = buffer.replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        flush(block);
      }
    }
    buffer += decoder.decode();
    if (buffer.trim()) flush(buffer.replace(/\r\n?/g, "\n"));
  }

  function dropTurn(userTurn, turn, message) {
    userTurn.remove();
    turn.article.remove();
    showEmptyState();
    el.question.value = message;
  }

  async function ask(message) {
    const municipality = el.municipality.value || null;
    const earlier = history();
    const userTurn = addQuestion(message);
    const turn = addAnswer(userTurn);
    el.question.value = "";
    setBusy(true);
    let finished = false;
    try {
      const resp = await fetch("/api/chat/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ message: message, municipality: municipality, history: earlier, language: state.lang }),
      });
      if (!resp.ok || !resp.body) {
        const text = await errorText(resp);
        dropTurn(userTurn, turn, message);
        showError(text);
        return;
      }
      await readEvents(resp, function (name, data) {
        const follow = nearBottom();
        if (name === "status") {
          applyStatus(turn, data);
        } else if (name === "delta") {
          turn.text += data.text;
          renderText(turn.body, turn.text, turn);
        } else if (name === "citations") {
          turn.record.answer.citations = Array.isArray(data) ? data : [];
          renderCitations(turn, turn.record.answer.citations);
          renderText(turn.body, turn.text, turn);
        } else if (name === "done") {
          finished = true;
          turn.article.dataset.latencyMs = String(data.latency_ms);
          turn.record.answer.text = turn.text;
          finishAnswer(turn);
          state.turns.push(turn.record);
          saveSession();
        }
        if (follow) window.scrollTo(0, document.documentElement.scrollHeight);
      });
      if (!finished) throw new Error("stream ended early");
    } catch (e) {
      if (!turn.id) dropTurn(userTurn, turn, message);
      showError(t("errorNetwork"));
    } finally {
      turn.article.setAttribute("aria-busy", "false");
      turn.article.classList.add("complete");
      setBusy(false);
    }
  }

  function submit() {
    if (state.busy) return;
    const message = el.question.value.trim();
    if (!message) {
      showError(t("errorEmpty"));
      el.question.focus();
      return;
    }
    if (message.length > Number(el.question.maxLength || 2000)) {
      showError(t("errorTooLong"));
      return;
    }
    el.error.textContent = "";
    ask(message);
  }

  // ------------------------------------------------------------------ wiring

  el.form.addEventListener("submit", function (event) { event.preventDefault(); submit(); });
  el.question.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  el.language.addEventListener("change", function () {
    setLanguage(el.language.value, true);
    announce(t("langName"));
  });
  el.municipality.addEventListener("change", onMunicipalityChange);
  el.startOver.addEventListener("click", startOver);
  DISPLAY.wire(function (what, value) {
    if (what === "textSize") announce(t("textSizeLabel") + ": " + t("textSize" + value));
    else announce(t("themeLabel") + ": " + t("theme" + value.charAt(0).toUpperCase() + value.slice(1)));
  });

  setLanguage(DISPLAY.detectLanguage(), false);
  // Turns kept from earlier in this tab are drawn without being announced again.
  el.log.removeAttribute("aria-live");
  loadSession().forEach(function (record) {
    if (record && record.answer && typeof record.answer.text === "string") {
      state.turns.push(record);
      restoreTurn(record);
    }
  });
  el.log.setAttribute("aria-live", "polite");
  showEmptyState();
  loadMunicipalities();
})();
