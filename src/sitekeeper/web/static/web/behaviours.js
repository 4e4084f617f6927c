/* Small page behaviours declared in the markup with data- attributes, so no template needs an inline event
   handler (the Content-Security-Policy allows scripts from this server only):

   <select data-autosubmit>   submits its form when the choice changes (the audit log's filter)
*/
"use strict";

document.addEventListener("change", function (event) {
  const element = event.target;
  if (element instanceof HTMLElement && element.hasAttribute("data-autosubmit") && element.form) {
    element.form.requestSubmit();
  }
});
