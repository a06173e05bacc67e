/* Text size and colour theme, remembered in this browser; shared by the chat page and the information pages.
   Loaded without "defer" so the chosen size and colours apply before the page is first drawn. */
"use strict";

(function () {
  const SIZES = ["100", "125", "150", "200"];
  const THEMES = ["auto", "light", "dark", "contrast"];
  const LANGS = ["da", "sv", "nb", "en"];
  const root = document.documentElement;

  function load(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function save(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* private mode: fine */ }
  }

  function setTextSize(value, remember) {
    const size = SIZES.indexOf(String(value)) >= 0 ? String(value) : "100";
    root.dataset.textSize = size;
    if (remember) save("care.textSize", size);
    return size;
  }

  /* "auto" follows the device (prefers-color-scheme, prefers-contrast); the others override it. */
  function setTheme(value, remember) {
    const theme = THEMES.indexOf(String(value)) >= 0 ? String(value) : "auto";
    root.dataset.theme = theme;
    if (remember) save("care.theme", theme);
    return theme;
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

  /* Connect the two selects of the display bar (if the page has them). */
  function wire(onChange) {
    const size = document.getElementById("text-size");
    const theme = document.getElementById("theme");
    if (size) {
      size.value = root.dataset.textSize || "100";
      size.addEventListener("change", function () {
        setTextSize(size.value, true);
        if (onChange) onChange("textSize", size.value);
      });
    }
    if (theme) {
      theme.value = root.dataset.theme || "auto";
      theme.addEventListener("change", function () {
        setTheme(theme.value, true);
        if (onChange) onChange("theme", theme.value);
      });
    }
  }

  setTextSize(load("care.textSize"), false);
  setTheme(load("care.theme"), false);

  window.CARE_DISPLAY = {
    setTextSize: setTextSize,
    setTheme: setTheme,
    detectLanguage: detectLanguage,
    wire: wire,
    load: load,
    save: save,
  };
})();
