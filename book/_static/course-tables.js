// Tables keep every column in view (see course.css):
// - a long code name in a cell may break after "(" or "," (a <wbr>), never mid-word, so the
//   columns share the width instead of the last ones being pushed out of view;
// - on a phone each row is shown as "header: value" lines: the header goes into data-label.
document.addEventListener("DOMContentLoaded", () => {
  for (const table of document.querySelectorAll("article table.table")) {
    const headers = [...table.querySelectorAll("thead th")].map((th) => th.innerText.trim());
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.children].forEach((cell, i) => {
        if (headers[i]) cell.dataset.label = headers[i];
      });
    }
    for (const pre of table.querySelectorAll("code.literal span.pre")) {
      const parts = pre.textContent.split(/(?<=[(,])/);
      if (parts.length < 2) continue;
      pre.replaceChildren(...parts.flatMap((part, i) => (i ? [document.createElement("wbr"), part] : [part])));
    }
  }
});
