// "Print or save this page": the button works only with JavaScript, so it starts hidden and this file shows it
// (and hides the instruction written for browsers without JavaScript). A static file: the CSP allows no inline script.
document.querySelectorAll("[data-print-button]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
});
document.querySelectorAll("[data-print-hint]").forEach(function (hint) { hint.hidden = true; });
