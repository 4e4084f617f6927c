// The queue's "tick all" box (a script file, not an inline handler: the Content-Security-Policy forbids those).
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("input[data-tick-all]").forEach((box) => {
    box.addEventListener("change", () => {
      const name = box.dataset.tickAll;
      document.querySelectorAll(`input[name="${name}"]`).forEach((other) => {
        other.checked = box.checked;
      });
    });
  });
});
