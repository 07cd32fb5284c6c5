// A link to the same page in the other edition, in the menu bar of every
// page: the English book is built into book/book/, the Korean one into
// book/book/ko/ (book/build.sh), so the other edition's page is one folder
// down or up from this edition's root. Nothing is fetched.
(function () {
  "use strict";
  function add() {
    var bar = document.querySelector(".right-buttons");
    if (!bar || typeof path_to_root === "undefined") return;
    var korean = (document.documentElement.lang || "").indexOf("ko") === 0;
    var root = new URL(path_to_root || "./", window.location.href);
    var page = window.location.href.slice(root.href.length) || "index.html";
    var other = new URL(korean ? "../" : "ko/", root);
    var a = document.createElement("a");
    a.href = other.href + page;
    a.className = "lang-switch";
    a.textContent = korean ? "English" : "한국어";
    a.setAttribute("hreflang", korean ? "en" : "ko");
    a.title = korean ? "Read this page in English" : "이 페이지를 한국어로 읽기";
    bar.insertBefore(a, bar.firstChild);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", add);
  } else {
    add();
  }
})();
