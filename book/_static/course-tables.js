// Tables keep every column in view, and long code names break where a reader expects (course.css):
// - a long code name (in a table, or in the prose on a phone) may break after "(", "," or "." (a
//   <wbr>), so table columns share the width instead of the last ones being pushed out of view,
//   and names such as keras.optimizers.schedules.CosineDecay wrap between their parts;
// - on a phone each table row is shown as "header: value" lines: the header goes into data-label.
document.addEventListener("DOMContentLoaded", () => {
  for (const pre of document.querySelectorAll("article code.literal span.pre")) {
    if (pre.textContent.length < 16) continue;
    const parts = pre.textContent.split(/(?<=[(,.])(?=.)/);
    if (parts.length < 2) continue;
    pre.replaceChildren(...parts.flatMap((part, i) => (i ? [document.createElement("wbr"), part] : [part])));
  }
  for (const table of document.querySelectorAll("article table.table")) {
    const headers = [...table.querySelectorAll("thead th")].map((th) => th.innerText.trim());
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.children].forEach((cell, i) => {
        if (headers[i]) cell.dataset.label = headers[i];
      });
    }
  }
});
