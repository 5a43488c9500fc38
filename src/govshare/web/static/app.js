/* The pages' small behaviours, declared in the markup by data attributes. The pages allow
   scripts only from the platform's own files (Content-Security-Policy: script-src 'self'), so
   no template carries an inline script or an on… handler: they go here, listening on the
   document, so they also work in content htmx swaps in. */
(function () {
  "use strict";

  function renumber(body) {
    Array.prototype.forEach.call(body.rows, function (row, i) {
      var n = row.querySelector(".n");
      if (n) { n.textContent = i + 1; }
    });
  }

  // <select data-submit-on-change>: choosing an option submits its form (list filters).
  document.addEventListener("change", function (event) {
    var select = event.target.closest && event.target.closest("[data-submit-on-change]");
    if (select && select.form) { select.form.submit(); }
  });

  // <form data-confirm="…">: asks before submitting.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);

  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target : null;
    if (!target) { return; }

    // <button data-print>: prints the page (a document's print styles leave the layout out).
    if (target.closest("[data-print]")) {
      window.print();
      return;
    }

    // <a data-history-back>: back to the previous page, when there is one.
    var back = target.closest("[data-history-back]");
    if (back && window.history.length > 1) {
      event.preventDefault();
      window.history.back();
      return;
    }

    // <button data-add-row="TABLE-ID" data-row-template="TEMPLATE-ID" data-focus="SELECTOR">:
    // appends a copy of the template's row to the table and renumbers it.
    var add = target.closest("[data-add-row]");
    if (add) {
      var body = document.getElementById(add.dataset.addRow).querySelector("tbody");
      var row = document.getElementById(add.dataset.rowTemplate).content.firstElementChild.cloneNode(true);
      body.appendChild(row);
      if (window.htmx) { window.htmx.process(row); }
      renumber(body);
      var focus = row.querySelector(add.dataset.focus || "input, select");
      if (focus) { focus.focus(); }
      return;
    }

    // <button data-remove-row>: removes its row, or empties it when it is the last one.
    var remove = target.closest("[data-remove-row]");
    if (remove) {
      var tbody = remove.closest("tbody");
      var own = remove.closest("tr");
      if (tbody.rows.length > 1) {
        own.remove();
      } else {
        own.querySelectorAll("input").forEach(function (i) { i.value = ""; });
      }
      renumber(tbody);
      return;
    }

    // <button data-add-filter-row="TABLE-ID">: copies the table's last row, emptied.
    var filter = target.closest("[data-add-filter-row]");
    if (filter) {
      var rows = document.getElementById(filter.dataset.addFilterRow).querySelector("tbody");
      var copy = rows.rows[rows.rows.length - 1].cloneNode(true);
      copy.querySelectorAll("input").forEach(function (i) { i.value = ""; });
      copy.querySelectorAll("select").forEach(function (s) { s.selectedIndex = 0; });
      copy.querySelectorAll(".field-error").forEach(function (e) { e.remove(); });
      copy.cells[0].textContent = rows.rows.length + 1;
      rows.appendChild(copy);
      var first = copy.querySelector("select");
      if (first) { first.focus(); }
    }
  });

  // <form data-show-by="RADIO-NAME">: shows only the parts whose data-when is the chosen value.
  function showChosen(form) {
    var name = form.dataset.showBy;
    var chosen = form.querySelector("input[name='" + name + "']:checked");
    form.querySelectorAll("[data-when]").forEach(function (part) {
      part.hidden = chosen !== null && part.dataset.when !== chosen.value;
    });
  }
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form && form.dataset.showBy && event.target.name === form.dataset.showBy) {
      showChosen(form);
    }
  });
  function showAll() {
    document.querySelectorAll("form[data-show-by]").forEach(showChosen);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", showAll);
  } else {
    showAll();
  }
  document.addEventListener("htmx:afterSettle", showAll);
})();
