// pydata-sphinx-theme 0.17 and sphinx-book-theme 1.3 bind their sidebar handlers to the first
// element with the class .primary-toggle (or .secondary-toggle): the navbar button, which this
// layout hides. The buttons readers see never got a handler, so the table of contents could not be
// opened on a phone nor collapsed on a desktop (pydata-sphinx-theme issue 2451). Forward their
// clicks to the bound button.
document.addEventListener("DOMContentLoaded", () => {
  for (const kind of ["primary", "secondary"]) {
    const [bound, ...others] = document.querySelectorAll(`.${kind}-toggle`);
    for (const button of others) {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        bound.click();
      });
    }
  }
});

// On a phone the sidebars open as dialogs; a link that jumps within the page left its dialog open
// over the section it jumped to. Close it on such a jump.
document.addEventListener("click", (event) => {
  const link = event.target.closest("dialog a[href*='#']");
  const dialog = link && link.closest("dialog");
  if (dialog && dialog.open && new URL(link.href).pathname === location.pathname) dialog.close();
});
