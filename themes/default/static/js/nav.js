// Folds the service navigation behind its "Menu" button on narrow screens (site.css hides the
// button on wide ones). Without this script the button stays hidden and the list shows in full.
(function () {
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".service-nav").forEach(function (nav) {
      var button = nav.querySelector(".service-nav-toggle");
      var list = nav.querySelector(".service-nav-list");
      if (!button || !list) return;
      nav.classList.add("is-collapsible");
      button.hidden = false;
      button.addEventListener("click", function () {
        var open = button.getAttribute("aria-expanded") !== "true";
        button.setAttribute("aria-expanded", open ? "true" : "false");
        list.classList.toggle("is-open", open);
      });
    });
  });
})();
