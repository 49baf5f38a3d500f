/* The login page: exchange a user name and password for the map pages' session cookie. */
(function () {
  "use strict";
  var _ = gdI18n.t;
  var form = document.getElementById("login");
  var message = document.getElementById("message");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    message.textContent = "";
    fetch("/api/v1/auth/session", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(new FormData(form)).toString(),
    }).then(function (response) {
      if (response.ok) {
        location.href = form.dataset.next;
        return null;
      }
      return response.json().then(function (body) {
        message.textContent = body.detail || _("login failed");
      });
    }).catch(function () { message.textContent = _("The server cannot be reached"); });
  });
})();
