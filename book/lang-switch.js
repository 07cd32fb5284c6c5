// A link to the same page in the other edition, in the menu bar of every
// page: the English book is built into book/book/, the Korean one into
// book/book/ko/ (book/build.sh), so the other edition's page is one folder
// down or up from this edition's root. Nothing is fetched.
//
// In the Korean edition it also translates the labels of the collapsible
// blocks (<details><summary>), which are HTML, so the gettext catalogue
// never sees them: the few fixed phrases below.
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
  var LABELS = [
    ['Its summary, with the "Before the first byte" table', '요약 ("Before the first byte" 표 포함)'],
    ["Its summary", "요약"],
    ["The scenario:", "시나리오:"],
  ];
  function labels() {
    if ((document.documentElement.lang || "").indexOf("ko") !== 0) return;
    document.querySelectorAll("details > summary").forEach(function (s) {
      var t = s.firstChild;
      if (!t || t.nodeType !== 3) return;
      for (var i = 0; i < LABELS.length; i++) {
        if (t.nodeValue.indexOf(LABELS[i][0]) === 0) {
          t.nodeValue = LABELS[i][1] + t.nodeValue.slice(LABELS[i][0].length);
          return;
        }
      }
    });
  }
  function ready() {
    add();
    labels();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
