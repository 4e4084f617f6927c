/* Small page behaviours declared in the markup with data- attributes, so no template needs an inline event
   handler (the Content-Security-Policy allows scripts from this server only):

   <input type="checkbox" data-check-all="input[name=tickets]">  ticks or clears every matching box
   <select data-autosubmit>                                      submits its form when the choice changes
*/
"use strict";

document.addEventListener("change", function (event) {
  const element = event.target;
  if (!(element instanceof HTMLElement)) {
    return;
  }
  const selector = element.dataset.checkAll;
  if (selector !== undefined && element instanceof HTMLInputElement) {
    document.querySelectorAll(selector).forEach(function (box) {
      if (box !== element) {
        box.checked = element.checked;
      }
    });
  }
  if (element.hasAttribute("data-autosubmit") && element.form) {
    element.form.requestSubmit();
  }
});
