// chart.js: a course's activity per day by event kind, drawn as a stacked bar chart in SVG (no library).
// The chart redraws to its container's width, can be read with the keyboard (arrow keys move between
// days and a line under it says what each day holds), and carries the same numbers as a table. The kinds,
// their stacking order, colours and labels come from the server's catalog (catalog.js).

import { h, svg, fmtDay, fmtInt, nextDay } from './dom.js';
import { kindLabel, kindClass, compareKinds } from './catalog.js';

/** The kinds with events on any of the days, in the catalog's order (the order they are stacked in). */
function kindsPresent(days) {
  const seen = new Set();
  for (const d of days) for (const k of Object.keys(d.events)) seen.add(k);
  return [...seen].sort(compareKinds);
}

/** Every day from the first to the last (gaps filled with zeros), at most maxDays of them. */
function fillDays(activity, maxDays) {
  if (!activity.length) return [];
  const byDay = new Map(activity.map((a) => [a.day, a]));
  const sorted = [...byDay.keys()].sort();
  const days = [];
  for (let day = sorted[0]; day <= sorted[sorted.length - 1] && days.length < maxDays; day = nextDay(day)) {
    const a = byDay.get(day);
    days.push({ day, events: a?.events ?? {}, total: a?.total ?? 0 });
  }
  return days;
}

function niceStep(max, ticks) {
  const raw = Math.max(max, 1) / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * magnitude >= raw) return Math.max(1, m * magnitude);
  return 10 * magnitude;
}

function describeDay(d, kinds) {
  const parts = kinds.filter((k) => d.events[k]).map((k) => `${fmtInt(d.events[k])} ${kindLabel(k)}`);
  return `${fmtDay(d.day, 'long')}: ${d.total ? `${fmtInt(d.total)} events${parts.length ? ` (${parts.join(', ')})` : ''}` : 'no events'}`;
}

/**
 * A <figure> with the chart, its legend, a line describing the day under the pointer or keyboard
 * focus, and the numbers as a table. activity: [{day, events: {name: n}, total}], as the API gives it.
 */
export function activityChart(activity, { title = 'Activity per day' } = {}) {
  const days = fillDays(activity, 1000);
  const kinds = kindsPresent(days);
  const figure = h('figure', { class: 'chart' });
  const caption = h('figcaption', { class: 'visually-hidden' }, `${title} (UTC days)`);
  if (!days.length) {
    figure.append(caption, h('p', { class: 'empty' }, 'No activity in this period.'));
    return figure;
  }
  const total = days.reduce((sum, d) => sum + d.total, 0);
  const readout = h('p', { class: 'chart-readout', 'aria-live': 'polite' },
    `${fmtInt(total)} events over ${fmtInt(days.length)} days. Point at a bar, or focus the chart and use the arrow keys, to see a day.`);
  const plot = h('div', { class: 'chart-plot' });
  const legend = h('ul', { class: 'legend', 'aria-label': 'Event kinds' },
    kinds.map((k) => h('li', null, h('span', { class: `swatch ${kindClass(k)}`, 'aria-hidden': 'true' }), kindLabel(k))));

  const table = h('table', { class: 'data' },
    h('caption', { class: 'visually-hidden' }, `${title}, by event kind`),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Day'),
      kinds.map((k) => h('th', { scope: 'col', class: 'num' }, kindLabel(k))), h('th', { scope: 'col', class: 'num' }, 'Total'))),
    h('tbody', null, days.filter((d) => d.total).map((d) => h('tr', null, h('th', { scope: 'row' }, fmtDay(d.day)),
      kinds.map((k) => h('td', { class: 'num' }, fmtInt(d.events[k] ?? 0))), h('td', { class: 'num' }, fmtInt(d.total))))));
  const details = h('details', { class: 'chart-table' }, h('summary', null, 'Show the numbers as a table'),
    h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Activity table' }, table));

  let selected = -1;
  let bands = [];
  const select = (i) => {
    selected = Math.max(0, Math.min(days.length - 1, i));
    readout.textContent = describeDay(days[selected], kinds);
    bands.forEach((b, j) => b.classList.toggle('selected', j === selected));
  };

  const draw = (width) => {
    const height = 220;
    const margin = { top: 12, right: 8, bottom: 34, left: 44 };
    const plotW = Math.max(40, width - margin.left - margin.right);
    const plotH = height - margin.top - margin.bottom;
    const max = Math.max(...days.map((d) => d.total), 1);
    const step = niceStep(max, 4);
    const top = Math.ceil(max / step) * step;
    const y = (v) => margin.top + plotH - (v / top) * plotH;
    const band = plotW / days.length;
    const barW = Math.max(1, Math.min(48, band * 0.72));
    const root = svg('svg', {
      class: 'chart-svg', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', tabindex: '0',
      'aria-label': `${title}: ${fmtInt(total)} events from ${fmtDay(days[0].day, 'long')} to ${fmtDay(days[days.length - 1].day, 'long')}. Arrow keys step through the days.`,
    });
    const axis = svg('g', { class: 'axis', 'aria-hidden': 'true' });
    for (let v = 0; v <= top; v += step) {
      axis.append(svg('line', { x1: margin.left, x2: margin.left + plotW, y1: y(v), y2: y(v), class: v ? 'grid' : 'base' }),
        svg('text', { x: margin.left - 6, y: y(v), dy: '0.32em', 'text-anchor': 'end' }, fmtInt(v)));
    }
    const every = Math.max(1, Math.ceil(56 / band));
    days.forEach((d, i) => {
      if (i % every) return;
      axis.append(svg('text', { x: margin.left + band * (i + 0.5), y: height - margin.bottom + 16, 'text-anchor': 'middle' },
        fmtDay(d.day, 'short')));
    });
    root.append(axis);
    bands = [];
    days.forEach((d, i) => {
      const x = margin.left + band * i;
      const g = svg('g', { class: 'day', 'data-day': d.day });
      g.append(svg('rect', { class: 'hit', x, y: margin.top, width: band, height: plotH }));
      let acc = 0;
      for (const k of kinds) {
        const n = d.events[k];
        if (!n) continue;
        const y0 = y(acc);
        acc += n;
        g.append(svg('rect', { class: `bar ${kindClass(k)}`, 'data-kind': k, x: x + (band - barW) / 2, y: y(acc), width: barW, height: Math.max(0.5, y0 - y(acc)) }));
      }
      g.append(svg('title', null, describeDay(d, kinds)));
      g.addEventListener('pointerenter', () => select(i));
      bands.push(g);
      root.append(g);
    });
    root.addEventListener('keydown', (e) => {
      const moves = { ArrowLeft: -1, ArrowRight: 1, Home: -Infinity, End: Infinity, PageUp: -7, PageDown: 7 };
      if (!(e.key in moves)) return;
      e.preventDefault();
      const from = selected < 0 ? (moves[e.key] > 0 ? -1 : days.length) : selected;
      select(Number.isFinite(moves[e.key]) ? from + moves[e.key] : moves[e.key] < 0 ? 0 : days.length - 1);
    });
    root.addEventListener('focus', () => { if (selected < 0) select(days.length - 1); });
    plot.replaceChildren(root);
    if (selected >= 0) select(selected);
  };

  let lastWidth = 0;
  const observer = new ResizeObserver((entries) => {
    const width = Math.floor(entries[0].contentRect.width);
    if (width > 0 && Math.abs(width - lastWidth) >= 4) {
      lastWidth = width;
      draw(width);
    }
  });
  observer.observe(plot);
  figure.append(caption, plot, legend, readout, details);
  return figure;
}
