/* Document upload: refuse an oversized file before it is sent (the server refuses it too). */
(function () {
  "use strict";
  var input = document.querySelector("#document-upload input[type=file]");
  if (!input) { return; }
  var max = parseInt(input.getAttribute("data-max-bytes"), 10);
  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    var tooLarge = Boolean(file && max && file.size > max);
    input.setCustomValidity(tooLarge ? input.getAttribute("data-too-large") : "");
    if (tooLarge) { input.reportValidity(); }
  });
  input.form.addEventListener("submit", function (event) {
    if (!input.checkValidity()) {
      event.preventDefault();
      input.reportValidity();
    }
  });
}());
