// Small behaviours the pages share, kept out of the markup (the Content-Security-Policy allows
// scripts from this site only). A <select data-autosubmit> submits its form when changed.
document.addEventListener("change", function (event) {
  var el = event.target;
  if (el && el.matches && el.matches("select[data-autosubmit]") && el.form) {
    el.form.submit();
  }
});

// A submit button marked data-once is disabled after the first click (a double click sends
// one form; the server refuses a second join anyway).
document.addEventListener("submit", function (event) {
  var button = event.target.querySelector && event.target.querySelector("button[data-once]");
  if (button) {
    setTimeout(function () { button.disabled = true; }, 0);
  }
});

// Drag and drop in the queue, for pointer users: dropping a row on another moves it to that
// row's position through the row's own "move" form (the keyboard uses the same forms).
(function () {
  var dragged = null;
  document.addEventListener("dragstart", function (event) {
    var row = event.target.closest && event.target.closest("tr.draggable");
    if (!row) return;
    dragged = row;
    row.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", row.dataset.title);
  });
  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    document.querySelectorAll("tr.drop-target").forEach(function (r) { r.classList.remove("drop-target"); });
    dragged = null;
  });
  document.addEventListener("dragover", function (event) {
    var row = event.target.closest && event.target.closest("tr.draggable");
    if (!dragged || !row || row === dragged) return;
    event.preventDefault();
    document.querySelectorAll("tr.drop-target").forEach(function (r) { r.classList.remove("drop-target"); });
    row.classList.add("drop-target");
  });
  document.addEventListener("drop", function (event) {
    var row = event.target.closest && event.target.closest("tr.draggable");
    if (!dragged || !row || row === dragged) return;
    event.preventDefault();
    var target = row.querySelector("input.pos");
    var input = dragged.querySelector("input.pos");
    if (!target || !input) return;
    input.value = target.defaultValue;
    var form = input.form;
    if (window.htmx) { window.htmx.trigger(form, "submit"); } else { form.submit(); }
  });
})();

// The chat box: its conversation is fetched (and then polls itself) only while the box is open;
// closing it drops the conversation, which stops the polling. A form marked data-reset empties
// after htmx sent it successfully.
document.addEventListener("toggle", function (event) {
  var box = event.target;
  if (!box.matches || !box.matches("details.chat-box") || !window.htmx) return;
  var slot = box.querySelector("[data-chat-slot]");
  if (box.open) {
    window.htmx.ajax("GET", slot.dataset.url, { target: slot, swap: "innerHTML" });
  } else {
    slot.innerHTML = '<div id="chat-panel"></div>';
  }
}, true);
document.addEventListener("htmx:afterRequest", function (event) {
  var form = event.target;
  if (form.matches && form.matches("form[data-reset]") && event.detail.successful) form.reset();
});
