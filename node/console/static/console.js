// xborder web console: small progressive enhancements. Every page works
// without this file.
"use strict";

(function () {
  // A running transfer: poll its status and update the progress bar, instead
  // of the page refresh the page falls back to without JavaScript.
  var box = document.getElementById("transfer");
  if (box && box.dataset.state === "running") {
    var bar = document.getElementById("progress");
    var text = document.getElementById("progress-text");
    var state = document.getElementById("state");
    var note = document.getElementById("refresh-note");
    var fmt = function (n) {
      var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
      while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
      return (i === 0 ? n : n.toFixed(1)) + " " + u[i];
    };
    var poll = function () {
      fetch(box.dataset.status, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          bar.max = s.size || 1;
          bar.value = s.received;
          text.textContent = fmt(s.received) + " / " + fmt(s.size);
          state.textContent = state.dataset[s.state] || s.state;
          box.dataset.state = s.state;
          if (s.state === "running") { setTimeout(poll, 500); return; }
          if (note) { note.hidden = true; }
          if (s.state === "done") {
            document.getElementById("sha256").textContent = s.sha256;
            document.getElementById("done").hidden = false;
          } else if (s.error) {
            var err = document.getElementById("transfer-error");
            err.textContent = s.error;
            err.hidden = false;
          }
        })
        .catch(function () { setTimeout(poll, 2000); });
    };
    poll();
  }

  // The analysis form: show only the fields of the chosen kind. Without
  // this every field shows, and the server takes those of the kind.
  var kind = document.getElementById("a-kind");
  if (kind) {
    var fields = document.querySelectorAll("#analysis-form [data-kinds]");
    var show = function () {
      fields.forEach(function (f) {
        f.hidden = f.dataset.kinds.split(" ").indexOf(kind.value) < 0;
      });
    };
    kind.addEventListener("change", show);
    show();
  }

  // The playground's decision point: prefill its sample input on change.
  var sel = document.getElementById("point-select");
  if (sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  }
})();
