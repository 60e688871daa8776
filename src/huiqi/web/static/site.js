// Light enhancements only: every page works without this file.
document.addEventListener("DOMContentLoaded", function () {
  var print = document.getElementById("print");
  if (print) {
    print.addEventListener("click", function () { window.print(); });
  }
  // Highlight the clause a link points to.
  function mark() {
    var old = document.querySelector(".clause.target");
    if (old) { old.classList.remove("target"); }
    if (location.hash.length > 1) {
      var el = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (el) { el.classList.add("target"); }
    }
  }
  window.addEventListener("hashchange", mark);
  mark();
});
