// Draws every ```mermaid block of a page with the bundled mermaid.min.js.
// mdBook renders such a block as <pre><code class="language-mermaid">; its
// text is the diagram source, which Mermaid wants in a <pre class="mermaid">.
(function () {
  "use strict";
  function dark() {
    var c = document.documentElement.classList;
    return c.contains("coal") || c.contains("navy") || c.contains("ayu");
  }
  function draw() {
    var blocks = document.querySelectorAll("code.language-mermaid");
    if (blocks.length === 0 || typeof mermaid === "undefined") return;
    blocks.forEach(function (code) {
      var pre = document.createElement("pre");
      pre.className = "mermaid";
      pre.textContent = code.textContent;
      code.parentNode.replaceWith(pre);
    });
    mermaid.initialize({
      startOnLoad: false,
      theme: dark() ? "dark" : "default",
      // simnet's diagrams of long runs exceed Mermaid's 50,000-character
      // default; the book only shows the first events of each run.
      maxTextSize: 200000,
      sequence: { showSequenceNumbers: false, mirrorActors: false },
    });
    mermaid.run({ querySelector: "pre.mermaid" });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
