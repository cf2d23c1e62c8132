// Longest common subsequence alignment, and the line diff of two texts built on it. Hand-written:
// the texts are small (messages), and the table is bounded so a 1 MB message cannot stall the page.

// Past this many table cells (rows × columns) the middle of a diff is not aligned: it is shown
// as removed then added (a 2,000 × 2,000-line middle is 4 M cells, about 20 ms).
const MAX_CELLS = 4e6;

/**
 * Pairs the items of `a` and `b` that `same(x, y)` says are equal, in order, keeping as many as
 * possible (LCS). Returns [x, y] pairs, in order, with null on the side that has no partner.
 */
export function align(a, b, same) {
  // Common ends first: they pair without a table, and most diffs differ only in the middle.
  let start = 0;
  while (start < a.length && start < b.length && same(a[start], b[start])) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && same(a[endA - 1], b[endB - 1])) {
    endA--;
    endB--;
  }
  const out = [];
  for (let k = 0; k < start; k++) out.push([a[k], b[k]]);
  const n = endA - start;
  const m = endB - start;
  if (n * m > MAX_CELLS) {
    for (let i = start; i < endA; i++) out.push([a[i], null]);
    for (let j = start; j < endB; j++) out.push([null, b[j]]);
  } else {
    // L[i][j]: the LCS length of a[start+i..endA) and b[start+j..endB).
    const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        L[i][j] = same(a[start + i], b[start + j]) ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && same(a[start + i], b[start + j])) out.push([a[start + i++], b[start + j++]]);
      // Removals before additions where both are possible: the usual diff reading order.
      else if (j >= m || (i < n && L[i + 1][j] >= L[i][j + 1])) out.push([a[start + i++], null]);
      else out.push([null, b[start + j++]]);
    }
  }
  for (let k = 0; k < a.length - endA; k++) out.push([a[endA + k], b[endB + k]]);
  return out;
}

/**
 * The line diff of two texts: [{ op: ' ' | '-' | '+', text }], '-' a line only `before` has,
 * '+' one only `after` has; a null text has no lines. Text, to be rendered as text.
 */
export function lineDiff(before, after) {
  const a = before == null ? [] : before.split('\n');
  const b = after == null ? [] : after.split('\n');
  return align(a, b, (x, y) => x === y).map(([x, y]) => {
    if (x != null && y != null) return { op: ' ', text: x };
    return x != null ? { op: '-', text: x } : { op: '+', text: y };
  });
}
