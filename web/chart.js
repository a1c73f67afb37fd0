// chart.js: a bar chart of daily counts as SVG. Sizes are SVG attributes,
// not style, so the Content-Security-Policy (no inline style) allows them.

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** niceMax rounds max up to 1, 2 or 5 times a power of ten, so the scale reads well. */
export function niceMax(max) {
  if (max <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

/**
 * barChart draws days ([{date, count}], oldest first) as bars, labelled
 * for screen readers and with a tooltip per bar. width is in CSS pixels:
 * the chart is drawn at the size it is shown, so its text stays readable.
 */
export function barChart(days, label, width = 640) {
  const W = Math.max(280, Math.round(width)), H = 220, left = 44, bottom = 28, top = 12, right = 8;
  const plotW = W - left - right, plotH = H - top - bottom;
  const max = niceMax(Math.max(0, ...days.map((d) => d.count)));
  const total = days.reduce((n, d) => n + d.count, 0);
  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
    'aria-label': `${label}: ${total} requests in ${days.length} days, at most ${Math.max(0, ...days.map((d) => d.count))} in one day`,
  });
  for (const f of [0, 0.5, 1]) {
    const y = top + plotH - f * plotH;
    root.append(svg('line', { x1: left, x2: W - right, y1: y, y2: y, class: 'grid' }));
    root.append(svg('text', { x: left - 6, y: y + 4, 'text-anchor': 'end', class: 'axis' }, String(+(f * max).toFixed(1))));
  }
  const step = plotW / Math.max(1, days.length);
  days.forEach((d, i) => {
    const bh = (d.count / max) * plotH;
    const bar = svg('rect', {
      x: (left + i * step + step * 0.15).toFixed(1), y: (top + plotH - bh).toFixed(1),
      width: (step * 0.7).toFixed(1), height: bh.toFixed(1), rx: 2,
      class: i === days.length - 1 ? 'bar today' : 'bar', 'data-date': d.date, 'data-count': d.count,
    });
    bar.append(svg('title', {}, `${d.date}: ${d.count}`));
    root.append(bar);
  });
  const first = days[0]?.date, last = days[days.length - 1]?.date;
  if (first) root.append(svg('text', { x: left, y: H - 8, class: 'axis' }, first));
  if (last) root.append(svg('text', { x: W - right, y: H - 8, 'text-anchor': 'end', class: 'axis' }, last));
  return root;
}

/** liveChart keeps a bar chart as wide as container, redrawing when it resizes. */
export function liveChart(container, days, label) {
  let drawn = 0;
  const draw = () => {
    const w = container.clientWidth;
    if (w === 0 || w === drawn) return;
    drawn = w;
    container.replaceChildren(barChart(days, label, w));
  };
  new ResizeObserver(() => requestAnimationFrame(draw)).observe(container);
  draw();
}
