// Shows or hides conditional form fields (show_if) as answers change. Without JavaScript the
// server does the same on "Tiếp tục", so nothing depends on this script.
(function () {
  function update(form) {
    form.querySelectorAll("[data-show-if-field]").forEach(function (box) {
      var source = form.querySelector('[name="' + box.dataset.showIfField + '"]');
      var shown = source && source.value === box.dataset.showIfEquals;
      box.hidden = !shown;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.form").forEach(function (form) {
      update(form);
      form.addEventListener("change", function () { update(form); });
    });
  });
})();
