/* The status form shows the appointment fields only for "Scheduled" and the outcome only for "Closed".
   Without JavaScript every field shows with a hint, and the server says which one is missing. */
(function () {
  "use strict";
  document.querySelectorAll("form[data-status-form]").forEach(function (form) {
    var select = form.querySelector("select[name=status]");
    if (!select) { return; }
    function update() {
      form.querySelectorAll("[data-needed-for]").forEach(function (part) {
        part.hidden = part.getAttribute("data-needed-for") !== select.value;
      });
    }
    select.addEventListener("change", update);
    update();
  });
}());
