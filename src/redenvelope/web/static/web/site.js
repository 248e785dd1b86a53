// Small behaviours the pages share, kept out of the markup (the Content-Security-Policy allows
// scripts from this site only). A <select data-autosubmit> submits its form when changed.
document.addEventListener("change", function (event) {
  var el = event.target;
  if (el && el.matches && el.matches("select[data-autosubmit]") && el.form) {
    el.form.submit();
  }
});
