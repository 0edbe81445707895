/* Progressive enhancement for the stylerecs storefront. Every form here works without
   JavaScript (POST, then a redirect back); with it, likes and dislikes are sent with
   fetch() and the page stays where it is. */
(function () {
  "use strict";
  if (window.stylerecsStorefront) return; // the script may be included more than once
  window.stylerecsStorefront = true;

  // The variant on show in the product's switcher, so a like is of the look seen.
  function shownVariant(form) {
    var product = form.getAttribute("data-product");
    var checked = document.querySelector("#sr-" + product + " input.stylerecs-choice:checked");
    return checked && checked.getAttribute("data-variant") || "";
  }

  function send(form, kind) {
    var status = form.querySelector(".stylerecs-feedback-status");
    var data = new FormData(form);
    data.set("kind", kind);
    var variant = shownVariant(form);
    if (variant) data.set("variant", variant);
    return fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.detail || "Could not save that, sorry.");
        form.querySelectorAll("button[name=kind]").forEach(function (button) {
          button.setAttribute("aria-pressed", String(button.value === kind));
        });
        status.textContent = body.message;
      });
    }).catch(function (error) {
      status.textContent = error.message;
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("stylerecs-feedback")) return;
    var submitter = event.submitter;
    if (!submitter || !window.fetch || !window.FormData) return; // plain POST instead
    event.preventDefault();
    send(form, submitter.value);
  });

  // "My style": show each slider's value as it moves.
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (input.type !== "range") return;
    var output = document.querySelector('output[for="' + input.id + '"]');
    if (output) output.textContent = Number(input.value).toFixed(1);
  });
})();
