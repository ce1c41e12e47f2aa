/* Secure payment page: the same checks as the server (Luhn, ABA routing checksum, expiry, name),
   shown next to each field before anything is sent. Nothing is stored. With a hosted-fields
   processor the processor's own script takes the numbers and this file only passes its token. */
(function () {
  "use strict";
  var form = document.getElementById("pay-form");
  if (!form) { return; }

  // Hosted fields: the processor's script (window.jecHostedFields, docs/security.md) draws its own
  // fields in #hosted-fields; this page sends only the token it returns, never a number.
  if (form.getAttribute("data-mode") === "hosted") {
    var hosted = window.jecHostedFields;
    var box = document.getElementById("hosted-fields");
    var summary = document.getElementById("error-summary");
    var chosenKind = function () {
      var c = form.querySelector('input[name="kind"]:checked');
      return c ? c.value : "card";
    };
    var mount = function () {
      if (hosted && box) { hosted.mount(box, { publishableKey: box.getAttribute("data-key"), kind: chosenKind() }); }
    };
    var fail = function (message) {
      summary.textContent = message || "Please check your details and try again.";
      summary.hidden = false;
      summary.focus && summary.focus();
    };
    if (!hosted) { fail("The secure fields could not load. Please reload this page."); return; }
    mount();
    form.querySelectorAll('input[name="kind"]').forEach(function (r) { r.addEventListener("change", mount); });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      hosted.tokenize().then(function (token) {
        form.querySelector('input[name="payment_token"]').value = token;
        form.submit();
      }, function (err) { fail(err && err.message); });
    });
    return;
  }

  function digits(v) { return (v || "").replace(/[\s-]/g, ""); }
  function luhn(d) {
    if (!/^\d{13,19}$/.test(d)) { return false; }
    var sum = 0;
    for (var i = 0; i < d.length; i++) {
      var n = +d.charAt(d.length - 1 - i);
      if (i % 2 === 1) { n *= 2; if (n > 9) { n -= 9; } }
      sum += n;
    }
    return sum % 10 === 0;
  }
  function aba(r) {
    if (!/^\d{9}$/.test(r)) { return false; }
    var w = [3, 7, 1], sum = 0;
    for (var i = 0; i < 9; i++) { sum += (+r.charAt(i)) * w[i % 3]; }
    var prefix = +r.slice(0, 2);
    var okPrefix = prefix <= 12 || (prefix >= 21 && prefix <= 32) || (prefix >= 61 && prefix <= 72) || prefix === 80;
    return okPrefix && sum % 10 === 0 && r !== "000000000";
  }
  function amex(d) { return /^3[47]/.test(d); }

  function kind() {
    var checked = form.querySelector('input[name="kind"]:checked');
    return checked ? checked.value : "card";
  }
  function showKind() {
    var k = kind();
    ["card", "bank"].forEach(function (name) {
      var set = document.getElementById(name + "-fields");
      set.hidden = name !== k;
      set.disabled = name !== k;
    });
  }
  Array.prototype.forEach.call(form.querySelectorAll('input[name="kind"]'), function (radio) {
    radio.addEventListener("change", showKind);
  });
  showKind();

  function setError(name, message, fields) {
    var box = document.getElementById(name + "-error");
    (fields || [name]).forEach(function (id) {
      var el = document.getElementById(id);
      if (el) { if (message) { el.setAttribute("aria-invalid", "true"); } else { el.removeAttribute("aria-invalid"); } }
    });
    if (box) { box.textContent = message || ""; box.hidden = !message; }
    return message ? name : null;
  }

  function validate() {
    var bad = [];
    function check(name, message, fields) { var r = setError(name, message, fields); if (r) { bad.push(fields ? fields[0] : name); } }
    if (kind() === "card") {
      var number = digits(form.card_number.value);
      check("card_number", luhn(number) ? "" : "That card number doesn't look right. Please check it.");
      var m = +form.exp_month.value, y = +form.exp_year.value, now = new Date();
      var expired = !m || !y || y < now.getFullYear() || (y === now.getFullYear() && m < now.getMonth() + 1);
      check("expiry", expired ? "Please enter the expiry date on the card (it must not have passed)." : "", ["exp_month", "exp_year"]);
      var len = amex(number) ? 4 : 3;
      check("cvv", new RegExp("^\\d{" + len + "}$").test(form.cvv.value.trim()) ? "" : "The security code is the " + len + " digits on the card.");
      check("card_name", form.card_name.value.trim() ? "" : "Please enter the name on the card.");
    } else {
      check("routing", aba(digits(form.routing.value)) ? "" : "That routing number doesn't look right. It's the 9 digits at the bottom left of a check.");
      check("account", /^\d{4,17}$/.test(digits(form.account.value)) ? "" : "That account number doesn't look right. Please check it.");
      check("bank_name", form.bank_name.value.trim() ? "" : "Please enter the name on the bank account.");
    }
    return bad;
  }

  form.addEventListener("submit", function (event) {
    var bad = validate();
    if (bad.length) {
      event.preventDefault();
      var first = document.getElementById(bad[0]);
      if (first) { first.focus(); }
    }
  });

  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
