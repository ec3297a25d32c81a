/**
 * The dashboard's two static files, served by the Worker from /ui/assets/ (no front-end build).
 * The Content-Security-Policy allows scripts and styles from these URLs only: nothing inline.
 */

/**
 * Refreshes `<main data-refresh="N">` every N seconds in place (not while a form field has focus);
 * elements marked data-keep (the settings form with what the operator typed) stay as they are.
 */
export const APP_JS = `"use strict";
(function () {
  var main = document.querySelector("main[data-refresh]");
  if (!main) return;
  var seconds = Number(main.getAttribute("data-refresh")) || 5;
  setInterval(function () {
    var active = document.activeElement;
    if (active && active.closest && active.closest("form") && active.tagName !== "BUTTON") return;
    fetch(location.href, { credentials: "same-origin", headers: { "x-refresh": "1" } })
      .then(function (res) { return res.ok ? res.text() : null; })
      .then(function (html) {
        if (!html) return;
        var next = new DOMParser().parseFromString(html, "text/html").querySelector("main");
        if (!next) return;
        var kept = Array.prototype.slice.call(main.querySelectorAll("[data-keep][id]"));
        main.innerHTML = next.innerHTML;
        kept.forEach(function (el) {
          var fresh = main.querySelector("#" + CSS.escape(el.id));
          if (fresh) fresh.replaceWith(el);
        });
      })
      .catch(function () {});
  }, seconds * 1000);
})();
`;

export const APP_CSS = `
:root { font-family: system-ui, sans-serif; color: #1b1f24; background: #fff; }
body { margin: 0; }
header { display: flex; gap: 1rem; align-items: center; padding: .5rem 1rem; background: #1b1f24; color: #fff; }
header a { color: #fff; }
header form { margin-left: auto; }
main { padding: 1rem; max-width: 80rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1.5rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #d0d7de; vertical-align: top; }
th { background: #f6f8fa; }
.chip { display: inline-block; padding: .1rem .5rem; border-radius: 1rem; font-weight: 600; font-size: .85rem; border: 1px solid currentColor; }
.chip-healthy { color: #116329; background: #dafbe1; }
.chip-syncing, .chip-importing { color: #0a3069; background: #ddf4ff; }
.chip-late { color: #6f4400; background: #fff8c5; }
.chip-failing, .chip-access-lost { color: #82071e; background: #ffebe9; }
.chip-paused { color: #32383f; background: #eaeef2; }
.chip-reason { font-size: .85rem; color: #57606a; }
.chip-new { color: #32383f; background: #eaeef2; }
.chip-retrying, .chip-conflicts { color: #6f4400; background: #fff8c5; }
#chip-summary a { margin-right: .5rem; white-space: nowrap; }
form.filters { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; margin: .5rem 0; }
.scroll { overflow-x: auto; }
time[title] { text-decoration: underline dotted; }
/* A phone shows what matters at a glance: the project, its status and its lag. */
@media (max-width: 40rem) {
  main { padding: .5rem; }
  .wide { display: none; }
  .chip-reason { display: block; }
  header { flex-wrap: wrap; }
  svg { max-width: 100%; height: auto; }
}
progress { width: 20rem; height: 1rem; }
form.inline { display: inline; }
button { font: inherit; padding: .2rem .6rem; cursor: pointer; }
code, pre { font-family: ui-monospace, monospace; font-size: .85rem; }
pre { white-space: pre-wrap; word-break: break-word; margin: 0; max-width: 40rem; }
.muted { color: #57606a; }
.error { color: #82071e; }
dl.rules dt { font-weight: 600; }
.project-form fieldset { border: 1px solid #d0d7de; margin: .5rem 0; padding: .5rem 1rem; }
.project-form .field { display: grid; grid-template-columns: minmax(10rem, 18rem) minmax(0, 1fr); gap: .2rem 1rem; align-items: start; margin: .3rem 0; }
.project-form .field .hint, .project-form .field .field-error { grid-column: 2; font-size: .85rem; }
.project-form input, .project-form select, .project-form textarea { font: inherit; max-width: 100%; box-sizing: border-box; }
.project-form input[type=text], .project-form input[type=url], .project-form input[type=password], .project-form textarea { width: 100%; }
.ok { color: #116329; }
@media (max-width: 40rem) { .project-form .field { grid-template-columns: minmax(0, 1fr); } .project-form .field .hint, .project-form .field .field-error { grid-column: 1; } }
svg text { font-size: 12px; fill: #1b1f24; }
svg .duration { fill: #0969da; } svg .requests { fill: #8250df; } svg .changes { fill: #1a7f37; } svg .failed { fill: #cf222e; }
`;
