/* The citizens' chat page: streamed answers, source cards, feedback.
   Everything that comes from documents or users is rendered with textContent, never innerHTML. */
"use strict";

(function () {
  const I18N = window.CARE_I18N;
  const LANGS = ["da", "sv", "nb", "en"];
  const HISTORY_TURNS = 6;
  const HISTORY_CHARS = 8000;
  const SVG_NS = "http://www.w3.org/2000/svg";

  const el = {
    html: document.documentElement,
    language: document.getElementById("language"),
    municipality: document.getElementById("municipality"),
    log: document.getElementById("log"),
    empty: document.getElementById("empty"),
    announcer: document.getElementById("announcer"),
    form: document.getElementById("ask-form"),
    question: document.getElementById("question"),
    send: document.getElementById("send"),
    error: document.getElementById("form-error"),
  };

  const state = { lang: "en", busy: false, history: [], municipalities: [] };

  // ------------------------------------------------------------------ storage (may be unavailable)

  function load(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function save(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* private mode: fine */ }
  }

  // ------------------------------------------------------------------ texts

  function t(key, vars) {
    const table = I18N[state.lang] || I18N.en;
    let text = table[key] !== undefined ? table[key] : (I18N.en[key] !== undefined ? I18N.en[key] : key);
    if (vars) {
      Object.keys(vars).forEach(function (name) { text = text.split("{" + name + "}").join(String(vars[name])); });
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
  }

  function detectLanguage() {
    const stored = load("care.lang");
    if (stored && LANGS.indexOf(stored) >= 0) return stored;
    const wanted = (navigator.languages && navigator.languages.length) ? navigator.languages : [navigator.language || "en"];
    for (let i = 0; i < wanted.length; i++) {
      const code = String(wanted[i] || "").toLowerCase().split("-")[0];
      if (code === "da" || code === "sv" || code === "en") return code;
      if (code === "nb" || code === "no" || code === "nn") return "nb";
    }
    return "en";
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

  function thumbIcon(down) {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "20");
    svg.setAttribute("height", "20");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "icon" + (down ? " flip" : ""));
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", "M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z");
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

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

  function renderCitations(turn, citations) {
    turn.cards = {};
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
      const heading = make("span", "source-heading-text");
      heading.appendChild(srNumber);
      const title = make("span", "source-title", c.title);
      if (c.language) title.lang = c.language;
      heading.appendChild(title);
      if (c.municipality) {
        heading.appendChild(make("span", "source-muni", c.municipality));
      }
      summary.appendChild(heading);
      card.appendChild(summary);

      const body = make("div", "source-body");
      const dl = make("dl", "source-meta");
      addMeta(dl, "docTitle", c.title, c.language);
      addMeta(dl, "municipality", c.municipality || null, null, "noMunicipality");
      addMeta(dl, "section", c.section, c.language);
      if (c.period) addMeta(dl, "period", c.period, null);
      body.appendChild(dl);
      body.appendChild(pageText("p", "quote-label", "quote"));
      const quote = make("blockquote", "source-text");
      if (c.language) quote.lang = c.language;
      String(c.text || "").split(/\n{2,}/).forEach(function (chunk) {
        if (chunk.trim()) quote.appendChild(make("p", null, chunk.trim()));
      });
      body.appendChild(quote);
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
    turn.article.insertBefore(section, turn.feedbackSlot);
  }

  function addMeta(dl, key, value, lang, emptyKey) {
    const dt = label(make("dt"), key);
    dt.lang = state.lang;
    dt.dataset.pageLang = "";
    const dd = make("dd");
    if (value) {
      dd.textContent = value;
      if (lang) dd.lang = lang;
    } else if (emptyKey) {
      label(dd, emptyKey);
      dd.lang = state.lang;
      dd.dataset.pageLang = "";
    }
    dl.appendChild(dt);
    dl.appendChild(dd);
  }

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
      button.appendChild(thumbIcon(!helpful));
      button.appendChild(label(make("span"), helpful ? "helpfulYes" : "helpfulNo"));
      buttons.appendChild(button);
    });
    box.appendChild(buttons);

    const form = make("form", "feedback-form");
    form.hidden = true;
    form.noValidate = true;
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

    let helpful = null;
    function choose(value) {
      helpful = value;
      up.setAttribute("aria-pressed", String(value === true));
      down.setAttribute("aria-pressed", String(value === false));
      form.hidden = false;
      status.textContent = "";
    }
    up.addEventListener("click", function () { choose(true); comment.focus(); });
    down.addEventListener("click", function () { choose(false); comment.focus(); });

    let sending = false;
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (helpful === null || sending) return;
      sending = true;
      const payload = { answer_id: turn.id, helpful: helpful };
      const text = comment.value.trim();
      if (text) payload.comment = text;
      try {
        const resp = await fetch("/api/feedback", {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify(payload),
        });
        if (!resp.ok) throw new Error("status " + resp.status);
        form.hidden = true;
        comment.value = "";
        up.disabled = true;
        down.disabled = true;
        label(status, "feedbackThanks");
        status.className = "feedback-status ok";
      } catch (e) {
        label(status, "feedbackError");
        status.className = "feedback-status failed";
      } finally {
        sending = false;
      }
    });
    turn.feedbackSlot.appendChild(box);
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
    return turn;
  }

  function addPendingAnswer() {
    const article = make("article", "turn turn-assistant pending");
    article.setAttribute("aria-busy", "true");
    article.appendChild(pageText("p", "who", "assistant"));
    const bubble = make("div", "bubble bubble-assistant");
    const body = make("div", "answer-text");
    const typing = pageText("p", "typing", "sending");
    body.appendChild(typing);
    bubble.appendChild(body);
    article.appendChild(bubble);
    const feedbackSlot = make("div", "feedback-slot");
    article.appendChild(feedbackSlot);
    el.log.appendChild(article);
    return { article: article, bubble: bubble, body: body, feedbackSlot: feedbackSlot, text: "", cards: {}, id: null };
  }

  function applyStatus(turn, info) {
    turn.id = info.id;
    turn.status = info.status;
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
    } else if (info.status === "not_found" || info.status === "refused") {
      const badge = pageText("p", "badge", info.status === "not_found" ? "notFound" : "refused");
      turn.article.insertBefore(badge, turn.bubble);
    }
    if (info.pii_detected) {
      const note = pageText("p", "pii-note", "piiNote");
      turn.article.insertBefore(note, turn.feedbackSlot);
    }
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

  async function ask(message) {
    const municipality = el.municipality.value || null;
    const history = state.history.slice(-HISTORY_TURNS);
    const userTurn = addQuestion(message);
    const turn = addPendingAnswer();
    el.question.value = "";
    setBusy(true);
    let finished = false;
    try {
      const resp = await fetch("/api/chat/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ message: message, municipality: municipality, history: history }),
      });
      if (!resp.ok || !resp.body) {
        const text = await errorText(resp);
        userTurn.remove();
        turn.article.remove();
        if (!el.log.children.length) el.empty.hidden = false;
        el.question.value = message;
        showError(text);
        return;
      }
      await readEvents(resp, function (name, data) {
        const follow = nearBottom();
        if (name === "status") {
          applyStatus(turn, data);
          if (typeof data.question === "string") turn.redactedQuestion = data.question;
        } else if (name === "delta") {
          turn.text += data.text;
          renderText(turn.body, turn.text, turn);
        } else if (name === "citations") {
          renderCitations(turn, Array.isArray(data) ? data : []);
          renderText(turn.body, turn.text, turn);
        } else if (name === "done") {
          finished = true;
          turn.article.dataset.latencyMs = String(data.latency_ms);
          renderFeedback(turn);
        }
        if (follow) window.scrollTo(0, document.documentElement.scrollHeight);
      });
      if (!finished) throw new Error("stream ended early");
      // Only the server's redacted copy of the question is kept and sent back as history.
      state.history.push({ role: "user", content: turn.redactedQuestion || "" });
      state.history.push({ role: "assistant", content: turn.text.slice(0, HISTORY_CHARS) });
    } catch (e) {
      if (!turn.id) {
        userTurn.remove();
        turn.article.remove();
        if (!el.log.children.length) el.empty.hidden = false;
        el.question.value = message;
      }
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

  setLanguage(detectLanguage(), false);
  loadMunicipalities();
})();
