/* Let the search find numbers such as the tunnel's port 8889.
 *
 * Sphinx indexes numbers, but its searchtools.js drops every all-digit word from a query. After
 * the page has loaded (searchtools.js is then defined, whatever order the theme loads it in), wrap
 * its query parser so that all-digit words are searched for as they are.
 */
document.addEventListener("DOMContentLoaded", () => {
  if (typeof Search === "undefined" || typeof Search._parseQuery !== "function" || Search._numbersFound) {
    return;
  }
  const parse = Search._parseQuery;
  Search._parseQuery = (query) => {
    const parsed = parse(query);
    const words = query.trim().split(/[^\p{Letter}\p{Number}_]+/u).filter((w) => /^\d+$/.test(w));
    for (const word of words) {
      parsed[1].add(word); // the search terms
      parsed[3].add(word); // the terms to highlight
    }
    return parsed;
  };
  Search._numbersFound = true;
});
