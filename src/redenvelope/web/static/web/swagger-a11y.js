// /api/docs: Swagger UI puts a link inside each operation's expand button (a control inside a
// control, which screen readers and keyboards cannot use). The button already opens the
// operation, so the inner link becomes plain text as Swagger UI renders.
(function () {
  function unnest(root) {
    root.querySelectorAll(".opblock-summary-control a").forEach(function (a) {
      var span = document.createElement("span");
      while (a.firstChild) span.appendChild(a.firstChild);
      a.replaceWith(span);
    });
  }
  new MutationObserver(function () { unnest(document); }).observe(document.body, {
    childList: true,
    subtree: true,
  });
})();
