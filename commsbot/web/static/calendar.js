/* Calendar drag and drop (#17): dropping a post on a free slot or a day fills in the
   page's "Move to…" form (the post and its new time) and sends it, so a drag does
   exactly what the form does (the same route, CSRF token, checks and audit trail). No inline script, no eval:
   it runs under the console's Content-Security-Policy. Without JavaScript, or with a
   keyboard, the form is used directly. */
(function () {
  "use strict";
  var dragged = null;

  function target(el) {
    return el && el.closest ? el.closest("[data-slot], [data-day]") : null;
  }

  document.addEventListener("dragstart", function (event) {
    var post = event.target.closest && event.target.closest("[data-post]");
    if (!post) { return; }
    dragged = post;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", post.getAttribute("data-post"));
    post.classList.add("dragging");
  });

  document.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); }
    dragged = null;
    document.querySelectorAll(".drop-here").forEach(function (el) { el.classList.remove("drop-here"); });
  });

  document.addEventListener("dragover", function (event) {
    var over = target(event.target);
    if (!dragged || !over) { return; }
    event.preventDefault();  // allows the drop
    event.dataTransfer.dropEffect = "move";
    document.querySelectorAll(".drop-here").forEach(function (el) {
      if (el !== over) { el.classList.remove("drop-here"); }
    });
    over.classList.add("drop-here");
  });

  document.addEventListener("drop", function (event) {
    var over = target(event.target);
    if (!dragged || !over) { return; }
    event.preventDefault();
    var form = document.querySelector("form[data-move]");
    if (!form) { return; }
    form.querySelector('select[name="post"]').value = dragged.getAttribute("data-post");
    var when = over.getAttribute("data-slot") ||
      over.getAttribute("data-day") + "T" + dragged.getAttribute("data-time");
    form.querySelector('input[name="at"]').value = when;
    form.requestSubmit();
  });
})();
