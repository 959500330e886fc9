// The download menu of every page offers, after the page's own notebook, all the chapters'
// notebooks in one zip (notebooks.zip, written at the site's root by course_site.py).
document.addEventListener("DOMContentLoaded", () => {
  const menu = document.querySelector(".dropdown-download-buttons ul.dropdown-menu");
  if (!menu) return;
  const root = document.documentElement.dataset.content_root || "";
  const item = document.createElement("li");
  item.innerHTML =
    `<a href="${root}notebooks.zip" download class="btn btn-sm dropdown-item" ` +
    `title="Download all the chapters' notebooks"><span class="btn__icon-container">` +
    `<i class="fas fa-file-archive"></i></span><span class="btn__text-container">all .ipynb (.zip)</span></a>`;
  menu.append(item);
});
