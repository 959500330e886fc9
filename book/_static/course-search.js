// Search from disk (file://): Sphinx's search lists the pages from searchindex.js, then fetches each
// page for an excerpt, which browsers refuse from disk (an error in the console per result). There,
// list the pages without excerpts, and say how to serve the site to get them.
if (location.protocol === "file:" && typeof DOCUMENTATION_OPTIONS !== "undefined") {
  DOCUMENTATION_OPTIONS.SHOW_SEARCH_SUMMARY = false;
  document.addEventListener("DOMContentLoaded", () => {
    const results = document.getElementById("search-results");
    if (!results) return;
    const note = document.createElement("p");
    note.className = "course-search-note";
    note.innerHTML =
      "Opened from disk, search lists the matching pages without an excerpt of each. For " +
      "excerpts, serve the site: <code>python3 -m http.server -d _build/html</code> in the " +
      "course's folder, then open <code>http://localhost:8000/search.html</code>.";
    results.before(note);
  });
}
